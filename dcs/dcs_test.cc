#include "dcs/dcs.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dcs/dcs_test_node.h"
#include "dcs/memory_item_store.h"

namespace dynatroni::dcs {
namespace {

using namespace std::chrono_literals;
using Fault = MemoryItemStore::Fault;

class DcsTest : public ::testing::Test {
 protected:
  // `handover_poll`: DcsOptions::handover_poll_interval (off unless a test is about it).
  std::unique_ptr<Dcs> Node(const std::string& name, FakeClock* clock,
                            Duration handover_poll = Duration::zero()) {
    return MakeTestNode(store_, name, clock, 30s, handover_poll, &random_);
  }
  std::shared_ptr<MemoryItemStore> store_ = std::make_shared<MemoryItemStore>();
  FakeClock clock_a_, clock_b_{MonoTime(std::chrono::hours(500)), WallTime(std::chrono::seconds(1))};
  SeededRandom random_{1};  // the sessions and poll intervals of this fixture's nodes
};

// Always draws the same value.
class FixedRandom final : public Random {
 public:
  explicit FixedRandom(double value) : value_(value) {}
  double Uniform01() override { return value_; }

 private:
  double value_;
};

TEST(Timing, FailoverTimeDialSetsTtlLoopWaitAndRetryTimeout) {
  auto t = Timing::FromFailoverTime(15s);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->ttl, 15s);
  EXPECT_EQ(t->loop_wait, 5s);
  EXPECT_EQ(t->retry_timeout, 5s);
  auto bad = Timing::FromFailoverTime(5s);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("failover_time"), std::string::npos);
}

// docs/design.md: the holder renews every L, each renewal well inside its
// bound, as long as m < T - L - R (m < F/3 with the dial). Checked over the
// dial's whole range, not only at its minimum: the margin grows with the ttl.
TEST(Timing, SafetyMarginLeavesRoomForTheRenewalCycle) {
  std::vector<Duration> dial;
  for (auto f = Timing::kMinFailoverTime; f <= 600s; f += 1s) dial.push_back(f);
  for (Duration f : {9500ms, 10001ms, 29999ms, 3600000ms}) dial.push_back(f);
  for (Duration f : dial) {
    auto t = Timing::FromFailoverTime(f);
    ASSERT_TRUE(t.ok()) << f.count();
    const Duration m = t->SafetyMargin();
    EXPECT_LT(m, t->ttl - t->loop_wait - t->retry_timeout)
        << "failover_time " << std::chrono::duration_cast<std::chrono::milliseconds>(f).count()
        << " ms: safety margin " << std::chrono::duration_cast<std::chrono::milliseconds>(m).count()
        << " ms leaves no room for the renewal cycle (T - L - R = "
        << std::chrono::duration_cast<std::chrono::milliseconds>(t->ttl - t->loop_wait - t->retry_timeout)
               .count()
        << " ms)";
    EXPECT_GE(m, Timing::kDemoteAllowance);
  }
  EXPECT_GT(dial.size(), 590U);
}

// Regression (fuzz/fuzz_cluster_items): a foreign or corrupt leader item with
// an absurd lease_ms overflowed the ms -> ns conversion; such a lease now
// counts as at most 24 h and a negative one as the node's own ttl.
TEST_F(DcsTest, CorruptLeaseMsIsClampedNotOverflowed) {
  StoredItem leader;
  leader.key = "leader";
  leader.value = "intruder";
  leader.version = 5;
  leader.lease_ms = 99999999999999999;
  store_->Poke("batman", leader);
  StoredItem other = leader;
  other.key = "1/leader";
  other.lease_ms = -5;
  store_->Poke("batman", other);
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(a->LoadCluster("").ok());
  clock_a_.Advance(31s);
  auto view = a->LoadCluster("");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->items.count("leader"), 1U);              // 24 h have not passed
  EXPECT_EQ(view->expired_leaders.count("1/leader"), 1U);  // negative: the ttl applies
  clock_a_.Advance(24h);
  view = a->LoadCluster("");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->expired_leaders.count("leader"), 1U);
}

