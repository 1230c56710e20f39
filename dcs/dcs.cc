#include "dcs/dcs.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "dcs/lease_mutants.h"
#include "dcs/member_expiry.h"

namespace dynatroni::dcs {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

bool IsLeaderKey(const std::string& key) {
  if (key == "leader") return true;
  auto slash = key.find('/');
  return slash != std::string::npos && key.compare(slash, std::string::npos, "/leader") == 0 &&
         key.find_first_not_of("0123456789") == slash && slash > 0;
}

// "<group>/leader" for "<group>/members/<name>", "leader" for "members/<name>".
std::string GroupLeaderKey(const std::string& member_key) {
  const size_t pos = member_key.find("members/");
  return (pos == std::string::npos ? std::string() : member_key.substr(0, pos)) + "leader";
}

// For members/<name> (or <group>/members/<name>): the live leader item of
// that group in `view` (one this reader has not expired) if it names <name>,
// else null. Its renewals prove <name> alive, so its member item need not be
// refreshed while unchanged.
const ObservedItem* LeaderNaming(const ClusterView& view, const std::string& member_key) {
  const size_t pos = member_key.find("members/");
  if (pos == std::string::npos) return nullptr;
  auto it = view.items.find(GroupLeaderKey(member_key));
  const bool names = it != view.items.end() && it->second.item.value &&
                     *it->second.item.value == std::string_view{member_key}.substr(pos + 8);
  return names ? &it->second : nullptr;
}

// How often an unchanged member item of the lease holder is still rewritten:
// well inside the DynamoDB ttl it carries (gc_after ahead).
Duration MemberTtlRefresh(Duration gc_after) { return gc_after / 4; }

bool IsMemberKey(const std::string& key) {
  if (key.rfind("members/", 0) == 0) return true;
  auto slash = key.find('/');
  return slash != std::string::npos && slash > 0 && key.find_first_not_of("0123456789") == slash &&
         key.compare(slash + 1, 8, "members/") == 0;
}

// The part of `deadline` a write may use: the rest is kept for the consistent
// re-read that resolves an unknown outcome, so write + resolution together end
// by `deadline` (retry_timeout, or the holder bound while holding the lease).
Deadline WriteDeadline(Deadline deadline, Clock& clock) {
  if (deadline.infinite()) return deadline;
  Duration remaining = deadline.Remaining(clock);
  if (remaining <= Duration::zero()) return deadline;
  Duration reserve = std::min<Duration>(remaining / 3, std::chrono::seconds(1));
  return Deadline::At(deadline.when() - reserve);
}

// 32 random bits (the top ones of a draw in [0, 1)).
uint32_t Random32(Random& random) { return static_cast<uint32_t>(random.Uniform01() * 4294967296.0); }

std::string RandomSession(const std::string& name, Random& random) {
  char buf[17];
  const uint32_t high = Random32(random);
  const uint32_t low = Random32(random);
  std::snprintf(buf, sizeof(buf), "%08x%08x", high, low);
  return name + ":" + buf;
}

}  // namespace

Dcs::Dcs(DcsOptions options)
    : opts_(std::move(options)),
      clock_(opts_.clock ? opts_.clock : SystemClock::Instance()),
      random_(opts_.random ? opts_.random : SystemRandom::Instance()),
      timing_(opts_.timing) {}

Result<std::unique_ptr<Dcs>> Dcs::Create(DcsOptions options) {
  if (options.partition.empty())
    return InvalidArgument("DCS partition (the Patroni scope) is empty: set `scope`");
  if (options.name.empty()) return InvalidArgument("DCS member name is empty: set `name`");
  if (!options.store) return InvalidArgument("DCS needs a store");
  if (options.session.empty()) {
    options.session =
        RandomSession(options.name, options.random ? *options.random : *SystemRandom::Instance());
  }
  return std::unique_ptr<Dcs>(new Dcs(std::move(options)));
}

void Dcs::SetTiming(Timing timing) {
  std::lock_guard<std::mutex> lock(mu_);
  timing_ = timing;
}

Timing Dcs::timing() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timing_;
}

