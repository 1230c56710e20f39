// File: aws/sigv4.h
//
// AWS Signature Version 4 (header form) on OpenSSL, and the exact request shape
// DynamoDB's JSON protocol needs.
//
// Each stage is exposed so the golden-file tests can check it: canonical
// request -> string to sign -> signature -> signed request.
//
// Thread-safety: the free functions are pure. Signer is safe for concurrent
// use (its signing-key cache and clock offset are internally locked).
#ifndef DYNATRONI_AWS_SIGV4_H_
#define DYNATRONI_AWS_SIGV4_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "core/clock.h"
#include "core/status.h"
#include "http/transport.h"

namespace dynatroni::aws {

struct SigningInput {
  std::string method;         // "POST"
  std::string path;           // raw path, e.g. "/" (will be normalized/encoded if `normalize`)
  std::string query;          // raw query string without '?', may be empty
  http::Headers headers;      // as the request carries them (must include host)
  std::string payload;        // request body
  std::string region;         // "us-east-1"
  std::string service;        // "dynamodb"
  WallTime time;              // signing time (already corrected for clock skew)
  bool normalize_path = true; // false only for S3-style services
};

struct SigningStages {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;       // lower-case hex
  std::string authorization;   // the Authorization header value
  std::string amz_date;        // YYYYMMDDTHHMMSSZ
};

// Computes every stage. If creds carry a session token, x-amz-security-token
// is added to the signed headers (unless already present in input.headers).
// Errors: kInvalidArgument for an unusable input (e.g. no host header).
Result<SigningStages> ComputeSignature(const SigningInput& input, const Credentials& creds);

// "20150830T123600Z" for a wall time (UTC).
std::string FormatAmzDate(WallTime t);

// Signing-key derivation, HMAC chain over date/region/service/"aws4_request".
std::string DeriveSigningKey(std::string_view secret, std::string_view date_yyyymmdd,
                             std::string_view region, std::string_view service);

// Tracks the offset between this host's wall clock and AWS's, learned from the
// server's Date header after a skew-related error, as the AWS SDKs do.
class ClockSkew {
 public:
  // Corrected "now" for signing.
  WallTime Adjust(WallTime local_now) const;
  // Records server_date - local_now if `http_date` (RFC 1123, e.g.
  // "Wed, 21 Oct 2015 07:28:00 GMT") parses and differs by more than a few
  // seconds. Returns true when the offset changed (so one retry is worthwhile).
  bool UpdateFromServerDate(std::string_view http_date, WallTime local_now);
  [[nodiscard]] Duration offset() const;

 private:
  mutable std::mutex mu_;
  Duration offset_{0};
};

// Parses an RFC 1123 / RFC 850 / asctime HTTP date. kInvalidArgument if unparsable.
Result<WallTime> ParseHttpDate(std::string_view s);

// Signs DynamoDB JSON-protocol requests: POST /, content-type
// application/x-amz-json-1.0, x-amz-target DynamoDB_20120810.<Op>. Caches the
// derived signing key per (date, region, service, access key).
class Signer {
 public:
  Signer(std::string region, std::string service = "dynamodb");

  // Builds a complete signed request for `operation` (e.g. "PutItem") with
  // `json_body`, to `endpoint` ("https://dynamodb.us-east-1.amazonaws.com" or
  // "http://127.0.0.1:8000"). `now` is the corrected wall time.
  Result<http::Request> SignDynamoDbRequest(std::string_view endpoint, std::string_view operation,
                                            std::string json_body, const Credentials& creds,
                                            WallTime now);

  [[nodiscard]] const std::string& region() const { return region_; }

 private:
  std::string CachedSigningKey(const Credentials& creds, const std::string& date);

  std::string region_;
  std::string service_;
  std::mutex mu_;
  std::string cache_tag_;  // date|region|service|access key id|hash(secret)
  std::string cache_key_;
};

}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_SIGV4_H_