TEST_F(DcsTest, AcquireWhenAbsentIncrementsTermAndSecondNodeLoses) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  ASSERT_TRUE(a->LoadCluster("").ok());
  ASSERT_TRUE(b->LoadCluster("").ok());
  auto ra = a->AcquireLeader("leader");
  auto rb = b->AcquireLeader("leader");
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_TRUE(*ra);
  EXPECT_FALSE(*rb);
  auto item = store_->Peek("batman", "leader");
  ASSERT_TRUE(item);
  EXPECT_EQ(*item->value, "a");
  EXPECT_EQ(item->term, 1);
  EXPECT_EQ(item->lease_ms, 30000);
  EXPECT_TRUE(a->Lease("leader").held);
}

TEST_F(DcsTest, LiveLeaseIsNeverTakenOverWhileRenewed) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(b->LoadCluster("").ok());
    EXPECT_FALSE(*b->AcquireLeader("leader"));
    clock_a_.Advance(10s);
    clock_b_.Advance(10s);
    ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
  }
  EXPECT_EQ(*store_->Peek("batman", "leader")->value, "a");
}

TEST_F(DcsTest, TakeoverOnlyAfterAFullTtlOfUnchangedVersionOnOwnClock) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  // a dies. b sees the lease for the first time now.
  auto v = b->LoadCluster("");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->items.count("leader"));
  clock_b_.Advance(29s);
  v = b->LoadCluster("");
  EXPECT_TRUE(v->items.count("leader")) << "not expired before ttl";
  EXPECT_FALSE(*b->AcquireLeader("leader"));
  clock_b_.Advance(1s);
  v = b->LoadCluster("");
  EXPECT_FALSE(v->items.count("leader"));
  EXPECT_TRUE(v->expired_leaders.count("leader"));
  EXPECT_TRUE(*b->AcquireLeader("leader"));
  auto item = store_->Peek("batman", "leader");
  EXPECT_EQ(*item->value, "b");
  EXPECT_EQ(item->term, 2);
}

TEST_F(DcsTest, WallClockHoursOffNeitherStealsNorKeeps) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  clock_b_.SetWall(WallTime(std::chrono::hours(24 * 365 * 80)));  // decades ahead
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(b->LoadCluster("").ok());
  EXPECT_FALSE(*b->AcquireLeader("leader"));
  // The old holder stops renewing; its own view expires by its boot clock.
  clock_a_.Advance(30s);
  EXPECT_FALSE(a->Lease("leader").held);
}

TEST_F(DcsTest, HolderBoundEndsBeforeAnyFollowerMayTakeOver) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(b->LoadCluster("").ok());  // b's timer starts no earlier than a's send
  Timing t = a->timing();
  clock_a_.Advance(t.ttl - t.SafetyMargin() - 1ms);
  EXPECT_TRUE(a->Lease("leader").held);
  clock_a_.Advance(1ms);
  EXPECT_FALSE(a->Lease("leader").held);
  // b, even with a clock running 0.1 % fast, cannot take over before ttl / 1.001.
  clock_b_.Advance(t.ttl - 1ms);
  ASSERT_TRUE(b->LoadCluster("").ok());
  EXPECT_FALSE(*b->AcquireLeader("leader"));
}

TEST_F(DcsTest, RenewFailsWhenLeaseWasTakenOver) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(b->LoadCluster("").ok());
  clock_b_.Advance(31s);
  ASSERT_TRUE(b->LoadCluster("").ok());
  ASSERT_TRUE(*b->AcquireLeader("leader"));
  auto r = a->RenewLeader("leader", std::nullopt);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_FALSE(a->Lease("leader").held);
}

