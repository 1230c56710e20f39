#include "dcs/switchover_polls.h"

namespace dynatroni::dcs {

void SwitchoverPolls::Polled(MonoTime now, Duration interval, double spread) {
  next_poll_ = now + std::chrono::duration_cast<Duration>(interval * spread);
}

bool SwitchoverPolls::Found(int64_t version, MonoTime now, Duration fast_for) {
  if (version == seen_version_) return false;
  seen_version_ = version;
  fast_until_ = now + fast_for;
  return true;
}

}  // namespace dynatroni::dcs
