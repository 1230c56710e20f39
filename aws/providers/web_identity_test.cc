#include "aws/providers/web_identity.h"

#include <chrono>

#include <gtest/gtest.h>

#include "aws/providers/testing_support.h"
#include "http/testing_http_server.h"

namespace dynatroni::aws {
namespace {

using http::testing::ReceivedRequest;
using http::testing::Reply;
using http::testing::TestingHttpServer;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ClockBridgeTransport;
using testing::ParseForm;
using testing::RealTransport;
using testing::ScopedAwsEnv;
using testing::StsCredentialsXml;
using testing::StsErrorXml;
using testing::WithProcessEnv;

constexpr char kStsSecret[] = "wiSECRETabc";
constexpr char kStsToken[] = "wiTOKENdef";

class WebIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = TestingHttpServer::Start([this](const ReceivedRequest& r) {
      if (handler_) return handler_(r);
      Reply reply;
      reply.body = StsCredentialsXml("AssumeRoleWithWebIdentity", "ASIAWEB", kStsSecret, kStsToken,
                                     "2030-01-01T00:00:00Z");
      return reply;
    });
    ASSERT_TRUE(s.ok());
    server_ = std::move(s).value();
    env_.Set("AWS_ENDPOINT_URL_STS", server_->Url("/"));
  }

  Result<Credentials> Resolve(Duration deadline = seconds(5)) {
    WebIdentityOptions o;
    o.transport = std::make_shared<ClockBridgeTransport>(RealTransport(), &clock_);
    o.clock = &clock_;
    return MakeWebIdentityProvider(WithProcessEnv(o))->Resolve(Deadline::After(clock_, deadline));
  }

  void Configure(const std::string& token) {
    token_file_ = env_.WriteFile("eks/token", token);
    env_.Set("AWS_WEB_IDENTITY_TOKEN_FILE", token_file_).Set("AWS_ROLE_ARN", "arn:aws:iam::1:role/eks-pod");
  }

  ScopedAwsEnv env_;
  FakeClock clock_;
  std::unique_ptr<TestingHttpServer> server_;
  std::function<Reply(const ReceivedRequest&)> handler_;
  std::string token_file_;
};

TEST_F(WebIdentityTest, NotConfiguredIsNotFoundNamingTheVariables) {
  auto none = Resolve();
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("AWS_WEB_IDENTITY_TOKEN_FILE"), std::string::npos);
  env_.Set("AWS_ROLE_ARN", "arn:aws:iam::1:role/x");
  auto half = Resolve();
  EXPECT_EQ(half.status().code(), StatusCode::kNotFound);
  EXPECT_NE(half.status().message().find("AWS_WEB_IDENTITY_TOKEN_FILE is not"), std::string::npos)
      << half.status().message();
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(WebIdentityTest, AssumesRoleWithUnsignedCall) {
  Configure("eyJhbGciOi.token-one\n");
  auto c = Resolve();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIAWEB");
  EXPECT_EQ(c->secret_access_key.reveal(), kStsSecret);
  EXPECT_EQ(c->session_token.reveal(), kStsToken);
  EXPECT_EQ(c->source, "web-identity");
  auto reqs = server_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].Header("authorization").empty());
  auto form = ParseForm(reqs[0].body);
  EXPECT_EQ(form["Action"], "AssumeRoleWithWebIdentity");
  EXPECT_EQ(form["Version"], "2011-06-15");
  EXPECT_EQ(form["RoleArn"], "arn:aws:iam::1:role/eks-pod");
  EXPECT_EQ(form["WebIdentityToken"], "eyJhbGciOi.token-one");
  // FakeClock's wall time starts at 1700000000.
  EXPECT_EQ(form["RoleSessionName"], "dynatroni-1700000000");
}

TEST_F(WebIdentityTest, RereadsTheRotatedTokenFile) {
  Configure("token-one");
  env_.Set("AWS_ROLE_SESSION_NAME", "pg-node-1");
  ASSERT_TRUE(Resolve().ok());
  env_.WriteFile("eks/token", "token-two");
  ASSERT_TRUE(Resolve().ok());
  auto reqs = server_->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(ParseForm(reqs[0].body)["WebIdentityToken"], "token-one");
  EXPECT_EQ(ParseForm(reqs[1].body)["WebIdentityToken"], "token-two");
  EXPECT_EQ(ParseForm(reqs[1].body)["RoleSessionName"], "pg-node-1");
}

TEST_F(WebIdentityTest, InvalidTokenIsPermissionDeniedWithoutLeakingIt) {
  Configure("secret-jwt-value");
  handler_ = [](const ReceivedRequest&) {
    Reply r;
    r.status = 400;
    r.reason = "Bad Request";
    r.body =
        StsErrorXml("InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider");
    return r;
  };
  auto c = Resolve();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(c.status().aws_error(), "InvalidIdentityToken");
  EXPECT_EQ(c.status().message().find("secret-jwt-value"), std::string::npos);
}

TEST_F(WebIdentityTest, MalformedAndSlowResponses) {
  Configure("tok");
  handler_ = [](const ReceivedRequest&) {
    Reply r;
    r.body =
        "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
        "<AccessKeyId>A</AccessKeyId><SecretAccessKey>" +
        std::string(kStsSecret) +
        "</SecretAccessKey></Credentials></AssumeRoleWithWebIdentityResult></"
        "AssumeRoleWithWebIdentityResponse>";
    return r;
  };
  auto malformed = Resolve();
  EXPECT_EQ(malformed.status().code(), StatusCode::kMalformedResponse);
  EXPECT_EQ(malformed.status().message().find(kStsSecret), std::string::npos);

  handler_ = [](const ReceivedRequest&) {
    Reply r;
    r.delay = milliseconds(3000);
    return r;
  };
  auto start = std::chrono::steady_clock::now();
  auto slow = Resolve(milliseconds(250));
  EXPECT_FALSE(slow.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2500));
}

TEST_F(WebIdentityTest, MissingTokenFileIsAnError) {
  env_.Set("AWS_WEB_IDENTITY_TOKEN_FILE", env_.home() + "/nope").Set("AWS_ROLE_ARN", "arn:aws:iam::1:role/x");
  auto c = Resolve();
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("/nope"), std::string::npos);
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(WebIdentityTest, UsesRegionalEndpointWithoutOverride) {
  // No override: the request goes to sts.<region>.amazonaws.com, which a
  // recording fake transport can observe without any network.
  class Recorder final : public http::Transport {
   public:
    Result<http::Response> Send(const http::Request& r, Deadline) override {
      url = r.url();
      return Unavailable("offline");
    }
    std::string url;
  };
  env_.Unset("AWS_ENDPOINT_URL_STS");
  env_.Set("AWS_REGION", "eu-central-1");
  Configure("tok");
  auto rec = std::make_shared<Recorder>();
  WebIdentityOptions o;
  o.transport = rec;
  o.clock = &clock_;
  auto c = MakeWebIdentityProvider(WithProcessEnv(o))->Resolve(Deadline::After(clock_, seconds(5)));
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(rec->url, "https://sts.eu-central-1.amazonaws.com/");
}

}  // namespace
}  // namespace dynatroni::aws
