// Offline tests of the table checks (`table check`, `doctor`) on scripted
// DynamoDB answers: global tables, TTL and billing cases the local servers
// cannot produce.
#include <strings.h>

#include <gtest/gtest.h>

#include "aws/credentials.h"
#include "cli/commands.h"
#include "http/fake_transport.h"

namespace dynatroni::cli {
namespace {

using json = nlohmann::json;

class CliTableCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    transport_ = std::make_shared<http::FakeTransport>();
    transport_->SetFallback([this](const http::Request& req) -> Result<http::Response> {
      std::string target;
      for (const auto& [k, v] : req.headers) {
        if (strcasecmp(k.c_str(), "x-amz-target") == 0) target = v.substr(v.find('.') + 1);
      }
      auto it = answers_.find(target);
      if (it == answers_.end()) {
        return http::Response{400, {}, R"({"__type":"com.amazon.coral.service#UnknownOperationException"})"};
      }
      return http::Response{200, {}, it->second.dump()};
    });
    aws::Credentials creds;
    creds.access_key_id = "AKIDTEST";
    creds.secret_access_key = aws::SecretString("secret");
    dynamodb::ClientOptions o;
    o.region = "us-east-1";
    o.endpoint = "http://dynamodb.test";
    o.credentials = aws::MakeStaticProvider(creds);
    o.transport = transport_;
    o.verify_crc32 = false;
    auto c = dynamodb::Client::Create(std::move(o));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
    table_ = {
        {"TableName", "patroni"},
        {"TableStatus", "ACTIVE"},
        {"KeySchema", json::array({{{"AttributeName", "cluster_name"}, {"KeyType", "HASH"}},
                                   {{"AttributeName", "key"}, {"KeyType", "RANGE"}}})},
        {"AttributeDefinitions", json::array({{{"AttributeName", "cluster_name"}, {"AttributeType", "S"}},
                                              {{"AttributeName", "key"}, {"AttributeType", "S"}}})},
        {"BillingModeSummary", {{"BillingMode", "PAY_PER_REQUEST"}}},
        {"ItemCount", 12}};
    answers_["DescribeTable"] = {{"Table", table_}};
    answers_["DescribeTimeToLive"] = {
        {"TimeToLiveDescription", {{"TimeToLiveStatus", "ENABLED"}, {"AttributeName", "ttl"}}}};
    answers_["DescribeContinuousBackups"] = {
        {"ContinuousBackupsDescription",
         {{"ContinuousBackupsStatus", "ENABLED"},
          {"PointInTimeRecoveryDescription", {{"PointInTimeRecoveryStatus", "ENABLED"}}}}}};
  }

  const TableFinding& Finding(const TableInspection& t, const std::string& aspect) {
    for (const auto& f : t.findings) {
      if (f.aspect == aspect) return f;
    }
    static TableFinding none;
    ADD_FAILURE() << "no finding " << aspect;
    return none;
  }

  std::shared_ptr<http::FakeTransport> transport_;
  std::unique_ptr<dynamodb::Client> client_;
  std::map<std::string, json> answers_;
  json table_;
};

TEST_F(CliTableCheck, AGoodSingleRegionTableHasNoProblems) {
  auto t = InspectTable(*client_, "patroni");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->problems(), 0);
  EXPECT_TRUE(t->key_schema_ok());
  EXPECT_EQ(Finding(*t, "global table").detail, "single-Region table");
  EXPECT_EQ(Finding(*t, "ttl").level, TableFinding::Level::kOk);
  EXPECT_EQ(t->pitr_status, "ENABLED");
}

