// File: dcs/dcs.h
//
// The Patroni DCS in C++: the leader lease and the cluster store on top of an
// ItemStore. The Python plugin (python/dynatroni/dynamodb.py) is a thin
// translation of Patroni's AbstractDCS calls onto this class.
//
// The lease (argument in docs/design.md):
//  * acquire when absent or released: precondition Absent;
//  * take over a holder that stopped renewing only after THIS node saw the
//    same leader item (version, value, session) unchanged for a full lease
//    TTL on its own monotonic (boot) clock, with a write conditioned on
//    exactly that version;
//  * renew: value == my name AND version == the version I last wrote (or, after
//    a restart, the version I observed), bumping the version;
//  * release: value == my name AND version == the version I hold, leaving a
//    tombstone (versions and terms never reset: leader items never carry a
//    DynamoDB `ttl`);
//  * every acquisition increments `term`, the fencing token;
//  * a leader write counts as applied only when the item now holds our name
//    and session at a version GREATER than the one the write was conditioned
//    on (for an acquisition of an absent lease: greater than any version of
//    the key this process knew). A write that did not apply leaves the holder
//    bound where the last applied write put it;
//  * the holder never treats the lease as held past
//      (send time of the write that produced the held version)
//        + min(lease_ms written in that item, current ttl) - safety_margin,
//    and every later store call of the holder gets a deadline inside that
//    window, so it is told it lost the lease before any follower may take
//    over.
//  * a write with an unknown outcome is resolved by the returned current item
//    or a consistent re-read; while it stays unresolved its send time is kept
//    and any later version of ours is counted from the earliest such send.
//
// Errors: methods return kUnavailable / kDeadlineExceeded / kUnknownOutcome /
// kPermissionDenied ... when the store cannot be reached or the answer is
// unknown (the plugin raises Patroni's DCSError), and `false` when the lock
// or compare-and-set belongs to someone else.
//
// Thread-safety: all methods are safe for concurrent use (Patroni's REST
// threads call get_cluster concurrently with the HA loop). Store calls are
// made without holding the internal mutex.
#ifndef DYNATRONI_DCS_DCS_H_
#define DYNATRONI_DCS_DCS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "dcs/item_store.h"
#include "dcs/leader_lease.h"
#include "dcs/member_writes.h"
#include "dcs/switchover_polls.h"
#include "dcs/timing.h"
#include "dcs/watch_planner.h"

namespace dynatroni::dcs {

struct DcsOptions {
  std::string partition;  // value of cluster_name
  std::string name;       // this Patroni member's name
  std::string session;    // unique per process (random); default generated
  Timing timing;
  std::shared_ptr<ItemStore> store;
  Clock* clock = nullptr;  // default SystemClock
  // Draws the session id (when `session` is empty) and the jitter of the
  // failover-key polls. Default SystemRandom; the simulator and tests pass a
  // SeededRandom.
  Random* random = nullptr;
  // Interval of the single-item leader polls that watch() makes around the
  // expected renewal and lease expiry.
  Duration leader_poll_interval = std::chrono::milliseconds(1000);
  // Delay after the expected renewal time before reading it (by a poll, or
  // by the HA cycle watch() ends then).
  Duration renewal_poll_offset = std::chrono::milliseconds(300);
  // Once it knows when the leader renews, a replica confirms that it still
  // renews then (one poll just before the expected renewal) this often.
  Duration renewal_phase_check = std::chrono::seconds(60);
  // While a foreign leader holds the lease, watch() also reads the failover
  // key this often (eventually consistent: half a read unit). When a new
  // failover/switchover request appears it polls the leader every
  // handover_fast_poll for up to one ttl, so the candidate wakes within that
  // of the old leader's release instead of at its next loop. Zero: off.
  Duration handover_poll_interval = std::chrono::seconds(4);
  Duration handover_fast_poll = std::chrono::milliseconds(250);
  // Garbage-collection horizon written to `ttl` for tombstones and leftovers.
  Duration gc_after = std::chrono::hours(24 * 7);
};

// One key as this reader sees it.
struct ObservedItem {
  StoredItem item;
  Duration age{0};  // how long this reader has seen this version unchanged
  // leader: age >= max(ttl, lease_ms); members: dcs/member_expiry.h
  // (age >= Timing::MemberExpiry() = 2 ttl, or, for a reader that has watched
  // the key for less than that, its updated_at 2 ttl + 10 s old); never for
  // other keys.
  bool expired = false;
};

struct ClusterView {
  // Live, unexpired items keyed by sort key (tombstones and expired members
  // and leaders left out).
  std::map<std::string, ObservedItem> items;
  // Leader items that exist but whose lease this reader considers expired,
  // keyed by sort key; for diagnostics (`dynatroni status`) and logging.
  std::map<std::string, ObservedItem> expired_leaders;
  // Members left out because their writes stopped (dcs/member_expiry.h).
  std::vector<std::string> expired_members;
  // Items whose value could not be used (foreign or corrupt), with why.
  std::vector<std::string> warnings;
};

struct LeaseInfo {
  bool held = false;
  int64_t version = 0;
  int64_t term = 0;
  Duration remaining{0};  // until the holder bound (held only)
};

class Dcs {
 public:
  // kInvalidArgument when partition, name or store are missing.
  static Result<std::unique_ptr<Dcs>> Create(DcsOptions options);

