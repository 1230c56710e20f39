// A dead member looks dead to a fresh process (dcs/member_expiry.h,
// docs/design.md "A fresh reader"): a reader that has not watched a member
// for member_expiry itself (patronictl list, any new process) leaves it out
// once its updated_at is member_expiry + kMemberClockAllowance old by the
// reader's wall clock plus the store's learned clock skew; a live member —
// an idle replica skipping writes inside member_refresh, a lease holder
// skipping them while it renews — never looks stopped; the lease is not
// affected.
#include "dcs/member_expiry.h"

#include <gtest/gtest.h>

#include "dcs/dcs.h"
#include "dcs/dcs_test_node.h"
#include "dcs/memory_item_store.h"

namespace dynatroni::dcs {
namespace {

using namespace std::chrono_literals;

constexpr Duration kLimit = 70s;  // member_expiry (2 x 30 s) + kMemberClockAllowance at failover_time 30

// The table as one reader sees it: the shared items, and the clock skew this
// reader's client learned (ItemStore::ClockSkew).
class ReaderStore final : public ItemStore {
 public:
  ReaderStore(std::shared_ptr<MemoryItemStore> table, Duration skew)
      : table_(std::move(table)), skew_(skew) {}
  Result<std::vector<StoredItem>> Query(const std::string& partition, const std::string& prefix,
                                        Deadline deadline) override {
    return table_->Query(partition, prefix, deadline);
  }
  Result<std::optional<StoredItem>> Get(const std::string& partition, const std::string& key,
                                        Deadline deadline) override {
    return table_->Get(partition, key, deadline);
  }
  Result<WriteOutcome> Write(const std::string& partition, const std::string& key, const Mutation& mutation,
                             const Precondition& pre, Deadline deadline) override {
    return table_->Write(partition, key, mutation, pre, deadline);
  }
  Status DeletePartition(const std::string& partition, Deadline deadline) override {
    return table_->DeletePartition(partition, deadline);
  }
  [[nodiscard]] Duration ClockSkew() const override { return skew_; }