TEST_F(DcsTest, AmbiguousRenewalThatAppliedIsResolvedAsSuccess) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  store_->InjectFaults({Fault::kApplyThenUnknown});
  auto r = a->RenewLeader("leader", std::nullopt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r);
  EXPECT_EQ(a->Lease("leader").version, store_->Peek("batman", "leader")->version);
  // And the next renewal uses the resolved version.
  EXPECT_TRUE(*a->RenewLeader("leader", std::nullopt));
}

TEST_F(DcsTest, AmbiguousAcquireThatDidNotApplyIsResolvedAsLoss) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(a->LoadCluster("").ok());
  store_->InjectFaults({Fault::kUnknownNotApplied});
  auto r = a->AcquireLeader("leader");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_FALSE(store_->Peek("batman", "leader"));
}

TEST_F(DcsTest, UnknownOutcomeWithUnreachableStoreIsAnErrorNotAGuess) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  store_->InjectFaults({Fault::kApplyThenUnknown, Fault::kUnavailable});
  auto r = a->RenewLeader("leader", std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnknownOutcome);
  // Held no longer than the bound of the last write known to have applied.
  const Timing t = a->timing();
  EXPECT_EQ(a->Lease("leader").remaining, t.ttl - t.SafetyMargin());
  // Next renewal finds the item carrying our session and adopts it.
  EXPECT_TRUE(*a->RenewLeader("leader", std::nullopt));
}

TEST_F(DcsTest, UnreachableStoreIsAnErrorDistinctFromLockLost) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  store_->InjectFaults({Fault::kUnavailable});
  auto r = a->RenewLeader("leader", std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST_F(DcsTest, ReleaseLeavesTombstoneSoVersionsNeverRepeat) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  int64_t v1 = store_->Peek("batman", "leader")->version;
  EXPECT_FALSE(*b->ReleaseLeader("leader"));
  ASSERT_TRUE(*a->ReleaseLeader("leader"));
  auto tomb = store_->Peek("batman", "leader");
  ASSERT_TRUE(tomb);
  EXPECT_FALSE(tomb->live());
  EXPECT_GT(tomb->version, v1);
  // Released: anyone may acquire at once, and the term keeps counting.
  ASSERT_TRUE(b->LoadCluster("").ok());
  EXPECT_TRUE(*b->AcquireLeader("leader"));
  EXPECT_EQ(store_->Peek("batman", "leader")->term, 2);
  EXPECT_GT(store_->Peek("batman", "leader")->version, tomb->version);
}

TEST_F(DcsTest, RestartedProcessAdoptsItsOwnLeaseByName) {
  auto a = Node("a", &clock_a_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  auto a2 = Node("a", &clock_a_);  // new session, same member name
  ASSERT_TRUE(a2->LoadCluster("").ok());
  EXPECT_TRUE(*a2->RenewLeader("leader", std::nullopt));
  EXPECT_EQ(store_->Peek("batman", "leader")->session, a2->session());
}

TEST_F(DcsTest, CompareAndSetOnVersions) {
  auto a = Node("a", &clock_a_);
  auto v1 = a->SetValue("config", "{}", std::nullopt);
  ASSERT_TRUE(v1.ok() && v1->has_value());
  auto v2 = a->SetValue("config", "{\"ttl\":30}", **v1);
  ASSERT_TRUE(v2.ok() && v2->has_value());
  EXPECT_EQ(**v2, **v1 + 1);
  auto stale = a->SetValue("config", "{\"ttl\":60}", **v1);
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->has_value());
  EXPECT_TRUE(*a->DeleteKey("config", **v2));
  auto after_delete = a->SetValue("config", "{}", **v1);
  EXPECT_FALSE(after_delete->has_value()) << "a stale version must not match a re-created key";
}

TEST_F(DcsTest, InitializeRaceHasOneWinner) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  EXPECT_TRUE(*a->Initialize("initialize", "", true));
  EXPECT_FALSE(*b->Initialize("initialize", "", true));
  EXPECT_TRUE(*a->Initialize("initialize", "7000000000000000001", false));
  EXPECT_EQ(*store_->Peek("batman", "initialize")->value, "7000000000000000001");
}