  void SetTiming(Timing timing);
  [[nodiscard]] Timing timing() const;
  [[nodiscard]] const std::string& session() const { return opts_.session; }
  [[nodiscard]] const std::string& name() const { return opts_.name; }
  [[nodiscard]] const std::string& partition() const { return opts_.partition; }

  // One strongly consistent Query of every key starting with `prefix`
  // ("" = the whole partition, "1/" = MPP group 1), observed and filtered:
  // leader items by observation only; member items by MemberExpired
  // (dcs/member_expiry.h), which for a key this process has watched for less
  // than Timing::MemberExpiry() also uses its updated_at against this host's
  // wall clock plus ItemStore::ClockSkew().
  // Finishes within retry_timeout (and within the holder bound while holding).
  Result<ClusterView> LoadCluster(const std::string& prefix);

  // attempt_to_acquire_leader for `leader_key` ("leader" or "<group>/leader").
  // true: acquired (term incremented). false: someone else holds it (or this
  // node has not yet seen it unchanged for a full TTL).
  Result<bool> AcquireLeader(const std::string& leader_key);
  // take_leader (bootstrap): acquire if absent, released or already ours.
  Result<bool> TakeLeader(const std::string& leader_key);
  // _update_leader. `observed_version` is the version Patroni saw (used only
  // when this process has not written the lease itself yet, e.g. after a
  // restart). false when the lease is not ours any more.
  Result<bool> RenewLeader(const std::string& leader_key, std::optional<int64_t> observed_version);
  // _delete_leader: tombstone if we own it, conditioned on our name and the
  // version we hold (else `observed_version`, the version Patroni saw), so a
  // late or repeated release never ends a later lease. false if it is not
  // ours (or no version of ours is known).
  Result<bool> ReleaseLeader(const std::string& leader_key,
                             std::optional<int64_t> observed_version = std::nullopt);
  [[nodiscard]] LeaseInfo Lease(const std::string& leader_key) const;

  // Put `value` at `key`. `cas_version`: write only if the current version is
  // exactly that (nullopt = unconditional). `persist`: no `ttl` attribute
  // (status, failsafe, config...). Returns the new version, or nullopt when
  // the compare-and-set failed.
  Result<std::optional<int64_t>> SetValue(const std::string& key, const std::string& value,
                                          std::optional<int64_t> cas_version);
  // initialize: create_new = only if absent (the bootstrap race).
  Result<bool> Initialize(const std::string& key, const std::string& value, bool create_new);
  // Tombstone `key` (optionally only at `cas_version`). true when applied or
  // already absent.
  Result<bool> DeleteKey(const std::string& key, std::optional<int64_t> cas_version);
  // touch_member: members/<name> (with the group prefix) = data, with TTL.
  // Skips the store call (returns true, sends and counts no request) when all
  // hold: `data` equals the data of this process's last applied write of
  // `member_key`; the latest LoadCluster covering the key succeeded and saw
  // the item at exactly the version that write produced, with our session
  // (so nobody removed or rewrote it since); the ttl is unchanged; and less than
  // Timing::MemberRefresh() has passed on this node's monotonic clock since
  // that write was sent — or this node holds the group's lease (within its
  // holder bound): observers keep the lease holder's member listed while
  // they see the lease live (LoadCluster), so the leader rewrites its member
  // item only when the data changes. Otherwise one unconditional UpdateItem, as always;
  // a failed or unknown-outcome write forgets the record (next call writes).
  // A new Dcs (process restart) always writes first. Safe to call
  // concurrently with LoadCluster; the skip decision is taken under mu_.
  Result<bool> TouchMember(const std::string& member_key, const std::string& data);
  // patronictl remove.
  Status DeleteCluster();

