// File: dcs/member_writes.h
//
// Member-write suppression (docs/design.md, "Member items"): this process's
// last applied write of each of its member items, and the rule that lets
// touch_member skip rewriting an unchanged item. Member items are not part of
// the lease's safety argument; skipping only saves writes.
//
// Thread-safety: none; Dcs guards it with its mutex.
#ifndef DYNATRONI_DCS_MEMBER_WRITES_H_
#define DYNATRONI_DCS_MEMBER_WRITES_H_

#include <cstdint>
#include <map>
#include <string>

#include "core/clock.h"
#include "dcs/item_store.h"

namespace dynatroni::dcs {

class MemberWrites {
 public:
  // Why a write may be skipped: the item is unchanged since our last applied
  // write, the latest cluster load saw it exactly as we wrote it, and that
  // write is younger than `refresh` (or, while this node holds the group's
  // lease, younger than `holder_refresh`).
  struct Freshness {
    Duration refresh{0};
    bool holds_lease = false;
    Duration holder_refresh{0};
  };
  [[nodiscard]] bool MaySkip(const std::string& key, const std::string& data, int64_t lease_ms, MonoTime now,
                             const Freshness& fresh) const;
  // An applied write of `key` produced `version` (sent at `sent`).
  void Applied(const std::string& key, const std::string& data, int64_t version, int64_t lease_ms,
               MonoTime sent);
  // Any other write of `key`, or a failed one: the next touch writes.
  void Forget(const std::string& key);
  // A cluster load covering `prefix` failed: nothing confirmed.
  void LoadFailed(const std::string& prefix);
  // A cluster load returned `item`: confirms our record if it is exactly our
  // write (version and `session`), forgets it otherwise.
  void Loaded(const StoredItem& item, const std::string& session);
  // Keys under `prefix` that a cluster load did not return are forgotten.
  template <typename Seen>
  void ForgetGone(const std::string& prefix, const Seen& seen) {
    std::erase_if(writes_, [&](const auto& entry) {
      return entry.first.compare(0, prefix.size(), prefix) == 0 && !seen.count(entry.first);
    });
  }
  void Clear() { writes_.clear(); }

 private:
  struct Write {
    std::string data;        // the value written
    int64_t version = 0;     // the version it produced
    int64_t lease_ms = 0;    // the ttl written with it
    MonoTime sent;           // send time of that write (this node's clock)
    bool confirmed = false;  // the latest covering load saw exactly this version
  };
  std::map<std::string, Write> writes_;
};

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_MEMBER_WRITES_H_
