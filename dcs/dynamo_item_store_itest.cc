// DynamoItemStore and the lease against the local DynamoDB servers (moto, dynalite).
#include "dcs/dynamo_item_store.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "aws/credentials.h"
#include "dcs/dcs.h"
#include "http/curl_transport.h"
#include "testing/local_servers.h"

namespace dynatroni::dcs {
namespace {

using namespace std::chrono_literals;

class DynamoItemStoreTest : public ::testing::TestWithParam<testing::LocalServer> {
 protected:
  void SetUp() override {
    aws::Credentials creds;
    creds.access_key_id = "AKIDLOCALTEST";
    creds.secret_access_key = aws::SecretString("local-test-secret");
    auto transport = http::CurlTransport::Create({});
    ASSERT_TRUE(transport.ok());
    dynamodb::ClientOptions o;
    o.region = "us-east-1";
    o.endpoint = GetParam().endpoint;
    o.credentials = aws::MakeStaticProvider(creds);
    o.transport = std::shared_ptr<http::Transport>(std::move(transport).value());
    auto client = dynamodb::Client::Create(std::move(o));
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::shared_ptr<dynamodb::Client>(std::move(client).value());
    table_ = testing::UniqueTableName("dcs");
    dynamodb::CreateTableRequest req;
    req.table = table_;
    req.key_schema = {{kPartitionKey, "HASH"}, {kSortKey, "RANGE"}};
    req.attributes = {{kPartitionKey, "S"}, {kSortKey, "S"}};
    ASSERT_TRUE(client_->CreateTable(req, Deadline::After(*SystemClock::Instance(), 10s)).ok());
    for (int i = 0; i < 100; ++i) {
      auto d = client_->DescribeTable(table_, Deadline::After(*SystemClock::Instance(), 5s));
      if (d.ok() && d->status == "ACTIVE") break;
      SystemClock::Instance()->SleepFor(50ms);
    }
    store_ = std::make_shared<DynamoItemStore>(client_, table_);
  }
  void TearDown() override {
    if (client_) (void)client_->DeleteTable(table_, Deadline::After(*SystemClock::Instance(), 10s));
  }
  Deadline Soon() { return Deadline::After(*SystemClock::Instance(), 10s); }

  std::shared_ptr<dynamodb::Client> client_;
  std::string table_;
  std::shared_ptr<DynamoItemStore> store_;
};

TEST_P(DynamoItemStoreTest, VersionsBumpAndPreconditionsHold) {
  Mutation m;
  m.value = "a";
  m.session = "s1";
  m.increment_term = true;
  m.lease_ms = 30000;
  auto w1 = store_->Write("c1", "leader", m, Precondition::Absent(), Soon());
  ASSERT_TRUE(w1.ok()) << w1.status().ToString();
  ASSERT_TRUE(w1->applied);
  EXPECT_EQ(w1->item->version, 1);
  EXPECT_EQ(w1->item->term, 1);
  auto w2 = store_->Write("c1", "leader", m, Precondition::Absent(), Soon());
  ASSERT_TRUE(w2.ok());
  EXPECT_FALSE(w2->applied);
  if (GetParam().supports_return_old_on_condition_failure) {
    ASSERT_TRUE(w2->item);
    EXPECT_EQ(*w2->item->value, "a");
  } else {
    EXPECT_FALSE(w2->item);
  }
  m.increment_term = false;
  auto w3 = store_->Write("c1", "leader", m, Precondition::ValueAndVersion("a", 1), Soon());
  ASSERT_TRUE(w3.ok() && w3->applied);
  EXPECT_EQ(w3->item->version, 2);
  EXPECT_EQ(w3->item->term, 1);
  Mutation tomb;
  tomb.ttl_epoch_s = 2000000000;
  auto w4 = store_->Write("c1", "leader", tomb, Precondition::ValueIs("a"), Soon());
  ASSERT_TRUE(w4.ok() && w4->applied);
  EXPECT_FALSE(w4->item->live());
  EXPECT_EQ(w4->item->version, 3);
  auto got = store_->Get("c1", "leader", Soon());
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_FALSE((*got)->live());
  EXPECT_EQ((*got)->ttl_epoch_s, 2000000000);
}

TEST_P(DynamoItemStoreTest, TwoRacersNeverBothAcquire) {
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    std::vector<std::unique_ptr<Dcs>> nodes;
    for (int n = 0; n < 3; ++n) {
      DcsOptions o;
      o.partition = "race" + std::to_string(round);
      o.name = "n" + std::to_string(n);
      o.store = store_;
      nodes.push_back(std::move(Dcs::Create(o)).value());
    }
    for (auto& node : nodes) {
      threads.emplace_back([&, d = node.get()] {
        auto r = d->AcquireLeader("leader");
        if (r.ok() && *r) wins++;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1) << "round " << round;
  }
}

TEST_P(DynamoItemStoreTest, QueryReadsAPartitionLargerThanOnePage) {
  std::string big(100 * 1024, 'x');
  Mutation m;
  m.value = big;
  for (int i = 0; i < 12; ++i) {
    auto w = store_->Write("big", "members/m" + std::to_string(i), m, Precondition::None(), Soon());
    ASSERT_TRUE(w.ok()) << w.status().ToString();
  }
  auto items = store_->Query("big", "", Soon());
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  EXPECT_EQ(items->size(), 12u);
  auto none = store_->Query("big", "1/", Soon());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(DynamoItemStoreTest, CorruptItemsAreSkippedWithAWarning) {
  std::vector<std::string> warnings;
  DynamoItemStore store(client_, table_, [&](const std::string& w) { warnings.push_back(w); });
  dynamodb::PutItemRequest put;
  put.table = table_;
  put.item = {{kPartitionKey, dynamodb::AttributeValue::S("c2")},
              {kSortKey, dynamodb::AttributeValue::S("members/x")},
              {"value", dynamodb::AttributeValue::N(5)}};
  ASSERT_TRUE(client_->PutItem(put, Soon()).ok());
  Mutation m;
  m.value = "{}";
  ASSERT_TRUE(store.Write("c2", "members/y", m, Precondition::None(), Soon()).ok());
  auto items = store.Query("c2", "", Soon());
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ(items->at(0).key, "members/y");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("members/x"), std::string::npos);
}

TEST_P(DynamoItemStoreTest, DeletePartitionRemovesOnlyThatCluster) {
  Mutation m;
  m.value = "v";
  for (const char* k : {"leader", "config", "members/a"}) {
    ASSERT_TRUE(store_->Write("gone", k, m, Precondition::None(), Soon()).ok());
  }
  ASSERT_TRUE(store_->Write("kept", "config", m, Precondition::None(), Soon()).ok());
  ASSERT_TRUE(store_->DeletePartition("gone", Soon()).ok());
  EXPECT_TRUE(store_->Query("gone", "", Soon())->empty());
  EXPECT_EQ(store_->Query("kept", "", Soon())->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(LocalServers, DynamoItemStoreTest, ::testing::ValuesIn(testing::LocalServers()),
                         [](const ::testing::TestParamInfo<testing::LocalServer>& p) {
                           return p.param.name;
                         });

}  // namespace
}  // namespace dynatroni::dcs
