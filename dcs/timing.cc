#include "dcs/timing.h"

#include <algorithm>
#include <string>

namespace dynatroni::dcs {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

Result<Timing> Timing::FromFailoverTime(Duration failover_time) {
  if (failover_time < kMinFailoverTime) {
    return InvalidArgument("failover_time must be at least " +
                           std::to_string(duration_cast<seconds>(kMinFailoverTime).count()) +
                           " seconds (it sets ttl; loop_wait = retry_timeout = failover_time / 3); got " +
                           std::to_string(duration_cast<milliseconds>(failover_time).count() / 1000.0));
  }
  Timing t;
  t.ttl = failover_time;
  t.loop_wait = failover_time / 3;
  t.retry_timeout = failover_time / 3;
  return t;
}

Duration Timing::SafetyMargin() const {
  auto drift = duration_cast<Duration>(
      std::chrono::duration<double, std::nano>(static_cast<double>(ttl.count()) * 2.0 * kMaxClockRateDrift));
  return kDemoteAllowance + drift;
}

Duration Timing::MemberRefresh() const {
  Duration refresh = std::min<Duration>(ttl - loop_wait / 2, 2 * ttl - loop_wait * 5 / 2);
  return std::max(refresh, Duration::zero());
}

Duration Timing::MemberExpiry() const { return 2 * ttl; }

Duration WrittenLease(int64_t lease_ms) {
  constexpr int64_t kMaxLeaseMs = int64_t{24} * 3600 * 1000;
  return std::chrono::milliseconds(std::clamp<int64_t>(lease_ms, 0, kMaxLeaseMs));
}

}  // namespace dynatroni::dcs
