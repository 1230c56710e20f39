// File: dcs/item_store.h
//
// The storage seam of the DCS: a partition of items addressed by sort key,
// with integer versions bumped atomically by every write and writes guarded by
// a precondition on the current item. DynamoItemStore (dcs/dynamo_item_store.h)
// maps it onto one DynamoDB table; MemoryItemStore (dcs/memory_item_store.h) is
// a linearizable in-memory store for unit tests and the deterministic
// simulator.
//
// Table layout (one item per Patroni key):
//   cluster_name (S, partition key)  the Patroni scope, "<namespace>/<scope>"
//                                    for a non-default namespace
//   key          (S, sort key)       leader, config, initialize, sync, failover,
//                                    history, status, failsafe, members/<name>,
//                                    "<group>/<key>" with MPP (Citus) groups
//   value        (S)  the string Patroni wrote; ABSENT in a tombstone
//   version      (N)  bumped by every write, never reset by a delete
//   session      (S)  writer instance id (leader and members)
//   term         (N)  leader only: incremented by every acquisition
//   lease_ms     (N)  leader only: the lease duration the holder promises
//   updated_at   (N)  the writer's wall-clock epoch ms of the write: for
//                     humans, and for a reader that has not watched a
//                     member long enough itself (dcs/member_expiry.h);
//                     never for the lease
//   ttl          (N)  epoch seconds: DynamoDB TTL garbage collection only;
//                     never on leader items (live or tombstone: version and
//                     term must never go back), nor on tombstones of the
//                     fixed keys; live members carry one a gc horizon ahead
//                     of the table's clock, member tombstones too
//
// Deleting a single key writes a tombstone (value removed, version bumped) so
// versions stay monotonic per key and a stale compare-and-set can never match
// a re-created item (no ABA). Only DeletePartition removes items.
//
// Thread-safety: implementations are safe for concurrent use.
#ifndef DYNATRONI_DCS_ITEM_STORE_H_
#define DYNATRONI_DCS_ITEM_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace dynatroni::dcs {

struct StoredItem {
  std::string key;
  std::optional<std::string> value;  // nullopt = tombstone
  int64_t version = 0;
  std::string session;
  int64_t term = 0;
  int64_t lease_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t ttl_epoch_s = 0;  // 0 = none

  [[nodiscard]] bool live() const { return value.has_value(); }
  friend bool operator==(const StoredItem&, const StoredItem&) = default;
};

// What must hold of the current item for a write to apply.
struct Precondition {
  enum class Kind {
    kNone,    // unconditional
    kAbsent,  // no item, or a tombstone
    // The item's version == version, live or tombstone; version 0 = no item
    // at all. A write conditioned so can only produce version + 1: once the
    // key moved past it, the write can never apply (however late it lands).
    kVersionIs,
    kValueIs,          // live item whose value == value
    kValueAndVersion,  // live item whose value == value and version == version
    // The lease is free at the version last seen: no item (version 0), or a
    // tombstone at exactly `version`. Never matches a live item, whatever its
    // version (versions restart after patronictl remove or a table restore).
    kAbsentAtVersion,
  };
  Kind kind = Kind::kNone;
  int64_t version = 0;
  std::string value;

  static Precondition None() { return {}; }
  static Precondition Absent() { return {Kind::kAbsent, 0, {}}; }
  static Precondition VersionIs(int64_t v) { return {Kind::kVersionIs, v, {}}; }
  static Precondition ValueIs(std::string v) { return {Kind::kValueIs, 0, std::move(v)}; }
  static Precondition ValueAndVersion(std::string v, int64_t ver) {
    return {Kind::kValueAndVersion, ver, std::move(v)};
  }
  static Precondition AbsentAtVersion(int64_t v) { return {Kind::kAbsentAtVersion, v, {}}; }
};

// The change a write makes. The store always sets version = old version + 1
// (1 for a new item) and updated_at.
struct Mutation {
  std::optional<std::string> value;  // nullopt = make a tombstone (delete value, session)
  std::optional<std::string> session;
  bool increment_term = false;  // term = old term + 1
  std::optional<int64_t> lease_ms;
  std::optional<int64_t> ttl_epoch_s;  // nullopt = remove ttl (persist)
  // When set (and > 0), wins over ttl_epoch_s: ttl = the store's wall clock,
  // corrected by the clock skew the store learned from the service (SigV4
  // skew correction), + expire_after. A node whose own clock is far off still
  // writes a ttl that far ahead of the table's clock.
  std::optional<Duration> expire_after;
};

struct WriteOutcome {
  bool applied = false;
  // The item after the write when applied; the current item (if the store
  // returned it) when the precondition failed.
  std::optional<StoredItem> item;
  // An earlier attempt's outcome was unknown; when !applied the failure may
  // be caused by our own earlier attempt (resolve with `item` or a re-read).
  bool ambiguous = false;
};

class ItemStore {
 public:
  virtual ~ItemStore() = default;
  // Every item of `partition` whose key starts with `prefix`, strongly
  // consistent, all pages. Tombstones included.
  virtual Result<std::vector<StoredItem>> Query(const std::string& partition, const std::string& prefix,
                                                Deadline deadline) = 0;
  // One item, strongly consistent; nullopt when absent.
  virtual Result<std::optional<StoredItem>> Get(const std::string& partition, const std::string& key,
                                                Deadline deadline) = 0;
  // One item, eventually consistent (half the read cost on DynamoDB; may be
  // stale by up to about a second). Only for wake-up hints, never for lease
  // decisions. Default: Get.
  virtual Result<std::optional<StoredItem>> GetEventually(const std::string& partition,
                                                          const std::string& key, Deadline deadline) {
    return Get(partition, key, deadline);
  }
  // Applies `mutation` iff `pre` holds. Errors as dynamodb::Client: a failed
  // precondition is WriteOutcome{applied=false}; kUnknownOutcome when the
  // write may or may not have been applied.
  virtual Result<WriteOutcome> Write(const std::string& partition, const std::string& key,
                                     const Mutation& mutation, const Precondition& pre,
                                     Deadline deadline) = 0;
  // Removes every item of the partition (patronictl remove).
  virtual Status DeletePartition(const std::string& partition, Deadline deadline) = 0;
  // What to add to this host's wall clock to get the table's, as far as the
  // store knows (DynamoItemStore: the skew the client learned from a refused
  // SigV4 signature; default 0). Never for the lease.
  [[nodiscard]] virtual Duration ClockSkew() const { return Duration::zero(); }
};

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_ITEM_STORE_H_
