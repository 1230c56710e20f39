// File: dcs/lease_simulation.h
//
// Deterministic simulation of the lease protocol on the REAL stack: each
// simulated node runs the real dcs::Dcs on the real DynamoItemStore and the
// real dynamodb::Client (SigV4 signing with static credentials, retries and
// backoff, attempt timeouts, ambiguity flags, ALL_OLD on condition failure,
// re-reads), whose http::Transport is simulated; requests are answered by a
// simulated DynamoDB table (dcs/sim_dynamodb.h) that parses and evaluates the
// JSON requests and expressions the client really sends. No real time or
// network: one seed gives one schedule.
//
// Faults, each drawn from the seed with its own probability (see
// SimulationConfig): per request attempt — lost before it applied (a timeout,
// or a 500 without applying), applied with the reply lost, applied twice (the
// transport resends it after a lost reply), applied late (up to the attempt's
// timeout, after later requests of other nodes), a 500 after applying,
// throttling, a reply so slow it misses the deadline, a process stall before
// the request leaves; per node and schedule — a partition window (full, one-
// sided: requests apply but replies are lost, or flaky), a ±1 h wall-clock
// step (monotonic clock unaffected), a large wall-clock offset, crashes (at a
// random instant, also in the middle of a call) and restarts, pauses between
// cycles; per schedule — an edit-config of failover_time that nodes pick up at
// different times (Dcs::SetTiming). The table deletes items whose `ttl` passed
// (by ITS wall clock) at a random later time, rejects requests whose
// x-amz-date is more than 5 minutes off, serves eventually consistent reads
// from a replica up to max_staleness behind, and ends some Query pages early.
// Per-node clock rates drift by up to max_drift. The node script is Patroni's
// HA loop in small: LoadCluster, then renew / release / acquire / take, a
// failover request or handover, config writes, Initialize, TouchMember, and
// between cycles Patroni's watch(): PlanWatch with PollLeader / PollFailover.
//
// Concurrency: every node runs on its own stackful coroutine (sim::Fiber);
// its Transport::Send and Clock::SleepFor suspend it until the simulated
// instant the reply arrives (or the deadline passes) and the scheduler
// processes all events — other nodes' code, request applications, TTL
// deletions, crashes — in global-time order. So the calls of different nodes
// interleave exactly at their simulated instants (no run-to-completion
// approximation); a request applies at its send instant plus the request
// delay. The only idealisation: a node's own code between two waits takes no
// simulated time (process stalls are modelled explicitly as pauses).
//
// The checker (safety): a node "acts as leader" from the instant it starts to
// hold the lease — for an acquisition, the instant its write APPLIED in the
// table (earlier than the node can know: conservative) — until its
// Dcs::Lease() says not held (evaluated after each of its calls: it was told
// it lost) or its holder bound passes, whichever comes first, PLUS the
// demotion time `demotion` (Patroni stops PostgreSQL that long after being
// told). A crashed node acts until min(crash, bound) + demotion. No two
// nodes' acting intervals may overlap in global time.
// Liveness: after the holder crashes, some node holds the lease within
//   ttl_max * (1 + max_drift) / (1 - max_drift) + 2 * loop_wait_max
//     + 12 * max_delay + retry_timeout_max + 2 s
// of the later of the crash and the end of the last disturbance of the
// other nodes (a fault on one of their requests, a pause, a partition, a
// restart, or a request of the crashed holder that applied after its crash),
// where *_max are over the initial and the edited timing.
//
// Thread-safety: a simulation is single-threaded; run several in parallel.
#ifndef DYNATRONI_DCS_LEASE_SIMULATION_H_
#define DYNATRONI_DCS_LEASE_SIMULATION_H_

#include <cstdint>
#include <string>

#include "core/clock.h"

namespace dynatroni::dcs {

struct SimulationConfig {
  int nodes = 3;
  Duration failover_time = std::chrono::seconds(30);
  Duration duration = std::chrono::minutes(3);  // simulated time per schedule
  double max_drift = 0.001;                     // |clock rate - 1| per node
  // Network delay per direction: 1-20 ms, or with slow_delay_probability up
  // to max_delay.
  Duration max_delay = std::chrono::seconds(2);
  double slow_delay_probability = 0.25;
  // How long a holder keeps acting as primary after its bound passed or it
  // was told it lost (Timing::kDemoteAllowance is what the margin budgets).
  Duration demotion = std::chrono::seconds(2);

  // Per request attempt (each a separate draw).
  double lost_request_probability = 0.01;  // not applied: a timeout (half) or a 500 (half)
  double lost_reply_probability = 0.01;    // applied, reply lost: the attempt times out
  double duplicate_probability = 0.005;    // applied, reply lost, resent by the transport: applied twice
  double late_apply_probability =
      0.005;  // applied late, up to the attempt's timeout (+ late_beyond_deadline)
  double error_after_apply_probability = 0.005;  // a 500 after applying
  double throttle_probability = 0.01;            // 400 throttling, not applied
  double slow_call_probability = 0.01;           // applied, reply after the deadline
  double pause_in_call_probability = 0.0005;     // stall up to 2 ttl before the request leaves
  // A late request may land up to this long after the attempt's deadline, i.e.
  // after the client's later requests on other connections (reordering). 0:
  // never after the deadline.
  Duration late_beyond_deadline{0};

  // Per node and schedule.
  double partition_probability = 0.15;  // one window up to max_partition: full, one-sided or flaky
  Duration max_partition = std::chrono::seconds(90);
  double wall_step_probability = 0.2;          // a ±1 h step of the node's wall clock
  double large_wall_offset_probability = 0.1;  // wall clock off by up to ±52 days (else ±5 s)

  // Per schedule: an edit-config of failover_time (to 0.5x-2x, at least 9 s)
  // at a random instant, picked up by each node within one loop_wait.
  double config_change_probability = 0.3;

  // Per HA cycle of a node.
  double crash_probability = 0.003;  // crash at a random instant within the cycle
  double pause_probability = 0.003;  // stall up to 2 ttl before the cycle
  Duration max_restart_after = std::chrono::seconds(90);
  double release_probability = 0.02;  // the holder releases (switchover)
  double take_probability = 0.1;      // TakeLeader instead of AcquireLeader
  double failover_request_probability = 0.01;
  double config_write_probability = 0.02;

  // The table.
  double stale_read_probability = 0.5;  // of an eventually consistent read
  Duration max_staleness = std::chrono::seconds(1);
  double short_page_probability = 0.1;  // a Query page ends after 1-3 items
  Duration max_ttl_delete_delay = std::chrono::seconds(60);

  bool trace = false;  // print every event to stderr (for reproducing a seed)
};

struct SimulationResult {
  uint64_t seed = 0;
  bool safe = true;
  bool live = true;
  std::string violation;  // first violation, with the instant it was found
  uint64_t events = 0;
  uint64_t requests = 0;  // HTTP attempts the clients sent
  uint64_t faults = 0;    // injected request faults
  int acquisitions = 0;   // leader intervals started
  int crashes = 0;
  int pauses = 0;
  int partitions = 0;
  int ttl_deletions = 0;
  int config_changes = 0;
  Duration worst_takeover{0};  // longest holder crash -> new holder
  Duration takeover_bound{0};  // the bound for the initial timing, without disturbances
};

SimulationResult RunSimulation(uint64_t seed, const SimulationConfig& config);

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_LEASE_SIMULATION_H_
