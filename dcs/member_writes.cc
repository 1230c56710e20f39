#include "dcs/member_writes.h"

namespace dynatroni::dcs {

bool MemberWrites::MaySkip(const std::string& key, const std::string& data, int64_t lease_ms, MonoTime now,
                           const Freshness& fresh) const {
  auto w = writes_.find(key);
  if (w == writes_.end() || !w->second.confirmed || w->second.data != data ||
      w->second.lease_ms != lease_ms) {
    return false;
  }
  const Duration since = now - w->second.sent;
  // Fresh enough for every observer — or this node leads the group, whose
  // renewals keep it listed; its item is still rewritten well inside its
  // DynamoDB ttl, so it never ages out on an idle primary.
  return since < fresh.refresh || (fresh.holds_lease && since < fresh.holder_refresh);
}

void MemberWrites::Applied(const std::string& key, const std::string& data, int64_t version, int64_t lease_ms,
                           MonoTime sent) {
  auto w = writes_.find(key);
  if (w == writes_.end() || w->second.version < version)
    writes_[key] = Write{data, version, lease_ms, sent, false};
}

void MemberWrites::Forget(const std::string& key) { writes_.erase(key); }

void MemberWrites::LoadFailed(const std::string& prefix) {
  for (auto& [key, w] : writes_) {
    if (key.compare(0, prefix.size(), prefix) == 0) w.confirmed = false;  // nothing seen: write next time
  }
}

void MemberWrites::Loaded(const StoredItem& item, const std::string& session) {
  auto w = writes_.find(item.key);
  if (w == writes_.end()) return;
  // Skipping is allowed only while the item is exactly as we wrote it.
  if (item.version == w->second.version && item.session == session && item.live()) {
    w->second.confirmed = true;
  } else {
    writes_.erase(w);
  }
}

}  // namespace dynatroni::dcs
