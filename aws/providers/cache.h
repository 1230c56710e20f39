// File: aws/providers/cache.h
//
// CachingProvider: serves credentials from memory and refreshes temporary ones
// ahead of their expiration, so a caller (Patroni's HA loop) normally never
// waits on STS, IMDS or the container endpoint.
//
// Timeline for credentials expiring at E (wall clock of the injected Clock):
//   before E - refresh_window - background_lead : served from the cache;
//   from   E - refresh_window - background_lead : a background thread
//            refreshes (callers still get the cached credentials at once);
//   from   E - refresh_window ("inside the window"): with background refresh
//            on, callers keep getting the cached credentials while the thread
//            (re)tries; with it off, a caller refreshes synchronously within
//            its own deadline, unless less than min_sync_refresh_budget is
//            left, a refresh is already running, or the last one failed less
//            than retry_interval ago — then it gets the cached credentials;
//   from   E - expiry_margin: the cached credentials are expired; a caller
//            refreshes synchronously within its deadline (or waits, within
//            its deadline, for a refresh already in flight) and gets an error
//            if that fails.
// A failed refresh never discards still-valid credentials; the background
// thread retries every retry_interval. Credentials without an expiration are
// kept until Invalidate(). Only one refresh runs at a time.
//
// Nothing is logged here; last_refresh_error() holds the last failure (its
// message, like every Status here, contains no secret). The Patroni plugin
// logs it (python/dynatroni/dynamodb.py, docs/operations.md).
//
// Thread-safety: all methods are safe for concurrent use. The destructor
// stops the background thread; it waits for a refresh in flight, which is
// bounded by background_timeout.
#ifndef DYNATRONI_AWS_PROVIDERS_CACHE_H_
#define DYNATRONI_AWS_PROVIDERS_CACHE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "aws/credentials.h"
#include "core/clock.h"
#include "core/status.h"

namespace dynatroni::aws {

struct CacheOptions {
  Clock* clock = nullptr;  // nullptr = SystemClock
  // Refresh when the credentials expire in less than this (the AWS SDKs use 5-15 min).
  Duration refresh_window = std::chrono::minutes(5);
  // The background refresh starts this long before the window opens.
  Duration background_lead = std::chrono::minutes(1);
  bool background_refresh = true;
  // Deadline of one background refresh.
  Duration background_timeout = std::chrono::seconds(30);
  // After a failed refresh, the next attempt (background or a synchronous one
  // inside the window) waits at least this long.
  Duration retry_interval = std::chrono::seconds(15);
  // Credentials this close to expiration count as expired.
  Duration expiry_margin = std::chrono::seconds(10);
  // Inside the window (background off), a caller with less time than this left
  // gets the cached credentials without a refresh attempt.
  Duration min_sync_refresh_budget = std::chrono::seconds(1);
  // Longest the background thread sleeps before re-checking the clock (it is
  // also woken by callers that notice a refresh is due, e.g. after suspend).
  Duration max_idle_wait = std::chrono::seconds(60);
};

class CachingProvider final : public CredentialsProvider {
 public:
  CachingProvider(std::shared_ptr<CredentialsProvider> inner, CacheOptions options);
  ~CachingProvider() override;
  CachingProvider(const CachingProvider&) = delete;
  CachingProvider& operator=(const CachingProvider&) = delete;

  // See the timeline above. Never waits past `deadline`: when a refresh by
  // another thread is in flight and nothing valid is cached, it waits for that
  // refresh at most until the deadline (then kDeadlineExceeded).
  Result<Credentials> Resolve(Deadline deadline) override;
  // The inner provider's name.
  [[nodiscard]] std::string name() const override;

  // Forgets the cached credentials (e.g. after AWS answered ExpiredToken), so
  // the next Resolve() refreshes.
  void Invalidate();
  // Forgets the cached credentials only if they are `refused` (a concurrent
  // caller refused the same ones: the credentials fetched since are kept), and
  // counts the refusal (refusals()). dynamodb::Client calls it after AWS
  // answered ExpiredTokenException or UnrecognizedClientException.
  void InvalidateRefused(const Credentials& refused, const std::string& aws_error) override;
  struct Refusals {
    uint64_t count = 0;  // InvalidateRefused() calls so far
    std::string last;    // the latest: "<aws_error> for <Describe()>" (no secret)
  };
  [[nodiscard]] Refusals refusals() const;
  // OK, or the error of the most recent refresh if it failed.
  [[nodiscard]] Status last_refresh_error() const;
  // Calls made to the inner provider so far (tests, diagnostics).
  [[nodiscard]] uint64_t refresh_count() const;
  // The expiration of the cached credentials: nullopt when nothing is cached
  // or they never expire (the Prometheus metrics, docs/operations.md).
  [[nodiscard]] std::optional<WallTime> cached_expiration() const;

 private:
  enum class State { kFresh, kBackgroundDue, kInWindow, kExpired };
  State Classify(const Credentials& c);  // REQUIRES: mu_ held
  void MaybeStartThreadLocked();
  void BackgroundLoop();
  // Runs one refresh with mu_ released; `lock` is re-acquired on return.
  Result<Credentials> RefreshLocked(std::unique_lock<std::mutex>& lock, Deadline deadline);
  Clock& clock() const { return options_.clock != nullptr ? *options_.clock : *SystemClock::Instance(); }

  const std::shared_ptr<CredentialsProvider> inner_;
  const CacheOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_background_;
  std::condition_variable refresh_done_;
  std::optional<Credentials> cached_;         // guarded by mu_
  bool refreshing_ = false;                   // guarded by mu_
  bool poke_ = false;                         // guarded by mu_: a caller saw a refresh is due
  bool stop_ = false;                         // guarded by mu_
  uint64_t generation_ = 0;                   // guarded by mu_: completed refreshes
  uint64_t refresh_count_ = 0;                // guarded by mu_
  Status last_error_;                         // guarded by mu_
  Refusals refusals_;                         // guarded by mu_
  std::optional<MonoTime> retry_not_before_;  // guarded by mu_
  std::thread thread_;                        // started on first need
};

std::shared_ptr<CachingProvider> MakeCachingProvider(std::shared_ptr<CredentialsProvider> inner,
                                                     CacheOptions options = {});

}  // namespace dynatroni::aws

#endif  // DYNATRONI_AWS_PROVIDERS_CACHE_H_
