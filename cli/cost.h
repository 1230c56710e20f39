// File: cli/cost.h
//
// `dynatroni cost`: the DynamoDB request pattern of the plugin and what it
// costs. Per Patroni loop (loop_wait = failover_time / 3), per cluster, as
// dcs/dcs.cc and python/dynatroni/dynamodb.py do it:
//   every node   1 strongly consistent Query of the partition (get_cluster)
//                1 UpdateItem of its member item (touch_member) when
//                  its data changed (as often as `status`), else every
//                  third loop (dcs::Timing::MemberRefresh)
//   the leader   1 UpdateItem renewing the lease (_update_leader)
//                1 UpdateItem of `status` when its LSN moved (write_status;
//                  a fraction of loops, default every loop)
//   each replica 1 strongly consistent GetItem of the leader item (watch)
// Ignored: the extra leader polls of watch() while a lease runs out (about
// ttl / leader_poll_interval per replica per failover), failsafe writes
// (only when the topology changes), patronictl and REST traffic.
// Units: a strongly consistent read costs 1 RRU/RCU per 4 KB read (a Query
// sums its items first); a write 1 WRU/WCU per KB of the larger of the old
// and new item.
//
// Thread-safety: pure functions.
#ifndef DYNATRONI_CLI_COST_H_
#define DYNATRONI_CLI_COST_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dynatroni::cli {

struct CostInputs {
  double failover_time_s = 30;
  int64_t nodes = 3;
  int64_t clusters = 1;
  double partition_kb = 0;  // 0 = 2 KB + member_kb * nodes
  double member_kb = 0.5;
  double status_writes = 1.0;               // fraction of leader loops writing `status`
  double switchover_poll_interval_s = 4.0;  // replicas' failover-key reads (0 = off)
  double price_read = 0.125;                // $ per million read request units
  double price_write = 0.625;               // $ per million write request units
  double price_rcu_hour = 0.00013;
  double price_wcu_hour = 0.00065;
  double headroom = 1.5;
};

struct CostEstimate {
  double loop_wait_s = 0;
  double partition_kb = 0;
  int64_t query_rcu = 0;   // read units of one partition Query
  int64_t member_wcu = 0;  // write units of one member write
  // Per minute, all clusters.
  double queries_per_min = 0;
  double getitems_per_min = 0;
  double failover_polls_per_min = 0;  // eventually consistent GetItems, half a read unit each
  double updates_per_min = 0;
  double member_updates_per_min = 0;          // part of updates_per_min
  int64_t idle_member_write_every_loops = 1;  // an unchanged member is rewritten every N loops
  double requests_per_min = 0;
  double read_units_per_min = 0;
  double write_units_per_min = 0;
  // On-demand, per month (730 hours).
  double ondemand_read_usd = 0;
  double ondemand_write_usd = 0;
  double ondemand_usd = 0;
  // Provisioned capacity and its monthly price.
  int64_t rcu = 0;
  int64_t wcu = 0;
  double provisioned_usd = 0;
  std::vector<std::string> assumptions;
};

inline constexpr double kHoursPerMonth = 730;

CostEstimate ComputeCost(const CostInputs& in);
nlohmann::json CostJson(const CostInputs& in, const CostEstimate& e);

}  // namespace dynatroni::cli

#endif  // DYNATRONI_CLI_COST_H_
