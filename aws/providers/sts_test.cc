#include "aws/providers/sts.h"

#include <gtest/gtest.h>

#include "aws/providers/testing_support.h"

namespace dynatroni::aws {
namespace {

using providers_internal::ParseStsCredentials;
using providers_internal::ParseStsError;
using providers_internal::StsFailure;
using providers_internal::XmlLeafText;
using testing::ScopedAwsEnv;
using testing::StsCredentialsXml;
using testing::StsErrorXml;

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
constexpr char kToken[] = "FwoGZXIvYXdzEXAMPLETOKEN";

TEST(StsXml, ParsesAssumeRoleResponse) {
  auto c = ParseStsCredentials(
      "<?xml version=\"1.0\"?>\n" +
          StsCredentialsXml("AssumeRole", "ASIAEXAMPLE", kSecret, kToken, "2024-01-02T03:04:05.000Z"),
      "AssumeRole");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIAEXAMPLE");
  EXPECT_EQ(c->secret_access_key.reveal(), kSecret);
  EXPECT_EQ(c->session_token.reveal(), kToken);
  EXPECT_EQ(c->expiration, WallTime(std::chrono::seconds(1704164645)));
}

TEST(StsXml, DecodesEntities) {
  auto c =
      ParseStsCredentials(StsCredentialsXml("AssumeRoleWithWebIdentity", "ASIA", "a&amp;b&lt;c&#x2F;d&#47;",
                                            "t&quot;", "2024-01-02T03:04:05Z"),
                          "AssumeRoleWithWebIdentity");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->secret_access_key.reveal(), "a&b<c/d/");
  EXPECT_EQ(c->session_token.reveal(), "t\"");
}

TEST(StsXml, RejectsMalformedBodiesWithoutLeakingSecrets) {
  const std::string good = StsCredentialsXml("AssumeRole", "ASIA", kSecret, kToken, "2024-01-02T03:04:05Z");
  std::string no_token = good;
  no_token.replace(
      no_token.find("<SessionToken>"),
      std::string("<SessionToken>").size() + sizeof(kToken) - 1 + std::string("</SessionToken>").size(), "");
  std::string twice = good;
  twice.insert(twice.find("<Expiration>"), "<AccessKeyId>OTHER</AccessKeyId>");
  std::string markup = good;
  markup.replace(markup.find(kToken), 4, "<b/>");
  std::string truncated = good.substr(0, good.find("</SecretAccessKey>") + 5);
  std::string bad_entity = good;
  bad_entity.replace(bad_entity.find(kToken), 3, "&bogus;");
  std::string bad_exp = StsCredentialsXml("AssumeRole", "ASIA", kSecret, kToken, "soon");
  const std::string cases[] = {
      no_token,
      twice,
      markup,
      truncated,
      bad_entity,
      bad_exp,
      StsCredentialsXml("AssumeRoleWithWebIdentity", "ASIA", kSecret, kToken,
                        "2024-01-02T03:04:05Z"),  // wrong action
      "{\"SecretAccessKey\":\"" + std::string(kSecret) + "\"}",
      "",
  };
  for (const auto& body : cases) {
    auto r = ParseStsCredentials(body, "AssumeRole");
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), StatusCode::kMalformedResponse) << r.status().ToString();
    EXPECT_EQ(r.status().message().find(kSecret), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find(kToken + 4), std::string::npos) << r.status().message();
  }
}

TEST(StsXml, LeafLookupMatchesWholeNamesOnly) {
  auto r = XmlLeafText("<a><AccessKeyIdX>1</AccessKeyIdX><AccessKeyId >2</AccessKeyId ></a>", "AccessKeyId");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, "2");
  auto absent = XmlLeafText("<a/>", "AccessKeyId");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
}

TEST(StsXml, ParsesErrorResponses) {
  auto e = ParseStsError(StsErrorXml("AccessDenied", "User: arn:aws:iam::1:user/u is not authorized"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "AccessDenied");
  EXPECT_EQ(e->message, "User: arn:aws:iam::1:user/u is not authorized");
  EXPECT_FALSE(ParseStsError("<html>502 Bad Gateway</html>").has_value());
  EXPECT_FALSE(ParseStsError("").has_value());
}

TEST(StsXml, MapsErrorCodesToStatus) {
  auto failure = [](int http, const std::string& code) {
    http::Response r;
    r.status = http;
    r.body = StsErrorXml(code, "msg");
    return StsFailure("STS AssumeRole", r);
  };
  Status denied = failure(403, "AccessDenied");
  EXPECT_EQ(denied.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.aws_error(), "AccessDenied");
  EXPECT_EQ(denied.http_status(), 403);
  EXPECT_NE(denied.message().find("AccessDenied: msg"), std::string::npos);
  EXPECT_EQ(failure(400, "InvalidIdentityToken").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(failure(400, "ExpiredTokenException").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(failure(400, "IDPCommunicationError").code(), StatusCode::kUnavailable);
  EXPECT_EQ(failure(400, "Throttling").code(), StatusCode::kUnavailable);
  EXPECT_EQ(failure(500, "InternalFailure").code(), StatusCode::kUnavailable);
  EXPECT_EQ(failure(400, "ValidationError").code(), StatusCode::kInvalidArgument);
  http::Response html;
  html.status = 502;
  html.body = "<html>bad gateway</html>";
  EXPECT_EQ(StsFailure("STS", html).code(), StatusCode::kUnavailable);
}

TEST(StsEndpoint, FollowsOverridesAndRegion) {
  ScopedAwsEnv env;
  EXPECT_EQ(*ResolveStsEndpoint("", "eu-west-1", ProcessEnvironment()),
            "https://sts.eu-west-1.amazonaws.com");
  EXPECT_EQ(*ResolveStsEndpoint("", "cn-north-1", ProcessEnvironment()),
            "https://sts.cn-north-1.amazonaws.com.cn");
  EXPECT_EQ(*ResolveStsEndpoint("", "", ProcessEnvironment()), "https://sts.amazonaws.com");
  env.Set("AWS_ENDPOINT_URL", "http://127.0.0.1:1000/");
  EXPECT_EQ(*ResolveStsEndpoint("", "eu-west-1", ProcessEnvironment()), "http://127.0.0.1:1000");
  env.Set("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2000");
  EXPECT_EQ(*ResolveStsEndpoint("", "eu-west-1", ProcessEnvironment()), "http://127.0.0.1:2000");
  EXPECT_EQ(*ResolveStsEndpoint("https://sts.example", "eu-west-1", ProcessEnvironment()),
            "https://sts.example");
  env.Set("AWS_ENDPOINT_URL_STS", "sts.local");
  auto bad = ResolveStsEndpoint("", "eu-west-1", ProcessEnvironment());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("AWS_ENDPOINT_URL_STS"), std::string::npos);
}

TEST(StsEndpoint, RegionOrderIsExplicitEnvThenProfile) {
  ScopedAwsEnv env;
  EXPECT_EQ(StsRegion("", "", ProcessEnvironment()), "");
  EXPECT_EQ(StsRegion("", "eu-central-1", ProcessEnvironment()), "eu-central-1");
  env.Set("AWS_DEFAULT_REGION", "us-west-1");
  EXPECT_EQ(StsRegion("", "eu-central-1", ProcessEnvironment()), "us-west-1");
  env.Set("AWS_REGION", "us-west-2");
  EXPECT_EQ(StsRegion("", "eu-central-1", ProcessEnvironment()), "us-west-2");
  EXPECT_EQ(StsRegion("ap-south-1", "eu-central-1", ProcessEnvironment()), "ap-south-1");
}

}  // namespace
}  // namespace dynatroni::aws
