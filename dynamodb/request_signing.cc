#include "dynamodb/request_signing.h"

#include <algorithm>
#include <utility>

#include "aws/crypto.h"

namespace dynatroni::dynamodb {
namespace {

bool IsOperationName(std::string_view operation) {
  return !operation.empty() && std::all_of(operation.begin(), operation.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  });
}

Status BadOperation(std::string_view operation) {
  return InvalidArgument("DynamoDB operation name must be letters only, e.g. \"PutItem\"; got \"" +
                         std::string(operation) + "\"");
}

}  // namespace

Result<http::Request> SignDynamoDbRequest(aws::Signer& signer, std::string_view endpoint,
                                          std::string_view operation, std::string json_body,
                                          const aws::Credentials& creds, WallTime now) {
  DYNATRONI_ASSIGN_OR_RETURN(http::Endpoint parsed, http::ParseEndpoint(endpoint, "endpoint"));
  return SignDynamoDbRequest(signer, parsed, operation, std::move(json_body), creds, now);
}

Result<http::Request> SignDynamoDbRequest(aws::Signer& signer, const http::Endpoint& endpoint,
                                          std::string_view operation, std::string json_body,
                                          const aws::Credentials& creds, WallTime now) {
  if (!IsOperationName(operation)) return BadOperation(operation);
  const std::string& host = endpoint.host_header;
  if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
    return InvalidArgument(std::string("credentials: ") +
                           (creds.access_key_id.empty() ? "access_key_id" : "secret_access_key") +
                           " is empty");
  }

  const std::string amz_date = aws::FormatAmzDate(now);
  std::string target(kTargetPrefix);
  target.append(operation);
  const std::string& token = creds.session_token.reveal();

  http::Request req;
  req.method = "POST";
  req.endpoint = endpoint;
  req.target = "/";
  req.headers.reserve(6);
  req.headers.emplace_back("host", host);
  req.headers.emplace_back("x-amz-date", amz_date);
  req.headers.emplace_back("content-type", kContentType);
  req.headers.emplace_back("x-amz-target", target);
  if (!token.empty()) req.headers.emplace_back("x-amz-security-token", token);

  if (signer.region().empty() || signer.service().empty() || aws::CanonicalHeaderValue(host) != host ||
      aws::CanonicalHeaderValue(token) != token) {
    // Unusual input: the general algorithm (and its error messages).
    aws::SigningInput in;
    in.method = "POST";
    in.path = "/";
    in.region = signer.region();
    in.service = signer.service();
    in.time = now;
    in.headers = req.headers;
    in.payload = std::move(json_body);
    DYNATRONI_ASSIGN_OR_RETURN(aws::SigningStages st, signer.Sign(in, creds));
    req.headers.emplace_back("authorization", std::move(st.authorization));
    req.body = std::move(in.payload);
    return req;
  }

  // The request shape is fixed, so its canonical request is built directly
  // (the same bytes ComputeSignature produces: headers sorted by name, no query).
  const std::string_view signed_headers =
      token.empty() ? "content-type;host;x-amz-date;x-amz-target"
                    : "content-type;host;x-amz-date;x-amz-security-token;x-amz-target";
  std::string canonical;
  canonical.reserve(256 + host.size() + token.size() + target.size());
  canonical.append("POST\n/\n\ncontent-type:")
      .append(kContentType)
      .append("\nhost:")
      .append(host)
      .append("\nx-amz-date:")
      .append(amz_date)
      .append("\n");
  if (!token.empty()) canonical.append("x-amz-security-token:").append(token).append("\n");
  canonical.append("x-amz-target:")
      .append(target)
      .append("\n\n")
      .append(signed_headers)
      .append("\n")
      .append(aws::crypto::Sha256Hex(json_body));
  req.headers.emplace_back("authorization",
                           signer.AuthorizeCanonicalRequest(canonical, signed_headers, amz_date, creds));
  req.body = std::move(json_body);
  return req;
}

}  // namespace dynatroni::dynamodb
