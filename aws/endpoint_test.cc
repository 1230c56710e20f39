#include "aws/endpoint.h"

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "aws/test_env.h"

namespace dynatroni::aws {
namespace {

using testing_env::ScopedEnv;

const std::vector<std::string> kVars = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_DYNAMODB",
                                        "AWS_ENDPOINT_URL"};

TEST(ResolveRegion, ExplicitThenAwsRegionThenAwsDefaultRegion) {
  ScopedEnv env(kVars);
  env.Set("AWS_REGION", "eu-west-1");
  env.Set("AWS_DEFAULT_REGION", "eu-central-1");
  auto r = ResolveRegion("us-west-2", ProcessEnvironment());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->region, "us-west-2");
  EXPECT_EQ(r->source, "region");

  r = ResolveRegion("", ProcessEnvironment());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->region, "eu-west-1");
  EXPECT_EQ(r->source, "AWS_REGION");

  env.Set("AWS_REGION", "");  // empty counts as unset
  r = ResolveRegion("", ProcessEnvironment());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->region, "eu-central-1");
  EXPECT_EQ(r->source, "AWS_DEFAULT_REGION");
}

TEST(ResolveRegion, MissingOrImplausibleRegionIsInvalidArgumentWithAFix) {
  ScopedEnv env(kVars);
  auto none = ResolveRegion("", ProcessEnvironment());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("AWS_REGION"), std::string::npos);
  for (const char* bad : {"US-EAST-1", "us east 1", "-us-east-1", "us-east-1-", "us_east_1", "us-east-1/"}) {
    auto r = ResolveRegion(bad, ProcessEnvironment());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  env.Set("AWS_REGION", "Bad Region");
  auto from_env = ResolveRegion("", ProcessEnvironment());
  EXPECT_EQ(from_env.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(from_env.status().message().find("AWS_REGION"), std::string::npos);
  EXPECT_TRUE(ResolveRegion("cn-north-1", ProcessEnvironment()).ok());
  EXPECT_TRUE(ResolveRegion("us-gov-west-1", ProcessEnvironment()).ok());
}

TEST(ResolveEndpoint, ExplicitThenDynamoDbVariableThenGlobalVariableThenDefault) {
  ScopedEnv env(kVars);
  env.Set("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000/");
  env.Set("AWS_ENDPOINT_URL", "http://localhost:4566");

  auto e = ResolveEndpoint("https://ddb.example.com", "us-east-1", ProcessEnvironment());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->url, "https://ddb.example.com");
  EXPECT_EQ(e->source, "endpoint_url");
  EXPECT_FALSE(e->is_plain_http());

  e = ResolveEndpoint("", "us-east-1", ProcessEnvironment());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->url, "http://127.0.0.1:8000");
  EXPECT_EQ(e->source, "AWS_ENDPOINT_URL_DYNAMODB");
  EXPECT_TRUE(e->is_plain_http());

  env.Unset("AWS_ENDPOINT_URL_DYNAMODB");
  e = ResolveEndpoint("", "us-east-1", ProcessEnvironment());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->url, "http://localhost:4566");
  EXPECT_EQ(e->source, "AWS_ENDPOINT_URL");

  env.Unset("AWS_ENDPOINT_URL");
  e = ResolveEndpoint("", "eu-west-1", ProcessEnvironment());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->url, "https://dynamodb.eu-west-1.amazonaws.com");
  EXPECT_EQ(e->source, "default");

  e = ResolveEndpoint("", "cn-north-1", ProcessEnvironment());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->url, "https://dynamodb.cn-north-1.amazonaws.com.cn");
}

