// Commands: the envelope every dispatched command carries, and what handling one returns.
#pragma once

#include <map>
#include <string>

#include "sluice/core/event_store.h"

namespace sluice {

// Tracing and idempotency for one command. Empty fields are filled in at dispatch: command_id with
// a new UUID, correlation_id with the command id (the command starts a new chain).
// The events a command produces carry correlation_id = the command's correlation id and
// causation_id = the command id; a command caused by an event should set causation_id to that
// event's id and copy its correlation id.
struct CommandMetadata {
  std::string command_id;      // a UUID; dispatching the same id again does not append again
  std::string correlation_id;  // the whole conversation
  std::string causation_id;    // the message that caused this command
  std::map<std::string, std::string> headers;  // free key/values, copied into event metadata
};

// What a handled command did.
struct CommandResult {
  std::string stream;
  // Positions and new version of the append; positions are 0 when the decision had no events.
  AppendResult append;
  std::size_t events_appended = 0;
  // True when the command id had already been handled: nothing was appended this time and
  // `append` describes the earlier append.
  bool duplicate = false;
  int attempts = 1;  // how many load-decide-append rounds it took (>1 after version conflicts)
};

}  // namespace sluice