TEST_F(DcsTest, MembersDisappearAfterTwoTtlsOfObservedSilence) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  ASSERT_TRUE(*a->TouchMember("members/a", "{\"role\":\"primary\"}"));
  ASSERT_TRUE(*b->TouchMember("members/b", "{}"));
  auto v = b->LoadCluster("");
  EXPECT_TRUE(v->items.count("members/a"));
  clock_b_.Advance(30s);  // one ttl: still listed (member_expiry = 2 x ttl)
  v = b->LoadCluster("");
  EXPECT_TRUE(v->items.count("members/a"));
  clock_b_.Advance(30s);
  ASSERT_TRUE(*b->TouchMember("members/b", "{}"));
  v = b->LoadCluster("");
  EXPECT_FALSE(v->items.count("members/a"));
  EXPECT_TRUE(v->items.count("members/b"));
  ASSERT_EQ(v->expired_members.size(), 1u);
}

TEST_F(DcsTest, MppGroupsAreSeparateLeases) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  EXPECT_TRUE(*a->AcquireLeader("0/leader"));
  EXPECT_TRUE(*b->AcquireLeader("1/leader"));
  auto v = a->LoadCluster("");
  EXPECT_TRUE(v->items.count("0/leader"));
  EXPECT_TRUE(v->items.count("1/leader"));
  auto g1 = a->LoadCluster("1/");
  EXPECT_EQ(g1->items.size(), 1u);
}

TEST_F(DcsTest, WatchLearnsWhenTheLeaderRenewsThenPollsADeadLeaderUntilExpiry) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(b->LoadCluster("").ok());
  // First sighting: the next renewal is due within one loop_wait; reads
  // every leader_poll_interval through it learn when.
  auto plan = b->PlanWatch("leader", 1);
  EXPECT_EQ(plan.action, WatchPlan::Action::kWait);
  EXPECT_EQ(plan.wait, 1s);
  clock_a_.Advance(plan.wait);
  clock_b_.Advance(plan.wait);
  plan = b->PlanWatch("leader", 1);
  EXPECT_EQ(plan.action, WatchPlan::Action::kPoll);
  EXPECT_NE(plan.reason.find("learning"), std::string::npos);
  ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));  // renewed before that read
  EXPECT_FALSE(*b->PollLeader("leader", 1));
  // Now the leader dies: once its next renewal is due, polls every second
  // until the lease expires, a full ttl after this node first saw version 2.
  int polls = 0;
  Duration waited{0};
  for (int i = 0; i < 100; ++i) {
    plan = b->PlanWatch("leader", 2);
    if (plan.action == WatchPlan::Action::kWakeNow && plan.reason.find("expired") != std::string::npos) break;
    if (plan.action == WatchPlan::Action::kPoll) {
      ++polls;
      EXPECT_FALSE(*b->PollLeader("leader", 2));
    } else if (plan.action == WatchPlan::Action::kWakeNow) {
      ASSERT_TRUE(b->LoadCluster("").ok());  // the HA cycle reads the (missing) renewal
    } else {
      ASSERT_GT(plan.wait, Duration::zero()) << "a hot loop: " << plan.reason;
      clock_b_.Advance(plan.wait);
      waited += plan.wait;
    }
  }
  EXPECT_EQ(plan.action, WatchPlan::Action::kWakeNow);
  EXPECT_EQ(waited, 30s);  // expiry: a full ttl after the poll that first saw version 2
  EXPECT_GE(polls, 15);
  EXPECT_LE(polls, 25);
}

TEST_F(DcsTest, WatchWakesAtOnceWhenLeaderReleases) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(b->LoadCluster("").ok());
  ASSERT_TRUE(*a->ReleaseLeader("leader"));
  EXPECT_TRUE(*b->PollLeader("leader", 1));
}

