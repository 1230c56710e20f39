// watch() on a replica over many loops: Patroni's loop (a cycle every
// loop_wait, watch() in between, an early return from watch() restarting the
// period) driven against a leader that renews every loop_wait at its own
// phase. Asserts how late the replica first sees each renewal (it times the
// lease from then), how many extra reads that costs, and how soon a dead
// leader's lease is found expired.
#include <map>
#include <optional>

#include <gtest/gtest.h>

#include "dcs/dcs.h"
#include "dcs/dcs_test_node.h"
#include "dcs/memory_item_store.h"

namespace dynatroni::dcs {
namespace {

using namespace std::chrono_literals;

constexpr Duration kTick = 10ms;  // simulation step

class ReplicaLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    leader_ = Node("a", &clock_a_);
    replica_ = Node("b", &clock_b_);
    loop_ = replica_->timing().loop_wait;  // failover_time 30: ttl 30 s, loop_wait 10 s
  }

  std::unique_ptr<Dcs> Node(const std::string& name, FakeClock* clock) {
    return MakeTestNode(store_, name, clock);  // only the leader item is polled here
  }

  // Runs both loops for `d`. The leader renews at now + leader_phase (first
  // call) and then every loop_wait while alive; the replica's first cycle
  // runs after replica_phase.
  void Run(Duration d) {
    const Duration end = now_ + d;
    while (now_ < end) {
      if (leader_alive_ && now_ >= next_renewal_) {
        if (!leader_started_) {
          ASSERT_TRUE(*leader_->AcquireLeader("leader"));
          leader_started_ = true;
        } else {
          ASSERT_TRUE(*leader_->RenewLeader("leader", std::nullopt));
        }
        renewed_at_[leader_->Lease("leader").version] = now_;
        next_renewal_ += loop_;
      }
      StepReplica();
      Advance(kTick);
    }
  }

  void StepReplica() {
    if (!in_watch_) {
      if (now_ < next_run_) return;
      auto view = replica_->LoadCluster("");
      ASSERT_TRUE(view.ok());
      ++cycles_;
      if (auto it = view->items.find("leader"); it != view->items.end()) {
        // first seen = now - age: how late after the renewal this node started timing the lease.
        const auto r = renewed_at_.find(it->second.item.version);
        ASSERT_NE(r, renewed_at_.end());
        lag_[it->second.item.version] = now_ - it->second.age - r->second;
        leader_version_ = it->second.item.version;
      }
      if (view->expired_leaders.count("leader") && !expired_at_) expired_at_ = now_;
      next_run_ += loop_;  // Patroni: next_run += loop_wait, then watch until then
      in_watch_ = true;
      wake_at_ = now_;
      return;
    }
    if (now_ < wake_at_) return;
    if (now_ >= next_run_) {
      in_watch_ = false;  // timed out: the cycle runs
      StepReplica();
      return;
    }
    const WatchPlan plan = replica_->PlanWatch("leader", leader_version_, next_run_ - now_);
    switch (plan.action) {
      case WatchPlan::Action::kWait:
        ASSERT_GT(plan.wait, Duration::zero()) << "a hot loop: " << plan.reason;
        wake_at_ = now_ + std::max(kTick, std::min(plan.wait, next_run_ - now_));
        return;
      case WatchPlan::Action::kPoll: {
        ++polls_;
        auto woke = replica_->PollLeader("leader", leader_version_);
        ASSERT_TRUE(woke.ok());
        if (*woke) Woken(plan.reason);
        return;
      }
      case WatchPlan::Action::kWakeNow:
        Woken(plan.reason);
        return;
      case WatchPlan::Action::kPollFailover:
        FAIL() << "failover polls are off";
    }
  }

  // watch() returned True: Patroni runs the cycle now and restarts its period.
  void Woken(const std::string& reason) {
    ++wakes_;
    if (reason.find("expired") != std::string::npos && !expired_at_) expired_at_ = now_;
    in_watch_ = false;
    next_run_ = now_;
  }

  void Advance(Duration d) {
    now_ += d;
    clock_a_.Advance(d);
    clock_b_.Advance(d);
  }

