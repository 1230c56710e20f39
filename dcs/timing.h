// File: dcs/timing.h
//
// Patroni's timing (ttl, loop_wait, retry_timeout) and what the lease and the
// member items derive from it: the holder's safety margin, member refresh and
// expiry. Plain values; thread-safe as values are.
#ifndef DYNATRONI_DCS_TIMING_H_
#define DYNATRONI_DCS_TIMING_H_

#include <chrono>

#include "core/clock.h"
#include "core/status.h"

namespace dynatroni::dcs {

// Patroni's timing, derived from the failover_time dial or given explicitly.
struct Timing {
  Duration ttl = std::chrono::seconds(30);
  Duration loop_wait = std::chrono::seconds(10);
  Duration retry_timeout = std::chrono::seconds(10);

  // The dial: ttl = F, loop_wait = retry_timeout = F / 3.
  // kInvalidArgument below kMinFailoverTime, naming `failover_time`.
  static Result<Timing> FromFailoverTime(Duration failover_time);
  static constexpr Duration kMinFailoverTime = std::chrono::seconds(9);

  // Holder-side margin: covers demotion time and clock-rate drift between
  // nodes: kDemoteAllowance + ttl * 2 * kMaxClockRateDrift.
  [[nodiscard]] Duration SafetyMargin() const;
  static constexpr Duration kDemoteAllowance = std::chrono::seconds(2);
  static constexpr double kMaxClockRateDrift = 0.001;  // 1000 ppm per node

  // Member items (docs/design.md, "Member items"). A writer rewrites an
  // unchanged member item only once MemberRefresh() has passed since its last
  // applied write: ttl - loop_wait / 2, capped at 2 ttl - 5 loop_wait / 2 so
  // that refresh + 2 loop_wait stays at least loop_wait / 2 below
  // MemberExpiry(); 0 (write every loop) when loop_wait > 0.8 ttl. The dial
  // gives 2.5 loop_wait, i.e. every third loop. Observers drop a member once they
  // have seen its version unchanged for MemberExpiry() = 2 ttl.
  [[nodiscard]] Duration MemberRefresh() const;
  [[nodiscard]] Duration MemberExpiry() const;
};

// The lease a leader item promises (its lease_ms), counted within [0, 24 h]:
// it comes from the table, where a foreign or corrupt item may hold any int64
// (found by fuzz/fuzz_cluster_items: 1e17 ms overflowed the conversion).
Duration WrittenLease(int64_t lease_ms);

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_TIMING_H_