Duration Dcs::ObserveLocked(const StoredItem& item, MonoTime now) {
  auto it = observed_.find(item.key);
  if (it == observed_.end() ||
      ((it->second.last.version != item.version || it->second.last.value != item.value ||
        it->second.last.session != item.session) &&
       !DYNATRONI_MUTANT(kObservationNotReset))) {
    Observation o;
    o.last = item;
    o.first_seen = now;
    o.last_seen = now;
    o.last_poll = it == observed_.end() ? MonoTime() : it->second.last_poll;
    TrackRenewal(it == observed_.end() ? nullptr : &it->second, now, WatchSettingsLocked(), o);
    observed_[item.key] = std::move(o);
    return Duration::zero();
  }
  it->second.last = item;
  it->second.last_seen = now;
  return now - it->second.first_seen;
}

Observation Dcs::OwnWrite(const StoredItem& item, MonoTime send, MonoTime last_poll) {
  Observation o;
  o.last = item;
  o.first_seen = send;
  o.last_seen = send;
  o.last_poll = last_poll;
  return o;
}

WatchSettings Dcs::WatchSettingsLocked() const {
  return WatchSettings{timing_.loop_wait,         opts_.leader_poll_interval,   opts_.renewal_poll_offset,
                       opts_.renewal_phase_check, opts_.handover_poll_interval, opts_.handover_fast_poll};
}

Duration Dcs::LeaseTtlFor(const StoredItem& item) const {
  return std::max<Duration>(timing_.ttl, WrittenLease(item.lease_ms));
}

LeaderLease& Dcs::LeaseLocked(const std::string& leader_key) {
  return leases_.try_emplace(leader_key, opts_.name, opts_.session).first->second;
}

std::optional<MonoTime> Dcs::BoundLocked(const std::string& leader_key) const {
  auto it = leases_.find(leader_key);
  if (it == leases_.end()) return std::nullopt;
  return it->second.Bound(timing_);
}

int64_t Dcs::KnownVersionLocked(const std::string& key) const {
  int64_t known = 0;
  if (auto o = observed_.find(key); o != observed_.end()) known = std::max(known, o->second.last.version);
  if (auto l = leases_.find(key); l != leases_.end() && l->second.holder()) {
    known = std::max(known, l->second.holder()->version);
  }
  return known;
}

bool Dcs::HoldsLeaseLocked(const std::string& leader_key) const {
  auto it = leases_.find(leader_key);
  return it != leases_.end() && it->second.Held(clock_->Now(), timing_);
}

Deadline Dcs::CallDeadline(const std::string& leader_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  MonoTime now = clock_->Now();
  Deadline d = Deadline::At(now + timing_.retry_timeout);
  if (leader_key.empty()) {
    for (const auto& [key, lease] : leases_) {
      auto bound = lease.Bound(timing_);
      if (bound && now < *bound) d = d.Min(Deadline::At(*bound));
    }
  } else if (auto bound = BoundLocked(leader_key); bound && now < *bound) {
    d = d.Min(Deadline::At(*bound));
  }
  return d;
}

Mutation Dcs::LeaderMutation(bool increment_term) const {
  Mutation m;
  m.value = opts_.name;
  m.session = opts_.session;
  m.increment_term = increment_term;
  m.lease_ms = duration_cast<milliseconds>(timing().ttl).count();
  // No `ttl`: DynamoDB's TTL deletion must never remove a live lease (a node
  // whose clock is behind would write one already past), and a deleted
  // tombstone would let version and term start again from 1.
  return m;
}

