#include "sluice/core/status.h"

namespace sluice {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kWrongExpectedVersion:
      return "WrongExpectedVersion";
    case StatusCode::kRejected:
      return "Rejected";
    case StatusCode::kUnavailable:
      return "Unavailable";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kCorruption:
      return "Corruption";
    case StatusCode::kIOError:
      return "IOError";
  }
  return "Unknown";
}

Status Status::WrongExpectedVersion(std::string message, std::int64_t actual_version) {
  Status s(StatusCode::kWrongExpectedVersion, std::move(message));
  s.actual_version_ = actual_version;
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace sluice
