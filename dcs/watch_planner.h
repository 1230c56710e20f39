// File: dcs/watch_planner.h
//
// Watch planning for replicas (docs/design.md, "watch()"): what this node has
// observed of a key, when the leader is expected to renew, and what watch()
// should do next about a foreign leader. Read-scheduling hints only: lease
// expiry is always first-seen + ttl on this node's own clock, whatever the
// renewal tracking says.
//
// Thread-safety: plain values and pure functions.
#ifndef DYNATRONI_DCS_WATCH_PLANNER_H_
#define DYNATRONI_DCS_WATCH_PLANNER_H_

#include <optional>
#include <string>

#include "core/clock.h"
#include "dcs/item_store.h"
#include "dcs/switchover_polls.h"

namespace dynatroni::dcs {

// What watch() should do next (replicas).
struct WatchPlan {
  // kPoll: PollLeader now. kPollFailover: PollFailover now. kWakeNow: end the
  // watch (run the HA cycle) now.
  enum class Action { kWait, kPoll, kPollFailover, kWakeNow } action = Action::kWait;
  Duration wait{0};    // for kWait: how long to wait at most before asking again
  std::string reason;  // for logs
};

// One key as this node has observed it.
struct Observation {
  StoredItem last;      // the item as last seen
  MonoTime first_seen;  // when this node first saw last's (version, value, session)
  MonoTime last_poll;   // when watch() last polled this key
  // When the leader renews, as far as this node's reads tell (a hint for
  // scheduling reads, never used for expiry): the write that produced
  // last.version happened in (renewed_after, renewed_by].
  MonoTime last_seen;          // the latest read that returned last.version
  bool phase_tracked = false;  // renewed_after/renewed_by are set
  MonoTime renewed_after;
  MonoTime renewed_by;
  std::optional<MonoTime> phase_checked;  // when a read just before an expected renewal last confirmed it
  // watch() already woke the HA loop because last.version's lease expired
  // (Dcs::PlanWatch sets it; a new version starts a new Observation).
  bool expiry_woken = false;
};

struct WatchSettings {
  Duration loop_wait{0};
  Duration leader_poll_interval{0};
  Duration renewal_poll_offset{0};
  Duration renewal_phase_check{0};
  Duration handover_poll_interval{0};
  Duration handover_fast_poll{0};
};

// Sets `next`'s renewal bounds when a read at `now` first returns its
// version; `prev` is the observation of the key before it (or null).
void TrackRenewal(const Observation* prev, MonoTime now, const WatchSettings& settings, Observation& next);

// The plan for a live foreign leader observed as `o`, whose lease expires
// (by this node's observation) `lease_ttl` after o.first_seen; `polls` are
// the switchover polls of its key and `watch_remaining` how long the current
// watch() has left. An expired lease wakes the HA loop at once, once
// (o.expiry_woken): after that the loop keeps its own loop_wait.
WatchPlan PlanFollowerWatch(const Observation& o, Duration lease_ttl, const SwitchoverPolls& polls,
                            const WatchSettings& settings, MonoTime now, Duration watch_remaining);

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_WATCH_PLANNER_H_
