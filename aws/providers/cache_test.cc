#include "aws/providers/cache.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

namespace dynatroni::aws {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Issues credentials "ASIA<n>" valid for `lifetime` from the fake wall clock;
// can be told to fail or to block until released.
class ScriptedProvider final : public CredentialsProvider {
 public:
  explicit ScriptedProvider(FakeClock* clock) : clock_(clock) {}

  Result<Credentials> Resolve(Deadline deadline) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++calls_;
    last_deadline_ = deadline;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !block_; });
    if (!fail_.ok()) return fail_;
    Credentials c;
    c.access_key_id = "ASIA" + std::to_string(calls_);
    c.secret_access_key = SecretString("secret-" + std::to_string(calls_));
    c.session_token = SecretString("token-" + std::to_string(calls_));
    if (lifetime_)
      c.expiration = clock_->WallNow() + std::chrono::duration_cast<WallTime::duration>(*lifetime_);
    return c;
  }
  [[nodiscard]] std::string name() const override { return "scripted"; }

  void SetFail(Status st) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = std::move(st);
  }
  void SetBlock(bool b) {
    std::lock_guard<std::mutex> lock(mu_);
    block_ = b;
    cv_.notify_all();
  }
  void SetLifetime(std::optional<Duration> d) {
    std::lock_guard<std::mutex> lock(mu_);
    lifetime_ = d;
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  // Waits (real time, bounded) until at least `n` calls started.
  bool WaitForCalls(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, seconds(5), [&] { return calls_ >= n; });
  }

 private:
  FakeClock* clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  bool block_ = false;
  Status fail_;
  std::optional<Duration> lifetime_ = std::chrono::hours(1);
  Deadline last_deadline_ = Deadline::Infinite();
};

class CacheTest : public ::testing::Test {
 protected:
  std::shared_ptr<CachingProvider> Make(bool background) {
    CacheOptions o;
    o.clock = &clock_;
    o.background_refresh = background;
    return MakeCachingProvider(inner_, o);
  }
  Result<Credentials> Get(CachingProvider& p, Duration d = seconds(5)) {
    return p.Resolve(Deadline::After(clock_, d));
  }
  // Waits (real time, bounded) until the cache serves `id`.
  bool WaitForServed(CachingProvider& p, const std::string& id) {
    for (int i = 0; i < 500; ++i) {
      auto c = Get(p);
      if (c.ok() && c->access_key_id == id) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return false;
  }
  FakeClock clock_;
  std::shared_ptr<ScriptedProvider> inner_ = std::make_shared<ScriptedProvider>(&clock_);
};

TEST_F(CacheTest, ServesCachedCredentialsWhileFresh) {
  auto p = Make(true);
  auto a = Get(*p);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->access_key_id, "ASIA1");
  EXPECT_EQ(a->source, "scripted");
  clock_.Advance(minutes(50));
  auto b = Get(*p);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->access_key_id, "ASIA1");
  EXPECT_EQ(b->secret_access_key.reveal(), "secret-1");
  EXPECT_EQ(inner_->calls(), 1);
}

TEST_F(CacheTest, SynchronousRefreshInsideTheWindow) {
  auto p = Make(false);
  ASSERT_TRUE(Get(*p).ok());
  clock_.Advance(minutes(54));  // 6 min left: background point passed, window not yet open
  EXPECT_EQ(Get(*p)->access_key_id, "ASIA1");
  clock_.Advance(minutes(2));  // 4 min left: inside the 5 min window
  auto c = Get(*p);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ASIA2");
  EXPECT_EQ(inner_->calls(), 2);
}

TEST_F(CacheTest, ShortDeadlineInsideTheWindowServesCache) {
  auto p = Make(false);
  ASSERT_TRUE(Get(*p).ok());
  clock_.Advance(minutes(56));
  auto c = Get(*p, milliseconds(500));  // below min_sync_refresh_budget
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ASIA1");
  EXPECT_EQ(inner_->calls(), 1);
}

TEST_F(CacheTest, BackgroundRefreshStartsAheadOfTheWindow) {
  auto p = Make(true);
  ASSERT_TRUE(Get(*p).ok());  // starts the background thread
  // Blocked before the clock moves: the thread may first look at the clock at any moment from here on (late
  // under qemu), and a refresh it starts once the background point has passed must not finish before the
  // two Get calls below.
  inner_->SetBlock(true);
  clock_.Advance(minutes(54) + seconds(30));  // 5.5 min left: background point (6 min) passed
  auto c = Get(*p);                           // returns at once with the cached credentials...
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ASIA1");
  ASSERT_TRUE(inner_->WaitForCalls(2));  // ...while the thread refreshes
  auto during = Get(*p);                 // the refresh is blocked: still served at once
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(during->access_key_id, "ASIA1");
  inner_->SetBlock(false);
  EXPECT_TRUE(WaitForServed(*p, "ASIA2"));
  EXPECT_EQ(inner_->calls(), 2);
}

TEST_F(CacheTest, KeepsServingValidCredentialsWhileRefreshFails) {
  auto p = Make(true);
  ASSERT_TRUE(Get(*p).ok());
  inner_->SetFail(Unavailable("sts: connection refused"));
  clock_.Advance(minutes(56));  // inside the window
  auto c = Get(*p);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ASIA1");
  ASSERT_TRUE(inner_->WaitForCalls(2));
  for (int i = 0; i < 200 && p->last_refresh_error().ok(); ++i) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(p->last_refresh_error().code(), StatusCode::kUnavailable);
  auto still = Get(*p);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->access_key_id, "ASIA1");

  clock_.Advance(minutes(4));  // past the expiration
  auto expired = Get(*p);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos) << expired.status().message();
  EXPECT_EQ(expired.status().message().find("secret-1"), std::string::npos);

  inner_->SetFail(Status());
  auto recovered = Get(*p);
  ASSERT_TRUE(recovered.ok());
  EXPECT_NE(recovered->access_key_id, "ASIA1");
}