Result<ClusterView> Dcs::LoadCluster(const std::string& prefix) {
  Deadline deadline = CallDeadline("");
  // The versions this process held before the Query was sent: applied before
  // it, so a load that shows a key below one of them (or without it) means
  // the key went back (patronictl remove, a table restore), not a race with
  // a renewal resolved while the Query was in flight.
  std::map<std::string, int64_t> held_before;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, lease] : leases_) {
      if (lease.holder() && key.compare(0, prefix.size(), prefix) == 0)
        held_before[key] = lease.holder()->version;
    }
  }
  auto items = opts_.store->Query(opts_.partition, prefix, deadline);
  const Duration table_skew = opts_.store->ClockSkew();
  if (!items.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    member_writes_.LoadFailed(prefix);
    return items.status().Annotate("loading cluster " + opts_.partition);
  }
  ClusterView view;
  std::lock_guard<std::mutex> lock(mu_);
  MonoTime now = clock_->Now();
  const WallTime table_now = std::chrono::time_point_cast<WallTime::duration>(clock_->WallNow() + table_skew);
  std::map<std::string, bool> seen;
  for (const StoredItem& item : *items) {
    seen[item.key] = true;
    member_writes_.Loaded(item, opts_.session);
    ObservedItem o;
    o.item = item;
    auto lease = leases_.find(item.key);
    if (auto held = held_before.find(item.key); held != held_before.end() && item.version < held->second) {
      // The key went back: whatever we held is gone, and our next write is
      // conditioned on what is there now.
      lease->second.Drop();
    }
    if (lease != leases_.end() && lease->second.holder() && lease->second.holder()->version == item.version &&
        lease->second.IsOurs(item)) {
      // Our own lease: its age counts from when we sent the write.
      const MonoTime send = lease->second.holder()->send;
      observed_[item.key] = OwnWrite(item, send, observed_[item.key].last_poll);
      o.age = now - send;
    } else {
      o.age = ObserveLocked(item, now);
      if (DYNATRONI_MUTANT(kExpiryByWallClock) && IsLeaderKey(item.key)) {
        o.age = clock_->WallNow().time_since_epoch() - milliseconds(item.updated_at_ms);
      }
    }
    if (!item.live()) continue;
    if (IsLeaderKey(item.key)) {
      o.expired = o.age >= LeaseTtlFor(item);
      if (o.expired) {
        view.expired_leaders[item.key] = o;
        continue;
      }
    } else if (IsMemberKey(item.key)) {
      // Items sort "leader" before "members/" within a group, so the group's
      // leader (if live) is already in view.items here.
      const MonoTime watched_since = members_watched_since_.try_emplace(item.key, now).first->second;
      const ObservedItem* leader = LeaderNaming(view, item.key);
      MemberSighting sighting{o.age, now - watched_since, WrittenAgo(item, table_now), leader != nullptr,
                              leader ? WrittenAgo(leader->item, table_now) : std::nullopt};
      o.expired = MemberExpired(timing_, sighting);
      if (o.expired) {
        view.expired_members.push_back(item.key);
        continue;
      }
    }
    view.items[item.key] = std::move(o);
  }
  // Forget what we know of keys that are gone: observations (so memory stays
  // bounded) and member writes (removed by patronictl remove or
  // DeletePartition: TouchMember writes again).
  auto gone = [&](const auto& entry) {
    return entry.first.compare(0, prefix.size(), prefix) == 0 && !seen.count(entry.first);
  };
  member_writes_.ForgetGone(prefix, seen);
  std::erase_if(observed_, gone);
  std::erase_if(members_watched_since_, gone);
  for (const auto& [key, version] : held_before) {
    if (!seen.count(key)) leases_.at(key).Drop();  // the key is gone
  }
  return view;
}

