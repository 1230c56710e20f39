// The simulated DynamoDB table (dcs/sim_dynamodb.h) driven by the real
// dynamodb::Client and DynamoItemStore, and the fibers of the simulation.
#include "dcs/sim_dynamodb.h"

#include <deque>
#include <vector>

#include <gtest/gtest.h>

#include "aws/credentials.h"
#include "dcs/dynamo_item_store.h"
#include "dcs/sim_fiber.h"
#include "http/fake_transport.h"

namespace dynatroni::dcs {
namespace {

using namespace std::chrono_literals;
using sim::Instant;

constexpr int64_t kWall0 = 1700000000;

class SimTableTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(0s); }

  // `client_wall_offset`: how far the client's wall clock is off the table's.
  void Build(Duration client_wall_offset) {
    sim::SimDynamoOptions o;
    o.wall_at_zero = WallTime(std::chrono::seconds(kWall0));
    o.short_page_probability = short_pages_;
    table_ = std::make_unique<sim::SimDynamoDb>(o, [this] {
      if (draws_.empty()) return 0.99;  // fresh reads, full pages
      double d = draws_.front();
      draws_.pop_front();
      return d;
    });
    clock_ =
        std::make_unique<FakeClock>(kStart, std::chrono::time_point_cast<WallTime::duration>(
                                                WallTime(std::chrono::seconds(kWall0)) + client_wall_offset));
    transport_ = std::make_shared<http::FakeTransport>(clock_.get());
    transport_->SetFallback([this](const http::Request& r) -> Result<http::Response> {
      const Instant at = Now();
      return table_->ToHttp(table_->Handle(r, at), at);
    });
    aws::Credentials creds;
    creds.access_key_id = "AKIDTEST";
    creds.secret_access_key = aws::SecretString("secret");
    dynamodb::ClientOptions co;
    co.region = "us-east-1";
    co.endpoint = "http://dynamodb.sim:8000";
    co.credentials = aws::MakeStaticProvider(creds);
    co.transport = transport_;
    co.clock = clock_.get();
    co.random = &random_;
    client_ = std::shared_ptr<dynamodb::Client>(std::move(dynamodb::Client::Create(std::move(co))).value());
    store_ = std::make_shared<DynamoItemStore>(client_, "patroni");
  }

  Instant Now() { return clock_->Now() - kStart; }
  Deadline Soon() { return Deadline::After(*clock_, 10s); }

  Result<WriteOutcome> Write(const std::string& key, const Mutation& m, const Precondition& pre) {
    return store_->Write("c", key, m, pre, Soon());
  }
  static Mutation Leader(const std::string& name, bool acquire) {
    Mutation m;
    m.value = name;
    m.session = name + ":s";
    m.increment_term = acquire;
    m.lease_ms = 30000;
    m.ttl_epoch_s = kWall0 + 86400;
    return m;
  }

  static constexpr MonoTime kStart = MonoTime(std::chrono::hours(1));
  double short_pages_ = 0;
  std::deque<double> draws_;
  SeededRandom random_{7};
  std::unique_ptr<sim::SimDynamoDb> table_;
  std::unique_ptr<FakeClock> clock_;
  std::shared_ptr<http::FakeTransport> transport_;
  std::shared_ptr<dynamodb::Client> client_;
  std::shared_ptr<DynamoItemStore> store_;
};

