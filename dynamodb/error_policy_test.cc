// The error policy row by row against docs/errors.md: every DynamoDB error type the doc names (checked by
// reading the doc) and every other row of the policy's table, then the answers without a type, transport and
// credential failures, the once-per-call recoveries and the final codes.
#include "dynamodb/error_policy.h"

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace dynatroni::dynamodb {
namespace {

using K = AttemptFacts::Kind;
using SC = StatusCode;
using V = Verdict;

AttemptFacts Answered(int http, std::string_view aws_error = {}, std::string_view message = {}) {
  AttemptFacts f;
  f.kind = K::kAnswered;
  f.http_status = http;
  f.aws_error = aws_error;
  f.message = message;
  return f;
}

AttemptFacts Failed(K kind, SC code) {
  AttemptFacts f;
  f.kind = kind;
  f.failure = code;
  return f;
}

struct TypeRow {
  V write_verdict;  // of a write answered with this type at HTTP 400
  SC code;
  bool throttle = false;
  bool skew = false;     // a clock-skew correction may be tried
  bool refetch = false;  // credentials fetched anew may be tried
};

// Every error type the policy classifies, and the client errors docs/errors.md names. HTTP 400 each.
const std::map<std::string, TypeRow, std::less<>>& ExpectedTypes() {
  static const auto* rows = new std::map<std::string, TypeRow, std::less<>>{
      // kInvalidArgument: "ValidationException / SerializationException from DynamoDB"; any other 4xx type
      // too.
      {"ValidationException", {V::kSurface, SC::kInvalidArgument}},
      {"SerializationException", {V::kSurface, SC::kInvalidArgument}},
      // kNotFound.
      {"ResourceNotFoundException", {V::kSurface, SC::kNotFound}},
      {"TableNotFoundException", {V::kSurface, SC::kNotFound}},
      {"ReplicaNotFoundException", {V::kSurface, SC::kNotFound}},
      {"GlobalTableNotFoundException", {V::kSurface, SC::kNotFound}},
      {"IndexNotFoundException", {V::kSurface, SC::kNotFound}},
      // kPermissionDenied; retried once after a clock-skew correction or credentials fetched anew.
      {"AccessDeniedException", {V::kSurface, SC::kPermissionDenied}},
      {"AccessDenied", {V::kSurface, SC::kPermissionDenied}},
      {"UnrecognizedClientException", {V::kSurface, SC::kPermissionDenied, false, false, true}},
      {"MissingAuthenticationTokenException", {V::kSurface, SC::kPermissionDenied}},
      {"MissingAuthenticationToken", {V::kSurface, SC::kPermissionDenied}},
      {"IncompleteSignatureException", {V::kSurface, SC::kPermissionDenied}},
      {"IncompleteSignature", {V::kSurface, SC::kPermissionDenied}},
      {"InvalidSignatureException", {V::kSurface, SC::kPermissionDenied, false, true}},
      {"ExpiredTokenException", {V::kSurface, SC::kPermissionDenied, false, false, true}},
      {"ExpiredToken", {V::kSurface, SC::kPermissionDenied, false, false, true}},
      {"InvalidClientTokenId", {V::kSurface, SC::kPermissionDenied, false, false, true}},
      {"SignatureDoesNotMatch", {V::kSurface, SC::kPermissionDenied, false, true}},
      {"RequestTimeTooSkewed", {V::kSurface, SC::kPermissionDenied, false, true}},
      {"RequestExpired", {V::kSurface, SC::kPermissionDenied, false, true}},
      {"RequestInTheFuture", {V::kSurface, SC::kPermissionDenied, false, true}},
      {"AuthFailure", {V::kSurface, SC::kPermissionDenied, false, true}},
      // kUnavailable after retries: throttling (not applied; throttle backoff).
      {"ProvisionedThroughputExceededException", {V::kRetry, SC::kUnavailable, true}},
      {"RequestLimitExceeded", {V::kRetry, SC::kUnavailable, true}},
      {"ThrottlingException", {V::kRetry, SC::kUnavailable, true}},
      {"Throttling", {V::kRetry, SC::kUnavailable, true}},
      {"ThrottledException", {V::kRetry, SC::kUnavailable, true}},
      {"RequestThrottledException", {V::kRetry, SC::kUnavailable, true}},
      {"TooManyRequestsException", {V::kRetry, SC::kUnavailable, true}},
      {"LimitExceededException", {V::kRetry, SC::kUnavailable, true}},
      {"TransactionInProgressException", {V::kRetry, SC::kUnavailable, true}},
      {"RequestThrottled", {V::kRetry, SC::kUnavailable, true}},
      {"SlowDown", {V::kRetry, SC::kUnavailable, true}},
      {"BandwidthLimitExceeded", {V::kRetry, SC::kUnavailable, true}},
      {"PriorRequestNotComplete", {V::kRetry, SC::kUnavailable, true}},
      // "refused with ReplicatedWriteConflictException": definitely not applied, retried.
      {"ReplicatedWriteConflictException", {V::kRetry, SC::kUnavailable}},
      // InternalServerError/ServiceUnavailable: retried; a write may have been applied.
      {"InternalServerError", {V::kUnknownOutcome, SC::kUnavailable}},
      {"InternalFailure", {V::kUnknownOutcome, SC::kUnavailable}},
      {"InternalServerException", {V::kUnknownOutcome, SC::kUnavailable}},
      {"ServiceUnavailable", {V::kUnknownOutcome, SC::kUnavailable}},
      {"ServiceUnavailableException", {V::kUnknownOutcome, SC::kUnavailable}},
      {"RequestTimeout", {V::kUnknownOutcome, SC::kUnavailable}},
      {"RequestTimeoutException", {V::kUnknownOutcome, SC::kUnavailable}},
      // kFailedPrecondition.
      {"ResourceInUseException", {V::kSurface, SC::kFailedPrecondition}},
      {"TransactionConflictException", {V::kSurface, SC::kFailedPrecondition}},
      {"UnknownOperationException", {V::kSurface, SC::kFailedPrecondition}},
      {"IdempotentParameterMismatchException", {V::kSurface, SC::kFailedPrecondition}},
      {"ItemCollectionSizeLimitExceededException", {V::kSurface, SC::kFailedPrecondition}},
      {"DuplicateItemException", {V::kSurface, SC::kFailedPrecondition}},
      {"TableAlreadyExistsException", {V::kSurface, SC::kFailedPrecondition}},
      {"TableInUseException", {V::kSurface, SC::kFailedPrecondition}},
      {"ReplicaAlreadyExistsException", {V::kSurface, SC::kFailedPrecondition}},
      {"GlobalTableAlreadyExistsException", {V::kSurface, SC::kFailedPrecondition}},
      // "A failed condition is a result, not an error".
      {"ConditionalCheckFailedException", {V::kDone, SC::kFailedPrecondition}},
      {"TransactionCanceledException", {V::kDone, SC::kFailedPrecondition}},
  };
  return *rows;
}

std::string ErrorsMd() {
  std::ifstream in(DYNATRONI_ERRORS_MD);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ErrorPolicy, EveryErrorTypeDocsErrorsMdNamesHasARow) {
  const std::string doc = ErrorsMd();
  ASSERT_NE(doc.find("## Codes"), std::string::npos) << "cannot read " << DYNATRONI_ERRORS_MD;
  // Backquoted names in the doc that are not DynamoDB error types.
  const std::set<std::string> not_types = {
      "BatchWriteItem",
      "CachingProvider",
      "CancellationReasons",
      "ClientRequestToken",
      "Date",
      "DeleteItem",
      "GetItem",
      "InvalidateRefused",
      "PutItem",
      "TransactWriteItems",
      "UnprocessedItems",
      "UpdateItem",
      "WaitUntilActive",
      "UnrecognizedClient",  // "ExpiredToken/UnrecognizedClient": short for UnrecognizedClientException
  };
  const std::regex name("`([A-Z][A-Za-z]+)`");
  int types = 0;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), name); it != std::sregex_iterator(); ++it) {
    const std::string found = (*it)[1];
    if (not_types.count(found) != 0) continue;
    ++types;
    EXPECT_EQ(ExpectedTypes().count(found), 1u) << "docs/errors.md names `" << found << "`: give it a row";
  }
  EXPECT_GE(types, 28) << "docs/errors.md names fewer error types than expected: is the regex still right?";
}