  // The renewals the leader wrote at or after `from`: how many, how many of
  // them a replica cycle saw, and the largest lag among those seen (zero when
  // none was seen: check `seen` before trusting `worst`).
  struct Lags {
    int written = 0;
    int seen = 0;
    Duration worst = Duration::zero();
  };
  Lags LagsSince(Duration from) const {
    Lags out;
    for (const auto& [version, at] : renewed_at_) {
      if (at < from) continue;
      ++out.written;
      if (auto it = lag_.find(version); it != lag_.end()) {
        out.worst = out.seen == 0 ? it->second : std::max(out.worst, it->second);
        ++out.seen;
      }
    }
    return out;
  }

  // Every renewal written at or after `from` that is older than one loop_wait
  // was seen by a replica cycle (so a bound cannot hold vacuously, for a
  // replica that saw no renewal at all), there were at least `min_renewals`
  // of them, and each was first seen at most `bound` after it was written.
  ::testing::AssertionResult RenewalsSeenWithin(Duration from, Duration bound, int min_renewals) const {
    Lags all = LagsSince(from);
    int due = 0;  // written at least one loop before now: a cycle has run since
    for (const auto& [version, at] : renewed_at_) {
      if (at >= from && at + loop_ <= now_) ++due;
    }
    auto ms = [](Duration d) {
      return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
    };
    const std::string what = std::to_string(all.seen) + " of the " + std::to_string(all.written) +
                             " renewals written since " + ms(from) + " ms seen (" + std::to_string(due) +
                             " due), worst lag " + ms(all.worst) + " ms";
    if (due < min_renewals) {
      return ::testing::AssertionFailure() << what << ": expected at least " << min_renewals
                                           << " renewals before now (" << ms(now_) << " ms)";
    }
    if (all.seen < due) return ::testing::AssertionFailure() << what << ": a due renewal was never seen";
    if (all.worst > bound)
      return ::testing::AssertionFailure() << what << ": over the bound " << ms(bound) << " ms";
    return ::testing::AssertionSuccess() << what;
  }

  std::shared_ptr<MemoryItemStore> store_ = std::make_shared<MemoryItemStore>();
  FakeClock clock_a_, clock_b_{MonoTime(std::chrono::hours(500)), WallTime(std::chrono::seconds(1))};
  std::unique_ptr<Dcs> leader_, replica_;
  Duration loop_{0};
  Duration now_{0};  // simulated time since the start
  bool leader_alive_ = true;
  bool leader_started_ = false;
  Duration next_renewal_{0};
  std::map<int64_t, Duration> renewed_at_;  // lease version -> when the leader wrote it
  std::map<int64_t, Duration> lag_;         // lease version -> first seen - written
  std::optional<int64_t> leader_version_;
  bool in_watch_ = false;
  Duration next_run_{0}, wake_at_{0};
  int cycles_ = 0, polls_ = 0, wakes_ = 0;
  std::optional<Duration> expired_at_;
};

// Regression (issue 23, the table deleted under a running cluster): once a
// replica found the lease expired, every watch() woke the HA loop at once; while
// its cluster loads failed, Patroni kept the expired leader in its view and ran
// its cycle back to back (about 250 cycles and 500 requests a second).
TEST(WatchAfterExpiry, AnExpiredLeaseWakesTheHaLoopOncePerVersion) {
  auto store = std::make_shared<MemoryItemStore>();
  FakeClock clock_a, clock_b{MonoTime(std::chrono::hours(500)), WallTime(std::chrono::seconds(1))};
  auto a = MakeTestNode(store, "a", &clock_a);
  auto b = MakeTestNode(store, "b", &clock_b);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(b->LoadCluster("").ok());
  const int64_t v = a->Lease("leader").version;
  const Duration ttl = b->timing().ttl;
  clock_b.Advance(ttl);
  WatchPlan plan = b->PlanWatch("leader", v, 10s);
  ASSERT_EQ(plan.action, WatchPlan::Action::kWakeNow) << plan.reason;
  EXPECT_NE(plan.reason.find("expired"), std::string::npos) << plan.reason;
  // The HA cycle's cluster load fails (nothing new observed): the next watches wait out Patroni's period.
  for (int i = 0; i < 3; ++i) {
    plan = b->PlanWatch("leader", v, 10s);
    EXPECT_EQ(plan.action, WatchPlan::Action::kWait) << plan.reason;
    EXPECT_EQ(plan.wait, 10s) << plan.reason;
    clock_b.Advance(10s);
  }
  // The leader comes back and renews: its new version's expiry wakes the loop again, once.
  clock_a.Advance(ttl);
  ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
  ASSERT_TRUE(b->LoadCluster("").ok());
  EXPECT_NE(b->PlanWatch("leader", v + 1, 10s).action, WatchPlan::Action::kWakeNow);
  clock_b.Advance(ttl);
  EXPECT_EQ(b->PlanWatch("leader", v + 1, 10s).action, WatchPlan::Action::kWakeNow);
  EXPECT_EQ(b->PlanWatch("leader", v + 1, 10s).action, WatchPlan::Action::kWait);
}

