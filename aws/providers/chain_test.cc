#include "aws/providers/chain.h"

#include <chrono>

#include <gtest/gtest.h>

#include "aws/providers/testing_support.h"
#include "http/testing_http_server.h"

namespace dynatroni::aws {
namespace {

using http::testing::ReceivedRequest;
using http::testing::Reply;
using http::testing::TestingHttpServer;
using std::chrono::seconds;
using testing::ParseForm;
using testing::RealTransport;
using testing::ScopedAwsEnv;
using testing::StsCredentialsXml;
using testing::WithProcessEnv;

constexpr char kSecrets[][24] = {"envSECRET111", "fileSECRET222", "stsSECRET333", "stsTOKEN444",
                                 "ctrSECRET555", "imdsSECRET666", "imdsTOKEN777"};

// One loopback server playing STS, the container endpoint and IMDS.
class FakeAws {
 public:
  FakeAws() {
    auto s = TestingHttpServer::Start([this](const ReceivedRequest& r) { return Handle(r); });
    EXPECT_TRUE(s.ok());
    server_ = std::move(s).value();
  }
  std::string url() const {
    std::string u = server_->Url("");
    while (!u.empty() && u.back() == '/') u.pop_back();
    return u;
  }
  int Count(const std::string& prefix) const {
    int n = 0;
    for (const auto& r : server_->requests()) n += r.target.rfind(prefix, 0) == 0 ? 1 : 0;
    return n;
  }
  int sts_status = 200;