TEST_F(CacheTest, SynchronousModeServesCacheWhenRefreshFails) {
  auto p = Make(false);
  ASSERT_TRUE(Get(*p).ok());
  inner_->SetFail(Unavailable("imds down"));
  clock_.Advance(minutes(56));
  auto c = Get(*p);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ASIA1");
  EXPECT_EQ(inner_->calls(), 2);
  // The failure starts a retry interval: no new attempt right away.
  ASSERT_TRUE(Get(*p).ok());
  EXPECT_EQ(inner_->calls(), 2);
  clock_.Advance(seconds(16));
  ASSERT_TRUE(Get(*p).ok());
  EXPECT_EQ(inner_->calls(), 3);
}

TEST_F(CacheTest, NeverWaitsPastTheDeadlineForAnotherRefresh) {
  auto p = Make(false);
  inner_->SetBlock(true);
  std::thread first([&] { (void)Get(*p, seconds(30)); });
  ASSERT_TRUE(inner_->WaitForCalls(1));
  auto start = std::chrono::steady_clock::now();
  auto second = Get(*p, milliseconds(100));
  EXPECT_EQ(second.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));
  EXPECT_EQ(inner_->calls(), 1);  // single flight
  inner_->SetBlock(false);
  first.join();
  EXPECT_EQ(Get(*p)->access_key_id, "ASIA1");
}

TEST_F(CacheTest, WaitersShareAnInFlightRefresh) {
  auto p = Make(false);
  inner_->SetBlock(true);
  std::optional<Result<Credentials>> a;
  std::thread first([&] { a.emplace(Get(*p, seconds(30))); });
  ASSERT_TRUE(inner_->WaitForCalls(1));
  std::thread release([&] {
    std::this_thread::sleep_for(milliseconds(50));
    inner_->SetBlock(false);
  });
  auto b = Get(*p, seconds(30));
  release.join();
  first.join();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->access_key_id, "ASIA1");
  EXPECT_EQ(inner_->calls(), 1);
}

TEST_F(CacheTest, CredentialsWithoutExpirationAreKeptUntilInvalidated) {
  inner_->SetLifetime(std::nullopt);
  auto p = Make(true);
  ASSERT_TRUE(Get(*p).ok());
  clock_.Advance(std::chrono::hours(24 * 30));
  EXPECT_EQ(Get(*p)->access_key_id, "ASIA1");
  p->Invalidate();
  EXPECT_EQ(Get(*p)->access_key_id, "ASIA2");
  EXPECT_EQ(p->refresh_count(), 2u);
}

TEST_F(CacheTest, RefusedCredentialsAreDroppedOnlyWhileTheyAreTheCachedOnes) {
  auto p = Make(false);
  auto first = Get(*p);
  ASSERT_TRUE(first.ok());
  p->InvalidateRefused(*first, "ExpiredTokenException");  // AWS refused ASIA1: fetched anew
  EXPECT_EQ(Get(*p)->access_key_id, "ASIA2");
  // A concurrent caller refused ASIA1 too, after ASIA2 was fetched: ASIA2 stays.
  p->InvalidateRefused(*first, "ExpiredTokenException");
  EXPECT_EQ(Get(*p)->access_key_id, "ASIA2");
  EXPECT_EQ(p->refresh_count(), 2u);
  EXPECT_EQ(p->refusals().count, 2u);
  EXPECT_EQ(p->refusals().last, "ExpiredTokenException for **** (scripted)");  // no secret, no full key id
}

TEST_F(CacheTest, ShortLivedCredentialsDoNotSpin) {
  inner_->SetLifetime(minutes(3));  // always inside the 5 min window
  auto p = Make(true);
  ASSERT_TRUE(Get(*p).ok());
  for (int i = 0; i < 20; ++i) (void)Get(*p);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_LE(inner_->calls(), 2);
}

TEST_F(CacheTest, DestructorStopsAnIdleThread) {
  auto p = Make(true);
  ASSERT_TRUE(Get(*p).ok());  // starts the thread
  auto start = std::chrono::steady_clock::now();
  p.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));
}

TEST_F(CacheTest, CachedExpirationFollowsTheCachedCredentials) {
  auto p = Make(false);
  EXPECT_EQ(p->cached_expiration(), std::nullopt);  // nothing cached yet
  const WallTime first = clock_.WallNow() + std::chrono::hours(1);
  ASSERT_TRUE(Get(*p).ok());
  EXPECT_EQ(p->cached_expiration(), first);
  clock_.Advance(minutes(56));  // inside the window: refreshed, a new expiration
  ASSERT_EQ(Get(*p)->access_key_id, "ASIA2");
  EXPECT_EQ(p->cached_expiration(), clock_.WallNow() + std::chrono::hours(1));
  inner_->SetLifetime(std::nullopt);  // long-term keys: no expiration
  p->Invalidate();
  ASSERT_TRUE(Get(*p).ok());
  EXPECT_EQ(p->cached_expiration(), std::nullopt);
}

}  // namespace
}  // namespace dynatroni::aws