// The resolved endpoint comes parsed, with what it is signed for: a client takes
// it as is (dynamodb::ClientOptions::parsed_endpoint) and parses no URL again.
TEST(ResolveEndpoint, CarriesTheParsedEndpointAndTheSigningRegionAndService) {
  ScopedEnv env(kVars);
  auto e = ResolveEndpoint("HTTP://LocalHost:8000/", "eu-west-1", ProcessEnvironment());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->parsed.url, e->url);
  EXPECT_EQ(e->parsed.scheme, "http");
  EXPECT_EQ(e->parsed.host, "localhost");
  EXPECT_EQ(e->parsed.port, 8000);
  EXPECT_EQ(e->parsed.host_header, "localhost:8000");
  EXPECT_EQ(e->signing_region, "eu-west-1");
  EXPECT_EQ(e->signing_service, "dynamodb");
  env.Set("AWS_ENDPOINT_URL", "http://[::1]:4566");
  e = ResolveEndpoint("", "us-east-2", ProcessEnvironment());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->parsed.host_header, "[::1]:4566");
  EXPECT_EQ(e->signing_region, "us-east-2");
  env.Unset("AWS_ENDPOINT_URL");
  e = ResolveEndpoint("", "cn-north-1", ProcessEnvironment());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->parsed.host_header, "dynamodb.cn-north-1.amazonaws.com.cn");
  EXPECT_EQ(e->parsed.scheme, "https");
  EXPECT_EQ(e->signing_region, "cn-north-1");
}

TEST(ResolveEndpoint, BadUrlFromAVariableNamesTheVariable) {
  ScopedEnv env(kVars);
  env.Set("AWS_ENDPOINT_URL_DYNAMODB", "localhost:8000");
  auto e = ResolveEndpoint("", "us-east-1", ProcessEnvironment());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("AWS_ENDPOINT_URL_DYNAMODB"), std::string::npos);
  env.Unset("AWS_ENDPOINT_URL_DYNAMODB");
  EXPECT_EQ(ResolveEndpoint("", "", ProcessEnvironment()).status().code(), StatusCode::kInvalidArgument);
}

TEST(NormalizeEndpointUrl, AcceptsHostPortAndIpv6AndStripsOneTrailingSlash) {
  auto ok = [](const std::string& in) {
    auto r = NormalizeEndpointUrl(in, "endpoint_url");
    EXPECT_TRUE(r.ok()) << in << ": " << r.status().ToString();
    return r.ok() ? *r : "";
  };
  EXPECT_EQ(ok("http://127.0.0.1:8000/"), "http://127.0.0.1:8000");
  EXPECT_EQ(ok("HTTPS://DynamoDB.US-East-1.amazonaws.com"), "https://dynamodb.us-east-1.amazonaws.com");
  EXPECT_EQ(ok("http://[::1]:4567"), "http://[::1]:4567");
  EXPECT_EQ(ok("http://[fd00:ec2::254]"), "http://[fd00:ec2::254]");
  EXPECT_EQ(ok("http://dynamodb_local:8000"), "http://dynamodb_local:8000");
}

TEST(NormalizeEndpointUrl, RejectsEverythingElseNamingTheField) {
  for (const char* bad :
       {"", "localhost:8000", "ftp://host", "http://", "http://host/path", "http://host?q=1", "http://host#f",
        "http://host:0", "http://host:65536", "http://host:80a", "http://host//", "http://ho st",
        "http://[::1", "http://[::1]x", "http://[zz]"}) {
    auto r = NormalizeEndpointUrl(bad, "endpoint_url");
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().message().rfind("endpoint_url: ", 0), 0u) << r.status().message();
  }
  auto userinfo = NormalizeEndpointUrl("http://user:hunter2@host", "endpoint_url");
  EXPECT_EQ(userinfo.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(userinfo.status().message().find("hunter2"), std::string::npos);
}

TEST(ScopedEnv, RestoresSetAndUnsetVariables) {
  ::setenv("DYNATRONI_TEST_ENV_A", "before", 1);
  ::unsetenv("DYNATRONI_TEST_ENV_B");
  {
    ScopedEnv env({"DYNATRONI_TEST_ENV_A"});
    EXPECT_EQ(std::getenv("DYNATRONI_TEST_ENV_A"), nullptr);
    env.Set("DYNATRONI_TEST_ENV_A", "during");
    env.Set("DYNATRONI_TEST_ENV_B", "during");
    env.Set("DYNATRONI_TEST_ENV_B", "again");
    EXPECT_STREQ(std::getenv("DYNATRONI_TEST_ENV_B"), "again");
  }
  EXPECT_STREQ(std::getenv("DYNATRONI_TEST_ENV_A"), "before");
  EXPECT_EQ(std::getenv("DYNATRONI_TEST_ENV_B"), nullptr);
  ::unsetenv("DYNATRONI_TEST_ENV_A");
}

}  // namespace
}  // namespace dynatroni::aws