 private:
  Reply Handle(const ReceivedRequest& r) {
    Reply reply;
    if (r.target == "/sts") {
      auto form = ParseForm(r.body);
      reply.status = sts_status;
      reply.body =
          StsCredentialsXml(form["Action"], "ASIASTS", kSecrets[2], kSecrets[3], "2030-01-01T00:00:00Z");
    } else if (r.target == "/container") {
      reply.body = std::string("{\"AccessKeyId\":\"ASIACTR\",\"SecretAccessKey\":\"") + kSecrets[4] +
                   "\",\"Token\":\"t\",\"Expiration\":\"2030-01-01T00:00:00Z\"}";
    } else if (r.target == "/latest/api/token") {
      reply.body = "imds-token";
    } else if (r.target == "/latest/meta-data/iam/security-credentials/") {
      reply.body = "role";
    } else if (r.target == "/latest/meta-data/iam/security-credentials/role") {
      reply.body = std::string("{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"") +
                   kSecrets[5] + "\",\"Token\":\"" + kSecrets[6] +
                   "\",\"Expiration\":\"2030-01-01T00:00:00Z\"}";
    } else {
      reply.status = 404;
    }
    return reply;
  }
  std::unique_ptr<TestingHttpServer> server_;
};

class ChainTest : public ::testing::Test {
 protected:
  std::shared_ptr<CredentialsProvider> Chain(bool cache = false) {
    ChainOptions o;
    o.transport = RealTransport();
    o.cache = cache;
    o.imds_endpoint = aws_.url();
    o.sts_endpoint = aws_.url() + "/sts";
    o.static_credentials = static_;
    return MakeDefaultChain(WithProcessEnv(o));
  }
  Result<Credentials> Resolve(bool cache = false) {
    return Chain(cache)->Resolve(Deadline::After(*SystemClock::Instance(), seconds(5)));
  }
  void EnableEverything() {
    Credentials s;
    s.access_key_id = "AKIASTATIC";
    s.secret_access_key = SecretString("staticSECRET");
    static_ = s;
    env_.Set("AWS_ACCESS_KEY_ID", "AKIAENV").Set("AWS_SECRET_ACCESS_KEY", kSecrets[0]);
    env_.WriteFile(".aws/credentials", std::string("[default]\naws_access_key_id = AKIAFILE\n"
                                                   "aws_secret_access_key = ") +
                                           kSecrets[1] + "\n");
    env_.Set("AWS_WEB_IDENTITY_TOKEN_FILE", env_.WriteFile("token", "jwt"))
        .Set("AWS_ROLE_ARN", "arn:aws:iam::1:role/w");
    env_.Set("AWS_CONTAINER_CREDENTIALS_FULL_URI", aws_.url() + "/container");
    env_.Unset("AWS_EC2_METADATA_DISABLED");
  }
  ScopedAwsEnv env_;
  FakeAws aws_;
  std::optional<Credentials> static_;
};

TEST_F(ChainTest, FollowsTheCliOrder) {
  EnableEverything();
  auto expect = [&](const std::string& id, const std::string& source) {
    auto c = Resolve();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->access_key_id, id);
    EXPECT_EQ(c->source, source);
  };
  expect("AKIASTATIC", "static");
  static_.reset();
  expect("AKIAENV", "environment");
  env_.Unset("AWS_ACCESS_KEY_ID").Unset("AWS_SECRET_ACCESS_KEY");
  expect("AKIAFILE", "profile:default");
  env_.WriteFile(".aws/credentials", "");
  expect("ASIASTS", "web-identity");
  env_.Unset("AWS_WEB_IDENTITY_TOKEN_FILE");
  expect("ASIACTR", "container");
  env_.Unset("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  expect("ASIAIMDS", "imds");
  EXPECT_EQ(aws_.Count("/sts"), 1);
  EXPECT_EQ(aws_.Count("/container"), 1);
}

TEST_F(ChainTest, FailureMessageNamesEveryLinkInOrder) {
  auto c = Resolve();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  const std::string& m = c.status().message();
  size_t last = 0;
  for (const char* link :
       {"static: ", "environment: ", "profile: ", "web-identity: ", "container: ", "imds: "}) {
    size_t at = m.find(link);
    ASSERT_NE(at, std::string::npos) << link << " missing in: " << m;
    EXPECT_GE(at, last) << link << " out of order in: " << m;
    last = at;
  }
  EXPECT_NE(m.find("AWS_EC2_METADATA_DISABLED"), std::string::npos) << m;
  EXPECT_NE(m.find("AWS_WEB_IDENTITY_TOKEN_FILE"), std::string::npos) << m;
  EXPECT_EQ(m.find("environment: environment:"), std::string::npos) << m;
}

TEST_F(ChainTest, AProviderThatAppliesButFailsStopsTheChain) {
  env_.Unset("AWS_EC2_METADATA_DISABLED");
  env_.WriteFile(".aws/credentials", "[default]\naws_access_key_id = AKIAHALF\n");
  auto c = Resolve();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message().rfind("profile: ", 0), 0u) << c.status().message();
  EXPECT_EQ(aws_.Count("/latest"), 0);  // IMDS never asked
}

TEST_F(ChainTest, ContainerExcludesImds) {
  env_.Unset("AWS_EC2_METADATA_DISABLED");
  env_.Set("AWS_CONTAINER_CREDENTIALS_FULL_URI", aws_.url() + "/missing");
  auto c = Resolve();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(c.status().message().rfind("container", 0), 0u) << c.status().message();
  EXPECT_EQ(aws_.Count("/latest"), 0);
}

TEST_F(ChainTest, ErrorsCarryNoSecrets) {
  EnableEverything();
  static_.reset();
  env_.Unset("AWS_ACCESS_KEY_ID").Unset("AWS_SECRET_ACCESS_KEY");
  env_.WriteFile(".aws/credentials", "");
  aws_.sts_status = 500;
  auto c = Resolve();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable) << c.status().ToString();
  EXPECT_EQ(c.status().message().rfind("web-identity: ", 0), 0u) << c.status().message();
  for (const char* s : kSecrets) EXPECT_EQ(c.status().message().find(s), std::string::npos) << s;
  EXPECT_EQ(c.status().message().find("jwt"), std::string::npos);
}

TEST_F(ChainTest, CachedChainResolvesOnce) {
  env_.Unset("AWS_EC2_METADATA_DISABLED");
  auto chain = Chain(true);
  for (int i = 0; i < 3; ++i) {
    auto c = chain->Resolve(Deadline::After(*SystemClock::Instance(), seconds(5)));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->source, "imds");
  }
  EXPECT_EQ(aws_.Count("/latest/meta-data/iam/security-credentials/role"), 1);
}

TEST_F(ChainTest, CustomChainSkipsOnlyNotFound) {
  auto chain =
      MakeProviderChain({MakeEnvironmentProvider(ProcessEnvironment()), MakeStaticProvider(Credentials{})});
  auto c = chain->Resolve(Deadline::Infinite());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message().rfind("static", 0), 0u) << c.status().message();
}

}  // namespace
}  // namespace dynatroni::aws