TEST_F(SimTableTest, EvaluatesTheLeaseWritesOfTheRealStore) {
  auto w = Write("leader", Leader("n1", true), Precondition::Absent());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE(w->applied);
  EXPECT_EQ(w->item->version, 1);
  EXPECT_EQ(w->item->term, 1);
  EXPECT_EQ(w->item->value, "n1");
  EXPECT_EQ(w->item->session, "n1:s");
  EXPECT_EQ(w->item->lease_ms, 30000);
  EXPECT_EQ(w->item->ttl_epoch_s, kWall0 + 86400);

  // Refused writes return the current item (ALL_OLD).
  w = Write("leader", Leader("n2", true), Precondition::Absent());
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->applied);
  ASSERT_TRUE(w->item);
  EXPECT_EQ(w->item->value, "n1");

  w = Write("leader", Leader("n1", false), Precondition::ValueAndVersion("n1", 1));
  ASSERT_TRUE(w.ok() && w->applied);
  EXPECT_EQ(w->item->version, 2);
  EXPECT_EQ(w->item->term, 1);
  w = Write("leader", Leader("n1", false), Precondition::ValueAndVersion("n1", 1));  // stale version
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->applied);
  EXPECT_EQ(w->item->version, 2);
  w = Write("leader", Leader("n2", false), Precondition::ValueAndVersion("n2", 2));  // not the owner
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->applied);
  w = Write("leader", Leader("n2", true), Precondition::VersionIs(0));  // "no item": there is one
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->applied);

  // Release: a tombstone, version bumped, value and session removed.
  Mutation release;
  release.ttl_epoch_s = kWall0 + 7 * 86400;
  w = Write("leader", release, Precondition::ValueIs("n1"));
  ASSERT_TRUE(w.ok() && w->applied);
  EXPECT_FALSE(w->item->live());
  EXPECT_EQ(w->item->version, 3);
  EXPECT_EQ(w->item->session, "");

  // An acquisition names the tombstone's version; the term goes on.
  w = Write("leader", Leader("n2", true), Precondition::VersionIs(2));
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->applied) << "the key moved past version 2";
  w = Write("leader", Leader("n2", true), Precondition::VersionIs(3));
  ASSERT_TRUE(w.ok() && w->applied);
  EXPECT_EQ(w->item->version, 4);
  EXPECT_EQ(w->item->term, 2);
  w = Write("leader", Leader("n3", true), Precondition::VersionIs(4));
  ASSERT_TRUE(w.ok() && w->applied);
  EXPECT_EQ(w->item->value, "n3");
  EXPECT_EQ(w->item->term, 3);

  // Persisted keys carry no ttl.
  Mutation config;
  config.value = "{}";
  w = Write("config", config, Precondition::None());
  ASSERT_TRUE(w.ok() && w->applied);
  EXPECT_EQ(w->item->ttl_epoch_s, 0);
  auto got = store_->Get("c", "leader", Soon());
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ((*got)->version, 5);
}

// The evaluator is general: the same request with a weakened condition
// behaves differently, and leftovers of an edit are rejected as DynamoDB does.
TEST_F(SimTableTest, AChangedExpressionChangesTheOutcome) {
  ASSERT_TRUE(Write("leader", Leader("n1", true), Precondition::Absent()).ok());
  ASSERT_TRUE(Write("leader", Leader("n1", false), Precondition::ValueAndVersion("n1", 1)).ok());  // now v2
  auto req = BuildWriteRequest("patroni", "c", "leader", Leader("n1", false),
                               Precondition::ValueAndVersion("n1", 1), 0);
  auto r = client_->UpdateItem(req, Soon());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->condition_failed);  // the real condition: version 1 is gone

  auto dropped = req;  // mutant: "AND #ver = :expver" dropped, the value left behind
  dropped.condition.condition = "#val = :expval";
  r = client_->UpdateItem(dropped, Soon());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("unused in expressions"), std::string::npos) << r.status().message();

  dropped.condition.values.erase(":expver");  // a consistent mutant: applies on a stale version
  r = client_->UpdateItem(dropped, Soon());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->condition_failed);

  auto inverted = req;
  inverted.condition.condition = "NOT (#val = :expval AND #ver = :expver)";
  r = client_->UpdateItem(inverted, Soon());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->condition_failed);

  auto grouped = req;
  grouped.condition.values[":expver"] = dynamodb::AttributeValue::N(4);
  grouped.condition.condition = "(#val = :expval) AND (#ver = :expver OR attribute_not_exists(#ver))";
  r = client_->UpdateItem(grouped, Soon());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->condition_failed);  // version 3 -> 4 above, so #ver = 4 now
  auto got = store_->Get("c", "leader", Soon());
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ((*got)->version, 5);
}

TEST_F(SimTableTest, RejectsWhatDynamoDbRejects) {
  auto base = BuildWriteRequest("patroni", "c", "leader", Leader("n1", true), Precondition::Absent(), 0);
  struct Case {
    const char* what;
    std::function<void(dynamodb::UpdateItemRequest&)> edit;
    const char* message;
  };
  const Case cases[] = {
      {"syntax", [](auto& r) { r.condition.condition = "#val = = :val"; }, "Syntax error"},
      {"undefined name", [](auto& r) { r.condition.condition = "attribute_not_exists(#nope)"; }, "#nope"},
      {"arithmetic on a missing attribute",
       [](auto& r) {
         r.update_expression =
             "SET #ver = #ver + :one, #upd = :now, #val = :val, #ses = :ses, #term = "
             "if_not_exists(#term, :zero) + :one, #lease = :lease, #ttl = :ttl";
       },
       "does not exist"},
      {"key attribute",
       [](auto& r) {
         r.update_expression += ", #k = :val";
         r.condition.names["#k"] = "key";
       },
       "part of the key"},
      {"overlapping paths", [](auto& r) { r.update_expression += " REMOVE #val"; }, "overlap"},
  };
  for (const auto& c : cases) {
    auto req = base;
    c.edit(req);
    auto r = client_->UpdateItem(req, Soon());
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.what;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << c.what << ": " << r.status().message();
  }
  EXPECT_EQ(table_->Current("c", "leader"), nullptr);  // nothing applied
  auto wrong_table = base;
  wrong_table.table = "other";
  auto r = client_->UpdateItem(wrong_table, Soon());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_F(SimTableTest, QueriesAPartitionPrefixOverManyPages) {
  short_pages_ = 1.0;
  Build(0s);
  for (const char* key : {"leader", "members/a", "members/b", "members/c", "config", "sync"}) {
    Mutation m;
    m.value = key;
    ASSERT_TRUE(Write(key, m, Precondition::None()).ok());
  }
  Mutation other;
  other.value = "x";
  ASSERT_TRUE(store_->Write("d", "members/z", other, Precondition::None(), Soon()).ok());
  draws_.assign(20, 0.1);  // pages of one item
  auto all = store_->Query("c", "", Soon());
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 6u);
  auto members = store_->Query("c", "members/", Soon());
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 3u);
  EXPECT_EQ((*members)[0].key, "members/a");
  EXPECT_EQ((*members)[2].key, "members/c");
  EXPECT_GE(client_->stats().requests_by_operation["Query"], 9u);  // 6 + 3 pages
}

