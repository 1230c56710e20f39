// The lease under unknown and refused write outcomes, written TTLs, releases,
// DynamoDB TTL and deadlines (issue: lease safety under unknown outcomes).
// Each test names the rule of dcs/dcs.h it checks; each failed on the code
// before the fix it guards (noted per test).
#include <deque>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "dcs/dcs.h"
#include "dcs/dcs_test_node.h"
#include "dcs/memory_item_store.h"

namespace dynatroni::dcs {
namespace {

using namespace std::chrono_literals;
using Fault = MemoryItemStore::Fault;

// Records the deadline of every call before passing it on.
class DeadlineRecordingStore final : public ItemStore {
 public:
  explicit DeadlineRecordingStore(std::shared_ptr<MemoryItemStore> inner) : inner_(std::move(inner)) {}
  Result<std::vector<StoredItem>> Query(const std::string& p, const std::string& prefix,
                                        Deadline d) override {
    deadlines.push_back(d);
    return inner_->Query(p, prefix, d);
  }
  Result<std::optional<StoredItem>> Get(const std::string& p, const std::string& k, Deadline d) override {
    deadlines.push_back(d);
    return inner_->Get(p, k, d);
  }
  Result<WriteOutcome> Write(const std::string& p, const std::string& k, const Mutation& m,
                             const Precondition& pre, Deadline d) override {
    deadlines.push_back(d);
    return inner_->Write(p, k, m, pre, d);
  }
  Status DeletePartition(const std::string& p, Deadline d) override {
    deadlines.push_back(d);
    return inner_->DeletePartition(p, d);
  }
  std::vector<Deadline> deadlines;

 private:
  std::shared_ptr<MemoryItemStore> inner_;
};

class LeaseResolutionTest : public ::testing::Test {
 protected:
  std::unique_ptr<Dcs> Node(const std::string& name, FakeClock* clock) {
    return MakeTestNode(store_, name, clock);
  }
  [[nodiscard]] int64_t LeaderVersion() const { return store_->Peek("batman", "leader")->version; }

  FakeClock table_clock_;
  std::shared_ptr<MemoryItemStore> store_ = std::make_shared<MemoryItemStore>(&table_clock_);
  FakeClock clock_a_, clock_b_{MonoTime(std::chrono::hours(500)), WallTime(std::chrono::seconds(1700000000))};
};

// The reproduced defect: DynamoDB refused the renewal (500 after the client's
// retries, or a timeout before it reached the table) and the consistent
// re-read found our own EARLIER item. Before the fix RenewLeader returned true
// and moved the holder bound to this failed send.
TEST_F(LeaseResolutionTest, RenewalThatDidNotApplyIsNotReportedAndKeepsTheOldBound) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  const int64_t v = LeaderVersion();
  const Timing t = a->timing();
  clock_a_.Advance(10s);
  for (int i = 0; i < 3; ++i) {
    store_->InjectFaults({Fault::kUnknownNotApplied});
    auto r = a->RenewLeader("leader", std::nullopt);
    ASSERT_FALSE(r.ok()) << "a renewal that never applied was reported as " << (*r ? "renewed" : "lost");
    EXPECT_NE(r.status().message().find("not applied"), std::string::npos) << r.status().ToString();
    EXPECT_EQ(LeaderVersion(), v);
    // Still held, but only until the bound of the acquisition (sent 10 s ago).
    LeaseInfo lease = a->Lease("leader");
    EXPECT_TRUE(lease.held);
    EXPECT_EQ(lease.remaining, t.ttl - t.SafetyMargin() - 10s);
  }
  // The next renewal that does apply moves the bound.
  ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
  EXPECT_EQ(LeaderVersion(), v + 1);
  EXPECT_EQ(a->Lease("leader").remaining, t.ttl - t.SafetyMargin());
}

// A lease whose own lease lapsed re-acquires with a version precondition: a
// refused attempt whose re-read shows our old item must not count either.
TEST_F(LeaseResolutionTest, ReacquisitionThatDidNotApplyIsNotReportedAsWon) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  clock_a_.Advance(31s);
  ASSERT_TRUE(a->LoadCluster("").ok());
  EXPECT_FALSE(a->Lease("leader").held);
  const int64_t v = LeaderVersion();
  store_->InjectFaults({Fault::kUnknownNotApplied});
  auto r = a->RenewLeader("leader", std::nullopt);
  EXPECT_FALSE(r.ok() && *r) << "reported renewed although nothing was written";
  EXPECT_EQ(LeaderVersion(), v);
  EXPECT_FALSE(a->Lease("leader").held);
}