TEST(ErrorPolicy, EveryRowOfThePolicyTableIsTested) {
  std::set<std::string_view> seen;
  for (const ErrorTypeRow& row : ErrorTypeTable()) {
    EXPECT_TRUE(seen.insert(row.type).second) << row.type << " twice in the table";
    EXPECT_EQ(ExpectedTypes().count(row.type), 1u) << row.type << " has no row in this test";
  }
}

TEST(ErrorPolicy, EachErrorTypeAtHttp400) {
  for (const auto& [type, want] : ExpectedTypes()) {
    SCOPED_TRACE(type);
    AttemptFacts f = Answered(400, type);
    f.has_date_header = true;
    const Decision w = Classify(/*is_write=*/true, f);
    EXPECT_EQ(w.verdict, want.write_verdict);
    EXPECT_EQ(w.code, want.code);
    EXPECT_EQ(w.throttle, want.throttle);
    EXPECT_EQ(w.try_clock_correction, want.skew);
    EXPECT_EQ(w.try_credentials_refresh, want.refetch);
    if (want.write_verdict == V::kDone) {
      EXPECT_EQ(w.answer, type == "ConditionalCheckFailedException" ? Answer::kConditionFailed
                                                                    : Answer::kTransactionCanceled);
    } else {
      EXPECT_EQ(w.answer, Answer::kNone);
    }
    // A read is the same, except that it never has an unknown outcome: it is simply retried.
    const Decision r = Classify(/*is_write=*/false, f);
    EXPECT_EQ(r.verdict, want.write_verdict == V::kUnknownOutcome ? V::kRetry : want.write_verdict);
    EXPECT_EQ(r.code, want.code);
    EXPECT_EQ(r.throttle, want.throttle);
  }
}

