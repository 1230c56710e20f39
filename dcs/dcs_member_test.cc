// Member items: TouchMember skips unchanged rewrites inside member_refresh,
// observers expire a member after 2 x ttl of observed silence (dcs/dcs.h,
// docs/design.md "Member items").
#include <gtest/gtest.h>

#include "dcs/dcs.h"
#include "dcs/dcs_test_node.h"
#include "dcs/memory_item_store.h"

namespace dynatroni::dcs {
namespace {

using namespace std::chrono_literals;

// A MemoryItemStore that counts the writes each key received.
class CountingStore final : public ItemStore {
 public:
  Result<std::vector<StoredItem>> Query(const std::string& partition, const std::string& prefix,
                                        Deadline deadline) override {
    return inner.Query(partition, prefix, deadline);
  }
  Result<std::optional<StoredItem>> Get(const std::string& partition, const std::string& key,
                                        Deadline deadline) override {
    return inner.Get(partition, key, deadline);
  }
  Result<WriteOutcome> Write(const std::string& partition, const std::string& key, const Mutation& mutation,
                             const Precondition& pre, Deadline deadline) override {
    ++writes[key];
    return inner.Write(partition, key, mutation, pre, deadline);
  }
  Status DeletePartition(const std::string& partition, Deadline deadline) override {
    return inner.DeletePartition(partition, deadline);
  }
  MemoryItemStore inner;
  std::map<std::string, int> writes;
};

class MemberTest : public ::testing::Test {
 protected:
  std::unique_ptr<Dcs> Node(const std::string& name, FakeClock* clock, Duration failover_time = 30s) {
    return MakeTestNode(store_, name, clock, failover_time);
  }
  // One Patroni cycle of `d`: get_cluster, then touch_member.
  void Cycle(Dcs& d, const std::string& data = kData) {
    ASSERT_TRUE(d.LoadCluster("").ok());
    auto r = d.TouchMember("members/" + d.name(), data);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(*r);
  }
  static constexpr const char* kData = R"({"role":"replica","state":"running","xlog_location":100})";
  std::shared_ptr<CountingStore> store_ = std::make_shared<CountingStore>();
  FakeClock clock_a_, clock_b_{MonoTime(std::chrono::hours(500)), WallTime(std::chrono::seconds(1))};
};

TEST(Timing, MemberRefreshIsTtlMinusHalfALoopAndExpiryTwoTtls) {
  auto t = *Timing::FromFailoverTime(30s);
  EXPECT_EQ(t.MemberRefresh(), 25s);  // every third 10 s loop
  EXPECT_EQ(t.MemberExpiry(), 60s);
  // Any Patroni timing keeps refresh + writer loop + observer loop at least
  // loop_wait / 2 below the expiry; a loop_wait above 0.8 ttl writes every loop.
  const std::vector<std::pair<Duration, Duration>> timings = {{30s, 10s}, {30s, 20s}, {20s, 15s},
                                                              {30s, 26s}, {9s, 3s},   {60s, 5s}};
  for (auto [ttl, lw] : timings) {
    Timing x;
    x.ttl = ttl;
    x.loop_wait = lw;
    EXPECT_GE(x.MemberRefresh(), Duration::zero());
    EXPECT_LE(x.MemberRefresh(), x.ttl - x.loop_wait / 2);
    if (x.MemberRefresh() > Duration::zero()) {
      EXPECT_LE(x.MemberRefresh() + 2 * x.loop_wait, x.MemberExpiry() - x.loop_wait / 2)
          << "loop_wait " << std::chrono::duration_cast<std::chrono::seconds>(lw).count();
    } else {
      EXPECT_LT(2 * x.loop_wait, x.MemberExpiry());  // a write every loop
    }
  }
  Timing same;
  same.ttl = 30s;
  same.loop_wait = 26s;  // Patroni's rule loop_wait + 2 retry_timeout <= ttl keeps loop_wait < ttl
  EXPECT_EQ(same.MemberRefresh(), Duration::zero());
}

TEST_F(MemberTest, UnchangedDataInsideMemberRefreshSendsNoWrite) {
  auto a = Node("a", &clock_a_);
  Cycle(*a);  // first write
  EXPECT_EQ(store_->writes["members/a"], 1);
  clock_a_.Advance(10s);
  Cycle(*a);
  clock_a_.Advance(10s);
  Cycle(*a);  // 20 s < 25 s
  EXPECT_EQ(store_->writes["members/a"], 1);
  clock_a_.Advance(10s);
  Cycle(*a);  // 30 s >= member_refresh: rewritten
  EXPECT_EQ(store_->writes["members/a"], 2);
  EXPECT_EQ(store_->inner.Peek("batman", "members/a")->version, 2);
  clock_a_.Advance(10s);
  Cycle(*a);  // counted again from the new write
  EXPECT_EQ(store_->writes["members/a"], 2);
}

TEST_F(MemberTest, ChangedDataIsWrittenAtOnce) {
  auto a = Node("a", &clock_a_);
  Cycle(*a);
  clock_a_.Advance(10s);
  Cycle(*a);
  EXPECT_EQ(store_->writes["members/a"], 1);
  clock_a_.Advance(1s);
  Cycle(*a, R"({"role":"replica","state":"running","xlog_location":200})");
  EXPECT_EQ(store_->writes["members/a"], 2);
  EXPECT_EQ(*store_->inner.Peek("batman", "members/a")->value,
            R"({"role":"replica","state":"running","xlog_location":200})");
}

TEST_F(MemberTest, WritesUntilALoadClusterConfirmedTheWrite) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->TouchMember("members/a", kData));
  clock_a_.Advance(1s);
  ASSERT_TRUE(*a->TouchMember("members/a", kData));  // no LoadCluster in between: not confirmed
  EXPECT_EQ(store_->writes["members/a"], 2);
}