// An unresolved write (re-read failed) that did apply: the next renewal finds
// our newer version and counts its bound from the EARLIER, unresolved send.
TEST_F(LeaseResolutionTest, UnresolvedWriteThatAppliedCountsFromItsOwnSend) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  const Timing t = a->timing();
  clock_a_.Advance(10s);
  store_->InjectFaults({Fault::kApplyThenUnknown, Fault::kUnavailable});
  auto r = a->RenewLeader("leader", std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnknownOutcome);
  EXPECT_EQ(a->Lease("leader").remaining, t.ttl - t.SafetyMargin() - 10s) << "bound of the last known write";
  clock_a_.Advance(5s);
  store_->InjectFaults({Fault::kUnknownNotApplied});  // this renewal does not apply; the re-read shows v+1
  r = a->RenewLeader("leader", std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r);
  EXPECT_EQ(a->Lease("leader").remaining, t.ttl - t.SafetyMargin() - 5s)
      << "counted from the unresolved send";
}

// Review finding: an ambiguous renewal whose re-read showed it not applied
// (yet) may still land late; a later renewal that is then certainly refused
// finds that version. Before this rule it counted its own (later) send.
TEST_F(LeaseResolutionTest, AnAmbiguousWriteFoundNotAppliedStillCountsIfItLandsLate) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  const Timing t = a->timing();
  clock_a_.Advance(10s);
  store_->InjectFaults({Fault::kUnknownNotApplied});
  ASSERT_FALSE(a->RenewLeader("leader", std::nullopt).ok());
  // The renewal lands late: the table now holds the version it produced.
  StoredItem landed = *store_->Peek("batman", "leader");
  landed.version += 1;
  store_->Poke("batman", landed);
  clock_a_.Advance(5s);
  auto r = a->RenewLeader("leader", std::nullopt);  // conditioned on the old version: refused
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r);
  EXPECT_EQ(a->Lease("leader").remaining, t.ttl - t.SafetyMargin() - 5s)
      << "counted from the late write's send";
}

// A certainly refused write that finds a version of ours no write it still
// counts can have produced reports no renewal and keeps the bound.
TEST_F(LeaseResolutionTest, ARefusedWriteNeverCountsItsOwnSend) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  const Timing t = a->timing();
  StoredItem unknown = *store_->Peek("batman", "leader");
  unknown.version += 1;
  store_->Poke("batman", unknown);
  clock_a_.Advance(10s);
  auto r = a->RenewLeader("leader", std::nullopt);
  ASSERT_FALSE(r.ok()) << "a refused renewal was reported as " << (*r ? "renewed" : "lost");
  EXPECT_EQ(a->Lease("leader").remaining, t.ttl - t.SafetyMargin() - 10s);
  // The next renewal is conditioned on the version found, and counts.
  ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
  EXPECT_EQ(a->Lease("leader").remaining, t.ttl - t.SafetyMargin());
}

// Before the fix the bound used the current ttl: raising ttl by edit-config
// lengthened a lease that followers still time with the written lease_ms.
TEST_F(LeaseResolutionTest, HolderBoundUsesTheTtlTheLeaseWasWrittenWith) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  Timing raised = a->timing();
  raised.ttl = 90s;
  a->SetTiming(raised);
  EXPECT_LE(a->Lease("leader").remaining, 30s - raised.SafetyMargin());
  // Lowered: the shorter current ttl applies at once.
  Timing lowered = a->timing();
  lowered.ttl = 20s;
  a->SetTiming(lowered);
  EXPECT_LE(a->Lease("leader").remaining, 20s - lowered.SafetyMargin());
}

// Before the fix the release was conditioned on the name only: a zombie
// process (or a late release) tombstoned the lease its restarted successor
// had renewed.
TEST_F(LeaseResolutionTest, ReleaseIsConditionedOnTheVersionWeHold) {
  auto old_process = Node("a", &clock_a_);
  ASSERT_TRUE(*old_process->AcquireLeader("leader"));
  auto restarted = Node("a", &clock_a_);  // same member name, new session
  ASSERT_TRUE(restarted->LoadCluster("").ok());
  ASSERT_TRUE(*restarted->RenewLeader("leader", std::nullopt));
  const int64_t v = LeaderVersion();
  auto r = old_process->ReleaseLeader("leader");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(*r);
  ASSERT_TRUE(store_->Peek("batman", "leader")->live()) << "a stale release ended a later lease";
  EXPECT_EQ(LeaderVersion(), v);
  // The holder's own release works, and a repeat of it changes nothing.
  ASSERT_TRUE(*restarted->ReleaseLeader("leader"));
  EXPECT_FALSE(store_->Peek("batman", "leader")->live());
  EXPECT_FALSE(*restarted->ReleaseLeader("leader", v));
  EXPECT_EQ(LeaderVersion(), v + 1);
}

