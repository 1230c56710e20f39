// `dynatroni cost`: requests per minute and dollars per month (see cli/cost.h).
#include "cli/cost.h"

#include <cmath>
#include <ostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "dcs/dcs.h"

namespace dynatroni::cli {

CostEstimate ComputeCost(const CostInputs& in) {
  CostEstimate e;
  const double n = static_cast<double>(in.nodes);
  const double c = static_cast<double>(in.clusters);
  e.loop_wait_s = in.failover_time_s / 3.0;
  e.partition_kb = in.partition_kb > 0 ? in.partition_kb : 2.0 + in.member_kb * n;
  e.query_rcu = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(e.partition_kb / 4.0 - 1e-9)));
  e.member_wcu = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(in.member_kb - 1e-9)));
  const double loops_per_min = 60.0 / e.loop_wait_s;
  // touch_member writes when the member data changed (a moving LSN: the same
  // fraction of loops as `status`), otherwise once per member_refresh
  // (dcs::Timing::MemberRefresh: every third loop with the dial).
  dcs::Timing timing;
  timing.ttl = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(in.failover_time_s));
  timing.loop_wait = timing.ttl / 3;
  const double refresh_loops = std::max(
      1.0, std::ceil(std::chrono::duration<double>(timing.MemberRefresh()).count() / e.loop_wait_s - 1e-9));
  e.idle_member_write_every_loops = static_cast<int64_t>(refresh_loops);

  // Per cluster per loop.
  const double queries = n;
  // Once a replica knows when the leader renews, its own cycle reads each
  // renewal (dcs::Dcs::PlanWatch); it reads the leader item only to confirm
  // that timing, at the first renewal after renewal_phase_check (60 s) has
  // passed since the last confirmation. The few reads that learn the timing
  // after a start or a leader change are not counted.
  const double check_s = std::chrono::duration<double>(dcs::DcsOptions{}.renewal_phase_check).count();
  const double check_every_loops = std::floor(check_s / e.loop_wait_s) + 1.0;
  const double getitems = (n - 1) / check_every_loops;
  // The leader rewrites its own member item only when it changed: its lease
  // renewals keep it listed (dcs::Dcs::TouchMember).
  const double member_writes =
      (n - 1) * (in.status_writes + (1.0 - in.status_writes) / refresh_loops) + in.status_writes;
  const double leader_writes = 1.0 + in.status_writes;  // renewal + status
  e.queries_per_min = queries * loops_per_min * c;
  e.getitems_per_min = getitems * loops_per_min * c;
  e.member_updates_per_min = member_writes * loops_per_min * c;
  e.updates_per_min = (member_writes + leader_writes) * loops_per_min * c;
  e.failover_polls_per_min =
      in.switchover_poll_interval_s > 0 ? (n - 1) * 60.0 / in.switchover_poll_interval_s * c : 0.0;
  e.requests_per_min = e.queries_per_min + e.getitems_per_min + e.failover_polls_per_min + e.updates_per_min;
  e.read_units_per_min = (queries * static_cast<double>(e.query_rcu) + getitems * 1.0) * loops_per_min * c +
                         e.failover_polls_per_min * 0.5;
  e.write_units_per_min =
      (member_writes * static_cast<double>(e.member_wcu) + leader_writes * 1.0) * loops_per_min * c;

  const double minutes_per_month = kHoursPerMonth * 60.0;
  e.ondemand_read_usd = e.read_units_per_min * minutes_per_month / 1e6 * in.price_read;
  e.ondemand_write_usd = e.write_units_per_min * minutes_per_month / 1e6 * in.price_write;
  e.ondemand_usd = e.ondemand_read_usd + e.ondemand_write_usd;

  e.rcu =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(e.read_units_per_min / 60.0 * in.headroom - 1e-9)));
  e.wcu = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(e.write_units_per_min / 60.0 * in.headroom - 1e-9)));
  e.provisioned_usd =
      (static_cast<double>(e.rcu) * in.price_rcu_hour + static_cast<double>(e.wcu) * in.price_wcu_hour) *
      kHoursPerMonth;

  auto kb = [](double v) { return FormatFixed(v, v == std::floor(v) ? 0 : 1) + " KB"; };
  e.assumptions = {
      "loop_wait = failover_time / 3 = " + FormatFixed(e.loop_wait_s, 1) +
          " s; one Patroni loop per loop_wait",
      "per loop every node: 1 strongly consistent Query of its cluster's partition; 1 member UpdateItem when "
      "its data changed (as often as status below), else, on a replica, one per " +
          std::to_string(e.idle_member_write_every_loops) +
          " loops (member_refresh = ttl - loop_wait/2; the leader's lease renewals keep its own listed)",
      "per loop the leader: 1 lease renewal + status write in " + FormatFixed(in.status_writes * 100, 0) +
          "% of loops (written only when the LSN moved; 100% = a busy primary)",
      "each replica: 1 strongly consistent GetItem of the leader item (watch) every " +
          FormatFixed(check_every_loops * e.loop_wait_s, 0) +
          " s, confirming when the leader renews (its own cycle reads each renewal)",
      in.switchover_poll_interval_s > 0
          ? "each replica: 1 eventually consistent GetItem of the failover key every " +
                FormatFixed(in.switchover_poll_interval_s, 1) +
                " s (switchover_poll_interval) = half a read unit"
          : std::string("no failover-key reads (switchover_poll_interval 0)"),
      "partition size " + kb(e.partition_kb) +
          (in.partition_kb > 0 ? " (--partition-kb)"
                               : " (2 KB of config/history/status/leader + " + kb(in.member_kb) +
                                     " per member; --partition-kb)") +
          ": one Query = " + std::to_string(e.query_rcu) + " read unit(s) (4 KB each, strongly consistent)",
      "member item " + kb(in.member_kb) + " = " + std::to_string(e.member_wcu) +
          " write unit(s); leader and status items under 1 KB = 1 write unit; leader GetItem = 1 read unit",
      std::string("ignored: extra leader polls while a lease runs out during failovers (~ttl per replica per "
                  "failover) and to learn when a new leader renews (up to loop_wait / leader_poll_interval "
                  "per replica), failsafe writes, "
                  "patronictl/REST traffic, free tier, storage (a few KB per "
                  "cluster), PITR and backups"),
      "on-demand: $" + FormatFixed(in.price_read, 4) + " per million read units, $" +
          FormatFixed(in.price_write, 4) + " per million write units; a month = 730 hours",
      "provisioned: average units/s x " + FormatFixed(in.headroom, 2) + " headroom, at least 1; $" +
          FormatFixed(in.price_rcu_hour, 5) + " per RCU-hour, $" + FormatFixed(in.price_wcu_hour, 5) +
          " per WCU-hour (burst capacity absorbs short spikes)",
  };
  return e;
}

