#include "aws/providers/util.h"

#include <chrono>

#include <gtest/gtest.h>

namespace dynatroni::aws::providers_internal {
namespace {

using std::chrono::seconds;

WallTime At(int64_t unix_seconds) { return WallTime(seconds(unix_seconds)); }

TEST(ProvidersUtil, ParsesIso8601Forms) {
  // 2024-01-02T03:04:05Z = 1704164645
  EXPECT_EQ(*ParseIso8601("2024-01-02T03:04:05Z", "f"), At(1704164645));
  EXPECT_EQ(*ParseIso8601(" 2024-01-02T03:04:05z ", "f"), At(1704164645));
  EXPECT_EQ(*ParseIso8601("2024-01-02T03:04:05.250Z", "f"), At(1704164645) + std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseIso8601("2024-01-02T05:04:05+02:00", "f"), At(1704164645));
  EXPECT_EQ(*ParseIso8601("2024-01-01T23:04:05-0400", "f"), At(1704164645));
  EXPECT_EQ(*ParseIso8601("2024-02-29T00:00:00Z", "f"), At(1709164800));
}

TEST(ProvidersUtil, RejectsBadIso8601WithoutQuotingIt) {
  for (const char* bad :
       {"2024-01-02T03:04:05", "2024-13-02T03:04:05Z", "2023-02-29T00:00:00Z", "2024-01-02 03:04Z",
        "tomorrow", "", "2024-01-02T03:04:05Zjunk", "2024-01-02T25:00:00Z"}) {
    auto r = ParseIso8601(bad, "Expiration");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("Expiration"), std::string::npos);
    if (std::string(bad).size() > 3) {
      EXPECT_EQ(r.status().message().find(bad), std::string::npos) << bad;
    }
  }
}

TEST(ProvidersUtil, FormatsIso8601) {
  EXPECT_EQ(FormatIso8601(At(1704164645) + std::chrono::milliseconds(999)), "2024-01-02T03:04:05Z");
}

TEST(ProvidersUtil, FormEncodesReservedCharacters) {
  EXPECT_EQ(FormEncode("arn:aws:iam::1:role/x y+z=&~._-"),
            "arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx%20y%2Bz%3D%26~._-");
}

TEST(ProvidersUtil, ParsesContainerJson) {
  auto c = ParseJsonCredentials(
      R"({"AccessKeyId":"ASIAX","SecretAccessKey":"s3cr3t","Token":"tok","Expiration":"2024-01-02T03:04:05Z",
          "RoleArn":"arn:aws:iam::1:role/x"})",
      JsonCredentialFormat::kContainerOrImds, "container", false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIAX");
  EXPECT_EQ(c->secret_access_key.reveal(), "s3cr3t");
  EXPECT_EQ(c->session_token.reveal(), "tok");
  EXPECT_EQ(c->expiration, At(1704164645));
}

TEST(ProvidersUtil, JsonErrorsNeverQuoteTheBody) {
  const std::string secret = "wJalrXUtnFEMI-K7MDENG-SECRET";
  const std::string bodies[] = {
      "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" + secret + "\",",       // truncated
      "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" + secret + "\"} junk",  // trailing junk
      "{\"SecretAccessKey\":\"" + secret + "\",\"Token\":\"t\"}",             // no key id
      "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" + secret + "\",\"Token\":\"t\",\"Expiration\":\"" +
          secret + "\"}",  // bad expiration
      "[\"" + secret + "\"]",
  };
  for (const auto& body : bodies) {
    auto r = ParseJsonCredentials(body, JsonCredentialFormat::kContainerOrImds, "container", true);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse) << r.status().ToString();
    EXPECT_EQ(r.status().message().find(secret), std::string::npos) << r.status().message();
  }
}

TEST(ProvidersUtil, ProcessJsonNeedsVersionOne) {
  auto ok = ParseJsonCredentials(R"({"Version":1,"AccessKeyId":"AKIA","SecretAccessKey":"s"})",
                                 JsonCredentialFormat::kCredentialProcess, "p", false);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_FALSE(ok->expiration.has_value());
  EXPECT_TRUE(ok->session_token.empty());
  auto v2 = ParseJsonCredentials(R"({"Version":2,"AccessKeyId":"AKIA","SecretAccessKey":"s"})",
                                 JsonCredentialFormat::kCredentialProcess, "p", false);
  EXPECT_EQ(v2.status().code(), StatusCode::kMalformedResponse);
  auto none = ParseJsonCredentials(R"({"AccessKeyId":"AKIA","SecretAccessKey":"s"})",
                                   JsonCredentialFormat::kCredentialProcess, "p", false);
  EXPECT_EQ(none.status().code(), StatusCode::kMalformedResponse);
}

TEST(ProvidersUtil, ImdsFailureCodeIsUnavailable) {
  auto r = ParseJsonCredentials(R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"x"})",
                                JsonCredentialFormat::kContainerOrImds, "imds", true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("AssumeRoleUnauthorizedAccess"), std::string::npos);
}

TEST(ProvidersUtil, HttpErrorMapsStatusCodes) {
  EXPECT_EQ(HttpError("x", 403).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(HttpError("x", 401).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(HttpError("x", 503).code(), StatusCode::kUnavailable);
  EXPECT_EQ(HttpError("x", 429).code(), StatusCode::kUnavailable);
  EXPECT_EQ(HttpError("x", 404).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dynatroni::aws::providers_internal
