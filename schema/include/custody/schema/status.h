// Status: the result of an operation that returns no value.
//
// custody never lets an exception cross a library API. Every fallible
// function returns a Status (or a Result<T>, see result.h). A Status is
// cheap to copy when ok (no allocation) and carries a code and a human
// message otherwise. Messages say what failed, where, and how to fix it when
// that is known ("entries.ndjson line 17: prev does not match ...").
//
// Thread safety: a Status is a value; distinct objects may be used from
// distinct threads without synchronisation.
#ifndef CUSTODY_SCHEMA_STATUS_H_
#define CUSTODY_SCHEMA_STATUS_H_

#include <string>
#include <string_view>
#include <utility>

namespace custody::schema {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // the caller's input is malformed; retrying will not help
  kNotFound,            // the thing asked for does not exist
  kAlreadyExists,       // a unique key is taken
  kCorruption,          // stored or received data fails an integrity check
  kUnavailable,         // temporarily unable (queue full, map full); retry later
  kIOError,             // the operating system reported an error
  kPermissionDenied,    // authenticated but not allowed
  kUnauthenticated,     // no or unknown credentials
  kFailedPrecondition,  // the system is not in a state that allows this
  kResourceExhausted,   // a size limit was exceeded
  kInternal,            // a bug: an invariant did not hold
};

// Returns a stable lower-case name for `code` ("invalid_argument", ...).
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  // An ok status.
  Status() = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {Code::kPermissionDenied, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) { return {Code::kUnauthenticated, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) { return {Code::kFailedPrecondition, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) { return {Code::kResourceExhausted, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  // An IOError naming `what` and the text of `err` (an errno value).
  static Status FromErrno(int err, std::string_view what);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }

  // Returns a copy whose message is prefixed with `context` and ": ".
  // An ok status stays ok.
  Status Annotate(std::string_view context) const;

  // "ok", or "<code name>: <message>".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace custody::schema

// Evaluates `expr` (a Status) and returns it from the enclosing function when
// it is not ok.
#define CUSTODY_RETURN_IF_ERROR(expr)                   \
  do {                                                  \
    ::custody::schema::Status custody_status_ = (expr); \
    if (!custody_status_.ok()) return custody_status_;  \
  } while (0)

#endif  // CUSTODY_SCHEMA_STATUS_H_