  // watch() support for replicas. Given the leader version Patroni last saw
  // and how long the current watch() has left (`watch_remaining`), says
  // whether to wait, poll the leader item or the failover key now, or wake
  // Patroni at once: the lease expired by this node's observation, or the
  // leader's renewal is due and the cycle should read it now instead of up to
  // one loop_wait later (re-phasing; only when more than half a
  // leader_poll_interval of the watch is left). Plans are read-scheduling
  // hints only: lease expiry is always first-seen + ttl (docs/design.md,
  // "watch()"). Thread-safe.
  WatchPlan PlanWatch(const std::string& leader_key, std::optional<int64_t> leader_version,
                      Duration watch_remaining = Duration::max());
  // One consistent GetItem of the leader item, recorded as an observation.
  // Returns true when Patroni should run a cycle now (owner changed, lease
  // released, or expired by this node's observation).
  Result<bool> PollLeader(const std::string& leader_key, std::optional<int64_t> leader_version);
  // One eventually consistent GetItem of the failover key next to
  // `leader_key` ("failover" or "<group>/failover"); the next one is planned
  // handover_poll_interval x [0.5, 1.5) later (random). true when it shows a
  // request this node had not seen (PlanWatch then polls the leader every
  // handover_fast_poll for up to one ttl); never wakes Patroni by itself.
  Result<bool> PollFailover(const std::string& leader_key);
  // Requests PollFailover has sent (eventually consistent GetItems), for the
  // cost accounting of `dynatroni cost` and the benchmarks.
  [[nodiscard]] uint64_t failover_polls() const { return failover_polls_.load(std::memory_order_relaxed); }

 private:
  explicit Dcs(DcsOptions options);
  // Records an observation of `item` at `now` (first time seen → now) and
  // returns how long this version has been seen unchanged.
  Duration ObserveLocked(const StoredItem& item, MonoTime now);
  // The observation of a write of this process, sent at `send`: its age
  // counts from then.
  static Observation OwnWrite(const StoredItem& item, MonoTime send, MonoTime last_poll);
  [[nodiscard]] WatchSettings WatchSettingsLocked() const;
  // The holder bound for `leader_key`, if this process holds it.
  std::optional<MonoTime> BoundLocked(const std::string& leader_key) const;
  // Whether this process holds `leader_key` and its holder bound has not passed.
  bool HoldsLeaseLocked(const std::string& leader_key) const;
  Duration LeaseTtlFor(const StoredItem& item) const;
  // Any other write of `key` (SetValue, DeleteKey) ends TouchMember's skipping.
  void ForgetMemberWrite(const std::string& key);
  Deadline CallDeadline(const std::string& leader_key) const;
  Mutation LeaderMutation(bool increment_term) const;
  // Sends an acquisition (term + 1) conditioned by `pre` (exactly version
  // `floor`, except in a mutant) and resolves it.
  Result<bool> WriteLeader(const std::string& leader_key, const Precondition& pre, int64_t floor,
                           Deadline deadline);
  // Resolves a leader write sent at `first_send` that can only have produced
  // a version greater than `floor` (see the lease rules above). true: this or
  // an earlier unresolved write of ours produced the current item (holder set
  // from the earliest candidate send). false: the lease is someone else's
  // (or released). An error when the write did not apply but the lease is
  // still ours at `floor` or below (the holder bound stays where it was),
  // when the outcome stays unknown, or when it applied but counts from an
  // earlier send whose bound has already passed.
  Result<bool> ResolveLeaderWrite(const std::string& leader_key, Result<WriteOutcome> outcome,
                                  MonoTime first_send, Deadline deadline, int64_t floor);
  // The lease state of `leader_key` (created on first use).
  LeaderLease& LeaseLocked(const std::string& leader_key);
  // The highest version of `key` this process knows of (0 if none).
  int64_t KnownVersionLocked(const std::string& key) const;

  DcsOptions opts_;
  Clock* clock_;
  // Also draws the failover-key poll intervals, so that they line up neither
  // with the node's own loop (which follows the leader's) nor with other
  // nodes'.
  Random* random_;
  mutable std::mutex mu_;
  Timing timing_;                                // guarded by mu_
  std::map<std::string, Observation> observed_;  // guarded by mu_
  // Member keys: when a LoadCluster of this process first returned them (any
  // version), for MemberSighting::watched_for. guarded by mu_
  std::map<std::string, MonoTime> members_watched_since_;
  std::map<std::string, LeaderLease> leases_;  // by leader key; guarded by mu_
  MemberWrites member_writes_;                 // guarded by mu_
  std::atomic<uint64_t> failover_polls_{0};
  std::map<std::string, SwitchoverPolls> switchover_;  // by leader key; guarded by mu_
};

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_DCS_H_