TEST(ErrorPolicy, UnrecognisedTypeIsAClientErrorAt4xxAndRetriedAt5xx) {
  // "An unrecognised 4xx `__type` maps to `kInvalidArgument` with DynamoDB's message."
  EXPECT_EQ(LookUpErrorType("NoSuchThingException").cls, ErrorClass::kClientError);
  Decision d = Classify(true, Answered(400, "NoSuchThingException"));
  EXPECT_EQ(d.verdict, V::kSurface);
  EXPECT_EQ(d.code, SC::kInvalidArgument);
  // Any type at 5xx is a server fault (may have applied), unless it is throttling, auth or a rejection.
  for (std::string_view type : {"NoSuchThingException", "ValidationException", "ResourceNotFoundException",
                                "ResourceInUseException", "UnknownOperationException"}) {
    d = Classify(true, Answered(500, type));
    EXPECT_EQ(d.verdict, V::kUnknownOutcome) << type;
    EXPECT_EQ(d.code, SC::kUnavailable) << type;
    EXPECT_EQ(Classify(false, Answered(503, type)).verdict, V::kRetry) << type;
  }
  d = Classify(true, Answered(500, "ThrottlingException"));
  EXPECT_EQ(d.verdict, V::kRetry);
  EXPECT_TRUE(d.throttle);
  EXPECT_EQ(Classify(true, Answered(500, "ReplicatedWriteConflictException")).verdict, V::kRetry);
  EXPECT_EQ(Classify(true, Answered(500, "AccessDeniedException")).code, SC::kPermissionDenied);
  EXPECT_EQ(Classify(true, Answered(500, "ConditionalCheckFailedException")).verdict, V::kDone);
}