nlohmann::json CostJson(const CostInputs& in, const CostEstimate& e) {
  auto r6 = [](double v) { return std::round(v * 1e6) / 1e6; };
  return {{"inputs",
           {{"failover_time_s", in.failover_time_s},
            {"nodes", in.nodes},
            {"clusters", in.clusters},
            {"partition_kb", e.partition_kb},
            {"member_kb", in.member_kb},
            {"status_writes", in.status_writes},
            {"switchover_poll_interval_s", in.switchover_poll_interval_s},
            {"price_read_per_million", in.price_read},
            {"price_write_per_million", in.price_write},
            {"price_rcu_hour", in.price_rcu_hour},
            {"price_wcu_hour", in.price_wcu_hour},
            {"headroom", in.headroom}}},
          {"loop_wait_s", r6(e.loop_wait_s)},
          {"per_minute",
           {{"query", r6(e.queries_per_min)},
            {"get_item", r6(e.getitems_per_min)},
            {"get_item_eventually_consistent", r6(e.failover_polls_per_min)},
            {"update_item", r6(e.updates_per_min)},
            {"requests", r6(e.requests_per_min)},
            {"read_units", r6(e.read_units_per_min)},
            {"write_units", r6(e.write_units_per_min)}}},
          {"on_demand_monthly_usd",
           {{"reads", r6(e.ondemand_read_usd)},
            {"writes", r6(e.ondemand_write_usd)},
            {"total", r6(e.ondemand_usd)}}},
          {"provisioned", {{"rcu", e.rcu}, {"wcu", e.wcu}, {"monthly_usd", r6(e.provisioned_usd)}}},
          {"assumptions", e.assumptions}};
}

