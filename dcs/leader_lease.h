// File: dcs/leader_lease.h
//
// The leader lease of one leader key as this process holds it: a small state
// machine whose every transition is a row of the table in docs/design.md
// ("The lease as a state machine"). Dcs (dcs/dcs.h) makes the store calls and
// feeds their outcomes here; this unit alone decides what they mean and how
// long the lease is held. The safety argument can be checked against this
// file and leader_lease.cc.
//
// States:
//   kObserving   this process does not hold the lease (it may hold an
//                expired bound: Bound() is then in the past);
//   kHolding     it holds `version`, produced by a write it sent at `send`:
//                held until bound = send + min(lease_ms written, ttl) - margin;
//   kUnresolved  a leader write of ours may have applied (its outcome stayed
//                unknown); a bound from before stays as it was, and a version
//                of ours found later counts from the earliest such send.
//
// The rule every resolution follows: a leader write conditioned on version
// `floor` (renewal, takeover and acquisition alike name the exact version
// they expect; 0 = no item) has applied only if the item now carries our name
// AND our session at a version > floor. As every leader write names its
// version, it can only produce floor + 1: a write whose floor the key has
// passed can never apply, however late it lands.
//
// Thread-safety: none; Dcs guards its leases with its mutex.
#ifndef DYNATRONI_DCS_LEADER_LEASE_H_
#define DYNATRONI_DCS_LEADER_LEASE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "dcs/item_store.h"
#include "dcs/timing.h"

namespace dynatroni::dcs {

class LeaderLease {
 public:
  enum class State { kObserving, kHolding, kUnresolved };
  // What a resolved leader write means (Resolve).
  enum class Verdict {
    kApplied,     // ours at a version > floor: kHolding, bound from the earliest candidate send
    kNotApplied,  // still ours at a version <= floor: the write did not apply (yet); bound unchanged
    kLost,        // someone else's, a tombstone or no item: kObserving
    // Ours at a version > floor, but this write was certainly refused and no
    // unresolved write of ours can have produced it: nothing to count a
    // bound from; bound unchanged (the next renewal is conditioned on it).
    kUnattributed,
  };
  struct Holder {
    int64_t version = 0;
    int64_t term = 0;
    MonoTime send;      // send time of the write that produced `version`
    Duration lease{0};  // the lease_ms written in that item (followers wait at least this)
  };

  LeaderLease(std::string name, std::string session) : name_(std::move(name)), session_(std::move(session)) {}

  [[nodiscard]] State state(MonoTime now, const Timing& timing) const;
  // Whether `item` is a live leader item written by this process.
  [[nodiscard]] bool IsOurs(const StoredItem& item) const;

  // What the store said of the write itself.
  enum class Reply {
    kApplied,    // applied (the item is what it produced)
    kAmbiguous,  // may or may not have applied, now or later
    kRefused,    // certainly not applied (condition failed on an unambiguous attempt)
  };
  // A write conditioned on `floor` and sent at `send` left `current` in the
  // table (the item returned, or a consistent re-read; nullopt = no item). A
  // refused write never counts its own send; an ambiguous one found not
  // applied (the key still at or below its floor) stays unresolved: it may
  // still land late.
  Verdict Resolve(const std::optional<StoredItem>& current, MonoTime send, int64_t floor, Reply reply);
  // The write's outcome stays unknown (its re-read failed): it may still turn
  // out to have produced a version > floor.
  void MarkUnresolved(MonoTime send, int64_t floor);
  // Released, the partition deleted, or the key found at a version below the
  // one held (patronictl remove, a table restore): not held from now on,
  // whatever the store answers. Unresolved writes are kept (one may still
  // have applied).
  void Drop();

  [[nodiscard]] const std::optional<Holder>& holder() const { return holder_; }
  // The holder bound, if this process holds (or held) the lease.
  [[nodiscard]] std::optional<MonoTime> Bound(const Timing& timing) const;
  [[nodiscard]] bool Held(MonoTime now, const Timing& timing) const;
  [[nodiscard]] bool HasUnresolved() const { return !pending_.empty(); }

  // Once per bound: true the first time it is asked at or after the bound
  // (the holder's watch() ends then).
  bool TakeBoundWake(MonoTime now, const Timing& timing);

 private:
  struct PendingWrite {
    MonoTime send;
    int64_t floor = 0;
  };

  std::string name_;
  std::string session_;
  std::optional<Holder> holder_;
  std::vector<PendingWrite> pending_;
  bool woke_at_bound_ = false;
};

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_LEADER_LEASE_H_