TEST(ErrorPolicy, A403IsAnAuthErrorWhateverItsTypeUnlessThrottling) {
  // "a 403 without details (moto answers XML)".
  for (std::string_view type :
       {"", "NoSuchThingException", "ResourceNotFoundException", "InternalServerError"}) {
    const Decision d = Classify(true, Answered(403, type));
    EXPECT_EQ(d.verdict, V::kSurface) << type;
    EXPECT_EQ(d.code, SC::kPermissionDenied) << type;
  }
  const Decision t = Classify(true, Answered(403, "ThrottlingException"));
  EXPECT_EQ(t.verdict, V::kRetry);
  EXPECT_TRUE(t.throttle);
}

TEST(ErrorPolicy, AnswersWithoutAType) {
  struct Row {
    int http;
    V write_verdict;
    SC code;
  };
  // No readable error document (HTML from a proxy, garbage, empty): 5xx retried (may have applied), 403
  // access denied, other: "a 4xx with an unreadable body" is kMalformedResponse, not retried.
  for (const Row& row :
       {Row{500, V::kUnknownOutcome, SC::kUnavailable}, Row{502, V::kUnknownOutcome, SC::kUnavailable},
        Row{403, V::kSurface, SC::kPermissionDenied}, Row{404, V::kSurface, SC::kMalformedResponse},
        Row{400, V::kSurface, SC::kMalformedResponse}, Row{301, V::kSurface, SC::kMalformedResponse}}) {
    const Decision d = Classify(true, Answered(row.http));
    EXPECT_EQ(d.verdict, row.write_verdict) << row.http;
    EXPECT_EQ(d.code, row.code) << row.http;
  }
}

TEST(ErrorPolicy, TwoHundredsAndChecksums) {
  AttemptFacts ok = Answered(200);
  ok.body_decoded = true;
  Decision d = Classify(true, ok);
  EXPECT_EQ(d.verdict, V::kDone);
  EXPECT_EQ(d.answer, Answer::kSuccess);
  EXPECT_EQ(d.code, SC::kOk);
  // "damaged/unparsable 2xx body": a write's outcome is unknown; a read retries, then kMalformedResponse.
  d = Classify(true, Answered(200));
  EXPECT_EQ(d.verdict, V::kUnknownOutcome);
  EXPECT_EQ(d.code, SC::kMalformedResponse);
  EXPECT_EQ(Classify(false, Answered(200)).verdict, V::kRetry);
  // x-amz-crc32 mismatches are retried; a damaged 2xx or 5xx may answer an applied write, a 4xx does not.
  for (int http : {200, 500, 400}) {
    AttemptFacts f = Answered(http, "ValidationException");
    f.crc_ok = false;
    f.body_decoded = true;
    d = Classify(true, f);
    EXPECT_EQ(d.verdict, http == 400 ? V::kRetry : V::kUnknownOutcome) << http;
    EXPECT_EQ(d.code, SC::kMalformedResponse) << http;
    EXPECT_EQ(Classify(false, f).verdict, V::kRetry) << http;
  }
}

TEST(ErrorPolicy, TransportFailures) {
  // http/transport.h: kUnavailable = certainly not sent; kUnknownOutcome = may have reached the server.
  struct Row {
    SC failure;
    V write_verdict;
  };
  for (const Row& row : {Row{SC::kUnavailable, V::kRetry}, Row{SC::kUnknownOutcome, V::kUnknownOutcome},
                         Row{SC::kDeadlineExceeded, V::kUnknownOutcome},
                         Row{SC::kInvalidArgument, V::kSurface}, Row{SC::kInternal, V::kSurface}}) {
    const AttemptFacts f = Failed(K::kTransportFailed, row.failure);
    const Decision d = Classify(true, f);
    EXPECT_EQ(d.verdict, row.write_verdict) << StatusCodeName(row.failure);
    EXPECT_EQ(d.code, row.failure) << StatusCodeName(row.failure);
    EXPECT_EQ(Classify(false, f).verdict,
              row.write_verdict == V::kUnknownOutcome ? V::kRetry : row.write_verdict);
  }
}

