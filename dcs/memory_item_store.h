// File: dcs/memory_item_store.h
//
// A linearizable in-memory ItemStore: each call applies atomically under one
// mutex. Used by unit tests and the deterministic simulator. Fault hooks let a
// test make the next calls fail or apply-and-lose-the-reply.
//
// Thread-safety: safe for concurrent use.
#ifndef DYNATRONI_DCS_MEMORY_ITEM_STORE_H_
#define DYNATRONI_DCS_MEMORY_ITEM_STORE_H_

#include <deque>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "dcs/item_store.h"

namespace dynatroni::dcs {

class MemoryItemStore final : public ItemStore {
 public:
  enum class Fault {
    kUnavailable,        // the call fails, nothing applied
    kApplyThenUnknown,   // a write is applied, the caller gets kUnknownOutcome
    kUnknownNotApplied,  // the caller gets kUnknownOutcome, nothing applied
    // The caller gets kUnknownOutcome; the write stays in flight until
    // LandInFlightWrites(), which applies it if its precondition holds then.
    kLandsLater,
  };

  explicit MemoryItemStore(Clock* clock = nullptr) : clock_(clock) {}

  Result<std::vector<StoredItem>> Query(const std::string& partition, const std::string& prefix,
                                        Deadline deadline) override;
  Result<std::optional<StoredItem>> Get(const std::string& partition, const std::string& key,
                                        Deadline deadline) override;
  Result<WriteOutcome> Write(const std::string& partition, const std::string& key, const Mutation& mutation,
                             const Precondition& pre, Deadline deadline) override;
  Status DeletePartition(const std::string& partition, Deadline deadline) override;

  // The next calls (any kind) consume these faults in order.
  void InjectFaults(std::deque<Fault> faults);
  // Direct access for tests.
  std::optional<StoredItem> Peek(const std::string& partition, const std::string& key) const;
  void Poke(const std::string& partition, StoredItem item);
  // Lands the writes held by kLandsLater, in order; returns how many applied.
  int LandInFlightWrites();
  [[nodiscard]] uint64_t calls() const;

 private:
  std::optional<Fault> NextFault();

  Clock* clock_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, StoredItem> items_;
  std::deque<Fault> faults_;
  struct InFlight {
    std::string partition;
    std::string key;
    Mutation mutation;
    Precondition pre;
  };
  std::vector<InFlight> in_flight_;
  uint64_t calls_ = 0;
};

// True when `pre` holds for `current` (nullopt = no item). Shared with tests.
bool PreconditionHolds(const Precondition& pre, const std::optional<StoredItem>& current);
// Applies `m` to `current` at the store's wall time `now_ms`, returning the
// new item (version bumped; `expire_after` counted from `now_ms`).
StoredItem ApplyMutation(const std::string& key, const std::optional<StoredItem>& current, const Mutation& m,
                         int64_t now_ms);

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_MEMORY_ITEM_STORE_H_