// Regression: with the replica's cycle just before each renewal, the replica
// used to time every lease from up to one loop_wait after the renewal, for
// as long as both processes lived (failover after a kill: ttl + loop_wait).
TEST_F(ReplicaLoopTest, AReplicaLearnsWhenTheLeaderRenewsAndThenReadsJustAfterIt) {
  next_renewal_ = 1s;  // leader renews at 1 s, 11 s, 21 s, ...
  next_run_ = 1500ms;  // replica's cycle 0.5 s later: it would see each renewal ~0.5 s late anyway
  Run(2s);
  next_run_ = 10s + 900ms;  // move the replica just before the renewals: the worst phase
  in_watch_ = false;
  Run(120s);
  const int learning_polls = polls_;
  EXPECT_LE(learning_polls, 10);  // loop_wait / leader_poll_interval
  // Learnt within a loop: from the second renewal after the move on, each is
  // first seen at most leader_poll_interval + renewal_poll_offset late.
  EXPECT_TRUE(RenewalsSeenWithin(25s, 1300ms, 9));
  // Steady state: the cycle reads just after each renewal; only the phase check polls (once a minute).
  const int cycles_before = cycles_;
  Run(600s);
  EXPECT_TRUE(RenewalsSeenWithin(130s, 1300ms, 59));
  EXPECT_GT(LagsSince(130s).worst, 0ms);
  EXPECT_LE(polls_ - learning_polls, 10 + 1);  // 600 s / renewal_phase_check (60 s), rounded up to loops
  EXPECT_GE(polls_ - learning_polls, 5);
  EXPECT_EQ(cycles_ - cycles_before, 60);  // no extra HA cycles once in phase
}

class ReplicaPhaseTest : public ReplicaLoopTest, public ::testing::WithParamInterface<int> {};

// Whatever the replica's phase, a leader killed right after a renewal is
// found expired within ttl + leader_poll_interval + renewal_poll_offset (and
// never before ttl: that is the safety rule).
TEST_P(ReplicaPhaseTest, ALeaderKilledAfterARenewalIsFoundExpiredWithinAboutOneTtl) {
  next_renewal_ = 1s;
  next_run_ = 1s + std::chrono::milliseconds(GetParam());
  Run(300s);
  leader_alive_ = false;
  const Duration last_renewal = next_renewal_ - loop_;
  Run(60s);
  ASSERT_TRUE(expired_at_.has_value());
  EXPECT_GE(*expired_at_ - last_renewal, 30s);
  EXPECT_LE(*expired_at_ - last_renewal, 30s + 1300ms + 2 * kTick);
}

INSTANTIATE_TEST_SUITE_P(ReplicaCycleOffsets, ReplicaPhaseTest,
                         ::testing::Values(100, 2500, 5000, 7500, 9900));

TEST_F(ReplicaLoopTest, ALeaderWhoseLoopMovesLaterIsFollowedAtOnce) {
  next_renewal_ = 1s;
  next_run_ = 6s;
  Run(200s);
  const int polls_before = polls_;
  next_renewal_ += 4s;  // the leader's loop ran late once (Patroni restarts its period)
  Run(40s);
  EXPECT_LE(polls_ - polls_before, 8);
  Run(60s);
  EXPECT_TRUE(RenewalsSeenWithin(240s, 1300ms, 5));
}

TEST_F(ReplicaLoopTest, ALeaderWhoseLoopMovesEarlierIsFoundByThePhaseCheck) {
  next_renewal_ = 1s;
  next_run_ = 6s;
  Run(200s);
  next_renewal_ -= 4s;  // the leader's watch() was woken (e.g. by its REST API): earlier from now on
  // Until the next phase check the replica reads each renewal ~4 s late; then it learns again.
  Run(60s + 60s);
  Run(60s);
  EXPECT_TRUE(RenewalsSeenWithin(320s, 1300ms, 5));
}

}  // namespace
}  // namespace dynatroni::dcs
