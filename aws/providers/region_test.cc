#include "aws/providers/region.h"

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
using testing::RealTransport;
using testing::ScopedAwsEnv;
using testing::WithProcessEnv;

class RegionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = TestingHttpServer::Start([](const ReceivedRequest& r) {
      Reply reply;
      if (r.target == "/latest/api/token") {
        reply.body = "t";
      } else if (r.target == "/latest/meta-data/placement/region") {
        reply.body = "ap-northeast-2\n";
      } else {
        reply.status = 404;
      }
      return reply;
    });
    ASSERT_TRUE(s.ok());
    server_ = std::move(s).value();
  }
  RegionChainOptions Options() {
    RegionChainOptions o;
    o.imds.transport = RealTransport();
    o.imds.endpoint = server_->Url("");
    while (o.imds.endpoint.back() == '/') o.imds.endpoint.pop_back();
    return o;
  }
  Result<ResolvedRegion> Resolve(const RegionChainOptions& o) {
    return ResolveRegionChain(WithProcessEnv(o), Deadline::After(*SystemClock::Instance(), seconds(5)));
  }
  ScopedAwsEnv env_;
  std::unique_ptr<TestingHttpServer> server_;
};

TEST_F(RegionTest, FollowsTheDocumentedOrder) {
  env_.Unset("AWS_EC2_METADATA_DISABLED");
  RegionChainOptions o = Options();
  auto imds = Resolve(o);
  ASSERT_TRUE(imds.ok()) << imds.status().ToString();
  EXPECT_EQ(imds->region, "ap-northeast-2");
  EXPECT_EQ(imds->source, "imds");

  env_.WriteFile(".aws/config", "[default]\nregion = eu-south-1\n[profile prod]\nregion = eu-north-1\n");
  auto profile = Resolve(o);
  ASSERT_TRUE(profile.ok());
  EXPECT_EQ(profile->region, "eu-south-1");
  EXPECT_EQ(profile->source, "profile:default");
  env_.Set("AWS_PROFILE", "prod");
  EXPECT_EQ(Resolve(o)->region, "eu-north-1");
  EXPECT_EQ(Resolve(o)->source, "profile:prod");

  env_.Set("AWS_DEFAULT_REGION", "us-west-1");
  EXPECT_EQ(Resolve(o)->source, "AWS_DEFAULT_REGION");
  env_.Set("AWS_REGION", "us-west-2");
  EXPECT_EQ(Resolve(o)->region, "us-west-2");
  EXPECT_EQ(Resolve(o)->source, "AWS_REGION");
  o.explicit_region = "sa-east-1";
  EXPECT_EQ(Resolve(o)->region, "sa-east-1");
  EXPECT_EQ(Resolve(o)->source, "region");
}

TEST_F(RegionTest, NothingFoundExplainsTheFix) {
  RegionChainOptions o = Options();  // IMDS disabled by the scrubbed environment
  auto r = Resolve(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("AWS_REGION"), std::string::npos) << m;
  EXPECT_NE(m.find("profile 'default'"), std::string::npos) << m;
  EXPECT_NE(m.find("disabled"), std::string::npos) << m;
  EXPECT_TRUE(server_->requests().empty());

  o.use_imds = false;
  env_.Unset("AWS_EC2_METADATA_DISABLED");
  EXPECT_EQ(Resolve(o).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(server_->requests().empty());
}

TEST_F(RegionTest, RejectsImplausibleProfileRegion) {
  env_.WriteFile(".aws/config", "[default]\nregion = EU West\n");
  auto r = Resolve(Options());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("not a valid AWS region"), std::string::npos);
}

}  // namespace
}  // namespace dynatroni::aws