TEST_F(SimTableTest, EventuallyConsistentReadsMayReturnThePreviousVersion) {
  Mutation m;
  m.value = "one";
  ASSERT_TRUE(Write("failover", m, Precondition::None()).ok());
  clock_->Advance(5s);
  m.value = "two";
  ASSERT_TRUE(Write("failover", m, Precondition::None()).ok());
  clock_->Advance(300ms);
  draws_ = {0.1, 0.5};  // a lagging replica, 0.5 s behind: before the second write
  auto stale = store_->GetEventually("c", "failover", Soon());
  ASSERT_TRUE(stale.ok() && *stale);
  EXPECT_EQ((*stale)->value, "one");
  auto fresh = store_->Get("c", "failover", Soon());  // consistent: never stale
  ASSERT_TRUE(fresh.ok() && *fresh);
  EXPECT_EQ((*fresh)->value, "two");
  clock_->Advance(2s);
  draws_ = {0.1, 1.0};  // lagging by the whole max_staleness, after the second write
  stale = store_->GetEventually("c", "failover", Soon());
  ASSERT_TRUE(stale.ok() && *stale);
  EXPECT_EQ((*stale)->value, "two");
  draws_ = {0.1, 0.1};
  auto missing = store_->GetEventually("c", "nothing", Soon());
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(*missing);
}

TEST_F(SimTableTest, TtlDeletesOnlyByTheTablesClock) {
  Mutation m;
  m.value = "v";
  m.ttl_epoch_s = kWall0 + 10;
  ASSERT_TRUE(Write("members/a", m, Precondition::None()).ok());
  EXPECT_EQ(table_->TtlOf("c", "members/a"), kWall0 + 10);
  EXPECT_FALSE(table_->ExpireIfDue("c", "members/a", 5s));
  EXPECT_TRUE(table_->ExpireIfDue("c", "members/a", 11s));
  EXPECT_EQ(table_->Current("c", "members/a"), nullptr);
  EXPECT_EQ(table_->InstantOfEpoch(kWall0 + 10), 10s);
}

// A client whose wall clock is an hour off is refused ("Signature expired"),
// learns the offset from the Date header and succeeds on its retry.
TEST_F(SimTableTest, AClientWithASkewedClockCorrectsItselfFromTheDateHeader) {
  Build(-1h);
  auto w = Write("leader", Leader("n1", true), Precondition::Absent());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(w->applied);
  EXPECT_EQ(client_->stats().requests_by_operation["UpdateItem"], 2u);
  EXPECT_NEAR(std::chrono::duration<double>(client_->clock_skew()).count(), 3600, 2);
}

TEST(SimFiber, InterleavesAndFinishes) {
  std::vector<std::string> log;
  sim::Fiber a([&] {
    log.push_back("a1");
    sim::Fiber::Suspend();
    log.push_back("a2");
  });
  sim::Fiber b([&] {
    log.push_back("b1");
    EXPECT_NE(sim::Fiber::Current(), nullptr);
    sim::Fiber::Suspend();
    log.push_back("b2");
  });
  EXPECT_EQ(sim::Fiber::Current(), nullptr);
  a.Resume();
  b.Resume();
  EXPECT_FALSE(a.finished());
  b.Resume();
  a.Resume();
  EXPECT_TRUE(a.finished());
  EXPECT_TRUE(b.finished());
  EXPECT_EQ(log, (std::vector<std::string>{"a1", "b1", "b2", "a2"}));
}

}  // namespace
}  // namespace dynatroni::dcs
