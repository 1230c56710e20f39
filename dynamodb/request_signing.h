// File: dynamodb/request_signing.h
//
// The DynamoDB JSON-protocol request and its SigV4 signature: POST / with
// content-type application/x-amz-json-1.0 and x-amz-target
// DynamoDB_20120810.<Operation>. The canonical request of that fixed shape is
// built directly here (the bytes aws::ComputeSignature would produce for it);
// aws::Signer supplies the generic pieces (signing-key cache, string to sign,
// Authorization header).
//
// Thread-safety: pure functions of their inputs but for the signer, which is
// safe for concurrent use.
#ifndef DYNATRONI_DYNAMODB_REQUEST_SIGNING_H_
#define DYNATRONI_DYNAMODB_REQUEST_SIGNING_H_

#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "core/clock.h"
#include "core/status.h"
#include "http/endpoint.h"
#include "http/transport.h"

namespace dynatroni::dynamodb {

// x-amz-target is this prefix followed by the operation name.
inline constexpr std::string_view kTargetPrefix = "DynamoDB_20120810.";
// The content type of every request (and response) of the JSON protocol.
inline constexpr std::string_view kContentType = "application/x-amz-json-1.0";
// The SigV4 service name DynamoDB signs with (aws::Signer's service).
inline constexpr std::string_view kSigningService = "dynamodb";

// Builds a complete signed request for `operation` (e.g. "PutItem") with
// `json_body`, to `endpoint` (parsed once by http::ParseEndpoint, as a client
// does), signed by `signer` (its region and service, e.g. "dynamodb"). `now`
// is the corrected wall time. The request goes to endpoint "/" with these
// headers, in order: host (endpoint.host_header), x-amz-date, content-type,
// x-amz-target, x-amz-security-token (temporary credentials only),
// authorization. Errors: kInvalidArgument for a bad operation name, empty
// credentials, or (from aws::ComputeSignature) an empty region or service.
Result<http::Request> SignDynamoDbRequest(aws::Signer& signer, const http::Endpoint& endpoint,
                                          std::string_view operation, std::string json_body,
                                          const aws::Credentials& creds, WallTime now);

// The same with the endpoint given as a URL ("https://dynamodb.us-east-1.amazonaws.com",
// "http://127.0.0.1:8000"), parsed by http::ParseEndpoint on each call (for
// one-off signing: the Python binding, the fuzz target). The endpoint is
// checked before the operation name.
Result<http::Request> SignDynamoDbRequest(aws::Signer& signer, std::string_view endpoint,
                                          std::string_view operation, std::string json_body,
                                          const aws::Credentials& creds, WallTime now);

}  // namespace dynatroni::dynamodb

#endif  // DYNATRONI_DYNAMODB_REQUEST_SIGNING_H_
