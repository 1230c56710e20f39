// File: dcs/switchover_polls.h
//
// The switchover polls of one leader key (docs/design.md, "watch()"): while
// a foreign leader holds the lease, a replica reads the failover key now and
// then (eventually consistent, at random intervals so the reads line up
// neither with its own loop nor with other nodes'); when a new request shows
// up it polls the leader fast for up to one ttl, so the candidate wakes soon
// after the old leader releases. Read scheduling only: never a lease decision.
//
// Thread-safety: none; Dcs guards it with its mutex.
#ifndef DYNATRONI_DCS_SWITCHOVER_POLLS_H_
#define DYNATRONI_DCS_SWITCHOVER_POLLS_H_

#include <cstdint>

#include "core/clock.h"

namespace dynatroni::dcs {

class SwitchoverPolls {
 public:
  // A failover-key poll starts at `now` (also when it then fails: no hot
  // loop); the next is due `interval` x `spread` later (spread in [0.5, 1.5)).
  void Polled(MonoTime now, Duration interval, double spread);
  // The poll found a live failover item at `version`: true when it is a
  // request not seen before, which starts fast polling for `fast_for`.
  bool Found(int64_t version, MonoTime now, Duration fast_for);
  // The leader handed over (released, gone or changed): ordinary cadence.
  void HandedOver() { fast_until_ = MonoTime(); }

  [[nodiscard]] bool FastPolling(MonoTime now) const { return now < fast_until_; }
  [[nodiscard]] MonoTime next_poll() const { return next_poll_; }

 private:
  MonoTime next_poll_;         // next failover-key poll
  MonoTime fast_until_;        // poll the leader fast until then
  int64_t seen_version_ = -1;  // failover item version that armed fast polling
};

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_SWITCHOVER_POLLS_H_
