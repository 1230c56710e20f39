// File: core/status.h
//
// The single error-reporting mechanism of the Dynatroni core: every fallible
// function returns a Status (no value) or a Result<T> (a value or a Status).
// The core never throws across its public API; exceptions thrown by third-party
// code (JSON parsing, std::bad_alloc aside) are caught at the boundary and turned
// into a Status. See docs/errors.md for how each code is chosen.
//
// Thread-safety: Status and Result<T> are values; concurrent const access is
// safe, any mutation needs external synchronization.
#ifndef DYNATRONI_CORE_STATUS_H_
#define DYNATRONI_CORE_STATUS_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace dynatroni {

// Canonical codes. Choose the most specific one that applies.
enum class StatusCode : int {
  kOk = 0,
  // The caller passed something invalid (or DynamoDB said ValidationException).
  // Not retryable: fix the input.
  kInvalidArgument = 1,
  // A table or other named resource does not exist (ResourceNotFoundException).
  kNotFound = 2,
  // Credentials missing, rejected, expired, or the principal lacks permission.
  kPermissionDenied = 3,
  // The service could not be reached or kept refusing (network errors,
  // throttling, 5xx) and the request was definitely NOT applied, or it was a
  // read. Safe to retry the whole operation later.
  kUnavailable = 4,
  // The caller's deadline passed before any attempt could complete. For writes
  // this is only used when no attempt was ever sent; see kUnknownOutcome.
  kDeadlineExceeded = 5,
  // A write was sent but no definitive answer came back (timeout or 5xx after
  // sending). It may or may not have been applied: resolve by a consistent
  // re-read, never by guessing.
  kUnknownOutcome = 6,
  // The server's response could not be understood (malformed or truncated
  // body, unknown attribute type, bad checksum).
  kMalformedResponse = 7,
  // The request is valid but the system is not in a state to accept it
  // (e.g. a table is not ACTIVE, a transaction was cancelled).
  kFailedPrecondition = 8,
  // A bug or an invariant violation inside Dynatroni.
  kInternal = 9,
};

std::string_view StatusCodeName(StatusCode code);

// How a call to a remote service ended, for the operator's log line: set by
// dynamodb::Client on every failure it returns (never on success, so the
// success path allocates nothing for it) and kept by Annotate/WithAwsError.
struct CallDetail {
  std::string operation;                 // e.g. "UpdateItem"
  std::string request_id;                // x-amzn-RequestId of the last answer received; empty when none came
  int attempts = 0;                      // requests started (0: nothing was sent)
  std::chrono::milliseconds elapsed{0};  // from the call's start to its failure
};

class [[nodiscard]] Status {
 public:
  // OK. Costs one null pointer.
  Status() = default;
  Status(StatusCode code, std::string message);

  static Status Ok() { return {}; }

  [[nodiscard]] bool ok() const { return rep_ == nullptr; }
  [[nodiscard]] StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  // Human readable, one line; never contains credentials.
  [[nodiscard]] const std::string& message() const;
  // DynamoDB's error type after the last '#', e.g. "ThrottlingException";
  // empty when the error did not come from the service.
  [[nodiscard]] const std::string& aws_error() const;
  // HTTP status of the failing response, 0 when there was none.
  [[nodiscard]] int http_status() const { return rep_ ? rep_->http_status : 0; }

  // The call that failed, when the error came from a remote call; nullptr otherwise.
  [[nodiscard]] const CallDetail* call_detail() const;

  Status& WithAwsError(std::string aws_error, int http_status);
  // Sets (replaces) the call detail; no effect on OK.
  Status& WithCallDetail(CallDetail detail);
  // For an error built anew from `cause` (the failure it reports): takes the
  // cause's DynamoDB error code, HTTP status and call detail where this one
  // has none. No effect on OK, or when `cause` is OK.
  Status& WithCauseOf(const Status& cause);
  // Returns a copy whose message is "<context>: <message>".
  [[nodiscard]] Status Annotate(std::string_view context) const;

  // "<CodeName>: <message>" (plus " [aws_error, HTTP n]" when known).
  [[nodiscard]] std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    std::string aws_error;
    int http_status = 0;
    std::optional<CallDetail> call;
  };
  std::shared_ptr<const Rep> rep_;
};

// Convenience factories.
Status InvalidArgument(std::string message);
Status NotFound(std::string message);
Status PermissionDenied(std::string message);
Status Unavailable(std::string message);
Status DeadlineExceeded(std::string message);
Status UnknownOutcome(std::string message);
Status MalformedResponse(std::string message);
Status FailedPrecondition(std::string message);
Status Internal(std::string message);

// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "Result built from OK status");
  }

  [[nodiscard]] bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: !ok() for a meaningful Status; returns OK when a value is held.
  [[nodiscard]] Status status() const { return ok() ? Status() : std::get<Status>(v_); }
  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace dynatroni

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define DYNATRONI_RETURN_IF_ERROR(expr)        \
  do {                                         \
    ::dynatroni::Status dyn_status_ = (expr);  \
    if (!dyn_status_.ok()) return dyn_status_; \
  } while (false)

#define DYNATRONI_CONCAT_INNER_(a, b) a##b
#define DYNATRONI_CONCAT_(a, b) DYNATRONI_CONCAT_INNER_(a, b)
// `DYNATRONI_ASSIGN_OR_RETURN(auto x, ExprReturningResult());`
#define DYNATRONI_ASSIGN_OR_RETURN(lhs, rexpr) \
  DYNATRONI_ASSIGN_OR_RETURN_IMPL_(DYNATRONI_CONCAT_(dyn_result_, __LINE__), lhs, rexpr)
#define DYNATRONI_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                     \
  if (!tmp.ok()) return tmp.status();                     \
  lhs = std::move(tmp).value()

#endif  // DYNATRONI_CORE_STATUS_H_
