// Offline tests of `dynatroni cost`: the request-pattern arithmetic.
#include "cli/cost.h"

#include <sstream>

#include <gtest/gtest.h>

#include "cli/cli.h"

namespace dynatroni::cli {
namespace {

TEST(CliCost, ThreeNodesThirtySecondsMatchesTheHandCount) {
  CostInputs in;
  in.failover_time_s = 30;  // loop_wait 10 s: 6 loops per minute
  in.nodes = 3;
  in.switchover_poll_interval_s = 0;  // failover-key reads: a test of their own
  CostEstimate e = ComputeCost(in);
  EXPECT_DOUBLE_EQ(e.loop_wait_s, 10);
  EXPECT_DOUBLE_EQ(e.partition_kb, 3.5);  // 2 KB + 3 x 0.5 KB
  EXPECT_EQ(e.query_rcu, 1);
  EXPECT_DOUBLE_EQ(e.queries_per_min, 18);  // 3 nodes x 6
  // Each replica confirms when the leader renews at the first renewal 60 s
  // after its last check: every 7 loops (70 s).
  EXPECT_DOUBLE_EQ(e.getitems_per_min, 2 * 6 / 7.0);
  EXPECT_DOUBLE_EQ(e.updates_per_min, 30);  // (3 members + renewal + status) x 6
  EXPECT_DOUBLE_EQ(e.requests_per_min, 48 + 12 / 7.0);
  EXPECT_DOUBLE_EQ(e.read_units_per_min, 18 + 12 / 7.0);
  EXPECT_DOUBLE_EQ(e.write_units_per_min, 30);
  // 30 units/min x 43800 min/month = 1.314 M units.
  const double read_m = (18 + 12 / 7.0) * 43800 / 1e6;
  EXPECT_NEAR(e.ondemand_read_usd, read_m * 0.125, 1e-9);
  EXPECT_NEAR(e.ondemand_write_usd, 1.314 * 0.625, 1e-9);
  EXPECT_NEAR(e.ondemand_usd, read_m * 0.125 + 1.314 * 0.625, 1e-9);
  // 0.5 units/s x 1.5 headroom -> 1 RCU and 1 WCU.
  EXPECT_EQ(e.rcu, 1);
  EXPECT_EQ(e.wcu, 1);
  EXPECT_NEAR(e.provisioned_usd, (0.00013 + 0.00065) * 730, 1e-9);
  EXPECT_GE(e.assumptions.size(), 5u);
}

TEST(CliCost, LargePartitionsCostMoreReadUnitsPerQuery) {
  CostInputs in;
  in.failover_time_s = 30;
  in.nodes = 3;
  in.partition_kb = 10;  // ceil(10 / 4) = 3 units per Query
  in.switchover_poll_interval_s = 0;
  CostEstimate e = ComputeCost(in);
  EXPECT_EQ(e.query_rcu, 3);
  EXPECT_DOUBLE_EQ(e.read_units_per_min, 18 * 3 + 12 / 7.0);
  in.partition_kb = 4;  // exactly 4 KB is one unit
  EXPECT_EQ(ComputeCost(in).query_rcu, 1);
  in.partition_kb = 0;
  in.nodes = 20;  // 2 + 20 x 0.5 = 12 KB -> 3 units
  EXPECT_EQ(ComputeCost(in).query_rcu, 3);
}

TEST(CliCost, ClustersMultiplyAndShorterLoopsCostMore) {
  CostInputs in;
  in.failover_time_s = 30;
  in.nodes = 3;
  in.switchover_poll_interval_s = 0;
  CostEstimate one = ComputeCost(in);
  in.clusters = 50;
  CostEstimate fifty = ComputeCost(in);
  EXPECT_DOUBLE_EQ(fifty.requests_per_min, 50 * one.requests_per_min);
  EXPECT_NEAR(fifty.ondemand_usd, 50 * one.ondemand_usd, 1e-9);
  // 50 x 19.71/60 units/s x 1.5 = 24.6 -> 25 RCU; 50 x 0.5 x 1.5 = 37.5 -> 38 WCU.
  EXPECT_EQ(fifty.rcu, 25);
  EXPECT_EQ(fifty.wcu, 38);
  in.clusters = 1;
  in.failover_time_s = 15;
  CostEstimate fast = ComputeCost(in);
  // Twice the loops: twice the Queries and writes; the confirming reads stay
  // about one per replica per minute (every 13 loops of 5 s).
  EXPECT_DOUBLE_EQ(fast.queries_per_min + fast.updates_per_min,
                   2 * (one.queries_per_min + one.updates_per_min));
  EXPECT_DOUBLE_EQ(fast.getitems_per_min, 2 * 12 / 13.0);
}

TEST(CliCost, StatusWritesAndPricesAreOptions) {
  CostInputs in;
  in.failover_time_s = 30;
  in.nodes = 2;
  in.status_writes = 0;
  in.price_read = 0;
  in.price_write = 1.0;
  CostEstimate e = ComputeCost(in);
  // Idle: no status writes, the replica's unchanged member rewritten every
  // third loop (member_refresh = ttl - loop_wait / 2 = 25 s), the leader's
  // never (its lease renewals keep it listed), the lease every loop.
  EXPECT_EQ(e.idle_member_write_every_loops, 3);
  EXPECT_DOUBLE_EQ(e.member_updates_per_min, 1 * 6 / 3.0);
  EXPECT_DOUBLE_EQ(e.updates_per_min, 2 + 6);
  EXPECT_DOUBLE_EQ(e.ondemand_read_usd, 0);
  EXPECT_NEAR(e.ondemand_write_usd, 8 * 43800 / 1e6, 1e-9);
  // The default dial idle, 3 nodes, default prices, failover-key reads every
  // 4 s included: under $0.50 a month.
  in.nodes = 3;
  in.price_read = 0.125;
  in.price_write = 0.625;
  EXPECT_LT(ComputeCost(in).ondemand_usd, 0.5);
}

TEST(CliCost, FailoverKeyReadsAreHalfAReadUnitPerReplicaPerInterval) {
  CostInputs in;
  in.failover_time_s = 30;
  in.nodes = 3;
  in.switchover_poll_interval_s = 0;
  CostEstimate off = ComputeCost(in);
  EXPECT_DOUBLE_EQ(off.failover_polls_per_min, 0);
  in.switchover_poll_interval_s = 4;  // the plugin's default
  CostEstimate on = ComputeCost(in);
  EXPECT_DOUBLE_EQ(on.failover_polls_per_min, 2 * 15);  // 2 replicas x 15 a minute
  EXPECT_DOUBLE_EQ(on.requests_per_min, off.requests_per_min + 30);
  EXPECT_DOUBLE_EQ(on.read_units_per_min, off.read_units_per_min + 15);  // eventually consistent
  EXPECT_DOUBLE_EQ(on.write_units_per_min, off.write_units_per_min);
}

TEST(CliCost, CommandPrintsTheTableAndJson) {
  std::ostringstream out, err;
  std::istringstream in;
  int rc = RunCli({"cost", "--failover-time", "30", "--nodes", "3", "--clusters", "2", "--json",
                   "--switchover-poll-interval", "0"},
                  out, err, in, {});
  ASSERT_EQ(rc, kExitOk) << err.str();
  auto j = nlohmann::json::parse(out.str());
  EXPECT_NEAR(j["per_minute"]["requests"].get<double>(), 2 * (48 + 12 / 7.0), 1e-6);  // 6 decimals
  EXPECT_EQ(j["inputs"]["clusters"], 2);
  EXPECT_EQ(j["provisioned"]["rcu"], 1);  // 2 x 19.71/60 units/s x 1.5 = 0.99
  EXPECT_FALSE(j["assumptions"].empty());

  std::ostringstream text;
  rc = RunCli({"cost", "--failover-time", "30", "--nodes", "3", "--price-write", "1.25"}, text, err, in, {});
  ASSERT_EQ(rc, kExitOk);
  EXPECT_NE(text.str().find("Requests/min"), std::string::npos);
  EXPECT_NE(text.str().find("on-demand"), std::string::npos);
  EXPECT_NE(text.str().find("$1.2500 per million write units"), std::string::npos);
  EXPECT_NE(text.str().find("Assumptions"), std::string::npos);
  EXPECT_NE(text.str().find("GetItem (failover key)"), std::string::npos);
}

}  // namespace
}  // namespace dynatroni::cli
