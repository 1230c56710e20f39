#include "dcs/leader_lease.h"

#include <algorithm>

#include "dcs/lease_mutants.h"

namespace dynatroni::dcs {

using std::chrono::milliseconds;

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
    constexpr int64_t kMaxLeaseMs = int64_t{24} * 3600 * 1000;
    holder_ = Holder{current->version, current->term, *earliest,
                     milliseconds(std::clamp<int64_t>(current->lease_ms, 0, kMaxLeaseMs))};
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
  if (current) {
    std::erase_if(pending_, [&](const PendingWrite& p) { return p.floor < current->version; });
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
