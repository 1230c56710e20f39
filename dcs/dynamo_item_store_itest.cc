// DynamoItemStore and the lease against the local DynamoDB servers (moto, dynalite).
#include "dcs/dynamo_item_store.h"

#include <atomic>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "aws/credentials.h"
#include "dcs/dcs.h"
#include "dcs/memory_item_store.h"
#include "http/curl_transport.h"
#include "testing/local_servers.h"

namespace dynatroni::dcs {
namespace {

using namespace std::chrono_literals;

// A readable item for assertion messages ("none", or the fields the store keeps).
std::string Describe(const std::optional<StoredItem>& item) {
  if (!item) return "none";
  return "{key " + item->key + ", value " + (item->value ? "\"" + *item->value + "\"" : "(tombstone)") +
         ", version " + std::to_string(item->version) + ", session \"" + item->session + "\", term " +
         std::to_string(item->term) + ", lease_ms " + std::to_string(item->lease_ms) + ", ttl " +
         std::to_string(item->ttl_epoch_s) + ", updated_at " + std::to_string(item->updated_at_ms) + "}";
}

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

// The DynamoDB condition expressions of every Precondition kind, on the real
// servers: for each kind and each state of the current item (no item, a
// tombstone, a live item with our value, a live item with another value; the
// versioned kinds with the version matching, lower and higher),
// DynamoItemStore::Write applies exactly when PreconditionHolds (the
// in-memory store's rule, which the unit tests and the simulation use) says
// it should, and leaves the item untouched when it does not.
TEST_P(DynamoItemStoreTest, EveryPreconditionKindAppliesExactlyWhenTheMemoryStoreWould) {
  enum class State { kNoItem, kTombstone, kLiveOurs, kLiveOther };
  struct StateCase {
    State state;
    const char* name;
  };
  const StateCase states[] = {{State::kNoItem, "no item"},
                              {State::kTombstone, "tombstone"},
                              {State::kLiveOurs, "live ours"},
                              {State::kLiveOther, "live other"}};
  // Every existing item is written twice, so it is at version 2: 1 and 3 are
  // mismatches on either side.
  constexpr int64_t kVersion = 2;
  struct PreCase {
    Precondition pre;
    const char* name;
  };
  const PreCase pres[] = {
      {Precondition::None(), "None"},
      {Precondition::Absent(), "Absent"},
      {Precondition::VersionIs(kVersion), "VersionIs(match)"},
      {Precondition::VersionIs(kVersion - 1), "VersionIs(lower)"},
      {Precondition::VersionIs(kVersion + 1), "VersionIs(higher)"},
      {Precondition::ValueIs("ours"), "ValueIs(ours)"},
      {Precondition::ValueAndVersion("ours", kVersion), "ValueAndVersion(ours, match)"},
      {Precondition::ValueAndVersion("ours", kVersion - 1), "ValueAndVersion(ours, lower)"},
      {Precondition::ValueAndVersion("ours", kVersion + 1), "ValueAndVersion(ours, higher)"},
      {Precondition::VersionIs(0), "VersionIs(0 = no item)"},
      {Precondition::AbsentAtVersion(kVersion), "AbsentAtVersion(match)"},
      {Precondition::AbsentAtVersion(kVersion + 1), "AbsentAtVersion(higher)"},
      {Precondition::AbsentAtVersion(0), "AbsentAtVersion(0 = no item)"},
  };
  // The mutations the DCS sends: a live value with a session and a term bump
  // (the leader), and a tombstone (a delete).
  Mutation live;
  live.value = "written";
  live.session = "s-new";
  live.increment_term = true;
  live.lease_ms = 30000;
  Mutation tombstone;
  tombstone.ttl_epoch_s = 2000000000;

  std::map<Precondition::Kind, std::pair<int, int>> applied_refused;  // per kind
  int n = 0;
  for (const auto& st : states) {
    for (const auto& pc : pres) {
      for (const Mutation* m : {&live, &tombstone}) {
        const std::string key = "k" + std::to_string(n++);
        const std::string what = std::string(pc.name) + " on " + st.name + " (" +
                                 (m == &live ? "live write" : "tombstone write") + ", key " + key + ")";
        Mutation setup;
        setup.session = "s-old";
        switch (st.state) {
          case State::kNoItem:
            break;
          case State::kTombstone:
            setup.value = "ours";
            ASSERT_TRUE(store_->Write("pre", key, setup, Precondition::None(), Soon()).ok()) << what;
            ASSERT_TRUE(store_->Write("pre", key, Mutation{}, Precondition::None(), Soon()).ok()) << what;
            break;
          case State::kLiveOurs:
          case State::kLiveOther:
            setup.value = st.state == State::kLiveOurs ? "ours" : "other";
            for (int i = 0; i < 2; ++i) {
              ASSERT_TRUE(store_->Write("pre", key, setup, Precondition::None(), Soon()).ok()) << what;
            }
            break;
        }
        auto before = store_->Get("pre", key, Soon());
        ASSERT_TRUE(before.ok()) << what << ": " << before.status().ToString();
        ASSERT_EQ(before->has_value(), st.state != State::kNoItem) << what;
        if (*before) {
          ASSERT_EQ((*before)->version, kVersion) << what;
          ASSERT_EQ((*before)->live(), st.state != State::kTombstone) << what;
        }
        const bool expected = PreconditionHolds(pc.pre, *before);

        auto w = store_->Write("pre", key, *m, pc.pre, Soon());
        ASSERT_TRUE(w.ok()) << what << ": " << w.status().ToString();
        EXPECT_EQ(w->applied, expected)
            << what << ": DynamoDB " << (w->applied ? "applied" : "refused")
            << " the write, PreconditionHolds says it " << (expected ? "holds" : "does not hold");
        auto after = store_->Get("pre", key, Soon());
        ASSERT_TRUE(after.ok()) << what << ": " << after.status().ToString();
        if (expected) {
          ASSERT_TRUE(after->has_value()) << what;
          EXPECT_EQ((*after)->version, (*before ? (*before)->version : 0) + 1) << what;
          EXPECT_EQ((*after)->value, m->value) << what;
          ++applied_refused[pc.pre.kind].first;
        } else {
          EXPECT_EQ(Describe(*after), Describe(*before)) << what << ": a refused write changed the item";
          if (GetParam().supports_return_old_on_condition_failure) {
            EXPECT_EQ(Describe(w->item), Describe(*before)) << what << ": ALL_OLD is not the item";
          }
          ++applied_refused[pc.pre.kind].second;
        }
      }
    }
  }
  // Not vacuous: every kind applied somewhere, and every kind but None was
  // refused somewhere.
  ASSERT_EQ(applied_refused.size(), 6u);
  for (const auto& [kind, counts] : applied_refused) {
    EXPECT_GT(counts.first, 0) << "kind " << static_cast<int>(kind) << " never applied";
    if (kind != Precondition::Kind::kNone) {
      EXPECT_GT(counts.second, 0) << "kind " << static_cast<int>(kind) << " never refused";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(LocalServers, DynamoItemStoreTest, ::testing::ValuesIn(testing::LocalServers()),
                         [](const ::testing::TestParamInfo<testing::LocalServer>& p) {
                           return p.param.name;
                         });

}  // namespace
}  // namespace dynatroni::dcs
