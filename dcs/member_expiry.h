// File: dcs/member_expiry.h
//
// When a reader leaves a member item out of its cluster view (docs/design.md,
// "Cluster load and expiry by observation" and "A fresh reader"): what
// Patroni lists (patronictl list, candidate lists, failsafe, synchronous
// standbys). Member items are not part of the lease's safety argument; the
// lease is timed by observation only (dcs/dcs.h) and nothing here touches it.
//
// Thread-safety: plain values and pure functions.
#ifndef DYNATRONI_DCS_MEMBER_EXPIRY_H_
#define DYNATRONI_DCS_MEMBER_EXPIRY_H_

#include <chrono>
#include <optional>

#include "core/clock.h"
#include "dcs/item_store.h"
#include "dcs/timing.h"

namespace dynatroni::dcs {

// How far the wall clock of a member's node may lag the reader's (after the
// reader's learned clock skew) without a live member looking stopped to a
// reader that relies on `updated_at`; see MemberExpired.
inline constexpr Duration kMemberClockAllowance = std::chrono::seconds(10);

// What one reader knows of a member item at a cluster load.
struct MemberSighting {
  // How long this process has seen the item's current version unchanged, on
  // its own monotonic clock.
  Duration unchanged_for{0};
  // How long this process has been loading the key at all (any version).
  Duration watched_for{0};
  // The write's age by the wall clock (WrittenAgo); nullopt when the item has
  // no updated_at.
  std::optional<Duration> written_ago;
  // A live leader item of the member's group, which this reader has not
  // expired by observation, names this member; its own WrittenAgo.
  bool named_by_leader = false;
  std::optional<Duration> leader_written_ago;
};

// The age of `item`'s write: `table_now` (the reader's wall clock plus
// ItemStore::ClockSkew()) minus its updated_at, the writer's wall clock.
// nullopt when updated_at is absent (0). Negative when the writer's clock is
// ahead.
std::optional<Duration> WrittenAgo(const StoredItem& item, WallTime table_now);

// Whether the reader relies on updated_at for this member: it has watched
// the key for less than Timing::MemberExpiry(), so its own observation cannot
// tell a silent member yet (patronictl list, any new process).
bool UsesWrittenAgo(const Timing& timing, const MemberSighting& s);

// Whether to leave the member out. Never while the group's leader item names
// it (its renewals prove it alive; the leader rewrites an unchanged member
// item only every gc_after / 4) — unless the reader relies on updated_at and
// that leader item too was written MemberExpiry() + kMemberClockAllowance or
// more ago (nobody renews it). Otherwise: unchanged for MemberExpiry() by
// this reader's observation, or — relying on updated_at — written
// MemberExpiry() + kMemberClockAllowance or more ago.
bool MemberExpired(const Timing& timing, const MemberSighting& s);

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_MEMBER_EXPIRY_H_
