#include "aws/providers/imds.h"

#include <atomic>
#include <chrono>
#include <mutex>

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
using testing::RealTransport;
using testing::ScopedAwsEnv;
using testing::WithProcessEnv;

constexpr char kSecret[] = "imdsSECRETkkk";
constexpr char kToken[] = "imdsTOKENjjj";

// A fake instance metadata service with IMDSv2 semantics.
class FakeImds {
 public:
  FakeImds() {
    auto s = TestingHttpServer::Start([this](const ReceivedRequest& r) { return Handle(r); });
    EXPECT_TRUE(s.ok());
    server_ = std::move(s).value();
  }
  std::string url() const {
    std::string u = server_->Url("");
    while (!u.empty() && u.back() == '/') u.pop_back();
    return u;
  }
  std::vector<ReceivedRequest> requests() const { return server_->requests(); }

  std::mutex mu;
  int token_status = 200;
  bool require_token = true;
  std::string role = "db-role";
  std::string creds_body = std::string(
                               "{\"Code\":\"Success\",\"LastUpdated\":\"2024-01-01T00:00:00Z\",\"Type\":"
                               "\"AWS-HMAC\",\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"") +
                           kSecret + "\",\"Token\":\"" + kToken +
                           "\",\"Expiration\":\"2030-01-01T00:00:00Z\"}";
  milliseconds delay{0};
  int reject_next_token_uses = 0;  // answer 401 this many times
  int tokens_issued = 0;

 private:
  Reply Handle(const ReceivedRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    Reply reply;
    reply.delay = delay;
    if (r.target == "/latest/api/token") {
      if (r.method != "PUT" || r.Header("x-aws-ec2-metadata-token-ttl-seconds").empty()) {
        reply.status = 400;
        return reply;
      }
      reply.status = token_status;
      if (token_status == 200) reply.body = "tok-" + std::to_string(++tokens_issued);
      return reply;
    }
    if (r.method != "GET") {
      reply.status = 405;
      return reply;
    }
    std::string token(r.Header("x-aws-ec2-metadata-token"));
    if (require_token && token != "tok-" + std::to_string(tokens_issued)) {
      reply.status = 401;
      return reply;
    }
    if (reject_next_token_uses > 0) {
      --reject_next_token_uses;
      reply.status = 401;
      return reply;
    }
    if (r.target == "/latest/meta-data/iam/security-credentials/") {
      if (role.empty()) {
        reply.status = 404;
      } else {
        reply.body = role + "\n";
      }
    } else if (r.target == "/latest/meta-data/iam/security-credentials/" + role) {
      reply.body = creds_body;
    } else if (r.target == "/latest/meta-data/placement/region") {
      reply.body = "eu-west-3";
    } else {
      reply.status = 404;
    }
    return reply;
  }
  std::unique_ptr<TestingHttpServer> server_;
};

class ImdsTest : public ::testing::Test {
 protected:
  void SetUp() override { env_.Unset("AWS_EC2_METADATA_DISABLED"); }
  ImdsOptions Options() {
    ImdsOptions o;
    o.transport = std::make_shared<ClockBridgeTransport>(RealTransport(), &clock_);
    o.clock = &clock_;
    o.endpoint = imds_.url();
    return o;
  }
  Deadline In(Duration d) { return Deadline::After(clock_, d); }
  ScopedAwsEnv env_;
  FakeClock clock_;
  FakeImds imds_;
};

TEST_F(ImdsTest, FetchesRoleCredentialsWithToken) {
  auto c = MakeImdsProvider(WithProcessEnv(Options()))->Resolve(In(seconds(5)));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIAIMDS");
  EXPECT_EQ(c->secret_access_key.reveal(), kSecret);
  EXPECT_EQ(c->session_token.reveal(), kToken);
  EXPECT_EQ(c->source, "imds");
  auto reqs = imds_.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].Header("x-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(reqs[1].target, "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(reqs[2].target, "/latest/meta-data/iam/security-credentials/db-role");
  EXPECT_EQ(reqs[2].Header("x-aws-ec2-metadata-token"), "tok-1");
}

TEST_F(ImdsTest, CachesTheTokenUntilNearItsTtl) {
  ImdsOptions o = Options();
  o.token_ttl = seconds(600);
  o.token_refresh_margin = seconds(60);
  auto client = std::make_shared<ImdsClient>(WithProcessEnv(o));
  auto provider = MakeImdsProvider(client);
  ASSERT_TRUE(provider->Resolve(In(seconds(5))).ok());
  EXPECT_EQ(imds_.requests()[0].Header("x-aws-ec2-metadata-token-ttl-seconds"), "600");
  clock_.Advance(seconds(530));
  ASSERT_TRUE(provider->Resolve(In(seconds(5))).ok());
  EXPECT_EQ(client->token_fetches(), 1);
  clock_.Advance(seconds(20));  // 550 s: inside the 60 s margin
  ASSERT_TRUE(provider->Resolve(In(seconds(5))).ok());
  EXPECT_EQ(client->token_fetches(), 2);
  EXPECT_EQ(imds_.requests().size(), 8u);  // 3 + 2 + 3
}

TEST_F(ImdsTest, RefetchesTokenOnceAfter401) {
  auto client = std::make_shared<ImdsClient>(WithProcessEnv(Options()));
  ASSERT_TRUE(MakeImdsProvider(client)->Resolve(In(seconds(5))).ok());
  {
    std::lock_guard<std::mutex> lock(imds_.mu);
    imds_.reject_next_token_uses = 1;
  }
  auto c = MakeImdsProvider(client)->Resolve(In(seconds(5)));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(client->token_fetches(), 2);
}

TEST_F(ImdsTest, DisabledByEnvironment) {
  env_.Set("AWS_EC2_METADATA_DISABLED", "TRUE");
  auto c = MakeImdsProvider(WithProcessEnv(Options()))->Resolve(In(seconds(5)));
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("disabled"), std::string::npos);
  EXPECT_TRUE(imds_.requests().empty());
}