 private:
  std::shared_ptr<MemoryItemStore> table_;
  Duration skew_;
};

class FreshReaderTest : public ::testing::Test {
 protected:
  // A Patroni node writing on the writers' clock (its wall clock is updated_at).
  std::unique_ptr<Dcs> Writer(const std::string& name) { return MakeTestNode(table_, name, &writers_); }
  // One Patroni cycle: get_cluster, then touch_member.
  static void Cycle(Dcs& d, const std::string& data = kReplica) {
    ASSERT_TRUE(d.LoadCluster("").ok());
    auto r = d.TouchMember("members/" + d.name(), data);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // `patronictl list`: a new process whose wall clock is `ahead` of the
  // writers' and whose client learned `skew`, loading the cluster once.
  ClusterView FreshLoad(Duration ahead = 0s, Duration skew = 0s) {
    FakeClock clock(MonoTime(std::chrono::hours(500)),
                    std::chrono::time_point_cast<WallTime::duration>(writers_.WallNow() + ahead));
    auto reader = MakeTestNode(std::make_shared<ReaderStore>(table_, skew), "patronictl", &clock);
    auto view = reader->LoadCluster("");
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    return view.ok() ? *view : ClusterView{};
  }
  static constexpr const char* kReplica = R"({"role":"replica","state":"running","xlog_location":100})";
  static constexpr const char* kPrimary = R"({"role":"primary","state":"running","xlog_location":200})";
  FakeClock writers_;
  std::shared_ptr<MemoryItemStore> table_ = std::make_shared<MemoryItemStore>(&writers_);
};

TEST(MemberExpiry, TheNumbersTheDocsState) {
  EXPECT_EQ(kMemberClockAllowance, 10s);
  auto t = *Timing::FromFailoverTime(30s);
  EXPECT_EQ(t.MemberExpiry() + kMemberClockAllowance, kLimit);
  // A live idle member writes at least every member_refresh + one loop (+ the
  // write's own retry_timeout): for any timing Patroni accepts (loop_wait + 2
  // retry_timeout <= ttl) that is at most member_expiry, so a writer clock
  // lagging the reader's by kMemberClockAllowance never reaches the limit.
  for (Duration ttl : {9s, 15s, 20s, 30s, 60s}) {
    for (Duration lw = 1s; lw < ttl; lw += 1s) {
      for (Duration rt = 1s; lw + 2 * rt <= ttl; rt += 1s) {
        Timing x;
        x.ttl = ttl;
        x.loop_wait = lw;
        x.retry_timeout = rt;
        EXPECT_LE(x.MemberRefresh() + x.loop_wait + x.retry_timeout, x.MemberExpiry());
      }
    }
  }
}

TEST(MemberExpiry, EdgesOfTheRule) {
  const auto t = *Timing::FromFailoverTime(30s);
  const Duration e = t.MemberExpiry();  // 60 s
  auto expired = [&](Duration unchanged_for, Duration watched_for, std::optional<Duration> written_ago,
                     bool named_by_leader = false,
                     std::optional<Duration> leader_written_ago = std::nullopt) {
    return MemberExpired(
        t, MemberSighting{unchanged_for, watched_for, written_ago, named_by_leader, leader_written_ago});
  };
  // A reader that has watched the key for less than member_expiry uses updated_at.
  EXPECT_FALSE(expired(0s, e - 1ns, kLimit - 1ns));
  EXPECT_TRUE(expired(0s, e - 1ns, kLimit));
  EXPECT_TRUE(expired(0s, 0s, 10h));
  EXPECT_FALSE(expired(0s, 0s, std::nullopt));  // no updated_at: observation only
  EXPECT_FALSE(expired(0s, 0s, -10h));          // a writer clock ahead delays it
  // From member_expiry of watching on, only this reader's observation counts.
  EXPECT_FALSE(expired(e - 1ns, e, 10h));
  EXPECT_TRUE(expired(e, e, 0s));
  EXPECT_TRUE(expired(e, e, std::nullopt));
  // The member a live leader item names stays, however old its own item...
  EXPECT_FALSE(expired(0s, 0s, 10h, true, 1s));
  EXPECT_FALSE(expired(e + 1h, e + 1h, 10h, true, 10h));  // observed live lease: always
  EXPECT_FALSE(expired(0s, 0s, 10h, true, kLimit - 1ns));
  EXPECT_FALSE(expired(0s, 0s, 10h, true, std::nullopt));
  // ...unless the reader uses updated_at and the leader item too is that old.
  EXPECT_TRUE(expired(0s, 0s, 10h, true, kLimit));
  EXPECT_FALSE(expired(0s, 0s, 1s, true, kLimit));  // the member itself is fresh
}

TEST(MemberExpiry, WrittenAgoIsTheTableClockMinusUpdatedAt) {
  StoredItem item;
  EXPECT_FALSE(WrittenAgo(item, WallTime(1700000000s)).has_value());
  item.updated_at_ms = int64_t{1700000000} * 1000 - 1500;
  EXPECT_EQ(*WrittenAgo(item, WallTime(1700000000s)), 1500ms);
  EXPECT_EQ(*WrittenAgo(item, WallTime(1699999998s)), -500ms);
}

TEST_F(FreshReaderTest, AMemberThatStoppedWritingLooksDeadOnceItsItemIsOlderThanTheLimit) {
  auto b = Writer("b");
  Cycle(*b);
  writers_.Advance(kLimit - 1ms);  // b is gone: nobody writes
  auto view = FreshLoad();
  EXPECT_TRUE(view.items.count("members/b"));
  writers_.Advance(1ms);
  view = FreshLoad();
  EXPECT_FALSE(view.items.count("members/b"));
  EXPECT_EQ(view.expired_members, std::vector<std::string>{"members/b"});
}

TEST_F(FreshReaderTest, ARecentlyWrittenMemberIsListed) {
  auto b = Writer("b");
  Cycle(*b);
  writers_.Advance(1s);
  auto view = FreshLoad();
  ASSERT_TRUE(view.items.count("members/b"));
  EXPECT_TRUE(view.expired_members.empty());
}

TEST_F(FreshReaderTest, TheAllowanceIsCountedOnTheReadersClockCorrectedByItsLearnedSkew) {
  auto b = Writer("b");
  Cycle(*b);
  writers_.Advance(kLimit - kMemberClockAllowance);  // 60 s: b's own clock says it is not late
  // A reader whose clock is kMemberClockAllowance ahead sees the item exactly at the limit.
  EXPECT_TRUE(FreshLoad(kMemberClockAllowance - 1ms).items.count("members/b"));
  EXPECT_FALSE(FreshLoad(kMemberClockAllowance).items.count("members/b"));
  // Ten minutes ahead, but its client learned that from DynamoDB (a refused SigV4 signature).
  EXPECT_TRUE(FreshLoad(10min, -10min).items.count("members/b"));
  EXPECT_FALSE(FreshLoad(10min).items.count("members/b"));
}

// An idle replica skips unchanged writes inside member_refresh; a new
// process reading at any 100 ms phase, with a clock kMemberClockAllowance
// ahead of the replica's, always lists it.
TEST_F(FreshReaderTest, ALiveReplicaSkippingWritesIsNeverLeftOut) {
  auto b = Writer("b");
  for (Duration t = 0s; t < 600s; t += 100ms) {
    if (t % 10s == Duration::zero()) Cycle(*b);
    auto view = FreshLoad(kMemberClockAllowance);
    ASSERT_TRUE(view.items.count("members/b")) << "t " << t.count();
    writers_.Advance(100ms);
  }
  EXPECT_EQ(table_->Peek("batman", "members/b")->version, 20) << "60 loops, one write per 3";
}

// The lease holder rewrites its unchanged member item only every gc_after / 4
// (42 h), however old: a new process keeps it while the leader item, renewed
// every loop, names it — and drops it once nobody renews that either. The
// lease itself is untouched: the leader item stays in the view and a new
// process still cannot take it before observing it unchanged for a TTL.
TEST_F(FreshReaderTest, TheLeadersMemberStaysWhileTheLeaseIsRenewedAndGoesWithTheRenewals) {
  auto a = Writer("a");
  ASSERT_TRUE(a->LoadCluster("").ok());
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  Cycle(*a, kPrimary);
  for (int loop = 0; loop < 30; ++loop) {  // 300 s, far past the limit
    ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
    Cycle(*a, kPrimary);
    for (Duration phase = 0s; phase < 10s; phase += 500ms) {
      ASSERT_TRUE(FreshLoad(kMemberClockAllowance).items.count("members/a")) << "loop " << loop;
      writers_.Advance(500ms);
    }
  }
  EXPECT_EQ(table_->Peek("batman", "members/a")->version, 1) << "written once in 300 s";
  // a dies; nobody takes over (no other node). Since its last renewal:
  writers_.Advance(kLimit - 10s - 1ms);
  EXPECT_TRUE(FreshLoad().items.count("members/a"));
  writers_.Advance(1ms);
  FakeClock clock(MonoTime(std::chrono::hours(500)), writers_.WallNow());
  auto fresh = MakeTestNode(table_, "c", &clock);
  auto view = fresh->LoadCluster("");
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view->items.count("members/a"));
  EXPECT_TRUE(view->items.count("leader")) << "the lease is timed by observation only";
  EXPECT_FALSE(*fresh->AcquireLeader("leader"));
  clock.Advance(30s);
  ASSERT_TRUE(fresh->LoadCluster("").ok());
  EXPECT_TRUE(*fresh->AcquireLeader("leader"));  // after a TTL of its own observation
}

// After a takeover the old leader's member item (written when it was
// acquired) is old: a new process drops it at once.
TEST_F(FreshReaderTest, ACrashedLeadersMemberGoesWhenTheLeaseChangesHands) {
  auto a = Writer("a");
  auto b = Writer("b");
  ASSERT_TRUE(a->LoadCluster("").ok());
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  for (int loop = 0; loop < 10; ++loop) {
    ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
    Cycle(*a, kPrimary);
    Cycle(*b);
    writers_.Advance(10s);
  }
  // a crashes; b runs its loop and takes over after seeing the lease unchanged for a TTL.
  bool took = false;
  for (int loop = 0; loop < 5 && !took; ++loop) {
    Cycle(*b);
    auto r = b->AcquireLeader("leader");
    ASSERT_TRUE(r.ok());
    took = *r;
    if (!took) writers_.Advance(10s);
  }
  ASSERT_TRUE(took);
  auto view = FreshLoad();
  EXPECT_FALSE(view.items.count("members/a"));
  EXPECT_TRUE(view.items.count("members/b"));
  EXPECT_EQ(*view.items.at("leader").item.value, "b");
}

// Beyond the allowance a new process may leave a live member out — only
// until it has watched the key for member_expiry; from then on its own
// observation decides, and a silent member still goes by observation.
TEST_F(FreshReaderTest, AReaderThatWatchedLongEnoughTrustsOnlyItsOwnObservation) {
  auto w = Writer("w");
  auto s = Writer("s");
  Cycle(*s);  // s writes once, then stops
  FakeClock reader_clock(MonoTime(std::chrono::hours(500)), writers_.WallNow() + 5min);  // far ahead
  auto o = MakeTestNode(table_, "o", &reader_clock);
  for (Duration t = 0s; t <= 120s; t += 10s) {
    Cycle(*w);
    auto view = o->LoadCluster("");
    ASSERT_TRUE(view.ok());
    EXPECT_EQ(view->items.count("members/w"), t < 60s ? 0U : 1U) << "t " << t.count();
    EXPECT_EQ(view->items.count("members/s"), 0U) << "t " << t.count();
    writers_.Advance(10s);
    reader_clock.Advance(10s);
  }
}

}  // namespace
}  // namespace dynatroni::dcs