// Before the fix the leader item carried ttl = node wall clock + 24 h: a node
// a day behind wrote a ttl already past, and DynamoDB's TTL deletion of a
// tombstone let version and term start again from 1.
TEST_F(LeaseResolutionTest, LeaderItemsNeverCarryADynamoDbTtl) {
  clock_a_.SetWall(table_clock_.WallNow() - 48h);  // two days behind the table
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  EXPECT_EQ(store_->Peek("batman", "leader")->ttl_epoch_s, 0);
  ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
  EXPECT_EQ(store_->Peek("batman", "leader")->ttl_epoch_s, 0);
  ASSERT_TRUE(*a->ReleaseLeader("leader"));
  EXPECT_EQ(store_->Peek("batman", "leader")->ttl_epoch_s, 0);
  // Tombstones of the fixed keys persist too; member tombstones are collected.
  ASSERT_TRUE(a->SetValue("sync", "{}", std::nullopt).ok());
  ASSERT_TRUE(*a->DeleteKey("sync", std::nullopt));
  EXPECT_EQ(store_->Peek("batman", "sync")->ttl_epoch_s, 0);
}

// Member items are collected by DynamoDB's TTL counted from the table's clock,
// whatever this node's wall clock says. Before the fix: node wall + 24 h.
TEST_F(LeaseResolutionTest, MemberTtlIsAheadOfTheTablesClockWhateverTheNodesClock) {
  clock_a_.SetWall(table_clock_.WallNow() - 48h);
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->TouchMember("members/a", "{}"));
  const int64_t table_now_s =
      std::chrono::duration_cast<std::chrono::seconds>(table_clock_.WallNow().time_since_epoch()).count();
  EXPECT_GT(store_->Peek("batman", "members/a")->ttl_epoch_s, table_now_s + 24 * 3600);
}

// Before the fix the lease holder skipped rewriting its unchanged member item
// for as long as it held the lease, so the item aged out of DynamoDB's TTL on
// an idle primary.
TEST_F(LeaseResolutionTest, IdlePrimarysMemberItemIsRewrittenInsideItsTtl) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(*a->TouchMember("members/a", "{}"));
  const int64_t first = store_->Peek("batman", "members/a")->version;
  const Duration step = 10s;
  int64_t last = first;
  for (Duration elapsed{0}; elapsed < 7 * 24h; elapsed += step) {
    clock_a_.Advance(step);
    table_clock_.Advance(step);
    ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
    ASSERT_TRUE(a->LoadCluster("").ok());
    ASSERT_TRUE(*a->TouchMember("members/a", "{}"));
    auto item = store_->Peek("batman", "members/a");
    const int64_t table_now_s =
        std::chrono::duration_cast<std::chrono::seconds>(table_clock_.WallNow().time_since_epoch()).count();
    ASSERT_GT(item->ttl_epoch_s, table_now_s) << "the member item's ttl passed after " << elapsed.count();
    last = item->version;
  }
  EXPECT_GT(last, first);
  EXPECT_LT(last - first, 10) << "the idle leader still skips most member writes";
}

