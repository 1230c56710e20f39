#include "dynamodb/request_signing.h"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "aws/sigv4.h"
#include "aws/sigv4_test_support.h"
#include "http/endpoint.h"

// The DynamoDB request shape and its signature (moved from aws/sigv4_test.cc
// with the code, issue #22): the same assertions, byte for byte.
namespace dynatroni::dynamodb {
namespace {

using namespace std::chrono_literals;
using aws::ComputeSignature;
using aws::Credentials;
using aws::SecretString;
using aws::Signer;
using aws::SigningInput;

using aws::testing::ExampleCreds;  // aws/sigv4_test_support.h
using aws::testing::kSuiteTime;

constexpr std::string_view kBody = R"({"TableName":"t","Key":{"k":{"S":"v"}}})";

TEST(DynamoDbSigning, DynamoDbRequestHasAStableHandCheckedSignature) {
  // Expected value computed independently with botocore 1.43 SigV4Auth (time patched) and
  // with a 15-line hashlib/hmac script over the canonical request below.
  Signer signer("us-west-2", "dynamodb");
  auto req = SignDynamoDbRequest(signer, "http://127.0.0.1:8000", "GetItem", std::string(kBody),
                                 ExampleCreds(), kSuiteTime);
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->url(), "http://127.0.0.1:8000/");
  EXPECT_EQ(req->body, kBody);
  http::Headers expected = {
      {"host", "127.0.0.1:8000"},
      {"x-amz-date", "20150830T123600Z"},
      {"content-type", "application/x-amz-json-1.0"},
      {"x-amz-target", "DynamoDB_20120810.GetItem"},
      {"authorization",
       "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/dynamodb/aws4_request, "
       "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
       "Signature=51ff37651203aaa83f11d39fa58bc401772a68d989ffce1ed5a66414754e1510"}};
  EXPECT_EQ(req->headers, expected);
}

TEST(DynamoDbSigning, SessionTokenIsSentAsSecurityTokenAndSigned) {
  Signer signer("us-west-2", "dynamodb");
  auto req = SignDynamoDbRequest(signer, "http://127.0.0.1:8000", "GetItem", std::string(kBody),
                                 ExampleCreds("SESSIONTOKEN/+="), kSuiteTime);
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  ASSERT_EQ(req->headers.size(), 6u);
  EXPECT_EQ(req->headers[4],
            (std::pair<std::string, std::string>("x-amz-security-token", "SESSIONTOKEN/+=")));
  EXPECT_EQ(req->headers[5].first, "authorization");
  // Also checked against botocore 1.43.
  EXPECT_EQ(req->headers[5].second,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/dynamodb/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
            "Signature=f024e839351fe943b5a64d270c3fd23941a003010af71cfe221b54c72ba8d3ab");
}

TEST(DynamoDbSigning, HostHeaderOmitsOnlyTheSchemesDefaultPort) {
  Signer signer("us-east-1", "dynamodb");
  auto host_of = [&](std::string_view endpoint) {
    auto req = SignDynamoDbRequest(signer, endpoint, "ListTables", "{}", ExampleCreds(), kSuiteTime);
    EXPECT_TRUE(req.ok()) << req.status().ToString();
    return req.ok() ? req->headers[0].second + " " + req->url() : "";
  };
  EXPECT_EQ(host_of("https://dynamodb.us-east-1.amazonaws.com"),
            "dynamodb.us-east-1.amazonaws.com https://dynamodb.us-east-1.amazonaws.com/");
  EXPECT_EQ(host_of("https://example.com:443/"), "example.com https://example.com:443/");
  EXPECT_EQ(host_of("http://example.com:80"), "example.com http://example.com:80/");
  EXPECT_EQ(host_of("http://example.com:443"), "example.com:443 http://example.com:443/");
  EXPECT_EQ(host_of("http://[::1]:8000"), "[::1]:8000 http://[::1]:8000/");
}

TEST(DynamoDbSigning, AParsedEndpointSignsTheSameBytesAsItsUrl) {
  Signer signer("us-east-1", "dynamodb");
  for (const char* url : {"https://dynamodb.us-east-1.amazonaws.com", "http://[::1]:8000/", "http://h:080"}) {
    auto parsed = http::ParseEndpoint(url, "endpoint");
    ASSERT_TRUE(parsed.ok()) << url;
    auto from_url = SignDynamoDbRequest(signer, url, "PutItem", "{}", ExampleCreds("tok"), kSuiteTime);
    auto from_parsed = SignDynamoDbRequest(signer, *parsed, "PutItem", "{}", ExampleCreds("tok"), kSuiteTime);
    ASSERT_TRUE(from_url.ok() && from_parsed.ok()) << url;
    EXPECT_EQ(from_parsed->url(), from_url->url());
    EXPECT_EQ(from_parsed->headers, from_url->headers);
    EXPECT_EQ(from_parsed->body, from_url->body);
  }
  auto parsed = http::ParseEndpoint("http://h", "endpoint");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(
      SignDynamoDbRequest(signer, *parsed, "Get-Item", "{}", ExampleCreds(), kSuiteTime).status().code(),
      StatusCode::kInvalidArgument);
}

TEST(DynamoDbSigning, MatchesComputeSignatureOnTheSameInput) {
  Signer signer("eu-west-1", "dynamodb");
  auto req = SignDynamoDbRequest(signer, "https://dynamodb.eu-west-1.amazonaws.com", "PutItem", "{}",
                                 ExampleCreds("tok"), kSuiteTime);
  ASSERT_TRUE(req.ok());
  SigningInput in;
  in.method = "POST";
  in.path = "/";
  in.headers = {req->headers.begin(), req->headers.end() - 1};
  in.payload = "{}";
  in.region = "eu-west-1";
  in.service = "dynamodb";
  in.time = kSuiteTime;
  auto st = ComputeSignature(in, ExampleCreds("tok"));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(req->headers.back().second, st->authorization);
}

// SignDynamoDbRequest builds the canonical request of its fixed shape directly;
// it must agree with the general algorithm for every operation, endpoint,
// token and time.
TEST(DynamoDbSigning, DirectDynamoDbSigningMatchesComputeSignatureEverywhere) {
  for (const std::string region : {"us-east-1", "eu-west-1"}) {
    Signer signer(region, "dynamodb");
    for (const std::string endpoint :
         {"http://127.0.0.1:8000", "https://dynamodb.eu-west-1.amazonaws.com", "http://[::1]:9000",
          "https://example.com:443/", "HTTP://Example.COM"}) {
      for (const std::string token : {"", "tok", "FwoGZXIvYXdzEBYaDH+/=="}) {
        for (const std::string op : {"GetItem", "Query", "TransactWriteItems"}) {
          for (int hours : {0, 11, 12, 24 * 400}) {
            const WallTime t = kSuiteTime + std::chrono::hours(hours) + 17s;
            const std::string body = R"({"TableName":"t","n":)" + std::to_string(hours) + "}";
            auto req = SignDynamoDbRequest(signer, endpoint, op, body, ExampleCreds(token), t);
            ASSERT_TRUE(req.ok()) << req.status().ToString();
            SigningInput in;
            in.method = "POST";
            in.path = "/";
            in.headers = {req->headers.begin(), req->headers.end() - 1};
            in.payload = body;
            in.region = region;
            in.service = "dynamodb";
            in.time = t;
            auto st = ComputeSignature(in, ExampleCreds(token));
            ASSERT_TRUE(st.ok()) << st.status().ToString();
            EXPECT_EQ(req->headers.back().first, "authorization");
            EXPECT_EQ(req->headers.back().second, st->authorization) << endpoint << " " << token << " " << op;
            EXPECT_EQ(req->body, body);
          }
        }
      }
    }
  }
}

TEST(DynamoDbSigning, CachesTheSigningKeyPerDateAndKey) {
  Signer signer("us-east-1", "dynamodb");
  auto sign = [&](const Credentials& c, WallTime t) {
    auto req = SignDynamoDbRequest(signer, "http://127.0.0.1:8000", "GetItem", "{}", c, t);
    EXPECT_TRUE(req.ok()) << req.status().ToString();
    return req.ok() ? req->headers.back().second : "";
  };
  Credentials a = ExampleCreds();
  std::string first = sign(a, kSuiteTime);
  EXPECT_EQ(signer.signing_key_derivations(), 1u);
  sign(a, kSuiteTime + 11h);                               // same UTC day: cache hit
  sign(ExampleCreds("a-session-token"), kSuiteTime + 1h);  // token is not part of the key
  EXPECT_EQ(signer.signing_key_derivations(), 1u);
  sign(a, kSuiteTime + 12h);  // next UTC day
  EXPECT_EQ(signer.signing_key_derivations(), 2u);
  Credentials other_secret = a;
  other_secret.secret_access_key = SecretString("another-secret");
  std::string rotated = sign(other_secret, kSuiteTime + 12h);
  EXPECT_EQ(signer.signing_key_derivations(), 3u);
  Credentials other_id = other_secret;
  other_id.access_key_id = "AKIDOTHER";
  sign(other_id, kSuiteTime + 12h);
  EXPECT_EQ(signer.signing_key_derivations(), 4u);
  // Back to the first key and day: re-derived, and the same signature as before.
  EXPECT_EQ(sign(a, kSuiteTime), first);
  EXPECT_EQ(signer.signing_key_derivations(), 5u);
  EXPECT_NE(rotated, first);
}

TEST(DynamoDbSigning, RejectsBadEndpointOperationAndCredentials) {
  Signer signer("us-east-1", "dynamodb");
  auto code = [&](std::string_view endpoint, std::string_view op, const Credentials& c) {
    return SignDynamoDbRequest(signer, endpoint, op, "{}", c, kSuiteTime).status().code();
  };
  EXPECT_EQ(code("ftp://x", "GetItem", ExampleCreds()), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("http://x/path", "GetItem", ExampleCreds()), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("http://x", "", ExampleCreds()), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("http://x", "Get Item", ExampleCreds()), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("http://x", "GetItem", Credentials{}), StatusCode::kInvalidArgument);
  Signer no_region("", "dynamodb");
  EXPECT_EQ(
      SignDynamoDbRequest(no_region, "http://x", "GetItem", "{}", ExampleCreds(), kSuiteTime).status().code(),
      StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dynatroni::dynamodb
