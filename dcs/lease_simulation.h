// File: dcs/lease_simulation.h
//
// Deterministic simulation of the lease protocol: several nodes run the real
// dcs::Dcs state machine (the same code the plugin uses) against an in-memory
// linearizable conditional-write store, with per-node clock rate drift and
// wall-clock offsets, request and response delays, lost responses (write
// applied, reply lost), deadlines, crashes, long pauses and restarts. No real
// time or network: one seed gives one schedule.
//
// After every event it checks that no two nodes believe they hold the lease at
// the same instant (Dcs::Lease().held, evaluated on each node's own clock),
// and that after the holder crashes some node takes over within the stated
// bound: ttl * (1 + max_drift) + 2 * loop_wait + 2 * max_delay + slack.
//
// How concurrency is modelled: each store call is linearized at its apply
// time (send + request delay); nodes' calls are processed in apply-time order.
// A second store call inside one Dcs method (the consistent re-read after an
// unknown outcome) is applied at once, which can only make a node's knowledge
// staler than reality (conservative for the safety check). A node's belief is
// counted from its send time, not from when the reply arrives (conservative).
//
// Thread-safety: a Simulation is single-threaded; run several in parallel.
#ifndef DYNATRONI_DCS_LEASE_SIMULATION_H_
#define DYNATRONI_DCS_LEASE_SIMULATION_H_

#include <cstdint>
#include <string>

#include "core/clock.h"

namespace dynatroni::dcs {

struct SimulationConfig {
  int nodes = 3;
  Duration failover_time = std::chrono::seconds(30);
  Duration duration = std::chrono::minutes(5);   // simulated time per schedule
  double max_drift = 0.001;                      // |clock rate - 1| per node
  Duration max_delay = std::chrono::seconds(2);  // per direction
  double lost_reply_probability = 0.02;
  double slow_call_probability = 0.05;                    // a call that runs into its deadline
  double crash_probability = 0.002;                       // per event, of the node that acted
  double pause_probability = 0.002;                       // per event: pause up to 2 x ttl
  Duration max_restart_after = std::chrono::seconds(90);  // a crashed node restarts after up to this
  bool trace = false;  // print every event to stderr (for reproducing a seed)
};

struct SimulationResult {
  uint64_t seed = 0;
  bool safe = true;
  bool live = true;
  std::string violation;  // first violation, with the step it happened at
  uint64_t events = 0;
  int acquisitions = 0;
  int crashes = 0;
  int pauses = 0;
  Duration worst_takeover{0};  // longest holder crash -> new holder
  Duration takeover_bound{0};
};

SimulationResult RunSimulation(uint64_t seed, const SimulationConfig& config);

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_LEASE_SIMULATION_H_