TEST_F(DcsTest, WatchReadsTheFailoverKeyEveryIntervalWhileAForeignLeaderHolds) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_, 500ms);  // more often than the reads that learn the renewal time (1 s)
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(b->LoadCluster("").ok());
  EXPECT_EQ(b->PlanWatch("leader", 1).action, WatchPlan::Action::kPollFailover);
  EXPECT_FALSE(*b->PollFailover("leader"));  // no request
  EXPECT_EQ(b->failover_polls(), 1U);        // priced as an eventually consistent read
  auto plan = b->PlanWatch("leader", 1);
  EXPECT_EQ(plan.action, WatchPlan::Action::kWait);
  EXPECT_GE(plan.wait, 250ms);  // the interval x [0.5, 1.5): sooner than the next leader read (1 s)
  EXPECT_LT(plan.wait, 750ms);
  clock_b_.Advance(plan.wait);
  EXPECT_EQ(b->PlanWatch("leader", 1).action, WatchPlan::Action::kPollFailover);
  // The intervals are drawn at random (so that they follow neither this
  // node's loop nor other nodes' polls) and average the setting.
  Duration total{0}, shortest = Duration::max(), longest{0};
  constexpr int kPolls = 400;
  for (int i = 0; i < kPolls; ++i) {
    ASSERT_FALSE(*b->PollFailover("leader"));
    const MonoTime polled = clock_b_.Now();
    while ((plan = b->PlanWatch("leader", 1)).action != WatchPlan::Action::kPollFailover) {
      if (plan.action == WatchPlan::Action::kPoll) {
        ASSERT_TRUE(b->PollLeader("leader", 1).ok());
      } else if (plan.action == WatchPlan::Action::kWakeNow) {
        ASSERT_TRUE(a->RenewLeader("leader", std::nullopt).ok());  // keep the lease alive
        ASSERT_TRUE(b->LoadCluster("").ok());
      } else {
        clock_a_.Advance(plan.wait);
        clock_b_.Advance(plan.wait);
      }
    }
    const Duration interval = clock_b_.Now() - polled;
    total += interval;
    shortest = std::min(shortest, interval);
    longest = std::max(longest, interval);
  }
  EXPECT_GE(shortest, 250ms);
  EXPECT_LT(shortest, 300ms);
  EXPECT_LT(longest, 750ms);
  EXPECT_GT(longest, 700ms);
  EXPECT_NEAR(std::chrono::duration<double>(total).count() / kPolls, 0.5, 0.05);
  // The leader itself never polls.
  EXPECT_EQ(a->PlanWatch("leader", 1).action, WatchPlan::Action::kWait);
}

TEST_F(DcsTest, SwitchoverRequestMakesTheCandidateWakeWithinTheFastPollOfTheRelease) {
  auto a = Node("a", &clock_a_, 2s);
  auto b = Node("b", &clock_b_, 2s);
  ASSERT_TRUE(*a->AcquireLeader("1/leader"));
  ASSERT_TRUE(b->LoadCluster("").ok());
  ASSERT_TRUE(a->SetValue("1/failover", R"({"leader":"a","member":"b"})", std::nullopt)->has_value());
  ASSERT_EQ(b->PlanWatch("1/leader", 1).action, WatchPlan::Action::kPollFailover);
  EXPECT_TRUE(*b->PollFailover("1/leader"));  // a new request: fast polls of the leader
  int polls = 0;
  bool woke = false;
  for (int i = 0; i < 40 && !woke; ++i) {
    auto plan = b->PlanWatch("1/leader", 1);
    ASSERT_NE(plan.action, WatchPlan::Action::kPollFailover);  // not while handing over
    if (plan.action == WatchPlan::Action::kPoll) {
      ++polls;
      woke = *b->PollLeader("1/leader", 1);
      if (polls == 8) {
        ASSERT_TRUE(*a->ReleaseLeader("1/leader"));  // 8 polls x 250 ms: the old leader lets go
      }
    } else {
      ASSERT_EQ(plan.action, WatchPlan::Action::kWait);
      EXPECT_LE(plan.wait, 250ms);
      clock_b_.Advance(plan.wait);
    }
  }
  EXPECT_TRUE(woke);
  EXPECT_EQ(polls, 9);  // the first poll after the release wakes Patroni
  // b takes over; a, now a replica, is not in a hurry: it checks for requests at the slow cadence.
  ASSERT_TRUE(b->LoadCluster("").ok());
  ASSERT_TRUE(*b->AcquireLeader("1/leader"));
  ASSERT_TRUE(a->LoadCluster("").ok());
  EXPECT_EQ(a->PlanWatch("1/leader", 3).action, WatchPlan::Action::kPollFailover);
  // The same request does not arm the fast polls again.
  EXPECT_FALSE(*b->PollFailover("1/leader"));
  EXPECT_FALSE(b->PollFailover("1/sync").ok());  // not a leader key
}

