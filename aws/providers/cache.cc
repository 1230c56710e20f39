#include "aws/providers/cache.h"

#include <algorithm>
#include <utility>

#include "aws/providers/util.h"

namespace dynatroni::aws {

namespace {

// A real wait of `d` (measured on the injected clock), clamped to something
// condition_variable can handle.
std::chrono::nanoseconds WaitSpan(Duration d, Duration max) {
  if (d <= Duration::zero()) return std::chrono::nanoseconds(0);
  return std::min(d, max);
}

}  // namespace

CachingProvider::CachingProvider(std::shared_ptr<CredentialsProvider> inner, CacheOptions options)
    : inner_(std::move(inner)), options_(options) {}

CachingProvider::~CachingProvider() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_background_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string CachingProvider::name() const { return inner_->name(); }

void CachingProvider::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  cached_.reset();
}

void CachingProvider::InvalidateRefused(const Credentials& refused, const std::string& aws_error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cached_ && SameCredentials(*cached_, refused)) cached_.reset();
  ++refusals_.count;
  refusals_.last = aws_error + " for " + refused.Describe();
}

CachingProvider::Refusals CachingProvider::refusals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refusals_;
}

Status CachingProvider::last_refresh_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

uint64_t CachingProvider::refresh_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refresh_count_;
}

std::optional<WallTime> CachingProvider::cached_expiration() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_ ? cached_->expiration : std::nullopt;
}

CachingProvider::State CachingProvider::Classify(const Credentials& c) {
  if (!c.expiration) return State::kFresh;
  const WallTime now = clock().WallNow();
  const WallTime exp = *c.expiration;
  using WD = WallTime::duration;
  auto wall = [](Duration d) { return std::chrono::duration_cast<WD>(d); };
  if (now >= exp - wall(options_.expiry_margin)) return State::kExpired;
  if (now >= exp - wall(options_.refresh_window)) return State::kInWindow;
  if (now >= exp - wall(options_.refresh_window + options_.background_lead)) return State::kBackgroundDue;
  return State::kFresh;
}

void CachingProvider::MaybeStartThreadLocked() {
  if (!options_.background_refresh || thread_.joinable() || stop_) return;
  if (!cached_ || !cached_->expiration) return;
  thread_ = std::thread([this] { BackgroundLoop(); });
}

Result<Credentials> CachingProvider::RefreshLocked(std::unique_lock<std::mutex>& lock, Deadline deadline) {
  refreshing_ = true;
  ++refresh_count_;
  lock.unlock();
  Result<Credentials> r = inner_->Resolve(deadline);
  if (r.ok() && r->source.empty()) r->source = inner_->name();
  lock.lock();
  refreshing_ = false;
  ++generation_;
  if (r.ok()) {
    cached_ = r.value();
    last_error_ = Status::Ok();
    retry_not_before_.reset();
    // Short-lived credentials that are already due again: do not spin.
    if (Classify(*cached_) != State::kFresh) retry_not_before_ = clock().Now() + options_.retry_interval;
    MaybeStartThreadLocked();
  } else {
    last_error_ = r.status();
    retry_not_before_ = clock().Now() + options_.retry_interval;
  }
  refresh_done_.notify_all();
  return r;
}

Result<Credentials> CachingProvider::Resolve(Deadline deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (cached_) {
      const State state = Classify(*cached_);
      const bool may_retry = !retry_not_before_ || clock().Now() >= *retry_not_before_;
      if (state == State::kFresh) return *cached_;
      if (state == State::kBackgroundDue || (state == State::kInWindow && options_.background_refresh)) {
        if (options_.background_refresh && !refreshing_ && may_retry) {
          // The thread normally wakes on its own; this covers suspend and
          // coarse sleeps. Never wait for it here.
          MaybeStartThreadLocked();
          poke_ = true;
          wake_background_.notify_all();
        }
        return *cached_;
      }
      if (state == State::kInWindow) {  // synchronous mode
        if (refreshing_ || !may_retry || deadline.Remaining(clock()) < options_.min_sync_refresh_budget) {
          return *cached_;
        }
        Credentials previous = *cached_;
        auto r = RefreshLocked(lock, deadline);
        if (r.ok()) return r;
        // Keep serving what still works.
        if (cached_ && Classify(*cached_) != State::kExpired) return *cached_;
        if (Classify(previous) != State::kExpired) return previous;
        return r;
      }
      // kExpired: fall through to a synchronous refresh.
    }
    if (refreshing_) {
      // Someone else is refreshing: wait for it, but never past our deadline.
      const uint64_t gen = generation_;
      Duration left = deadline.Remaining(clock());
      if (left <= Duration::zero()) {
        return DeadlineExceeded("credentials: a refresh is in progress and the caller's deadline passed");
      }
      refresh_done_.wait_for(lock, WaitSpan(left, std::chrono::hours(24)),
                             [&] { return generation_ != gen || stop_; });
      if (generation_ == gen) {
        return DeadlineExceeded("credentials: a refresh is in progress and the caller's deadline passed");
      }
      continue;  // re-evaluate with the new cache state
    }
    std::optional<WallTime> expired_at;
    if (cached_) expired_at = cached_->expiration;
    auto r = RefreshLocked(lock, deadline);
    if (r.ok()) return r;
    if (expired_at) {
      return r.status().Annotate("cached credentials expired at " +
                                 providers_internal::FormatIso8601(*expired_at) + " and the refresh failed");
    }
    return r;
  }
}

void CachingProvider::BackgroundLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    Duration sleep = options_.max_idle_wait;
    if (!refreshing_ && cached_ && cached_->expiration) {
      const State state = Classify(*cached_);
      const MonoTime now = clock().Now();
      const bool may_retry = !retry_not_before_ || now >= *retry_not_before_;
      if ((poke_ || state != State::kFresh) && may_retry) {
        poke_ = false;
        (void)RefreshLocked(lock, Deadline::After(clock(), options_.background_timeout));
        continue;
      }
      if (!may_retry) {
        sleep = std::min(sleep, *retry_not_before_ - now);
      } else {
        // Until the background refresh point.
        const WallTime due = *cached_->expiration - std::chrono::duration_cast<WallTime::duration>(
                                                        options_.refresh_window + options_.background_lead);
        sleep = std::min(sleep, std::chrono::duration_cast<Duration>(due - clock().WallNow()));
      }
    }
    poke_ = false;
    wake_background_.wait_for(
        lock, WaitSpan(std::max(sleep, Duration(std::chrono::milliseconds(1))), options_.max_idle_wait));
  }
}

std::shared_ptr<CachingProvider> MakeCachingProvider(std::shared_ptr<CredentialsProvider> inner,
                                                     CacheOptions options) {
  return std::make_shared<CachingProvider>(std::move(inner), options);
}

}  // namespace dynatroni::aws
