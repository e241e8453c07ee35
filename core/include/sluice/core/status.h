// Status and Result<T>: how every Sluice call reports failure. No exception crosses the public API.
//
// The code tells the caller what to do next:
//   kWrongExpectedVersion  reload the stream and decide again (actual_version() says where it is)
//   kRejected              a business rule said no; do not retry
//   kUnavailable           transient (locked, busy, shutting down); retry the same call later
//   kNotFound              the thing asked for does not exist
//   kInvalidArgument       the caller's input is wrong; fix it, retrying will not help
//   kCorruption            stored bytes are damaged; the message names the position
//   kIOError               the disk or the OS failed
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sluice {

enum class StatusCode : std::uint8_t {
  kOk = 0,
  kWrongExpectedVersion,
  kRejected,
  kUnavailable,
  kNotFound,
  kInvalidArgument,
  kCorruption,
  kIOError,
};

// Name of a code, e.g. "WrongExpectedVersion".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  static Status Ok() { return {}; }
  // `actual_version` is the stream's current version (-1: no stream).
  static Status WrongExpectedVersion(std::string message, std::int64_t actual_version);
  static Status Rejected(std::string message) {
    return {StatusCode::kRejected, std::move(message)};
  }
  static Status Unavailable(std::string message) {
    return {StatusCode::kUnavailable, std::move(message)};
  }
  static Status NotFound(std::string message) {
    return {StatusCode::kNotFound, std::move(message)};
  }
  static Status InvalidArgument(std::string message) {
    return {StatusCode::kInvalidArgument, std::move(message)};
  }
  static Status Corruption(std::string message) {
    return {StatusCode::kCorruption, std::move(message)};
  }
  static Status IOError(std::string message) { return {StatusCode::kIOError, std::move(message)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Set only for kWrongExpectedVersion.
  std::optional<std::int64_t> actual_version() const { return actual_version_; }

  bool IsWrongExpectedVersion() const { return code_ == StatusCode::kWrongExpectedVersion; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }

  // "OK" or "<CodeName>: <message>".
  std::string ToString() const;

  // The same code with "<context>: " before the message (OK stays OK).
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    Status copy = *this;
    copy.message_ = std::string(context) + ": " + message_;
    return copy;
  }

  // The one greppable way to ignore a Status on purpose.
  void PermitUncheckedError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::optional<std::int64_t> actual_version_;
};

// A value or a non-OK Status. Accessing value() of an error is a programming error (asserts).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value)
      : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    if (std::get<1>(data_).ok()) {
      data_.template emplace<1>(Status::InvalidArgument("Result constructed from an OK status"));
    }
  }

  bool ok() const { return data_.index() == 0; }
  // OK when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<1>(data_); }

  // REQUIRES: ok()
  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  T value_or(T fallback) const& { return ok() ? std::get<0>(data_) : std::move(fallback); }

  void PermitUncheckedError() const {}

 private:
  std::variant<T, Status> data_;
};

}  // namespace sluice

// Propagates a non-OK Status from an expression yielding Status.
#define SLUICE_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::sluice::Status sluice_status_ = (expr);        \
    if (!sluice_status_.ok()) return sluice_status_; \
  } while (false)