Result<bool> Dcs::ResolveLeaderWrite(const std::string& leader_key, Result<WriteOutcome> outcome,
                                     MonoTime first_send, Deadline deadline, int64_t floor) {
  std::optional<StoredItem> current;
  bool applied = false;
  bool ambiguous = false;
  std::string cause;  // why the write may not have applied (for the caller's error)
  Status failure;     // the store's failure behind it, if any (its detail goes on the caller's error)
  if (outcome.ok()) {
    applied = outcome->applied;
    ambiguous = outcome->ambiguous;
    current = outcome->item;
    if (ambiguous) cause = "an attempt had an unknown outcome";
  } else if (outcome.status().code() == StatusCode::kUnknownOutcome) {
    ambiguous = true;
    cause = outcome.status().ToString();
    failure = outcome.status();
  } else {
    // Certainly not applied (not sent, refused, or out of time before
    // sending): the holder bound stays where the last applied write put it.
    return outcome.status();
  }
  if (!applied && (ambiguous || !current)) {
    // Resolve by a consistent re-read: did one of our attempts apply? Only
    // inside the caller's deadline (never past retry_timeout or the holder
    // bound); when none is left the outcome stays unknown.
    Result<std::optional<StoredItem>> got =
        deadline.Expired(*clock_)
            ? Result<std::optional<StoredItem>>(DeadlineExceeded("no time left to re-read"))
            : opts_.store->Get(opts_.partition, leader_key, deadline);
    if (!got.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      // It may still turn out applied: a later version of ours is counted
      // from this send. The holder bound stays where it was (an older send).
      LeaseLocked(leader_key).MarkUnresolved(first_send, floor);
      return UnknownOutcome("leader write outcome unknown (" + cause +
                            ") and the re-read failed: " + got.status().ToString())
          .WithCauseOf(got.status());
    }
    current = *got;
  }
  if (DYNATRONI_MUTANT(kBoundFromReply)) first_send = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  LeaderLease& lease = LeaseLocked(leader_key);
  const LeaderLease::Reply reply = applied     ? LeaderLease::Reply::kApplied
                                   : ambiguous ? LeaderLease::Reply::kAmbiguous
                                               : LeaderLease::Reply::kRefused;
  switch (lease.Resolve(current, first_send, floor, reply)) {
    case LeaderLease::Verdict::kApplied: {
      observed_[leader_key] = OwnWrite(*current, lease.holder()->send, observed_[leader_key].last_poll);
      const MonoTime now = clock_->Now();
      if (!lease.Held(now, timing_)) {
        // Counted from an earlier unresolved send of ours whose bound has
        // already passed: followers may take over any moment now.
        return Unavailable(
            "leader write applied as version " + std::to_string(current->version) +
            ", but it counts from an earlier unresolved write of ours whose holder bound passed " +
            std::to_string(duration_cast<milliseconds>(now - *lease.Bound(timing_)).count()) +
            " ms ago: not holding (the next renewal is conditioned on it)");
      }
      return true;
    }
    case LeaderLease::Verdict::kNotApplied: {
      // Still ours, at the version the write was conditioned on (or one we
      // knew): this write did not apply. The caller is told the lease was
      // not renewed; the bound stays where the last applied write put it.
      ObserveLocked(*current, clock_->Now());
      std::string held = "the lease is not held by this node's bound any more";
      if (auto bound = lease.Bound(timing_); bound && clock_->Now() < *bound) {
        held = "still holding until the bound of the last applied write, " +
               std::to_string(duration_cast<milliseconds>(*bound - clock_->Now()).count()) + " ms from now";
      }
      return Unavailable("leader write not applied (" + (cause.empty() ? "precondition failed" : cause) +
                         "): DynamoDB still holds version " + std::to_string(current->version) +
                         " of ours; " + held)
          .WithCauseOf(failure);
    }
    case LeaderLease::Verdict::kUnattributed:
      ObserveLocked(*current, clock_->Now());
      return Unavailable(
          "leader write refused: DynamoDB holds version " + std::to_string(current->version) +
          " of ours, which no write this process still counts can have produced; not counted as "
          "renewed (the next renewal is conditioned on it)");
    case LeaderLease::Verdict::kLost:
      break;
  }
  if (current) ObserveLocked(*current, clock_->Now());
  return false;
}

Result<bool> Dcs::AcquireLeader(const std::string& leader_key) {
  int64_t floor = 0;
  bool unconditioned = false;
  bool takeover = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = observed_.find(leader_key);
    if (it != observed_.end() && it->second.last.live()) {
      Duration age = clock_->Now() - it->second.first_seen;
      if (DYNATRONI_MUTANT(kExpiryByWallClock)) {
        age = clock_->WallNow().time_since_epoch() - milliseconds(it->second.last.updated_at_ms);
      }
      if (age < LeaseTtlFor(it->second.last)) return false;  // still held as far as we can tell
      unconditioned = DYNATRONI_MUTANT(kTakeoverUnconditioned);
      takeover = true;
    }
    floor = KnownVersionLocked(leader_key);
  }
  // Conditioned on the exact version last seen: this write can only produce
  // floor + 1, so a late landing can never take a lease released or taken
  // since. A free lease (a tombstone, or no item = 0) also requires that it
  // is still free: with versions restarted (patronictl remove, a table
  // restore) another node's live item may carry that version.
  const Precondition pre = unconditioned ? Precondition::None()
                           : takeover    ? Precondition::VersionIs(floor)
                                         : Precondition::AbsentAtVersion(floor);
  return WriteLeader(leader_key, pre, floor, CallDeadline(""));
}

Result<bool> Dcs::TakeLeader(const std::string& leader_key) {
  int64_t floor = 0;
  Precondition pre;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = observed_.find(leader_key);
    floor = KnownVersionLocked(leader_key);
    if (it != observed_.end() && it->second.last.live()) {
      if (*it->second.last.value != opts_.name) {
        Duration age = clock_->Now() - it->second.first_seen;
        if (age < LeaseTtlFor(it->second.last)) return false;
        pre = Precondition::VersionIs(floor);  // an expired lease: exactly the version seen
      } else {
        pre = Precondition::ValueAndVersion(opts_.name, floor);  // ours (e.g. before a restart)
      }
    } else {
      pre = Precondition::AbsentAtVersion(floor);  // free at the version seen
    }
  }
  return WriteLeader(leader_key, pre, floor, CallDeadline(leader_key));
}

