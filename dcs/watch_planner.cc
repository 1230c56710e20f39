#include "dcs/watch_planner.h"

#include <algorithm>

namespace dynatroni::dcs {

void TrackRenewal(const Observation* prev, MonoTime now, const WatchSettings& settings, Observation& next) {
  const Duration loop = settings.loop_wait;
  const Duration tight = settings.leader_poll_interval;
  // What this read alone says: the write came after the latest read of the
  // previous version and, as a live leader renews every loop_wait, within the
  // last loop_wait.
  MonoTime lo = now - loop;
  if (prev != nullptr && prev->last_seen > lo) lo = prev->last_seen;
  MonoTime hi = now;
  bool confirmed = hi - lo <= tight;
  std::optional<MonoTime> checked_before;
  // The next renewal of the same leader comes one loop_wait after the last
  // one (Patroni's loop keeps its period): narrow the bounds by that
  // prediction unless this read contradicts it (the leader's loop moved).
  if (prev != nullptr && prev->phase_tracked && prev->last.value == next.last.value &&
      next.last.version == prev->last.version + 1) {
    const MonoTime predicted_lo = prev->renewed_after + loop;
    const MonoTime predicted_hi = prev->renewed_by + loop;
    if (std::max(lo, predicted_lo) < std::min(hi, predicted_hi)) {
      // A read of the old version shortly before the predicted renewal
      // confirms the prediction (an earlier renewal would have shown).
      confirmed = confirmed || lo >= predicted_lo - tight;
      checked_before = prev->phase_checked;
      lo = std::max(lo, predicted_lo);
      hi = std::min(hi, predicted_hi);
    }
  }
  next.phase_tracked = true;
  next.renewed_after = lo;
  next.renewed_by = hi;
  next.phase_checked = confirmed ? std::optional<MonoTime>(now) : checked_before;
}

WatchPlan PlanFollowerWatch(const Observation& o, Duration lease_ttl, const SwitchoverPolls& polls,
                            const WatchSettings& settings, MonoTime now, Duration watch_remaining) {
  WatchPlan plan;
  const MonoTime expiry = o.first_seen + lease_ttl;
  if (now >= expiry) {
    if (o.expiry_woken) {
      // The HA cycle woken for this expiry ran and the leader item is still the
      // same version in this node's view: its cluster load failed (the table
      // gone, access denied), so Patroni kept the old view. Waking it again at
      // once would rerun that cycle back to back, a request storm for as long
      // as the loads fail; Patroni's own loop_wait paces the next attempts.
      plan.action = WatchPlan::Action::kWait;
      plan.wait = std::max(watch_remaining, Duration::zero());
      plan.reason = "leader lease expired: version " + std::to_string(o.last.version) +
                    " unchanged for a full ttl; the HA loop was woken for it already";
      return plan;
    }
    plan.action = WatchPlan::Action::kWakeNow;
    plan.reason =
        "leader lease expired: version " + std::to_string(o.last.version) + " unchanged for a full ttl";
    return plan;
  }
  // When the leader's next renewal is expected: in (next_lo, next_hi]. Only
  // for scheduling reads; expiry above is first-seen + ttl whatever this says.
  const Duration loop = settings.loop_wait;
  const Duration poll_every = settings.leader_poll_interval;
  const MonoTime next_lo = std::max(o.phase_tracked ? o.renewed_after + loop : o.first_seen, o.last_seen);
  const MonoTime next_hi = (o.phase_tracked ? o.renewed_by : o.first_seen) + loop;
  const MonoTime due = next_hi + settings.renewal_poll_offset;
  const bool phase_known = o.phase_tracked && next_hi - next_lo <= poll_every;
  MonoTime next_poll = MonoTime::max();
  std::string why;
  if (now >= due) {
    if (phase_known && o.last_seen < due) {
      // The renewal is due and nothing has read it yet: let the HA cycle read
      // it now. Its loop then keeps this phase, one read per loop_wait just
      // after each renewal, instead of up to a loop_wait later.
      if (watch_remaining > poll_every / 2) {
        plan.action = WatchPlan::Action::kWakeNow;
        plan.reason =
            "leader renewal due: running the HA cycle now so that it reads it (this node's loop "
            "now follows the leader's renewals)";
      } else {
        plan.action = WatchPlan::Action::kWait;
        plan.wait = std::max(watch_remaining, Duration::zero());
        plan.reason = "the next HA cycle reads the leader renewal";
      }
      return plan;
    }
    // Late, or its time not known well enough: read it now and then every
    // poll interval until it moves or the lease expires.
    next_poll = std::max(due, std::max(o.last_seen, o.last_poll) + poll_every);
    why = "expected leader renewal";
  } else if (!phase_known) {
    // Learn when the leader renews: read every poll interval through the
    // window; the first read of the next version pins the renewal to within
    // one interval. At most loop_wait / leader_poll_interval reads, after a
    // start or a leader change (a halving search would need a loop per read).
    next_poll = std::max(next_lo, std::max(o.last_seen, o.last_poll) + poll_every);
    why = "learning when the leader renews";
  } else if ((!o.phase_checked || now - *o.phase_checked >= settings.renewal_phase_check) &&
             o.last_seen < next_lo - poll_every) {
    // Known, but a leader whose loop moved earlier would go unnoticed:
    // confirm now and then with a read just before the expected renewal (the
    // read that then first sees the renewal completes the check).
    next_poll = std::max(next_lo - poll_every / 2, o.last_poll + poll_every / 2);
    if (next_poll >= next_hi) next_poll = MonoTime::max();  // too late this time
    why = "confirming when the leader renews";
  }
  const bool handing_over = polls.FastPolling(now);
  if (handing_over && o.last_poll + settings.handover_fast_poll < next_poll) {
    next_poll = o.last_poll + settings.handover_fast_poll;
    why = "switchover requested: waiting for the leader to hand over";
  }
  if (now >= next_poll) {
    plan.action = WatchPlan::Action::kPoll;
    plan.reason = why;
    return plan;
  }
  MonoTime next_wake = std::min(next_poll, expiry);
  if (now < due) next_wake = std::min(next_wake, due);
  if (!handing_over && settings.handover_poll_interval > Duration::zero()) {
    const MonoTime next_failover_poll = polls.next_poll();
    if (now >= next_failover_poll) {
      plan.action = WatchPlan::Action::kPollFailover;
      plan.reason = "checking for a switchover request";
      return plan;
    }
    next_wake = std::min(next_wake, next_failover_poll);
  }
  plan.action = WatchPlan::Action::kWait;
  plan.wait = next_wake - now;
  plan.reason = "waiting for the next leader renewal";
  return plan;
}

}  // namespace dynatroni::dcs
