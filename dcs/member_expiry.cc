#include "dcs/member_expiry.h"

namespace dynatroni::dcs {

std::optional<Duration> WrittenAgo(const StoredItem& item, WallTime table_now) {
  if (item.updated_at_ms <= 0) return std::nullopt;
  return std::chrono::duration_cast<Duration>(table_now.time_since_epoch()) -
         std::chrono::duration_cast<Duration>(std::chrono::milliseconds(item.updated_at_ms));
}

bool UsesWrittenAgo(const Timing& timing, const MemberSighting& s) {
  return s.watched_for < timing.MemberExpiry();
}

bool MemberExpired(const Timing& timing, const MemberSighting& s) {
  const bool by_wall_clock = UsesWrittenAgo(timing, s);
  const Duration limit = timing.MemberExpiry() + kMemberClockAllowance;
  auto written_long_ago = [&](const std::optional<Duration>& ago) {
    return by_wall_clock && ago && *ago >= limit;
  };
  if (s.named_by_leader && !written_long_ago(s.leader_written_ago)) return false;
  return s.unchanged_for >= timing.MemberExpiry() || written_long_ago(s.written_ago);
}

}  // namespace dynatroni::dcs