TEST_F(DcsTest, SessionIdAndPollIntervalsAreDrawnFromTheInjectedRandom) {
  auto store = std::make_shared<MemoryItemStore>();
  SeededRandom r1(7), r2(7), r3(8);
  auto x = MakeTestNode(store, "x", &clock_a_, 30s, Duration::zero(), &r1);
  auto y = MakeTestNode(store, "x", &clock_a_, 30s, Duration::zero(), &r2);
  auto z = MakeTestNode(store, "x", &clock_a_, 30s, Duration::zero(), &r3);
  EXPECT_EQ(x->session(), y->session());  // same seed, same session
  EXPECT_NE(x->session(), z->session());
  ASSERT_EQ(x->session().size(), 2 + 16U);
  EXPECT_EQ(x->session().rfind("x:", 0), 0U);
  EXPECT_EQ(x->session().find_first_not_of("0123456789abcdef", 2), std::string::npos) << x->session();

  FixedRandom quarter(0.25);
  auto a = Node("a", &clock_a_);
  auto b = MakeTestNode(store_, "b", &clock_b_, 30s, 500ms, &quarter);
  EXPECT_EQ(b->session(), "b:4000000040000000");  // two draws of 0.25 x 2^32
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(b->LoadCluster("").ok());
  ASSERT_EQ(b->PlanWatch("leader", 1).action, WatchPlan::Action::kPollFailover);
  EXPECT_FALSE(*b->PollFailover("leader"));
  auto plan = b->PlanWatch("leader", 1);
  EXPECT_EQ(plan.action, WatchPlan::Action::kWait);
  EXPECT_EQ(plan.wait, 375ms);  // 500 ms x (0.5 + 0.25)
}

TEST_F(DcsTest, FastLeaderPollsStopOneTtlAfterTheRequest) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_, 500ms);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(b->LoadCluster("").ok());
  ASSERT_TRUE(
      a->SetValue("failover", R"({"member":"b","scheduled_at":"2030-01-01T00:00:00+00:00"})", std::nullopt)
          ->has_value());
  ASSERT_EQ(b->PlanWatch("leader", 1).action, WatchPlan::Action::kPollFailover);
  ASSERT_TRUE(*b->PollFailover("leader"));
  clock_b_.Advance(30s);  // a scheduled switchover: the leader keeps renewing
  ASSERT_TRUE(*a->RenewLeader("leader", std::nullopt));
  EXPECT_FALSE(*b->PollLeader("leader", 1));
  auto plan = b->PlanWatch("leader", 2);
  EXPECT_EQ(plan.action, WatchPlan::Action::kPollFailover);  // back to the slow cadence
  EXPECT_FALSE(*b->PollFailover("leader"));                  // already seen: no new fast window
  plan = b->PlanWatch("leader", 2);
  EXPECT_EQ(plan.action, WatchPlan::Action::kWait);
  EXPECT_GE(plan.wait, 250ms);
  EXPECT_LT(plan.wait, 750ms);
}