// Before the fix SetValue (and the other calls) took retry_timeout whatever
// the holder bound: a holder could be told it failed after followers may
// have taken over.
TEST_F(LeaseResolutionTest, EveryCallOfTheHolderEndsByItsBound) {
  auto recording = std::make_shared<DeadlineRecordingStore>(store_);
  auto a = MakeTestNode(recording, "a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  const Timing t = a->timing();
  clock_a_.Advance(t.ttl - t.SafetyMargin() - 3s);  // 3 s of the lease left, retry_timeout is 10 s
  const MonoTime bound = clock_a_.Now() + 3s;
  recording->deadlines.clear();
  ASSERT_TRUE(a->SetValue("status", "{}", std::nullopt).ok());
  ASSERT_TRUE(a->Initialize("initialize", "123", true).ok());
  ASSERT_TRUE(a->DeleteKey("failover", std::nullopt).ok());
  ASSERT_TRUE(a->LoadCluster("").ok());
  ASSERT_TRUE(a->TouchMember("members/a", "{\"x\":1}").ok());
  ASSERT_TRUE(a->PollLeader("leader", std::nullopt).ok());
  ASSERT_TRUE(a->PollFailover("leader").ok());
  ASSERT_TRUE(a->RenewLeader("leader", std::nullopt).ok());
  ASSERT_EQ(recording->deadlines.size(), 8U);
  for (size_t i = 0; i < recording->deadlines.size(); ++i) {
    EXPECT_LE(recording->deadlines[i].when(), bound) << "call " << i;
  }
  // The release too (the bound of the renewal above).
  recording->deadlines.clear();
  ASSERT_TRUE(*a->ReleaseLeader("leader"));
  ASSERT_EQ(recording->deadlines.size(), 1U);
  EXPECT_LE(recording->deadlines[0].when(), clock_a_.Now() + t.ttl - t.SafetyMargin());
}

// The holder's watch() ends by its bound (once), so the HA cycle renews or
// learns it lost the lease before any follower may take over.
TEST_F(LeaseResolutionTest, HoldersWatchEndsByTheBound) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  const Timing t = a->timing();
  clock_a_.Advance(t.ttl - t.SafetyMargin() - 4s);
  WatchPlan plan = a->PlanWatch("leader", std::nullopt);
  EXPECT_EQ(plan.action, WatchPlan::Action::kWait);
  EXPECT_EQ(plan.wait, 4s);
  clock_a_.Advance(4s);
  plan = a->PlanWatch("leader", std::nullopt);
  EXPECT_EQ(plan.action, WatchPlan::Action::kWakeNow) << plan.reason;
  plan = a->PlanWatch("leader", std::nullopt);
  EXPECT_NE(plan.action, WatchPlan::Action::kWakeNow) << "woken once per bound, not in a loop";
  // Review finding (2): after that one wake a former holder watches the key
  // like any follower: its own item is due for a renewal, so it reads it
  // (before: it waited a whole loop_wait, blind to a takeover or a release).
  EXPECT_EQ(plan.action, WatchPlan::Action::kPoll) << plan.reason;
}

// Before the fix an observation was identified by version and value only: an
// item rewritten by another process of the same member name (a new session)
// at the same version kept its old age.
TEST_F(LeaseResolutionTest, ObservationIsResetWhenTheSessionChanges) {
  StoredItem leader;
  leader.key = "leader";
  leader.value = "x";
  leader.session = "x:1";
  leader.version = 7;
  leader.lease_ms = 30000;
  store_->Poke("batman", leader);
  auto b = Node("b", &clock_b_);
  ASSERT_TRUE(b->LoadCluster("").ok());
  clock_b_.Advance(20s);
  leader.session = "x:2";
  store_->Poke("batman", leader);
  ASSERT_TRUE(b->LoadCluster("").ok());
  clock_b_.Advance(15s);
  auto view = b->LoadCluster("");
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(view->items.count("leader"), 1U) << "expired 15 s after a new session appeared";
  EXPECT_EQ(view->items.at("leader").age, 15s);
}

// Before the fix an unknown outcome of initialize was an error even when our
// write had applied (a lost reply): the bootstrap race then stalled.
TEST_F(LeaseResolutionTest, InitializeResolvesAnUnknownOutcomeByReReading) {
  auto a = Node("a", &clock_a_);
  store_->InjectFaults({Fault::kApplyThenUnknown});
  auto r = a->Initialize("initialize", "", true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r);
  auto b = Node("b", &clock_b_);
  store_->InjectFaults({Fault::kUnknownNotApplied});
  r = b->Initialize("initialize", "", true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(*r) << "b's write did not apply; a's item is there";
}

// Review finding (1b): an acquisition whose reply never came stays in flight
// and lands after the lease was taken and released again by another node. It
// was conditioned on "no live leader" only, so it landed on the later
// tombstone, and the next acquisition (ambiguous, its re-read showing that
// item) counted a bound from its own send, later than when followers first
// saw the item. Conditioned on the exact version seen, the late landing is
// refused. Failed before the fix: the landing applied and `a` held the lease
// 10 s past what `b` allowed it.
TEST_F(LeaseResolutionTest, AnAcquisitionLandingLateCannotTakeALeaseReleasedSince) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_a_);  // one clock, so that the two views compare
  ASSERT_TRUE(*b->AcquireLeader("leader"));
  ASSERT_TRUE(*b->ReleaseLeader("leader", std::nullopt));
  ASSERT_TRUE(a->LoadCluster("").ok());
  store_->InjectFaults({Fault::kLandsLater});
  auto r = a->AcquireLeader("leader");  // no reply; the re-read shows the tombstone
  EXPECT_FALSE(r.ok() && *r);
  ASSERT_TRUE(b->LoadCluster("").ok());
  ASSERT_TRUE(*b->AcquireLeader("leader"));
  ASSERT_TRUE(*b->ReleaseLeader("leader", std::nullopt));
  ASSERT_TRUE(a->LoadCluster("").ok());
  const int64_t released = LeaderVersion();
  EXPECT_EQ(store_->LandInFlightWrites(), 0) << "a late acquisition landed on a lease released since";
  const MonoTime landed = clock_a_.Now();
  ASSERT_TRUE(b->LoadCluster("").ok());  // b starts timing whatever the table holds now
  clock_a_.Advance(10s);
  store_->InjectFaults({Fault::kUnknownNotApplied});
  r = a->AcquireLeader("leader");
  if (r.ok() && *r) {
    const LeaseInfo lease = a->Lease("leader");
    EXPECT_LE(clock_a_.Now() + lease.remaining, landed + a->timing().ttl)
        << "a holds the lease past the moment b may take it over";
  }
  EXPECT_EQ(LeaderVersion(), released);
}