TEST_F(ImdsTest, NoImdsV1FallbackUnlessAllowed) {
  {
    std::lock_guard<std::mutex> lock(imds_.mu);
    imds_.token_status = 404;
    imds_.require_token = false;
  }
  auto strict = MakeImdsProvider(WithProcessEnv(Options()))->Resolve(In(seconds(5)));
  EXPECT_EQ(strict.status().code(), StatusCode::kFailedPrecondition) << strict.status().ToString();
  EXPECT_NE(strict.status().message().find("allow_imdsv1_fallback"), std::string::npos);
  EXPECT_EQ(imds_.requests().size(), 1u);

  ImdsOptions o = Options();
  o.allow_imdsv1_fallback = true;
  auto v1 = MakeImdsProvider(WithProcessEnv(o))->Resolve(In(seconds(5)));
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  auto reqs = imds_.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_TRUE(reqs[2].Header("x-aws-ec2-metadata-token").empty());
}

TEST_F(ImdsTest, ForbiddenTokenIsPermissionDenied) {
  {
    std::lock_guard<std::mutex> lock(imds_.mu);
    imds_.token_status = 403;
  }
  auto c = MakeImdsProvider(WithProcessEnv(Options()))->Resolve(In(seconds(5)));
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
}

TEST_F(ImdsTest, NoRoleIsNotFound) {
  {
    std::lock_guard<std::mutex> lock(imds_.mu);
    imds_.role = "";
  }
  auto c = MakeImdsProvider(WithProcessEnv(Options()))->Resolve(In(seconds(5)));
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("no IAM role"), std::string::npos);
}

TEST_F(ImdsTest, NoServiceIsNotFound) {
  ImdsOptions o = Options();
  {
    // A port that was just free: connection refused.
    FakeImds gone;
    o.endpoint = gone.url();
  }
  auto c = MakeImdsProvider(WithProcessEnv(o))->Resolve(In(seconds(5)));
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound) << c.status().ToString();
  EXPECT_NE(c.status().message().find("not running on EC2"), std::string::npos);
}

TEST_F(ImdsTest, MalformedAndFailedCredentialDocuments) {
  {
    std::lock_guard<std::mutex> lock(imds_.mu);
    imds_.creds_body = imds_.creds_body.substr(0, imds_.creds_body.size() - 3);
  }
  auto malformed = MakeImdsProvider(WithProcessEnv(Options()))->Resolve(In(seconds(5)));
  EXPECT_EQ(malformed.status().code(), StatusCode::kMalformedResponse);
  EXPECT_EQ(malformed.status().message().find(kSecret), std::string::npos);
  EXPECT_EQ(malformed.status().message().find(kToken), std::string::npos);
  {
    std::lock_guard<std::mutex> lock(imds_.mu);
    imds_.creds_body = "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"x\"}";
  }
  auto failed = MakeImdsProvider(WithProcessEnv(Options()))->Resolve(In(seconds(5)));
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
}

TEST_F(ImdsTest, EachCallHasAShortTimeout) {
  {
    std::lock_guard<std::mutex> lock(imds_.mu);
    imds_.delay = milliseconds(3000);
  }
  ImdsOptions o = Options();
  o.per_call_timeout = milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  // Even with no caller deadline, the per-call timeout bounds the wait.
  auto c = MakeImdsProvider(WithProcessEnv(o))->Resolve(Deadline::Infinite());
  EXPECT_FALSE(c.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2500));
}

TEST_F(ImdsTest, LooksUpTheRegion) {
  ImdsClient client(WithProcessEnv(Options()));
  auto r = FetchImdsRegion(client, In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "eu-west-3");
}

TEST_F(ImdsTest, EndpointFromEnvironment) {
  ImdsOptions o;
  env_.Set("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6");
  EXPECT_EQ(*ImdsClient(WithProcessEnv(o)).Endpoint(), "http://[fd00:ec2::254]");
  env_.Set("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1234/");
  EXPECT_EQ(*ImdsClient(WithProcessEnv(o)).Endpoint(), "http://127.0.0.1:1234");
  env_.Unset("AWS_EC2_METADATA_SERVICE_ENDPOINT").Unset("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
  EXPECT_EQ(*ImdsClient(WithProcessEnv(o)).Endpoint(), "http://169.254.169.254");
}

}  // namespace
}  // namespace dynatroni::aws
