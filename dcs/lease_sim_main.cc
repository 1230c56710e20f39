// dynatroni_lease_sim: long runs of the deterministic lease simulation.
//   dynatroni_lease_sim [SCHEDULES] [FIRST_SEED]
// Prints a summary; exits 1 on the first violation, printing its seed.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "dcs/lease_simulation.h"

int main(int argc, char** argv) {
  using std::chrono::duration;
  using std::chrono::minutes;
  using std::chrono::nanoseconds;
  using std::chrono::steady_clock;
  uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  uint64_t first = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  dynatroni::dcs::SimulationConfig cfg;
  cfg.duration = minutes(3);
  uint64_t events = 0, acquisitions = 0, crashes = 0, pauses = 0;
  nanoseconds worst{0}, bound{0};
  auto t0 = steady_clock::now();
  for (uint64_t seed = first; seed < first + n; ++seed) {
    auto r = dynatroni::dcs::RunSimulation(seed, cfg);
    if (!r.safe || !r.live) {
      std::printf("%s\n", r.violation.c_str());
      return 1;
    }
    events += r.events;
    acquisitions += static_cast<uint64_t>(r.acquisitions);
    crashes += static_cast<uint64_t>(r.crashes);
    pauses += static_cast<uint64_t>(r.pauses);
    worst = std::max(worst, r.worst_takeover);
    bound = r.takeover_bound;
  }
  double secs = duration<double>(steady_clock::now() - t0).count();
  std::printf(
      "schedules %llu (seeds %llu..%llu), events %llu, acquisitions %llu, crashes %llu, pauses %llu\n"
      "violations 0; worst holder-crash -> new holder %.1f s (bound %.1f s); %.1f s wall\n",
      static_cast<unsigned long long>(n), static_cast<unsigned long long>(first),
      static_cast<unsigned long long>(first + n - 1), static_cast<unsigned long long>(events),
      static_cast<unsigned long long>(acquisitions), static_cast<unsigned long long>(crashes),
      static_cast<unsigned long long>(pauses), duration<double>(worst).count(),
      duration<double>(bound).count(), secs);
  return 0;
}