Result<bool> Dcs::WriteLeader(const std::string& leader_key, const Precondition& pre, int64_t floor,
                              Deadline deadline) {
  MonoTime send = clock_->Now();
  auto out = opts_.store->Write(opts_.partition, leader_key, LeaderMutation(true), pre,
                                WriteDeadline(deadline, *clock_));
  return ResolveLeaderWrite(leader_key, std::move(out), send, deadline, floor);
}

Result<bool> Dcs::RenewLeader(const std::string& leader_key, std::optional<int64_t> observed_version) {
  std::optional<int64_t> expected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto l = leases_.find(leader_key); l != leases_.end() && l->second.holder()) {
      expected = l->second.holder()->version;
    }
    if (auto o = observed_.find(leader_key);
        o != observed_.end() && o->second.last.live() && *o->second.last.value == opts_.name &&
        (!expected || (o->second.last.session == opts_.session && o->second.last.version > *expected))) {
      // After a restart: adopt our own lease by name. Or a newer version of
      // ours than the one we hold (an unresolved write that applied): renew
      // that one; the bound then counts from this renewal's send.
      expected = o->second.last.version;
    }
    if (!expected && observed_version) expected = observed_version;
  }
  if (!expected) return false;
  Deadline deadline = CallDeadline(leader_key);
  MonoTime send = clock_->Now();
  auto out = opts_.store->Write(opts_.partition, leader_key, LeaderMutation(false),
                                Precondition::ValueAndVersion(opts_.name, *expected),
                                WriteDeadline(deadline, *clock_));
  if (!out.ok() && out.status().code() == StatusCode::kDeadlineExceeded) {
    return out.status().Annotate(
        "lease renewal did not complete inside the holder bound (ttl - safety margin)");
  }
  return ResolveLeaderWrite(leader_key, std::move(out), send, deadline, *expected);
}

Result<bool> Dcs::ReleaseLeader(const std::string& leader_key, std::optional<int64_t> observed_version) {
  Deadline deadline = CallDeadline(leader_key);
  std::optional<int64_t> expected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    LeaderLease& lease = LeaseLocked(leader_key);
    if (lease.holder()) {
      expected = lease.holder()->version;
    } else if (auto o = observed_.find(leader_key); o != observed_.end() && lease.IsOurs(o->second.last)) {
      expected = o->second.last.version;
    } else {
      expected = observed_version;
    }
    lease.Drop();  // not held from here on, whatever the answer
  }
  if (!expected) return false;
  Mutation m;  // a tombstone without `ttl`: the leader's version and term never go back
  auto out = opts_.store->Write(opts_.partition, leader_key, m,
                                DYNATRONI_MUTANT(kReleaseWithoutVersion)
                                    ? Precondition::ValueIs(opts_.name)
                                    : Precondition::ValueAndVersion(opts_.name, *expected),
                                deadline);
  if (!out.ok()) return out.status();
  if (out->item) {
    // The tombstone we left (or the item that refused us): our next
    // acquisition is conditioned on its exact version.
    std::lock_guard<std::mutex> lock(mu_);
    ObserveLocked(*out->item, clock_->Now());
  }
  if (out->applied) return true;
  // An ambiguous earlier attempt may have released it already: the item is
  // then a tombstone exactly one version above the one we held.
  if (out->ambiguous && out->item && !out->item->live() && out->item->version == *expected + 1) return true;
  return false;
}

LeaseInfo Dcs::Lease(const std::string& leader_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  LeaseInfo info;
  auto it = leases_.find(leader_key);
  if (it == leases_.end() || !it->second.holder()) return info;
  MonoTime now = clock_->Now();
  auto bound = *it->second.Bound(timing_);
  info.version = it->second.holder()->version;
  info.term = it->second.holder()->term;
  info.held = now < bound;
  info.remaining = info.held ? bound - now : Duration::zero();
  return info;
}

