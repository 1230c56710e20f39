// File: dynamodb/error_policy.h
//
// The client's error policy (docs/errors.md, "Codes" and "Retry policy") as
// one pure function: what one attempt's answer means for the call. The
// attempt loop (client.cc) gathers plain facts about the attempt (how the
// credentials lookup or the transport failed, or the HTTP status, whether the
// body passed its x-amz-crc32 check and decoded, DynamoDB's error type) and
// acts on the Decision: finish, back off and retry, or surface a Status code.
// Messages, sleeping, counting and the side effects of a recovery (correcting
// the clock skew, fetching credentials anew) stay with the loop.
//
// Thread-safety: everything here is a pure function of its arguments.
#ifndef DYNATRONI_DYNAMODB_ERROR_POLICY_H_
#define DYNATRONI_DYNAMODB_ERROR_POLICY_H_

#include <span>
#include <string_view>

#include "core/status.h"

namespace dynatroni::dynamodb {

// How DynamoDB's error type (the `__type` after its last '#') is treated.
enum class ErrorClass {
  kClientError,          // not in the table: a 4xx -> kInvalidArgument, a 5xx -> retried
  kConditionFailed,      // ConditionalCheckFailedException: a result, not an error
  kTransactionCanceled,  // TransactionCanceledException: a result, not an error
  kAuth,                 // credentials or signature refused -> kPermissionDenied
  kThrottle,             // retried with throttle backoff; certainly not applied
  kServerFault,          // retried; a write may have been applied
  kRetryableRejection,   // retried; certainly not applied (ReplicatedWriteConflictException)
  kNotFound,             // -> kNotFound
  kUnknownOperation,     // UnknownOperationException -> kFailedPrecondition
  kPrecondition,         // -> kFailedPrecondition
};

struct ErrorTypeRow {
  std::string_view type;
  ErrorClass cls;
  bool skew_candidate = false;       // a clock-skew correction may cure it (kAuth only)
  bool refused_credentials = false;  // credentials fetched anew may cure it (kAuth only)
};

// Every error type the policy knows, once each; any other is kClientError.
std::span<const ErrorTypeRow> ErrorTypeTable();
// The row of `type`, or a kClientError row when it is not in the table.
ErrorTypeRow LookUpErrorType(std::string_view type);

// What the loop does after an attempt.
enum class Verdict {
  kDone,            // a definitive answer (`answer`): return it
  kRetry,           // back off and retry; the attempt was certainly not applied (or the call is a read)
  kUnknownOutcome,  // back off and retry; the attempt may have been applied (a write becomes ambiguous)
  kSurface,         // stop now with `code` (unless a recovery flag below is set and works)
};

enum class Answer { kNone, kSuccess, kConditionFailed, kTransactionCanceled };

struct Decision {
  Verdict verdict = Verdict::kSurface;
  // The attempt's Status code: kOk for kSuccess, kFailedPrecondition for the
  // other answers, else the code the attempt's failure carries.
  StatusCode code = StatusCode::kInternal;
  Answer answer = Answer::kNone;
  bool throttle = false;  // back off from throttle_base_delay and count a throttle
  // With kSurface: retry at once if the loop can correct the clock skew from
  // the answer's Date header (try first), or else fetch credentials that
  // differ from the refused ones. Set only when not used yet in this call.
  bool try_clock_correction = false;
  bool try_credentials_refresh = false;
};

// One attempt's facts; exactly one of the kinds applies.
struct AttemptFacts {
  enum class Kind { kCredentialsFailed, kSigningFailed, kTransportFailed, kAnswered } kind = Kind::kAnswered;
  // kCredentialsFailed: the provider's code; kSigningFailed: the signer's; kTransportFailed:
  // Transport::Send's.
  StatusCode failure = StatusCode::kOk;
  // kAnswered:
  int http_status = 0;
  bool crc_ok = true;                  // x-amz-crc32 absent, unchecked, or matching
  bool body_decoded = false;           // 2xx: the body decoded (fast path or a JSON object)
  std::string_view aws_error;          // non-2xx: DynamoDB's error type, empty when none was readable
  std::string_view message;            // non-2xx: DynamoDB's message (for "Signature expired")
  bool has_date_header = false;        // the answer carries a Date header
  bool clock_corrected = false;        // a clock-skew correction was used earlier in this call
  bool credentials_refreshed = false;  // credentials were fetched anew earlier in this call
};

// The verdict on one attempt of a call (a write when `is_write`; a read's
// attempt is never kUnknownOutcome, only kRetry). Pure: the same facts always
// give the same Decision.
Decision Classify(bool is_write, const AttemptFacts& facts);

// The code of the call's final error `attempt_code` (an attempt's Decision
// code) when it ends there: kUnknownOutcome when the call is a write one of
// whose attempts may have been applied, else `attempt_code`.
StatusCode SurfacedCode(bool is_write, bool ambiguous, StatusCode attempt_code);

// The code of the call's final error when it runs out of attempts or time
// after a retryable failure with code `last_code`: kUnknownOutcome for an
// ambiguous write; kMalformedResponse and kPermissionDenied stay; else kUnavailable.
StatusCode GaveUpCode(bool is_write, bool ambiguous, StatusCode last_code);

}  // namespace dynatroni::dynamodb

#endif  // DYNATRONI_DYNAMODB_ERROR_POLICY_H_