TEST_F(MemberTest, ItemRemovedBySomeoneElseIsWrittenAgain) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  Cycle(*a);
  clock_a_.Advance(10s);
  Cycle(*a);
  EXPECT_EQ(store_->writes["members/a"], 1);
  ASSERT_TRUE(b->DeleteCluster().ok());  // patronictl remove
  clock_a_.Advance(1s);
  Cycle(*a);
  EXPECT_EQ(store_->writes["members/a"], 2);
  ASSERT_TRUE(store_->inner.Peek("batman", "members/a").has_value());
}

TEST_F(MemberTest, ItemRewrittenBySomeoneElseIsWrittenAgain) {
  auto a = Node("a", &clock_a_);
  Cycle(*a);
  clock_a_.Advance(10s);
  Cycle(*a);
  // Another writer (a second process with the same name, an operator) with the same data.
  StoredItem other = *store_->inner.Peek("batman", "members/a");
  other.version += 1;
  other.session = "a:other";
  store_->inner.Poke("batman", other);
  clock_a_.Advance(1s);
  Cycle(*a);
  EXPECT_EQ(store_->writes["members/a"], 2);
  auto now = store_->inner.Peek("batman", "members/a");
  EXPECT_EQ(now->session, a->session());
  // Our own tombstone of the key (DeleteKey) ends skipping too.
  ASSERT_TRUE(*a->DeleteKey("members/a", std::nullopt));
  ASSERT_TRUE(*a->TouchMember("members/a", kData));
  EXPECT_TRUE(store_->inner.Peek("batman", "members/a")->live());
}

TEST_F(MemberTest, FailedWriteIsRetriedOnTheNextCall) {
  auto a = Node("a", &clock_a_);
  Cycle(*a);
  clock_a_.Advance(30s);
  ASSERT_TRUE(a->LoadCluster("").ok());
  store_->inner.InjectFaults({MemoryItemStore::Fault::kUnavailable});
  EXPECT_FALSE(a->TouchMember("members/a", kData).ok());
  clock_a_.Advance(10s);
  Cycle(*a);
  EXPECT_EQ(store_->writes["members/a"], 3);
  EXPECT_EQ(store_->inner.Peek("batman", "members/a")->version, 2);
}

TEST_F(MemberTest, AFailedLoadClusterConfirmsNothing) {
  auto a = Node("a", &clock_a_);
  Cycle(*a);
  clock_a_.Advance(10s);
  ASSERT_TRUE(a->LoadCluster("").ok());
  store_->inner.InjectFaults({MemoryItemStore::Fault::kUnavailable});
  EXPECT_FALSE(a->LoadCluster("").ok());
  ASSERT_TRUE(*a->TouchMember("members/a", kData));
  EXPECT_EQ(store_->writes["members/a"], 2);
}

TEST_F(MemberTest, ARestartedProcessWritesFirst) {
  auto a = Node("a", &clock_a_);
  Cycle(*a);
  clock_a_.Advance(10s);
  Cycle(*a);
  EXPECT_EQ(store_->writes["members/a"], 1);
  auto again = Node("a", &clock_a_);  // new process, same data, same clock
  Cycle(*again);
  EXPECT_EQ(store_->writes["members/a"], 2);
  clock_a_.Advance(10s);
  Cycle(*again);
  EXPECT_EQ(store_->writes["members/a"], 2);
}