Result<std::optional<int64_t>> Dcs::SetValue(const std::string& key, const std::string& value,
                                             std::optional<int64_t> cas_version) {
  ForgetMemberWrite(key);
  Mutation m;
  m.value = value;
  m.session = opts_.session;
  Precondition pre = cas_version ? Precondition::VersionIs(*cas_version) : Precondition::None();
  Deadline deadline = CallDeadline("");
  auto out = opts_.store->Write(opts_.partition, key, m, pre, WriteDeadline(deadline, *clock_));
  if (!out.ok()) return out.status();
  if (out->applied) return std::optional<int64_t>(out->item->version);
  if (out->ambiguous) {
    std::optional<StoredItem> cur = out->item;
    if (!cur) {
      auto got = opts_.store->Get(opts_.partition, key, deadline);
      if (!got.ok()) {
        return UnknownOutcome("write of " + key + " has an unknown outcome: " + got.status().message())
            .WithCauseOf(got.status());
      }
      cur = *got;
    }
    if (cur && cur->live() && *cur->value == value && cur->session == opts_.session &&
        (!cas_version || cur->version == *cas_version + 1)) {
      return std::optional<int64_t>(cur->version);
    }
  }
  return std::optional<int64_t>();
}

Result<bool> Dcs::Initialize(const std::string& key, const std::string& value, bool create_new) {
  Mutation m;
  m.value = value;
  m.session = opts_.session;
  Deadline deadline = CallDeadline("");
  auto out =
      opts_.store->Write(opts_.partition, key, m, create_new ? Precondition::Absent() : Precondition::None(),
                         WriteDeadline(deadline, *clock_));
  if (out.ok() && out->applied) return true;
  if (out.ok() && !out->ambiguous) return false;  // someone else initialized it
  if (!out.ok() && out.status().code() != StatusCode::kUnknownOutcome) return out.status();
  // Unknown outcome (or a refusal after an ambiguous attempt): did one of
  // our attempts create it? The returned item or a consistent re-read says.
  std::optional<StoredItem> cur = out.ok() ? out->item : std::nullopt;
  if (!cur) {
    auto got = opts_.store->Get(opts_.partition, key, deadline);
    if (!got.ok()) {
      return UnknownOutcome("initialize of " + key +
                            " has an unknown outcome and the re-read failed: " + got.status().message())
          .WithCauseOf(got.status());
    }
    cur = *got;
  }
  if (!cur || !cur->live()) {
    return Unavailable("initialize of " + key +
                       " did not apply (its outcome was unknown and a re-read shows " +
                       "no item): nobody holds it yet, try again")
        .WithCauseOf(out.ok() ? Status() : out.status());
  }
  return *cur->value == value && cur->session == opts_.session;
}

Result<bool> Dcs::DeleteKey(const std::string& key, std::optional<int64_t> cas_version) {
  ForgetMemberWrite(key);
  Mutation m;
  // Only member tombstones are garbage-collected (member names come and go);
  // the fixed keys' tombstones persist so their versions never go back (no
  // ABA for a compare-and-set), and the leader item never carries a ttl.
  if (IsMemberKey(key)) m.expire_after = opts_.gc_after;
  auto out = opts_.store->Write(opts_.partition, key, m,
                                cas_version ? Precondition::VersionIs(*cas_version) : Precondition::None(),
                                CallDeadline(""));
  if (!out.ok()) return out.status();
  if (out->applied) return true;
  return out->ambiguous && out->item && !out->item->live();
}

void Dcs::ForgetMemberWrite(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  member_writes_.Forget(key);
}

Result<bool> Dcs::TouchMember(const std::string& member_key, const std::string& data) {
  Mutation m;
  m.value = data;
  m.session = opts_.session;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t lease_ms = duration_cast<milliseconds>(timing_.ttl).count();
    m.lease_ms = lease_ms;
    const MemberWrites::Freshness fresh{timing_.MemberRefresh(), HoldsLeaseLocked(GroupLeaderKey(member_key)),
                                        MemberTtlRefresh(opts_.gc_after)};
    if (member_writes_.MaySkip(member_key, data, lease_ms, clock_->Now(), fresh)) return true;
  }
  // DynamoDB removes a member item nobody rewrote for gc_after, counted from
  // the table's clock (the store corrects for this node's clock skew).
  m.expire_after = opts_.gc_after;
  Deadline deadline = CallDeadline("");
  MonoTime send = clock_->Now();
  auto out = opts_.store->Write(opts_.partition, member_key, m, Precondition::None(), deadline);
  std::lock_guard<std::mutex> lock(mu_);
  if (!out.ok() || !out->applied || !out->item) {
    member_writes_.Forget(member_key);
    if (!out.ok()) return out.status();
    return out->applied;
  }
  observed_[member_key] = OwnWrite(*out->item, send, MonoTime());
  member_writes_.Applied(member_key, data, out->item->version, *m.lease_ms, send);
  return true;
}

