#include "dcs/memory_item_store.h"

namespace dynatroni::dcs {

bool PreconditionHolds(const Precondition& pre, const std::optional<StoredItem>& current) {
  switch (pre.kind) {
    case Precondition::Kind::kNone:
      return true;
    case Precondition::Kind::kAbsent:
      return !current || !current->live();
    case Precondition::Kind::kVersionIs:
      return current ? current->version == pre.version : pre.version == 0;
    case Precondition::Kind::kValueIs:
      return current && current->live() && *current->value == pre.value;
    case Precondition::Kind::kAbsentAtVersion:
      return current ? !current->live() && current->version == pre.version : pre.version == 0;
    case Precondition::Kind::kValueAndVersion:
      return current && current->live() && *current->value == pre.value && current->version == pre.version;
  }
  return false;
}

StoredItem ApplyMutation(const std::string& key, const std::optional<StoredItem>& current, const Mutation& m,
                         int64_t now_ms) {
  StoredItem next = current.value_or(StoredItem{});
  next.key = key;
  next.version = (current ? current->version : 0) + 1;
  next.value = m.value;
  if (!m.value) {
    next.session.clear();
  } else if (m.session) {
    next.session = *m.session;
  }
  if (m.increment_term) next.term += 1;
  if (m.lease_ms) next.lease_ms = *m.lease_ms;
  next.ttl_epoch_s = m.ttl_epoch_s.value_or(0);
  if (m.expire_after && *m.expire_after > Duration::zero()) {
    next.ttl_epoch_s =
        now_ms / 1000 + std::chrono::duration_cast<std::chrono::seconds>(*m.expire_after).count();
  }
  next.updated_at_ms = now_ms;
  return next;
}

std::optional<MemoryItemStore::Fault> MemoryItemStore::NextFault() {
  ++calls_;
  if (faults_.empty()) return std::nullopt;
  Fault f = faults_.front();
  faults_.pop_front();
  return f;
}

Result<std::vector<StoredItem>> MemoryItemStore::Query(const std::string& partition,
                                                       const std::string& prefix, Deadline /*deadline*/) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto f = NextFault()) return Unavailable("injected fault: query failed");
  std::vector<StoredItem> out;
  for (auto it = items_.lower_bound({partition, prefix}); it != items_.end(); ++it) {
    if (it->first.first != partition || it->first.second.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(it->second);
  }
  return out;
}

Result<std::optional<StoredItem>> MemoryItemStore::Get(const std::string& partition, const std::string& key,
                                                       Deadline /*deadline*/) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto f = NextFault()) return Unavailable("injected fault: get failed");
  auto it = items_.find({partition, key});
  if (it == items_.end()) return std::optional<StoredItem>();
  return std::optional<StoredItem>(it->second);
}

Result<WriteOutcome> MemoryItemStore::Write(const std::string& partition, const std::string& key,
                                            const Mutation& mutation, const Precondition& pre,
                                            Deadline /*deadline*/) {
  std::lock_guard<std::mutex> lock(mu_);
  auto fault = NextFault();
  if (fault == Fault::kUnavailable) return Unavailable("injected fault: write not applied");
  if (fault == Fault::kUnknownNotApplied) return UnknownOutcome("injected fault: reply lost, not applied");
  if (fault == Fault::kLandsLater) {
    in_flight_.push_back(InFlight{partition, key, mutation, pre});
    return UnknownOutcome("injected fault: no reply, the write is still in flight");
  }
  auto it = items_.find({partition, key});
  std::optional<StoredItem> current;
  if (it != items_.end()) current = it->second;
  WriteOutcome out;
  if (!PreconditionHolds(pre, current)) {
    out.item = current;
    if (fault == Fault::kApplyThenUnknown) return UnknownOutcome("injected fault: reply lost");
    return out;
  }
  int64_t now_ms =
      clock_ ? std::chrono::duration_cast<std::chrono::milliseconds>(clock_->WallNow().time_since_epoch())
                   .count()
             : 0;
  StoredItem next = ApplyMutation(key, current, mutation, now_ms);
  items_[{partition, key}] = next;
  if (fault == Fault::kApplyThenUnknown) return UnknownOutcome("injected fault: applied, reply lost");
  out.applied = true;
  out.item = next;
  return out;
}

Status MemoryItemStore::DeletePartition(const std::string& partition, Deadline /*deadline*/) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto f = NextFault()) return Unavailable("injected fault: delete failed");
  for (auto it = items_.begin(); it != items_.end();) {
    if (it->first.first == partition) {
      it = items_.erase(it);
    } else {
      ++it;
    }
  }
  return {};
}

void MemoryItemStore::InjectFaults(std::deque<Fault> faults) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_ = std::move(faults);
}

std::optional<StoredItem> MemoryItemStore::Peek(const std::string& partition, const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = items_.find({partition, key});
  if (it == items_.end()) return std::nullopt;
  return it->second;
}

void MemoryItemStore::Poke(const std::string& partition, StoredItem item) {
  std::lock_guard<std::mutex> lock(mu_);
  items_[{partition, item.key}] = std::move(item);
}

int MemoryItemStore::LandInFlightWrites() {
  std::lock_guard<std::mutex> lock(mu_);
  int applied = 0;
  for (const InFlight& w : in_flight_) {
    auto it = items_.find({w.partition, w.key});
    std::optional<StoredItem> current;
    if (it != items_.end()) current = it->second;
    if (!PreconditionHolds(w.pre, current)) continue;
    const int64_t now_ms =
        clock_ ? std::chrono::duration_cast<std::chrono::milliseconds>(clock_->WallNow().time_since_epoch())
                     .count()
               : 0;
    items_[{w.partition, w.key}] = ApplyMutation(w.key, current, w.mutation, now_ms);
    ++applied;
  }
  in_flight_.clear();
  return applied;
}

uint64_t MemoryItemStore::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

}  // namespace dynatroni::dcs