TEST_F(DcsTest, SwitchoverPollsOffMeansOnlyRenewalPolls) {
  auto a = Node("a", &clock_a_);
  auto b = Node("b", &clock_b_, Duration::zero());
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(b->LoadCluster("").ok());
  // No failover-key reads: only the leader reads that learn the renewal time.
  auto plan = b->PlanWatch("leader", 1);
  EXPECT_EQ(plan.action, WatchPlan::Action::kWait);
  EXPECT_EQ(plan.wait, 1s);
  clock_b_.Advance(plan.wait);
  EXPECT_EQ(b->PlanWatch("leader", 1).action, WatchPlan::Action::kPoll);
}

// Dcs's thread-safety promise (dcs/dcs.h): Patroni's REST threads call get_cluster while the HA loop
// renews the lease and rewrites its member item and the watch() thread plans and polls, all on one Dcs.
// Each thread checks the answers it gets; `make test-tsan` runs this under ThreadSanitizer, which reports
// any access to the state guarded by mu_ made without it. The clocks stand still: the lease stays a's.
TEST(DcsConcurrency, HaLoopRestAndWatchThreadsShareEachNode) {
  auto store = std::make_shared<MemoryItemStore>();
  FakeClock clock_a;
  FakeClock clock_b{MonoTime(std::chrono::hours(500)), WallTime(std::chrono::seconds(1))};
  SeededRandom random(1);  // shared by both nodes and b's watch thread (Random is thread-safe)
  auto a = MakeTestNode(store, "a", &clock_a, 30s, Duration::zero(), &random);
  auto b = MakeTestNode(store, "b", &clock_b, 30s, 4s, &random);
  ASSERT_TRUE(*a->AcquireLeader("leader"));
  ASSERT_TRUE(b->LoadCluster("").ok());
  constexpr int kRounds = 150;
  std::atomic<int> wrong{0};
  auto check = [&](bool ok) {
    if (!ok) ++wrong;
  };
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // a's HA loop
    for (int i = 0; i < kRounds; ++i) {
      auto renewed = a->RenewLeader("leader", std::nullopt);
      check(renewed.ok() && *renewed);
      auto touched = a->TouchMember("members/a", "a" + std::to_string(i % 3));
      check(touched.ok() && *touched);
      a->SetTiming(a->timing());
    }
  });
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {  // a's REST threads
      for (int i = 0; i < kRounds; ++i) {
        auto view = a->LoadCluster("");
        check(view.ok() && view->items.count("leader") == 1 && view->items.at("leader").item.value == "a");
        check(a->Lease("leader").held);
      }
    });
  }
  threads.emplace_back([&] {  // b's HA loop
    for (int i = 0; i < kRounds; ++i) {
      auto acquired = b->AcquireLeader("leader");
      check(acquired.ok() && !*acquired);
      auto touched = b->TouchMember("members/b", "b");
      check(touched.ok() && *touched);
    }
  });
  threads.emplace_back([&] {  // b's watch()
    for (int i = 0; i < kRounds; ++i) {
      const WatchPlan plan = b->PlanWatch("leader", std::nullopt, 10s);
      check(plan.action != WatchPlan::Action::kWakeNow);
      check(b->PollLeader("leader", std::nullopt).ok());
      check(b->PollFailover("leader").ok());
      auto view = b->LoadCluster("");
      check(view.ok() && view->items.count("leader") == 1);
    }
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  auto view = b->LoadCluster("");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->items.at("leader").item.value, "a");
  EXPECT_EQ(view->items.at("members/a").item.value, "a" + std::to_string((kRounds - 1) % 3));
  EXPECT_EQ(view->items.at("members/b").item.value, "b");
  EXPECT_TRUE(a->Lease("leader").held);
  EXPECT_FALSE(b->Lease("leader").held);
}

}  // namespace
}  // namespace dynatroni::dcs