TEST_F(MemberTest, ATtlChangeIsWrittenAtOnce) {
  auto a = Node("a", &clock_a_);
  Cycle(*a);
  clock_a_.Advance(10s);
  Cycle(*a);
  Timing t = a->timing();
  t.ttl = 40s;
  a->SetTiming(t);
  clock_a_.Advance(1s);
  Cycle(*a);
  EXPECT_EQ(store_->writes["members/a"], 2);
  EXPECT_EQ(store_->inner.Peek("batman", "members/a")->lease_ms, 40000);
}

TEST_F(MemberTest, ObserverKeepsASilentMemberForTwoTtlsThenExpiresIt) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  Cycle(*a);
  ASSERT_TRUE(b->LoadCluster("").ok());  // b first sees version 1 now
  clock_b_.Advance(59s);
  auto v = b->LoadCluster("");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->items.count("members/a"), 1U);
  EXPECT_TRUE(v->expired_members.empty());
  EXPECT_EQ(v->items.at("members/a").age, 59s);
  clock_b_.Advance(1s);
  v = b->LoadCluster("");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->items.count("members/a"), 0U);
  ASSERT_EQ(v->expired_members.size(), 1U);
  EXPECT_EQ(v->expired_members[0], "members/a");
}

// The margin of docs/design.md: an idle writer cycling every loop_wait and an
// observer cycling every loop_wait at any phase never see each other expire,
// and the writer sends one member write per three loops at the dial.
TEST_F(MemberTest, IdleWriterNeverExpiresForAnyObserverPhaseAndWritesEveryThirdLoop) {
  for (int phase_ms = 0; phase_ms < 10000; phase_ms += 500) {
    store_ = std::make_shared<CountingStore>();
    FakeClock wc, oc;
    auto w = Node("w", &wc);
    auto o = Node("o", &oc);
    Duration phase = std::chrono::milliseconds(phase_ms);
    // Real time in 100 ms steps for 10 minutes; both clocks run with it.
    for (Duration t = 0s; t < 600s; t += 100ms) {
      if (t % 10s == Duration::zero()) Cycle(*w);
      if (t >= phase && (t - phase) % 10s == Duration::zero()) {
        auto v = o->LoadCluster("");
        ASSERT_TRUE(v.ok());
        if (t > 0s) {
          ASSERT_TRUE(v->expired_members.empty()) << "phase " << phase_ms << " ms, t " << t.count();
          ASSERT_EQ(v->items.count("members/w"), 1U);
          EXPECT_LE(v->items.at("members/w").age, 45s);  // refresh + 2 loops, 15 s below 2 ttl
        }
      }
      wc.Advance(100ms);
      oc.Advance(100ms);
    }
    EXPECT_EQ(store_->writes["members/w"], 20) << "60 loops, one write per 3";
  }
}

TEST_F(MemberTest, LeaderRewritesItsMemberOnlyWhenChangedAndObserversKeepItWhileTheLeaseLives) {
  const std::string primary = R"({"role":"primary","state":"running","xlog_location":200})";
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  ASSERT_TRUE(a->LoadCluster("").ok());
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  Cycle(*a);
  Cycle(*a, primary);
  EXPECT_EQ(store_->writes["members/a"], 2);  // changed data: written at once
  for (int loop = 0; loop < 20; ++loop) {     // 200 s, far past member_expiry (60 s)
    ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
    Cycle(*a, primary);
    Cycle(*b);
    auto view = b->LoadCluster("");
    ASSERT_TRUE(view.ok());
    ASSERT_TRUE(view->items.count("members/a")) << "loop " << loop;
    clock_a_.Advance(10s);
    clock_b_.Advance(10s);
  }
  EXPECT_EQ(store_->writes["members/a"], 2);  // the 20 lease renewals prove it alive
  EXPECT_GE(store_->writes["members/b"], 6);  // a replica refreshes every third loop
  EXPECT_LE(store_->writes["members/b"], 8);
  // The leader dies: once b sees the lease expire, a's long-unchanged member item goes with it.
  for (int loop = 0; loop < 4; ++loop) {
    Cycle(*b);
    clock_b_.Advance(10s);
  }
  auto view = b->LoadCluster("");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->expired_leaders.count("leader"), 1U);
  EXPECT_FALSE(view->items.count("members/a"));
  EXPECT_TRUE(view->items.count("members/b"));
}

}  // namespace
}  // namespace dynatroni::dcs