TEST(ErrorPolicy, CredentialAndSigningFailures) {
  // "transient credential-provider failures" are retried; "no credentials" is kPermissionDenied.
  struct Row {
    SC failure;
    V verdict;
    SC code;
  };
  for (const Row& row : {Row{SC::kUnavailable, V::kRetry, SC::kUnavailable},
                         Row{SC::kDeadlineExceeded, V::kRetry, SC::kUnavailable},
                         Row{SC::kNotFound, V::kSurface, SC::kPermissionDenied},
                         Row{SC::kPermissionDenied, V::kSurface, SC::kPermissionDenied},
                         Row{SC::kInvalidArgument, V::kSurface, SC::kInvalidArgument}}) {
    const Decision d = Classify(true, Failed(K::kCredentialsFailed, row.failure));
    EXPECT_EQ(d.verdict, row.verdict) << StatusCodeName(row.failure);
    EXPECT_EQ(d.code, row.code) << StatusCodeName(row.failure);
  }
  const Decision s = Classify(true, Failed(K::kSigningFailed, SC::kInvalidArgument));
  EXPECT_EQ(s.verdict, V::kSurface);
  EXPECT_EQ(s.code, SC::kInvalidArgument);
}

TEST(ErrorPolicy, RecoveriesAreOncePerCall) {
  // Clock skew: only with a Date header to correct from, and once.
  AttemptFacts f = Answered(400, "InvalidSignatureException");
  EXPECT_FALSE(Classify(true, f).try_clock_correction) << "no Date header";
  f.has_date_header = true;
  EXPECT_TRUE(Classify(true, f).try_clock_correction);
  f.clock_corrected = true;
  EXPECT_FALSE(Classify(true, f).try_clock_correction);
  // "Signature expired" in the message of any auth error (here an unknown type at 403).
  f = Answered(403, "SomethingElse", "Signature expired: 20200101T000000Z is now earlier than ...");
  f.has_date_header = true;
  EXPECT_TRUE(Classify(true, f).try_clock_correction);
  f.message = "Access denied";
  EXPECT_FALSE(Classify(true, f).try_clock_correction);
  // Refused credentials: fetched anew once; never for AccessDenied.
  f = Answered(400, "ExpiredTokenException");
  EXPECT_TRUE(Classify(true, f).try_credentials_refresh);
  f.credentials_refreshed = true;
  EXPECT_FALSE(Classify(true, f).try_credentials_refresh);
  EXPECT_FALSE(Classify(true, Answered(400, "AccessDeniedException")).try_credentials_refresh);
  // Either way the attempt's own verdict is to surface kPermissionDenied: the loop retries only if the
  // recovery works.
  EXPECT_EQ(Classify(true, Answered(400, "ExpiredTokenException")).verdict, V::kSurface);
}

TEST(ErrorPolicy, FinalCodes) {
  // "If an earlier attempt of a write was ambiguous, any final error other than a definitive answer is
  // reported as kUnknownOutcome."
  EXPECT_EQ(SurfacedCode(true, true, SC::kInvalidArgument), SC::kUnknownOutcome);
  EXPECT_EQ(SurfacedCode(true, false, SC::kInvalidArgument), SC::kInvalidArgument);
  EXPECT_EQ(SurfacedCode(false, true, SC::kNotFound), SC::kNotFound);
  // Out of attempts or time.
  EXPECT_EQ(GaveUpCode(true, true, SC::kUnavailable), SC::kUnknownOutcome);
  EXPECT_EQ(GaveUpCode(true, true, SC::kMalformedResponse), SC::kUnknownOutcome);
  EXPECT_EQ(GaveUpCode(true, false, SC::kUnavailable), SC::kUnavailable);
  EXPECT_EQ(GaveUpCode(false, true, SC::kUnknownOutcome), SC::kUnavailable);
  EXPECT_EQ(GaveUpCode(false, false, SC::kDeadlineExceeded), SC::kUnavailable);
  EXPECT_EQ(GaveUpCode(false, false, SC::kMalformedResponse), SC::kMalformedResponse);
  EXPECT_EQ(GaveUpCode(false, false, SC::kPermissionDenied), SC::kPermissionDenied);
}

}  // namespace
}  // namespace dynatroni::dynamodb