int RunCost(const Options& opts, std::ostream& out, std::ostream& /*err*/) {
  CostInputs in;
  in.failover_time_s = *opts.failover_time_s;
  in.nodes = *opts.nodes;
  in.clusters = opts.clusters;
  in.partition_kb = opts.partition_kb.value_or(0);
  in.member_kb = opts.member_kb;
  in.status_writes = opts.status_writes;
  in.switchover_poll_interval_s = opts.switchover_poll_interval_s;
  in.price_read = opts.price_read;
  in.price_write = opts.price_write;
  in.price_rcu_hour = opts.price_rcu_hour;
  in.price_wcu_hour = opts.price_wcu_hour;
  in.headroom = opts.headroom;
  CostEstimate e = ComputeCost(in);
  if (opts.json) {
    PrintJson(out, CostJson(in, e));
    return kExitOk;
  }
  out << "Request pattern: " << in.clusters << (in.clusters == 1 ? " cluster" : " clusters") << " x "
      << in.nodes << " nodes, failover_time " << FormatFixed(in.failover_time_s, 1) << " s (loop_wait "
      << FormatFixed(e.loop_wait_s, 1) << " s)\n\n";
  TextTable t({"Operation", "Requests/min", "Units/min"});
  t.AlignRight(1);
  t.AlignRight(2);
  const double lpm = 60.0 / e.loop_wait_s * static_cast<double>(in.clusters);
  t.AddRow({"Query (get_cluster)", FormatFixed(e.queries_per_min, 1),
            FormatFixed(e.queries_per_min * static_cast<double>(e.query_rcu), 1) + " RRU"});
  t.AddRow(
      {"GetItem (watch)", FormatFixed(e.getitems_per_min, 1), FormatFixed(e.getitems_per_min, 1) + " RRU"});
  t.AddRow({"GetItem (failover key)", FormatFixed(e.failover_polls_per_min, 1),
            FormatFixed(e.failover_polls_per_min * 0.5, 1) + " RRU"});
  t.AddRow({"UpdateItem (member)", FormatFixed(e.member_updates_per_min, 1),
            FormatFixed(e.member_updates_per_min * static_cast<double>(e.member_wcu), 1) + " WRU"});
  t.AddRow({"UpdateItem (lease)", FormatFixed(lpm, 1), FormatFixed(lpm, 1) + " WRU"});
  t.AddRow({"UpdateItem (status)", FormatFixed(lpm * in.status_writes, 1),
            FormatFixed(lpm * in.status_writes, 1) + " WRU"});
  t.AddRow(
      {"Total", FormatFixed(e.requests_per_min, 1),
       FormatFixed(e.read_units_per_min, 1) + " RRU + " + FormatFixed(e.write_units_per_min, 1) + " WRU"});
  t.Print(out, "  ");
  out << "\nPer month (730 h)\n";
  TextTable m({"Billing", "Capacity", "Cost"});
  m.AlignRight(2);
  m.AddRow(
      {"on-demand",
       "reads " + FormatDollars(e.ondemand_read_usd) + " + writes " + FormatDollars(e.ondemand_write_usd),
       FormatDollars(e.ondemand_usd)});
  m.AddRow({"provisioned", std::to_string(e.rcu) + " RCU + " + std::to_string(e.wcu) + " WCU",
            FormatDollars(e.provisioned_usd)});
  m.Print(out, "  ");
  out << "\nAssumptions\n";
  for (const auto& a : e.assumptions) out << "  - " << a << "\n";
  return kExitOk;
}

}  // namespace dynatroni::cli
