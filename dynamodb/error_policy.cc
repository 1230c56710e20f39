#include "dynamodb/error_policy.h"

#include <array>

namespace dynatroni::dynamodb {

namespace {

using C = ErrorClass;

// docs/errors.md names the types it documents; the others are spellings of the same errors in other AWS
// services' protocols (and in moto/dynalite), classified alike.
constexpr std::array kErrorTypes = {
    ErrorTypeRow{"ConditionalCheckFailedException", C::kConditionFailed},
    ErrorTypeRow{"TransactionCanceledException", C::kTransactionCanceled},
    // Throttling: retried with throttle backoff; the request was refused, so not applied.
    ErrorTypeRow{"ProvisionedThroughputExceededException", C::kThrottle},
    ErrorTypeRow{"RequestLimitExceeded", C::kThrottle},
    ErrorTypeRow{"ThrottlingException", C::kThrottle},
    ErrorTypeRow{"Throttling", C::kThrottle},
    ErrorTypeRow{"ThrottledException", C::kThrottle},
    ErrorTypeRow{"RequestThrottledException", C::kThrottle},
    ErrorTypeRow{"TooManyRequestsException", C::kThrottle},
    ErrorTypeRow{"LimitExceededException", C::kThrottle},
    ErrorTypeRow{"TransactionInProgressException", C::kThrottle},
    ErrorTypeRow{"RequestThrottled", C::kThrottle},
    ErrorTypeRow{"SlowDown", C::kThrottle},
    ErrorTypeRow{"BandwidthLimitExceeded", C::kThrottle},
    ErrorTypeRow{"PriorRequestNotComplete", C::kThrottle},
    // Server-side failures: the request may have been applied.
    ErrorTypeRow{"InternalServerError", C::kServerFault},
    ErrorTypeRow{"InternalFailure", C::kServerFault},
    ErrorTypeRow{"InternalServerException", C::kServerFault},
    ErrorTypeRow{"ServiceUnavailable", C::kServerFault},
    ErrorTypeRow{"ServiceUnavailableException", C::kServerFault},
    ErrorTypeRow{"RequestTimeout", C::kServerFault},
    ErrorTypeRow{"RequestTimeoutException", C::kServerFault},
    // For a write, a definite rejection but still worth a retry.
    ErrorTypeRow{"ReplicatedWriteConflictException", C::kRetryableRejection},
    // Authentication and authorization. Skew candidates: a clock off by more than a few seconds may be the
    // cause (the Date header of the answer tells). Refused credentials: AWS refused the credentials
    // themselves (an expired session token, a key id or token it does not know, e.g. rotated out of a profile
    // file or a role session ended early), when it authenticated the request, before DynamoDB processed it:
    // NOT applied, so sending it again re-signed with credentials fetched anew is safe even for a write. AWS
    // says of ExpiredTokenException "Request a new security token and try again" (IAM API Reference, Common
    // Errors, https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html). Not AccessDenied: the
    // same identity would be denied again.
    ErrorTypeRow{"AccessDeniedException", C::kAuth},
    ErrorTypeRow{"AccessDenied", C::kAuth},
    ErrorTypeRow{"UnrecognizedClientException", C::kAuth, false, true},
    ErrorTypeRow{"MissingAuthenticationTokenException", C::kAuth},
    ErrorTypeRow{"MissingAuthenticationToken", C::kAuth},
    ErrorTypeRow{"IncompleteSignatureException", C::kAuth},
    ErrorTypeRow{"IncompleteSignature", C::kAuth},
    ErrorTypeRow{"InvalidSignatureException", C::kAuth, true, false},
    ErrorTypeRow{"ExpiredTokenException", C::kAuth, false, true},
    ErrorTypeRow{"ExpiredToken", C::kAuth, false, true},
    ErrorTypeRow{"SignatureDoesNotMatch", C::kAuth, true, false},
    ErrorTypeRow{"InvalidClientTokenId", C::kAuth, false, true},
    ErrorTypeRow{"RequestTimeTooSkewed", C::kAuth, true, false},
    ErrorTypeRow{"RequestExpired", C::kAuth, true, false},
    ErrorTypeRow{"RequestInTheFuture", C::kAuth, true, false},
    ErrorTypeRow{"AuthFailure", C::kAuth, true, false},
    // Missing resources.
    ErrorTypeRow{"ResourceNotFoundException", C::kNotFound},
    ErrorTypeRow{"TableNotFoundException", C::kNotFound},
    ErrorTypeRow{"ReplicaNotFoundException", C::kNotFound},
    ErrorTypeRow{"GlobalTableNotFoundException", C::kNotFound},
    ErrorTypeRow{"IndexNotFoundException", C::kNotFound},
    // The endpoint lacks the operation (e.g. dynalite's TransactWriteItems and TTL).
    ErrorTypeRow{"UnknownOperationException", C::kUnknownOperation},
    // The system is not in a state to accept the request.
    ErrorTypeRow{"ResourceInUseException", C::kPrecondition},
    ErrorTypeRow{"TransactionConflictException", C::kPrecondition},
    ErrorTypeRow{"IdempotentParameterMismatchException", C::kPrecondition},
    ErrorTypeRow{"ItemCollectionSizeLimitExceededException", C::kPrecondition},
    ErrorTypeRow{"DuplicateItemException", C::kPrecondition},
    ErrorTypeRow{"TableAlreadyExistsException", C::kPrecondition},
    ErrorTypeRow{"TableInUseException", C::kPrecondition},
    ErrorTypeRow{"ReplicaAlreadyExistsException", C::kPrecondition},
    ErrorTypeRow{"GlobalTableAlreadyExistsException", C::kPrecondition},
};

Decision Make(Verdict verdict, StatusCode code, bool throttle = false) {
  Decision d;
  d.verdict = verdict;
  d.code = code;
  d.throttle = throttle;
  return d;
}

Decision Done(Answer answer) {
  Decision d =
      Make(Verdict::kDone, answer == Answer::kSuccess ? StatusCode::kOk : StatusCode::kFailedPrecondition);
  d.answer = answer;
  return d;
}

// An error answer (not 2xx) whose body passed its checksum.
Decision ClassifyErrorAnswer(const AttemptFacts& f) {
  const int http = f.http_status;
  if (f.aws_error.empty()) {
    // No recognizable error document (HTML from a proxy, garbage, empty).
    if (http >= 500) return Make(Verdict::kUnknownOutcome, StatusCode::kUnavailable);
    if (http == 403) return Make(Verdict::kSurface, StatusCode::kPermissionDenied);
    return Make(Verdict::kSurface, StatusCode::kMalformedResponse);
  }
  const ErrorTypeRow row = LookUpErrorType(f.aws_error);
  switch (row.cls) {
    case C::kConditionFailed:
      return Done(Answer::kConditionFailed);
    case C::kTransactionCanceled:
      return Done(Answer::kTransactionCanceled);
    default:
      break;
  }
  // A 403 is an authentication failure whatever its type, unless it is throttling.
  if (row.cls == C::kAuth || (http == 403 && row.cls != C::kThrottle)) {
    Decision d = Make(Verdict::kSurface, StatusCode::kPermissionDenied);
    const bool skew = row.skew_candidate || f.message.find("Signature expired") != std::string_view::npos;
    d.try_clock_correction = skew && f.has_date_header && !f.clock_corrected;
    d.try_credentials_refresh = row.refused_credentials && !f.credentials_refreshed;
    return d;
  }
  if (row.cls == C::kThrottle) return Make(Verdict::kRetry, StatusCode::kUnavailable, /*throttle=*/true);
  if (row.cls == C::kRetryableRejection) return Make(Verdict::kRetry, StatusCode::kUnavailable);
  if (row.cls == C::kServerFault || http >= 500)
    return Make(Verdict::kUnknownOutcome, StatusCode::kUnavailable);
  switch (row.cls) {
    case C::kNotFound:
      return Make(Verdict::kSurface, StatusCode::kNotFound);
    case C::kUnknownOperation:
    case C::kPrecondition:
      return Make(Verdict::kSurface, StatusCode::kFailedPrecondition);
    default:
      // ValidationException, SerializationException and any other client error.
      return Make(Verdict::kSurface, StatusCode::kInvalidArgument);
  }
}

Decision ClassifyAny(const AttemptFacts& f) {
  switch (f.kind) {
    case AttemptFacts::Kind::kCredentialsFailed:
      // Transient provider failures are retried; a provider with nothing to give is a permission problem.
      if (f.failure == StatusCode::kUnavailable || f.failure == StatusCode::kDeadlineExceeded) {
        return Make(Verdict::kRetry, StatusCode::kUnavailable);
      }
      if (f.failure == StatusCode::kNotFound) return Make(Verdict::kSurface, StatusCode::kPermissionDenied);
      return Make(Verdict::kSurface, f.failure);
    case AttemptFacts::Kind::kSigningFailed:
      return Make(Verdict::kSurface, f.failure);
    case AttemptFacts::Kind::kTransportFailed:
      // http/transport.h: kUnavailable = certainly not sent; kUnknownOutcome = may have reached the server.
      switch (f.failure) {
        case StatusCode::kUnavailable:
          return Make(Verdict::kRetry, f.failure);
        case StatusCode::kUnknownOutcome:
        case StatusCode::kDeadlineExceeded:
          return Make(Verdict::kUnknownOutcome, f.failure);
        default:
          return Make(Verdict::kSurface, f.failure);
      }
    case AttemptFacts::Kind::kAnswered:
      break;
  }
  const int http = f.http_status;
  if (!f.crc_ok) {
    // A damaged 2xx (or 5xx) may answer an applied request; a damaged 4xx answers a refused one.
    return Make(http < 400 || http >= 500 ? Verdict::kUnknownOutcome : Verdict::kRetry,
                StatusCode::kMalformedResponse);
  }
  if (http >= 200 && http < 300) {
    if (f.body_decoded) return Done(Answer::kSuccess);
    return Make(Verdict::kUnknownOutcome, StatusCode::kMalformedResponse);
  }
  return ClassifyErrorAnswer(f);
}

}  // namespace

std::span<const ErrorTypeRow> ErrorTypeTable() { return kErrorTypes; }

ErrorTypeRow LookUpErrorType(std::string_view type) {
  for (const ErrorTypeRow& row : kErrorTypes) {
    if (row.type == type) return row;
  }
  return ErrorTypeRow{type, C::kClientError};
}

Decision Classify(bool is_write, const AttemptFacts& facts) {
  Decision d = ClassifyAny(facts);
  // Only a write can have an unknown outcome; a read is simply retried.
  if (d.verdict == Verdict::kUnknownOutcome && !is_write) d.verdict = Verdict::kRetry;
  return d;
}

StatusCode SurfacedCode(bool is_write, bool ambiguous, StatusCode attempt_code) {
  return is_write && ambiguous ? StatusCode::kUnknownOutcome : attempt_code;
}

StatusCode GaveUpCode(bool is_write, bool ambiguous, StatusCode last_code) {
  if (is_write && ambiguous) return StatusCode::kUnknownOutcome;
  // Bad bodies stay malformed; a skew retry that ran out of attempts stays an auth error.
  if (last_code == StatusCode::kMalformedResponse || last_code == StatusCode::kPermissionDenied)
    return last_code;
  return StatusCode::kUnavailable;
}

}  // namespace dynatroni::dynamodb
