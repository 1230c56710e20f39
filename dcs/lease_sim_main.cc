// dynatroni_lease_sim: long runs of the deterministic lease simulation (the
// real Dcs / DynamoItemStore / dynamodb::Client against a simulated DynamoDB).
//   dynatroni_lease_sim [SCHEDULES] [FIRST_SEED] [--trace] [--all] [--duration-s N] [--set NAME=VALUE]...
// Prints a summary with schedules/s; exits 1 on the first violation, printing
// its seed (rerun that one seed with --trace to see every event). --all keeps
// going after violations and counts them. --set changes a probability of
// SimulationConfig (e.g. --set large_wall_offset_probability=0) or a duration
// in seconds (max_delay, demotion, max_partition, failover_time, late_beyond_deadline).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "dcs/lease_simulation.h"

int main(int argc, char** argv) {
  using std::chrono::duration;
  using std::chrono::nanoseconds;
  using std::chrono::seconds;
  using std::chrono::steady_clock;
  uint64_t n = 1000000;
  uint64_t first = 1;
  bool all = false;
  dynatroni::dcs::SimulationConfig cfg;
  cfg.duration = seconds(120);
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--trace") == 0) {
      cfg.trace = true;
    } else if (std::strcmp(argv[i], "--all") == 0) {
      all = true;
    } else if (std::strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
      std::string kv = argv[++i];
      auto eq = kv.find('=');
      std::string name = kv.substr(0, eq);
      double v = eq == std::string::npos ? 0 : std::strtod(kv.c_str() + eq + 1, nullptr);
      std::map<std::string, double*> probabilities = {
          {"lost_request_probability", &cfg.lost_request_probability},
          {"lost_reply_probability", &cfg.lost_reply_probability},
          {"duplicate_probability", &cfg.duplicate_probability},
          {"late_apply_probability", &cfg.late_apply_probability},
          {"error_after_apply_probability", &cfg.error_after_apply_probability},
          {"throttle_probability", &cfg.throttle_probability},
          {"slow_call_probability", &cfg.slow_call_probability},
          {"pause_in_call_probability", &cfg.pause_in_call_probability},
          {"partition_probability", &cfg.partition_probability},
          {"wall_step_probability", &cfg.wall_step_probability},
          {"large_wall_offset_probability", &cfg.large_wall_offset_probability},
          {"config_change_probability", &cfg.config_change_probability},
          {"crash_probability", &cfg.crash_probability},
          {"pause_probability", &cfg.pause_probability},
          {"release_probability", &cfg.release_probability},
          {"take_probability", &cfg.take_probability},
          {"stale_read_probability", &cfg.stale_read_probability},
          {"short_page_probability", &cfg.short_page_probability},
          {"slow_delay_probability", &cfg.slow_delay_probability},
          {"max_drift", &cfg.max_drift}};
      std::map<std::string, nanoseconds*> durations = {{"max_delay", &cfg.max_delay},
                                                       {"demotion", &cfg.demotion},
                                                       {"max_partition", &cfg.max_partition},
                                                       {"failover_time", &cfg.failover_time},
                                                       {"late_beyond_deadline", &cfg.late_beyond_deadline}};
      if (auto p = probabilities.find(name); p != probabilities.end()) {
        *p->second = v;
      } else if (auto d = durations.find(name); d != durations.end()) {
        *d->second = std::chrono::duration_cast<nanoseconds>(duration<double>(v));
      } else {
        std::fprintf(stderr, "unknown setting %s\n", name.c_str());
        return 2;
      }
    } else if (std::strcmp(argv[i], "--duration-s") == 0 && i + 1 < argc) {
      cfg.duration = seconds(std::strtoll(argv[++i], nullptr, 10));
    } else if (positional == 0) {
      n = std::strtoull(argv[i], nullptr, 10);
      ++positional;
    } else {
      first = std::strtoull(argv[i], nullptr, 10);
      ++positional;
    }
  }
  uint64_t events = 0, requests = 0, faults = 0, acquisitions = 0, crashes = 0, pauses = 0, ttl = 0,
           violations = 0;
  nanoseconds worst{0}, bound{0};
  auto t0 = steady_clock::now();
  uint64_t done = 0;
  for (uint64_t seed = first; seed < first + n; ++seed) {
    auto r = dynatroni::dcs::RunSimulation(seed, cfg);
    ++done;
    if (!r.safe || !r.live) {
      std::printf("%s\n", r.violation.c_str());
      std::fflush(stdout);
      ++violations;
      if (!all) {
        std::printf("after %llu schedules, %.1f s\n", static_cast<unsigned long long>(done),
                    duration<double>(steady_clock::now() - t0).count());
        return 1;
      }
    }
    events += r.events;
    requests += r.requests;
    faults += r.faults;
    acquisitions += static_cast<uint64_t>(r.acquisitions);
    crashes += static_cast<uint64_t>(r.crashes);
    pauses += static_cast<uint64_t>(r.pauses);
    ttl += static_cast<uint64_t>(r.ttl_deletions);
    worst = std::max(worst, r.worst_takeover);
    bound = r.takeover_bound;
  }
  double secs = duration<double>(steady_clock::now() - t0).count();
  std::printf(
      "schedules %llu (seeds %llu..%llu, %lld s simulated each), events %llu, requests %llu, faults %llu, "
      "acquisitions %llu, crashes %llu, pauses %llu, TTL deletions %llu\n"
      "violations %llu; worst holder-crash -> new holder %.1f s (undisturbed bound %.1f s); %.1f s wall, "
      "%.0f schedules/s\n",
      static_cast<unsigned long long>(n), static_cast<unsigned long long>(first),
      static_cast<unsigned long long>(first + n - 1),
      static_cast<long long>(std::chrono::duration_cast<seconds>(cfg.duration).count()),
      static_cast<unsigned long long>(events), static_cast<unsigned long long>(requests),
      static_cast<unsigned long long>(faults), static_cast<unsigned long long>(acquisitions),
      static_cast<unsigned long long>(crashes), static_cast<unsigned long long>(pauses),
      static_cast<unsigned long long>(ttl), static_cast<unsigned long long>(violations),
      duration<double>(worst).count(), duration<double>(bound).count(), secs,
      secs > 0 ? static_cast<double>(n) / secs : 0.0);
  return violations == 0 ? 0 : 1;
}