// Review finding: an ambiguous acquisition whose re-read shows it not
// applied (the key still at its version) may land late. The next
// acquisition that finds it must count the bound from that earlier send,
// since followers may have seen the item from the moment it landed. Failed
// before the fix (the write was forgotten and the bound counted 15 s later).
TEST_F(LeaseResolutionTest, AnAmbiguousAcquisitionFoundNotAppliedStillCountsIfItLandsLate) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_a_);
  ASSERT_TRUE(*b->AcquireLeader("leader"));
  ASSERT_TRUE(*b->ReleaseLeader("leader", std::nullopt));
  ASSERT_TRUE(a->LoadCluster("").ok());
  const Timing t = a->timing();
  store_->InjectFaults({Fault::kLandsLater});
  auto r = a->AcquireLeader("leader");
  EXPECT_FALSE(r.ok() && *r);
  clock_a_.Advance(5s);
  ASSERT_EQ(store_->LandInFlightWrites(), 1);
  ASSERT_TRUE(b->LoadCluster("").ok());  // b times a's lease from now: 5 s after a sent it
  clock_a_.Advance(10s);
  store_->InjectFaults({Fault::kUnknownNotApplied});
  r = a->AcquireLeader("leader");  // not applied; its re-read finds the landed write
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r);
  EXPECT_EQ(a->Lease("leader").remaining, t.ttl - t.SafetyMargin() - 15s) << "counted from the first send";
}

// Review finding (3): a write that applied but counts from an earlier
// unresolved send whose bound already passed must not report the lease won.
// Failed before the fix (true, with a bound in the past).
TEST_F(LeaseResolutionTest, AWriteCountedFromASendWhoseBoundPassedIsNotReportedWon) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_a_);
  ASSERT_TRUE(*b->AcquireLeader("leader"));
  ASSERT_TRUE(*b->ReleaseLeader("leader", std::nullopt));
  ASSERT_TRUE(a->LoadCluster("").ok());
  const Timing t = a->timing();
  store_->InjectFaults({Fault::kLandsLater});
  {
    auto first = a->AcquireLeader("leader");
    EXPECT_FALSE(first.ok() && *first);
  }
  ASSERT_EQ(store_->LandInFlightWrites(), 1);
  clock_a_.Advance(t.ttl);
  store_->InjectFaults({Fault::kUnknownNotApplied});
  auto r = a->AcquireLeader("leader");
  ASSERT_FALSE(r.ok()) << "reported " << (*r ? "won" : "lost");
  EXPECT_NE(r.status().message().find("passed"), std::string::npos) << r.status().ToString();
  EXPECT_FALSE(a->Lease("leader").held);
  // The next renewal is conditioned on the version found and counts from its own send.
  ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
  EXPECT_EQ(a->Lease("leader").remaining, t.ttl - t.SafetyMargin());
}

