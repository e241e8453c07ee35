// Stream versions, expected versions and global positions.
//
// The first event of a stream has version 0; a stream that does not exist has version kNoStream
// (-1). Global positions are 1, 2, 3, ... over the whole store; position 0 means "before the first
// event". A checkpoint is the last global position a consumer has fully processed.
#pragma once

#include <cstdint>
#include <string>

namespace sluice {

using StreamVersion = std::int64_t;
using GlobalPosition = std::uint64_t;

inline constexpr StreamVersion kNoStream = -1;

// What an append expects of the stream it writes to; the check is atomic with the write.
class ExpectedVersion {
 public:
  enum class Kind : std::uint8_t { kAny, kMustNotExist, kMustExist, kExact };

  static constexpr ExpectedVersion Any() { return ExpectedVersion(Kind::kAny, 0); }
  // The stream must not exist yet.
  static constexpr ExpectedVersion NoStream() {
    return ExpectedVersion(Kind::kMustNotExist, kNoStream);
  }
  // The stream must have at least one event.
  static constexpr ExpectedVersion StreamExists() { return ExpectedVersion(Kind::kMustExist, 0); }
  // The stream's last event must have exactly `version`. Exact(kNoStream) equals NoStream().
  static constexpr ExpectedVersion Exact(StreamVersion version) {
    return version < 0 ? NoStream() : ExpectedVersion(Kind::kExact, version);
  }

  constexpr Kind kind() const { return kind_; }
  // Meaningful for kExact (and kNoStream, where it is -1).
  constexpr StreamVersion version() const { return version_; }

  // True when a stream whose current version is `current` (kNoStream if absent) satisfies this.
  constexpr bool IsSatisfiedBy(StreamVersion current) const {
    switch (kind_) {
      case Kind::kAny:
        return true;
      case Kind::kMustNotExist:
        return current == kNoStream;
      case Kind::kMustExist:
        return current != kNoStream;
      case Kind::kExact:
        return current == version_;
    }
    return false;
  }

  // "any", "no_stream", "stream_exists" or the number.
  std::string ToString() const;

  friend constexpr bool operator==(ExpectedVersion, ExpectedVersion) = default;

 private:
  constexpr ExpectedVersion(Kind kind, StreamVersion version) : kind_(kind), version_(version) {}
  Kind kind_;
  StreamVersion version_;
};

inline std::string ExpectedVersion::ToString() const {
  switch (kind_) {
    case Kind::kAny:
      return "any";
    case Kind::kMustNotExist:
      return "no_stream";
    case Kind::kMustExist:
      return "stream_exists";
    case Kind::kExact:
      return std::to_string(version_);
  }
  return "?";
}

}  // namespace sluice
