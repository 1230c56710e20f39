#include "aws/providers/container.h"

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
using testing::RealTransport;
using testing::ScopedAwsEnv;
using testing::WithProcessEnv;

constexpr char kSecret[] = "ctrSECRETqqq";
constexpr char kToken[] = "ctrTOKENppp";

std::string Body() {
  return std::string("{\"AccessKeyId\":\"ASIACTR\",\"SecretAccessKey\":\"") + kSecret + "\",\"Token\":\"" +
         kToken + "\",\"Expiration\":\"2030-01-01T00:00:00Z\",\"RoleArn\":\"arn:aws:iam::1:role/task\"}";
}

class ContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = TestingHttpServer::Start([this](const ReceivedRequest& r) {
      if (handler_) return handler_(r);
      Reply reply;
      reply.body = Body();
      return reply;
    });
    ASSERT_TRUE(s.ok());
    server_ = std::move(s).value();
  }
  Result<Credentials> Resolve(Duration deadline = seconds(5)) {
    ContainerOptions o;
    o.transport = RealTransport();
    o.relative_uri_host = server_->Url("");
    while (!o.relative_uri_host.empty() && o.relative_uri_host.back() == '/') o.relative_uri_host.pop_back();
    return MakeContainerProvider(WithProcessEnv(o))
        ->Resolve(Deadline::After(*SystemClock::Instance(), deadline));
  }
  ScopedAwsEnv env_;
  std::unique_ptr<TestingHttpServer> server_;
  std::function<Reply(const ReceivedRequest&)> handler_;
};

TEST_F(ContainerTest, NotSetIsNotFound) {
  auto c = Resolve();
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), std::string::npos);
}

TEST_F(ContainerTest, RelativeUriGoesToTheEcsHost) {
  env_.Set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc-123");
  auto c = Resolve();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "ASIACTR");
  EXPECT_EQ(c->secret_access_key.reveal(), kSecret);
  EXPECT_EQ(c->session_token.reveal(), kToken);
  EXPECT_EQ(c->source, "container");
  EXPECT_EQ(c->expiration, WallTime(seconds(1893456000)));
  auto reqs = server_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/v2/credentials/abc-123");
  EXPECT_TRUE(reqs[0].Header("authorization").empty());
}

TEST_F(ContainerTest, FullUriSendsTheAuthorizationToken) {
  env_.Set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server_->Url("/creds"))
      .Set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic env-token");
  auto c = Resolve();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(server_->requests().size(), 1u);
  EXPECT_EQ(server_->requests()[0].target, "/creds");
  EXPECT_EQ(server_->requests()[0].Header("authorization"), "Basic env-token");
}

TEST_F(ContainerTest, TokenFileWinsAndIsRereadEachTime) {
  env_.Set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server_->Url("/creds"))
      .Set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "env-token")
      .Set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", env_.WriteFile("pod-identity/token", "file-token-1\n"));
  ASSERT_TRUE(Resolve().ok());
  env_.WriteFile("pod-identity/token", "file-token-2");
  ASSERT_TRUE(Resolve().ok());
  auto reqs = server_->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].Header("authorization"), "file-token-1");
  EXPECT_EQ(reqs[1].Header("authorization"), "file-token-2");
}

TEST_F(ContainerTest, PlainHttpOnlyToAllowedHosts) {
  for (const char* ok :
       {"http://127.0.0.1:8080/c", "http://127.3.4.5/c", "http://localhost/c", "http://[::1]:9/c",
        "http://169.254.170.2/v2/c", "http://169.254.170.23/v1/credentials",
        "http://[fd00:ec2::23]/v1/credentials", "https://creds.example.com/c"}) {
    EXPECT_TRUE(ValidateContainerCredentialsUri(ok).ok()) << ok;
  }
  for (const char* bad :
       {"http://169.254.169.254/latest", "http://10.0.0.1/c", "http://example.com/c", "http://128.0.0.1/c",
        "http://[fd00:ec2::24]/c", "ftp://127.0.0.1/c", "127.0.0.1/c"}) {
    Status st = ValidateContainerCredentialsUri(bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
  }
  Status st = ValidateContainerCredentialsUri("http://example.com/c");
  EXPECT_NE(st.message().find("https"), std::string::npos);
  EXPECT_NE(st.message().find("169.254.170.2"), std::string::npos);

  env_.Set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.10/creds");
  auto c = Resolve();
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(ContainerTest, HttpErrors) {
  env_.Set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server_->Url("/creds"));
  int status = 500;
  handler_ = [&status](const ReceivedRequest&) {
    Reply r;
    r.status = status;
    r.reason = "Err";
    r.body = "{\"Message\":\"nope\"}";
    return r;
  };
  auto unavailable = Resolve();
  EXPECT_EQ(unavailable.status().code(), StatusCode::kUnavailable) << unavailable.status().ToString();
  EXPECT_EQ(server_->requests().size(), 2u);  // 5xx is retried once
  status = 403;
  auto denied = Resolve();
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(server_->requests().size(), 3u);  // 4xx is not retried
}

TEST_F(ContainerTest, MalformedBodyDoesNotLeakSecrets) {
  env_.Set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server_->Url("/creds"))
      .Set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "authSECRET");
  handler_ = [](const ReceivedRequest&) {
    Reply r;
    std::string b = Body();
    r.body = b.substr(0, b.size() - 5);
    return r;
  };
  auto c = Resolve();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kMalformedResponse);
  for (const char* s : {kSecret, kToken, "authSECRET"}) {
    EXPECT_EQ(c.status().message().find(s), std::string::npos) << c.status().message();
  }
}

TEST_F(ContainerTest, SlowEndpointFailsWithinTheDeadline) {
  env_.Set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server_->Url("/creds"));
  handler_ = [](const ReceivedRequest&) {
    Reply r;
    r.delay = milliseconds(3000);
    r.body = Body();
    return r;
  };
  auto start = std::chrono::steady_clock::now();
  auto c = Resolve(milliseconds(300));
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().code() == StatusCode::kDeadlineExceeded ||
              c.status().code() == StatusCode::kUnavailable)
      << c.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2500));
}

TEST_F(ContainerTest, TokenWithLineBreakIsRejected) {
  env_.Set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server_->Url("/creds"))
      .Set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", env_.WriteFile("tok", "a\r\nX-Injected: 1"));
  auto c = Resolve();
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(server_->requests().empty());
}

}  // namespace
}  // namespace dynatroni::aws