// Review finding (4): after patronictl remove (or a table restore) the key is
// gone or below the version held: the holder must stop counting that lease
// and condition its next acquisition on what is there now. Failed before the
// fix: `a` still reported the lease held after the key was deleted.
TEST_F(LeaseResolutionTest, AHolderWhoseKeyWentBackStopsHoldingIt) {
  auto a = Node("a", &clock_a_);
  auto ctl = Node("ctl", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
  ASSERT_TRUE(ctl->DeleteCluster().ok());
  ASSERT_TRUE(a->LoadCluster("").ok());
  EXPECT_FALSE(a->Lease("leader").held) << "held a lease whose key was removed";
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  EXPECT_EQ(LeaderVersion(), 1);
  // A restore that puts the key below the version held.
  ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
  StoredItem restored = *store_->Peek("batman", "leader");
  restored.version = 1;
  restored.session = "restored";
  store_->Poke("batman", restored);
  ASSERT_TRUE(a->LoadCluster("").ok());
  EXPECT_FALSE(a->Lease("leader").held) << "held a lease whose key went back to an older version";
}

// Adversarial review of 6f7c74b: with versions restarted (patronictl remove
// while nodes run, or a table restore), an acquisition conditioned on the
// version alone landed late on ANOTHER node's live item at that version,
// which no node had timed. A free lease is now "a tombstone (or no item) at
// exactly that version": never a live item. Failed with VersionIs(floor):
// a's landing replaced b's live lease.
TEST_F(LeaseResolutionTest, AnAcquisitionLandingLateNeverReplacesALiveLeaseAfterVersionsRestart) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_a_);
  auto ctl = Node("ctl", &clock_a_);
  ASSERT_TRUE(*b->AcquireLeader("leader"));
  ASSERT_TRUE(*b->RenewLeader("leader", std::nullopt));
  ASSERT_TRUE(*b->ReleaseLeader("leader", std::nullopt));  // tombstone v3
  ASSERT_TRUE(a->LoadCluster("").ok());
  store_->InjectFaults({Fault::kLandsLater});
  auto r = a->AcquireLeader("leader");
  EXPECT_FALSE(r.ok() && *r);
  ASSERT_TRUE(ctl->DeleteCluster().ok());  // versions restart
  ASSERT_TRUE(b->LoadCluster("").ok());
  ASSERT_TRUE(*b->AcquireLeader("leader"));
  ASSERT_TRUE(*b->RenewLeader("leader", std::nullopt));
  ASSERT_TRUE(*b->RenewLeader("leader", std::nullopt));  // b's live lease at v3
  ASSERT_EQ(LeaderVersion(), 3);
  EXPECT_EQ(store_->LandInFlightWrites(), 0) << "a late acquisition replaced a live lease";
  EXPECT_EQ(store_->Peek("batman", "leader")->value, "b");
}

// Calls `during_query` after a Query read the table and before its answer
// returns: the answer is then older than what the hook wrote.
class SlowQueryStore final : public ItemStore {
 public:
  explicit SlowQueryStore(std::shared_ptr<MemoryItemStore> inner) : inner_(std::move(inner)) {}
  Result<std::vector<StoredItem>> Query(const std::string& p, const std::string& prefix,
                                        Deadline d) override {
    auto answer = inner_->Query(p, prefix, d);
    if (auto hook = std::exchange(during_query, nullptr)) hook();
    return answer;
  }
  Result<std::optional<StoredItem>> Get(const std::string& p, const std::string& k, Deadline d) override {
    return inner_->Get(p, k, d);
  }
  Result<WriteOutcome> Write(const std::string& p, const std::string& k, const Mutation& m,
                             const Precondition& pre, Deadline d) override {
    return inner_->Write(p, k, m, pre, d);
  }
  Status DeletePartition(const std::string& p, Deadline d) override { return inner_->DeletePartition(p, d); }
  std::function<void()> during_query;

 private:
  std::shared_ptr<MemoryItemStore> inner_;
};

// A load whose Query was in flight while a renewal resolved shows the version
// before it: that is not the key going back, and the lease stays held (a
// rule that compared with the version held when the answer came would drop
// it: shown by making LoadCluster read the holder version after the Query).
TEST_F(LeaseResolutionTest, ALoadOlderThanARenewalKeepsTheLease) {
  auto slow = std::make_shared<SlowQueryStore>(store_);
  auto a = MakeTestNode(slow, "a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  slow->during_query = [&] { ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt)); };
  ASSERT_TRUE(a->LoadCluster("").ok());
  EXPECT_TRUE(a->Lease("leader").held);
  EXPECT_EQ(a->Lease("leader").version, LeaderVersion());
  ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt))
      << "the next renewal is conditioned on the version held";
}

}  // namespace
}  // namespace dynatroni::dcs
