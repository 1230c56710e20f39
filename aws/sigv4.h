// File: aws/sigv4.h
//
// AWS Signature Version 4 (header form, plus the presigned-URL query form) on
// OpenSSL. Generic: a service's request shape belongs to its own module (the
// DynamoDB one is dynamodb/request_signing.h, which signs through Signer).
//
// Each stage is exposed so the golden-file tests can check it: canonical
// request -> string to sign -> signature -> signed request.
//
// Thread-safety: the free functions are pure. Signer and ClockSkew are safe for
// concurrent use (their signing-key cache and clock offset are internally locked).
#ifndef DYNATRONI_AWS_SIGV4_H_
#define DYNATRONI_AWS_SIGV4_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "core/clock.h"
#include "core/status.h"
#include "http/transport.h"

namespace dynatroni::aws {

// Where the signature goes: the Authorization header (what DynamoDB uses) or
// the query string of a presigned URL.
enum class SignatureLocation { kHeaders, kQuery };

struct SigningInput {
  std::string method;  // "POST"
  // The path as it appears on the wire, e.g. "/" or "/a%20b/". It is normalized
  // when `normalize_path` (empty, "." and ".." segments removed, a trailing
  // slash kept) and then URI-encoded once more: the double encoding every AWS
  // service except S3 expects. (S3's single encoding is not supported.)
  std::string path;
  // Raw query string without '?', may be empty. Every name and value is
  // percent-decoded, strictly re-encoded, and the pairs sorted.
  std::string query;
  http::Headers headers;       // as the request carries them (must include host)
  std::string payload;         // request body; its SHA-256 is the payload hash
  std::string region;          // "us-east-1"
  std::string service;         // "dynamodb"
  WallTime time;               // signing time (already corrected for clock skew)
  bool normalize_path = true;  // remove redundant "/", "." and ".." segments
  // Also add and sign x-amz-content-sha256 (kHeaders only; DynamoDB does not need it).
  bool add_content_sha256_header = false;
  // Send the session token but leave it out of the signature (a few services want this).
  bool omit_session_token = false;
  SignatureLocation location = SignatureLocation::kHeaders;
  std::chrono::seconds expires_in{3600};  // X-Amz-Expires, kQuery only
};

struct SigningStages {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;       // lower-case hex
  std::string authorization;   // the Authorization header value (empty for kQuery)
  std::string amz_date;        // YYYYMMDDTHHMMSSZ
  std::string signed_headers;  // "host;x-amz-date"
  // Headers to append to the request, in this order. kHeaders: X-Amz-Security-Token
  // and X-Amz-Date unless input.headers has them, x-amz-content-sha256 when asked
  // for, then Authorization. kQuery: none.
  http::Headers headers_to_add;
  // The query string the signed request carries: input.query for kHeaders; for
  // kQuery, input.query followed by the X-Amz-* parameters (X-Amz-Security-Token
  // last, also when omit_session_token leaves it unsigned) and X-Amz-Signature.
  std::string query;
};

// Computes every stage. If creds carry a session token, x-amz-security-token
// is added to the signed headers (unless already present in input.headers).
// x-amz-date may be present in input.headers only with the value `time` gives.
// Never signed: user-agent, x-amzn-trace-id, connection, upgrade, sec-websocket-*.
// Repeated headers are joined with "," in order; values are trimmed and inner
// whitespace runs collapsed to one space.
// Errors: kInvalidArgument for an unusable input (no host header, an existing
// Authorization header, empty key id / secret / region / service, expires_in
// outside 1 s .. 7 days for kQuery).
Result<SigningStages> ComputeSignature(const SigningInput& input, const Credentials& creds);

// A header value as SigV4 signs it: trimmed, inner whitespace runs collapsed
// to one space.
std::string CanonicalHeaderValue(std::string_view value);

// "20150830T123600Z" for a wall time (UTC, truncated to the second).
std::string FormatAmzDate(WallTime t);

// Signing-key derivation, HMAC chain over date/region/service/"aws4_request".
// Returns the 32 raw key bytes.
std::string DeriveSigningKey(std::string_view secret, std::string_view date_yyyymmdd, std::string_view region,
                             std::string_view service);

// Tracks the offset between this host's wall clock and AWS's, learned from the
// server's Date header after a skew-related error, as the AWS SDKs do.
class ClockSkew {
 public:
  // A new measurement must differ from the current offset by more than this to
  // replace it. The Date header has 1 s resolution and the request's latency is
  // in the measurement, so smaller differences are noise; SigV4 tolerates 5 min.
  static constexpr Duration kMinCorrection = std::chrono::seconds(4);

  // Corrected "now" for signing: local_now + offset().
  WallTime Adjust(WallTime local_now) const;
  // Parses `http_date` (see ParseHttpDate). If server_date - local_now differs
  // from the current offset by more than kMinCorrection, makes it the new offset
  // and returns true (so one retry is worthwhile); otherwise (including when the
  // date does not parse) changes nothing and returns false.
  bool UpdateFromServerDate(std::string_view http_date, WallTime local_now);
  [[nodiscard]] Duration offset() const;

 private:
  mutable std::mutex mu_;
  Duration offset_{0};
};

// Parses an RFC 1123 ("Wed, 21 Oct 2015 07:28:00 GMT"), RFC 850
// ("Wednesday, 21-Oct-15 07:28:00 GMT") or asctime ("Wed Oct 21 07:28:00 2015")
// HTTP date. kInvalidArgument if unparsable.
Result<WallTime> ParseHttpDate(std::string_view s);

// Signs with SigV4 for one region and service. Caches the derived signing key
// per (date, access key, secret hash); builds no request of its own.
class Signer {
 public:
  Signer(std::string region, std::string service);

  // ComputeSignature with the cached signing key (derived afresh when the
  // input's region or service is not this signer's).
  Result<SigningStages> Sign(const SigningInput& input, const Credentials& creds);

  // The Authorization header value (header form) for a canonical request the
  // caller built itself, e.g. for a fixed request shape, in the bytes
  // ComputeSignature would produce for it: `signed_headers` is its signed
  // headers line ("content-type;host;x-amz-date"), `amz_date` its signing time
  // (FormatAmzDate). REQUIRES: a non-empty access key id and secret, and a
  // non-empty region and service (Sign reports those as errors).
  std::string AuthorizeCanonicalRequest(std::string_view canonical_request, std::string_view signed_headers,
                                        std::string_view amz_date, const Credentials& creds);

  [[nodiscard]] const std::string& region() const { return region_; }
  [[nodiscard]] const std::string& service() const { return service_; }
  // How many times a signing key was derived (cache misses); for tests.
  [[nodiscard]] uint64_t signing_key_derivations() const;

 private:
  std::string CachedSigningKey(const Credentials& creds, const std::string& date);

  std::string region_;
  std::string service_;
  mutable std::mutex mu_;
  // The derived key and what it was derived from (region_ and service_ are fixed).
  std::string cache_date_;  // YYYYMMDD
  std::string cache_access_key_id_;
  SecretString cache_secret_hash_;  // SHA-256 of the secret access key (32 bytes once set)
  SecretString cache_key_;
  uint64_t derivations_ = 0;
};

}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_SIGV4_H_
