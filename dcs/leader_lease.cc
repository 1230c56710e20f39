#include "dcs/leader_lease.h"

#include <algorithm>

#include "dcs/lease_mutants.h"

namespace dynatroni::dcs {

LeaderLease::State LeaderLease::state(MonoTime now, const Timing& timing) const {
  if (!pending_.empty()) return State::kUnresolved;
  return Held(now, timing) ? State::kHolding : State::kObserving;
}

bool LeaderLease::IsOurs(const StoredItem& item) const {
  return item.live() && *item.value == name_ && item.session == session_;
}

LeaderLease::Verdict LeaderLease::Resolve(const std::optional<StoredItem>& current, MonoTime send,
                                          int64_t floor, Reply reply) {
  const bool ours = current && IsOurs(*current);
  if (ours && (current->version > floor || DYNATRONI_MUTANT(kOwnerOnlyResolution))) {
    // Produced by this write (unless it was certainly refused) or by an
    // earlier unresolved one of ours: count from the earliest send that can
    // have produced it.
    std::optional<MonoTime> earliest;
    if (reply != Reply::kRefused) earliest = send;
    // An applied write produced this version itself (its condition held when
    // it applied); otherwise any unresolved write conditioned below it may have.
    if (reply != Reply::kApplied) {
      for (const PendingWrite& p : pending_) {
        if (p.floor < current->version && (!earliest || p.send < *earliest)) earliest = p.send;
      }
    }
    if (!earliest) return Verdict::kUnattributed;
    std::erase_if(pending_, [&](const PendingWrite& p) { return p.floor < current->version; });
    holder_ = Holder{current->version, current->term, *earliest, WrittenLease(current->lease_ms)};
    woke_at_bound_ = false;
    return Verdict::kApplied;
  }
  if (ours) {
    // The bound stays where the last applied write put it. A write whose
    // outcome was ambiguous has not applied *yet*: it stays a candidate.
    if (reply == Reply::kAmbiguous) pending_.push_back(PendingWrite{send, floor});
    return Verdict::kNotApplied;
  }
  holder_.reset();
  // Every leader write is conditioned on its floor version exactly, so it can
  // only produce floor + 1: once the key moved past a floor, that write can
  // never apply. An ambiguous one whose floor is still current may land late.
  const int64_t now_version = current ? current->version : 0;
  std::erase_if(pending_, [&](const PendingWrite& p) { return p.floor < now_version; });
  if (reply == Reply::kAmbiguous && floor >= now_version) {
    pending_.push_back(PendingWrite{send, floor});
  }
  return Verdict::kLost;
}

void LeaderLease::MarkUnresolved(MonoTime send, int64_t floor) {
  pending_.push_back(PendingWrite{send, floor});
}

void LeaderLease::Drop() { holder_.reset(); }

std::optional<MonoTime> LeaderLease::Bound(const Timing& timing) const {
  if (!holder_) return std::nullopt;
  // Followers wait at least the lease_ms written in the item; a ttl raised
  // since (edit-config) must not lengthen what they were told, and a ttl
  // lowered since shortens it.
  Duration lease = holder_->lease > Duration::zero() ? std::min(holder_->lease, timing.ttl) : timing.ttl;
  if (DYNATRONI_MUTANT(kBoundFromCurrentTtl)) lease = timing.ttl;
  const Duration margin = DYNATRONI_MUTANT(kZeroSafetyMargin) ? Duration::zero() : timing.SafetyMargin();
  return holder_->send + lease - margin;
}

bool LeaderLease::Held(MonoTime now, const Timing& timing) const {
  auto bound = Bound(timing);
  return bound && now < *bound;
}

bool LeaderLease::TakeBoundWake(MonoTime now, const Timing& timing) {
  auto bound = Bound(timing);
  if (!bound || woke_at_bound_ || now < *bound) return false;
  woke_at_bound_ = true;
  return true;
}

}  // namespace dynatroni::dcs