TEST_F(CliTableCheck, MultiRegionEventualConsistencyIsAProblem) {
  table_["Replicas"] = json::array({{{"RegionName", "us-east-1"}}, {{"RegionName", "eu-west-1"}}});
  answers_["DescribeTable"] = {{"Table", table_}};
  auto t = InspectTable(*client_, "patroni");
  ASSERT_TRUE(t.ok());
  const auto& f = Finding(*t, "global table");
  EXPECT_EQ(f.level, TableFinding::Level::kProblem);
  EXPECT_NE(f.detail.find("EVENTUAL consistency (MREC)"), std::string::npos) << f.detail;
  EXPECT_NE(f.detail.find("two nodes could hold the leader lease"), std::string::npos);
  EXPECT_NE(f.fix.find("MultiRegionConsistency=STRONG"), std::string::npos);
  EXPECT_EQ(t->problems(), 1);

  table_["MultiRegionConsistency"] = "EVENTUAL";
  answers_["DescribeTable"] = {{"Table", table_}};
  EXPECT_EQ(InspectTable(*client_, "patroni")->problems(), 1);

  table_["MultiRegionConsistency"] = "STRONG";
  answers_["DescribeTable"] = {{"Table", table_}};
  t = InspectTable(*client_, "patroni");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->problems(), 0);
  EXPECT_NE(Finding(*t, "global table").detail.find("strong consistency (MRSC)"), std::string::npos);
}

TEST_F(CliTableCheck, WrongTypesAndExtraKeysAreProblems) {
  table_["AttributeDefinitions"][1]["AttributeType"] = "N";
  answers_["DescribeTable"] = {{"Table", table_}};
  auto t = InspectTable(*client_, "patroni");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->key_schema_ok());
  EXPECT_NE(Finding(*t, "key schema").detail.find("key (N, RANGE)"), std::string::npos);

  table_["AttributeDefinitions"][1]["AttributeType"] = "S";
  table_["KeySchema"] = json::array({{{"AttributeName", "cluster_name"}, {"KeyType", "HASH"}}});
  answers_["DescribeTable"] = {{"Table", table_}};
  EXPECT_FALSE(InspectTable(*client_, "patroni")->key_schema_ok());
}

TEST_F(CliTableCheck, TtlOnAnotherAttributeOrDisabledIsAWarning) {
  answers_["DescribeTimeToLive"] = {
      {"TimeToLiveDescription", {{"TimeToLiveStatus", "ENABLED"}, {"AttributeName", "expires"}}}};
  auto t = InspectTable(*client_, "patroni");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Finding(*t, "ttl").level, TableFinding::Level::kWarn);
  EXPECT_NE(Finding(*t, "ttl").detail.find("`expires`, not `ttl`"), std::string::npos);
  EXPECT_EQ(t->problems(), 0) << "TTL is garbage collection only, never the lease";

  answers_["DescribeTimeToLive"] = {{"TimeToLiveDescription", {{"TimeToLiveStatus", "DISABLED"}}}};
  t = InspectTable(*client_, "patroni");
  EXPECT_EQ(Finding(*t, "ttl").level, TableFinding::Level::kWarn);
  EXPECT_NE(Finding(*t, "ttl").fix.find("dynatroni table create --table patroni"), std::string::npos);

  answers_.erase("DescribeTimeToLive");
  t = InspectTable(*client_, "patroni");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->ttl_status, "unsupported");
}

TEST_F(CliTableCheck, ProvisionedCapacityIsReported) {
  table_.erase("BillingModeSummary");
  table_["ProvisionedThroughput"] = {{"ReadCapacityUnits", 5}, {"WriteCapacityUnits", 3}};
  table_["TableStatus"] = "UPDATING";
  answers_["DescribeTable"] = {{"Table", table_}};
  answers_.erase("DescribeContinuousBackups");
  auto t = InspectTable(*client_, "patroni");
  ASSERT_TRUE(t.ok());
  EXPECT_NE(Finding(*t, "billing").detail.find("provisioned, 5 RCU / 3 WCU"), std::string::npos);
  EXPECT_EQ(Finding(*t, "status").level, TableFinding::Level::kWarn);
  EXPECT_EQ(t->pitr_status, "unsupported");
}

}  // namespace
}  // namespace dynatroni::cli