Status Dcs::DeleteCluster() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, lease] : leases_) lease.Drop();
    observed_.clear();
    members_watched_since_.clear();
    switchover_.clear();
    member_writes_.Clear();
  }
  return opts_.store->DeletePartition(opts_.partition, Deadline::After(*clock_, timing().retry_timeout * 3));
}

WatchPlan Dcs::PlanWatch(const std::string& leader_key, std::optional<int64_t> /*leader_version*/,
                         Duration watch_remaining) {
  std::lock_guard<std::mutex> lock(mu_);
  WatchPlan plan;
  if (auto lease = leases_.find(leader_key); lease != leases_.end() && lease->second.holder()) {
    // The holder's watch ends by its bound, so that its HA cycle renews (or
    // learns it lost the lease) before any follower may take over. Once per
    // bound; after that a former holder watches the key like any follower.
    const MonoTime now = clock_->Now();
    const MonoTime bound = *lease->second.Bound(timing_);
    if (now < bound) {
      plan.action = WatchPlan::Action::kWait;
      plan.wait = std::min<Duration>(timing_.loop_wait, bound - now);
      plan.reason = "holding the lease";
      return plan;
    }
    if (lease->second.TakeBoundWake(now, timing_)) {
      plan.action = WatchPlan::Action::kWakeNow;
      plan.reason = "lease holder bound reached: running the HA cycle to renew or demote";
      return plan;
    }
  }
  auto it = observed_.find(leader_key);
  if (it == observed_.end() || !it->second.last.live()) {
    plan.action = WatchPlan::Action::kWait;
    plan.wait = timing_.loop_wait;
    plan.reason = "no foreign leader to track";
    return plan;
  }
  const MonoTime now = clock_->Now();
  Observation& o = it->second;
  plan = PlanFollowerWatch(o, LeaseTtlFor(o.last), switchover_[leader_key], WatchSettingsLocked(), now,
                           watch_remaining);
  if (plan.action == WatchPlan::Action::kWakeNow && now >= o.first_seen + LeaseTtlFor(o.last)) {
    o.expiry_woken = true;  // once per version (PlanFollowerWatch)
  }
  return plan;
}

Result<bool> Dcs::PollFailover(const std::string& leader_key) {
  static constexpr std::string_view kLeader = "leader";
  if (leader_key.size() < kLeader.size() ||
      leader_key.compare(leader_key.size() - kLeader.size(), kLeader.size(), kLeader) != 0) {
    return InvalidArgument("PollFailover: '" + leader_key + "' is not a leader key");
  }
  const std::string failover_key = leader_key.substr(0, leader_key.size() - kLeader.size()) + "failover";
  {
    std::lock_guard<std::mutex> lock(mu_);
    switchover_[leader_key].Polled(clock_->Now(), opts_.handover_poll_interval, 0.5 + random_->Uniform01());
  }
  failover_polls_.fetch_add(1, std::memory_order_relaxed);
  auto got = opts_.store->GetEventually(opts_.partition, failover_key, CallDeadline(""));
  if (!got.ok()) return got.status();
  if (!*got || !(*got)->live()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return switchover_[leader_key].Found((*got)->version, clock_->Now(), timing_.ttl);
}

Result<bool> Dcs::PollLeader(const std::string& leader_key, std::optional<int64_t> /*leader_version*/) {
  auto got = opts_.store->Get(opts_.partition, leader_key, CallDeadline(""));
  std::lock_guard<std::mutex> lock(mu_);
  MonoTime now = clock_->Now();
  auto it = observed_.find(leader_key);
  std::optional<std::string> owner_before;
  if (it != observed_.end()) {
    it->second.last_poll = now;
    owner_before = it->second.last.value;
  }
  if (!got.ok()) return got.status();
  if (!*got || !(*got)->live()) {
    if (*got) ObserveLocked(**got, now);
    switchover_[leader_key].HandedOver();  // back to the ordinary cadence
    return true;                           // released or gone: race now
  }
  const StoredItem& item = **got;
  Duration age = ObserveLocked(item, now);
  observed_[leader_key].last_poll = now;
  if (owner_before && *owner_before != *item.value) {
    switchover_[leader_key].HandedOver();
    return true;
  }
  return age >= LeaseTtlFor(item);
}

}  // namespace dynatroni::dcs
