// `dynatroni table create` and `dynatroni table check`.
#include <ostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "dcs/dynamo_item_store.h"
#include "dynamodb/client_json.h"

namespace dynatroni::cli {
namespace {

using json = nlohmann::json;
using Level = TableFinding::Level;

bool Unsupported(const Status& s) {
  return s.aws_error() == "UnknownOperationException" ||
         (s.code() == StatusCode::kFailedPrecondition &&
          s.message().find("does not support") != std::string::npos);
}

const char* LevelText(Level l) {
  switch (l) {
    case Level::kOk:
      return "ok";
    case Level::kWarn:
      return "WARN";
    case Level::kProblem:
      return "PROBLEM";
  }
  return "?";
}

std::string DescribeKeySchema(const dynamodb::TableDescription& d) {
  std::string s;
  for (const auto& k : d.key_schema) {
    std::string type = "?";
    for (const auto& a : d.attributes) {
      if (a.name == k.name) type = a.type;
    }
    if (!s.empty()) s += " + ";
    s += k.name + " (" + type + ", " + k.key_type + ")";
  }
  return s.empty() ? "(none)" : s;
}

std::string CreateCommand(const std::string& table) { return "dynatroni table create --table " + table; }

}  // namespace

int TableInspection::problems() const {
  int n = 0;
  for (const auto& f : findings) n += f.level == Level::kProblem ? 1 : 0;
  return n;
}

bool TableInspection::key_schema_ok() const {
  for (const auto& f : findings) {
    if (f.aspect == "key schema") return f.level == Level::kOk;
  }
  return false;
}

Result<TableInspection> InspectTable(dynamodb::Client& client, const std::string& table) {
  TableInspection r;
  auto desc = client.DescribeTable(table, CallDeadline());
  if (!desc.ok()) return desc.status();
  r.desc = *desc;
  const auto& d = r.desc;
  auto add = [&](Level l, std::string aspect, std::string detail, std::string fix = "") {
    r.findings.push_back({l, std::move(aspect), std::move(detail), std::move(fix)});
  };

  if (d.status != "ACTIVE") {
    add(Level::kWarn, "status", "table is " + d.status + ", not ACTIVE",
        "wait until it is ACTIVE (re-run this check in a minute)");
  } else {
    add(Level::kOk, "status", "ACTIVE, " + std::to_string(d.item_count) + " items (approximate)");
  }

  // Key schema and attribute types.
  bool hash_ok = false, range_ok = false;
  for (const auto& k : d.key_schema) {
    std::string type;
    for (const auto& a : d.attributes) {
      if (a.name == k.name) type = a.type;
    }
    if (k.name == dcs::kPartitionKey && k.key_type == "HASH" && type == "S") hash_ok = true;
    if (k.name == dcs::kSortKey && k.key_type == "RANGE" && type == "S") range_ok = true;
  }
  if (hash_ok && range_ok && d.key_schema.size() == 2) {
    add(Level::kOk, "key schema", DescribeKeySchema(d));
  } else {
    add(Level::kProblem, "key schema",
        "is " + DescribeKeySchema(d) + "; Dynatroni needs cluster_name (S, HASH) + key (S, RANGE)",
        "a key schema cannot be changed: create a new table (`dynatroni table create --table NEW`) and set "
        "dynamodb.table_name to it");
  }

  // TTL (garbage collection of tombstones and leftovers only; never the lease).
  auto ttl = client.DescribeTimeToLive(table, CallDeadline());
  if (!ttl.ok()) {
    if (Unsupported(ttl.status())) {
      r.ttl_status = "unsupported";
      add(Level::kWarn, "ttl", "this endpoint does not support TTL (a local test server?)",
          "on AWS, TTL on `ttl` garbage-collects tombstones and stale members");
    } else {
      return ttl.status().Annotate("DescribeTimeToLive");
    }
  } else {
    r.ttl_status = ttl->status;
    r.ttl_attribute = ttl->attribute;
    bool on = ttl->status == "ENABLED" || ttl->status == "ENABLING";
    if (on && ttl->attribute == "ttl") {
      add(Level::kOk, "ttl", ttl->status == "ENABLED" ? "enabled on `ttl`" : "being enabled on `ttl`");
    } else if (on) {
      add(Level::kWarn, "ttl",
          "enabled on `" + ttl->attribute + "`, not `ttl`: Dynatroni's leftovers are never garbage-collected",
          "disable TTL, wait for DISABLED, then `" + CreateCommand(table) + "` enables it on `ttl`");
    } else {
      add(Level::kWarn, "ttl",
          ttl->status +
              ": tombstones and stale members are never garbage-collected (the lease does not depend "
              "on it)",
          "`" + CreateCommand(table) + "` enables TTL on `ttl`");
    }
  }

  // Billing mode.
  if (d.billing_mode == "PAY_PER_REQUEST") {
    add(Level::kOk, "billing", "on-demand (PAY_PER_REQUEST)");
  } else {
    std::string rcu, wcu;
    const json raw = dynamodb::RawTable(d);
    if (const auto* pt = raw.contains("ProvisionedThroughput") ? &raw["ProvisionedThroughput"] : nullptr) {
      if (pt->contains("ReadCapacityUnits")) rcu = pt->at("ReadCapacityUnits").dump();
      if (pt->contains("WriteCapacityUnits")) wcu = pt->at("WriteCapacityUnits").dump();
    }
    add(Level::kOk, "billing",
        "provisioned, " + (rcu.empty() ? "?" : rcu) + " RCU / " + (wcu.empty() ? "?" : wcu) +
            " WCU: throttling delays lease renewals; size it with `dynatroni cost`");
  }

  // Point-in-time recovery.
  bool ambiguous = false;
  auto pitr = dynamodb::Call(client, "DescribeContinuousBackups", json{{"TableName", table}}, false,
                             CallDeadline(), &ambiguous);
  if (!pitr.ok()) {
    r.pitr_status = Unsupported(pitr.status()) ? "unsupported" : "unknown";
    add(Level::kOk, "pitr",
        Unsupported(pitr.status()) ? "not supported by this endpoint"
                                   : "could not be read: " + pitr.status().message());
  } else {
    std::string st = "DISABLED";
    const json& cb = (*pitr)["ContinuousBackupsDescription"];
    if (cb.is_object() && cb.contains("PointInTimeRecoveryDescription") &&
        cb["PointInTimeRecoveryDescription"].is_object()) {
      st = cb["PointInTimeRecoveryDescription"].value("PointInTimeRecoveryStatus", "DISABLED");
    }
    r.pitr_status = st;
    add(Level::kOk, "pitr",
        st == "ENABLED" ? "point-in-time recovery enabled"
                        : "point-in-time recovery " + st + " (optional: --pitr)");
  }
  add(Level::kOk, "deletion protection",
      d.deletion_protection ? "enabled" : "disabled (optional: --deletion-protection)");

  // Global tables: conditional writes are only safe within one Region or with MRSC.
  if (d.replica_regions.empty()) {
    add(Level::kOk, "global table", "single-Region table");
  } else {
    std::string regions;
    for (const auto& rg : d.replica_regions) regions += (regions.empty() ? "" : ", ") + rg;
    if (d.multi_region_consistency == "STRONG") {
      add(Level::kOk, "global table",
          "replicas in " + regions + " with multi-Region strong consistency (MRSC)");
    } else {
      add(Level::kProblem, "global table",
          "replicas in " + regions +
              " with multi-Region EVENTUAL consistency (MREC): conditional writes in two Regions can both "
              "succeed, so two nodes could hold the leader lease",
          "use a single-Region table, or a global table created with MultiRegionConsistency=STRONG (MRSC)");
    }
  }
  return r;
}

int RunTableCheck(const Options& opts, Context& ctx, std::ostream& out, std::ostream& err) {
  const std::string& table = ctx.config.dcs.table_name;
  auto insp = InspectTable(*ctx.client, table);
  if (!insp.ok()) {
    if (insp.status().code() == StatusCode::kNotFound) {
      if (opts.json) {
        PrintJson(out, json{{"table", table}, {"exists", false}, {"problems", 1}});
      } else {
        out << "Table " << table << " does not exist in " << ctx.client->region() << " ("
            << ctx.client->endpoint() << ")\n  fix: " << CreateCommand(table) << "\n";
      }
      return kExitFailed;
    }
    PrintError(err, insp.status(), table);
    return ExitCodeFor(insp.status());
  }
  if (opts.json) {
    json checks = json::array();
    for (const auto& f : insp->findings) {
      json c = {{"aspect", f.aspect}, {"level", LevelText(f.level)}, {"detail", f.detail}};
      if (!f.fix.empty()) c["fix"] = f.fix;
      checks.push_back(std::move(c));
    }
    PrintJson(out, json{{"table", table},
                        {"exists", true},
                        {"region", ctx.client->region()},
                        {"endpoint", ctx.client->endpoint()},
                        {"status", insp->desc.status},
                        {"billing_mode", insp->desc.billing_mode},
                        {"ttl_status", insp->ttl_status},
                        {"ttl_attribute", insp->ttl_attribute},
                        {"pitr_status", insp->pitr_status},
                        {"replica_regions", insp->desc.replica_regions},
                        {"multi_region_consistency", insp->desc.multi_region_consistency},
                        {"checks", checks},
                        {"problems", insp->problems()}});
    return insp->problems() > 0 ? kExitFailed : kExitOk;
  }
  out << "Table " << table << " in " << ctx.client->region() << " (" << ctx.client->endpoint() << ")\n";
  TextTable t({"", "", ""});
  for (const auto& f : insp->findings) {
    t.AddRow({LevelText(f.level), f.aspect, f.detail + (f.fix.empty() ? "" : " — fix: " + f.fix)});
  }
  t.Print(out, "  ");
  int p = insp->problems();
  out << (p == 0 ? "table check: no problems\n"
                 : "table check: " + std::to_string(p) + (p == 1 ? " problem\n" : " problems\n"));
  return p > 0 ? kExitFailed : kExitOk;
}

int RunTableCreate(const Options& opts, Context& ctx, std::ostream& out, std::ostream& err) {
  const std::string& table = ctx.config.dcs.table_name;
  Clock& clock = *ctx.clock;
  out << "Table " << table << " in " << ctx.client->region() << " (" << ctx.client->endpoint() << ")\n";
  auto existing = InspectTable(*ctx.client, table);
  bool created = false;
  int warnings = 0;
  if (existing.ok()) {
    if (!existing->key_schema_ok()) {
      for (const auto& f : existing->findings) {
        if (f.level == Level::kProblem)
          out << "  PROBLEM  " << f.aspect << ": " << f.detail << " — fix: " << f.fix << "\n";
      }
      out << "Table " << table << " already exists with a different key schema: nothing changed\n";
      return kExitFailed;
    }
  } else if (existing.status().code() != StatusCode::kNotFound) {
    PrintError(err, existing.status(), table);
    return ExitCodeFor(existing.status());
  } else {
    dynamodb::CreateTableRequest req;
    req.table = table;
    req.key_schema = {{dcs::kPartitionKey, "HASH"}, {dcs::kSortKey, "RANGE"}};
    req.attributes = {{dcs::kPartitionKey, "S"}, {dcs::kSortKey, "S"}};
    req.on_demand = !opts.provisioned.has_value();
    if (opts.provisioned) {
      req.read_capacity = opts.provisioned->first;
      req.write_capacity = opts.provisioned->second;
    }
    req.deletion_protection = opts.deletion_protection;
    out << "  creating: key cluster_name (S, HASH) + key (S, RANGE), "
        << (req.on_demand ? std::string("on-demand")
                          : "provisioned " + std::to_string(req.read_capacity) + " RCU / " +
                                std::to_string(req.write_capacity) + " WCU")
        << (req.deletion_protection ? ", deletion protection" : "") << "\n";
    auto c = ctx.client->CreateTable(req, CallDeadline());
    if (!c.ok()) {
      PrintError(err, c.status(), table);
      return ExitCodeFor(c.status());
    }
    created = true;
    // Wait for ACTIVE, with a progress line every second.
    const MonoTime start = clock.Now();
    const Duration limit =
        std::chrono::duration_cast<Duration>(std::chrono::duration<double>(opts.wait_timeout_s));
    MonoTime next_progress = start + std::chrono::seconds(1);
    std::string last = c->status;
    while (last != "ACTIVE") {
      Duration elapsed = clock.Now() - start;
      if (elapsed >= limit) {
        err << "dynatroni: error: table " << table << " is still " << last << " after "
            << FormatDuration(elapsed) << "\nfix: re-run `" << CreateCommand(table)
            << "` later (it continues where it stopped)\n";
        return kExitRuntime;
      }
      clock.SleepFor(std::chrono::milliseconds(250));
      auto d = ctx.client->DescribeTable(table, CallDeadline());
      if (!d.ok()) {
        PrintError(err, d.status(), table);
        return ExitCodeFor(d.status());
      }
      last = d->status;
      if (last != "ACTIVE" && clock.Now() >= next_progress) {
        out << "  waiting: " << last << " (" << FormatDuration(clock.Now() - start) << ")\n";
        next_progress += std::chrono::seconds(1);
      }
    }
    out << "  table is ACTIVE after " << FormatDuration(clock.Now() - start) << "\n";
    existing = InspectTable(*ctx.client, table);
    if (!existing.ok()) {
      PrintError(err, existing.status(), table);
      return ExitCodeFor(existing.status());
    }
  }

  // Bring TTL, PITR and deletion protection to what was asked.
  std::vector<std::string> changes;
  const TableInspection& insp = *existing;
  bool ttl_on =
      (insp.ttl_status == "ENABLED" || insp.ttl_status == "ENABLING") && insp.ttl_attribute == "ttl";
  if (!ttl_on && insp.ttl_status != "unsupported") {
    if ((insp.ttl_status == "ENABLED" || insp.ttl_status == "ENABLING") && insp.ttl_attribute != "ttl") {
      out << "  WARNING: TTL is enabled on `" << insp.ttl_attribute
          << "`; a table has one TTL attribute: disable it first to use `ttl`\n";
      ++warnings;
    } else {
      auto s = ctx.client->UpdateTimeToLive(table, "ttl", true, CallDeadline());
      if (s.ok()) {
        out << "  TTL enabled on `ttl`\n";
        changes.emplace_back("TTL");
      } else if (Unsupported(s)) {
        out << "  WARNING: this endpoint does not support TTL (UpdateTimeToLive); on AWS it garbage-collects "
               "tombstones and stale members\n";
        ++warnings;
      } else if (s.code() == StatusCode::kFailedPrecondition) {
        // e.g. a TTL change is already in progress
        out << "  WARNING: TTL could not be enabled now: " << s.message() << "; re-run later\n";
        ++warnings;
      } else {
        PrintError(err, s.Annotate("enabling TTL"), table);
        return ExitCodeFor(s);
      }
    }
  } else if (insp.ttl_status == "unsupported" && created) {
    out << "  WARNING: this endpoint does not support TTL; on AWS it garbage-collects tombstones and stale "
           "members\n";
    ++warnings;
  }
  if (opts.pitr && insp.pitr_status != "ENABLED") {
    bool amb = false;
    auto r =
        dynamodb::Call(*ctx.client, "UpdateContinuousBackups",
                       json{{"TableName", table},
                            {"PointInTimeRecoverySpecification", {{"PointInTimeRecoveryEnabled", true}}}},
                       true, CallDeadline(), &amb);
    if (r.ok()) {
      out << "  point-in-time recovery enabled\n";
      changes.emplace_back("point-in-time recovery");
    } else if (Unsupported(r.status())) {
      out << "  WARNING: this endpoint does not support point-in-time recovery (UpdateContinuousBackups)\n";
      ++warnings;
    } else {
      PrintError(err, r.status().Annotate("enabling point-in-time recovery"), table);
      return ExitCodeFor(r.status());
    }
  }
  if (opts.deletion_protection && !insp.desc.deletion_protection && !created) {
    bool amb = false;
    auto r = dynamodb::Call(*ctx.client, "UpdateTable",
                            json{{"TableName", table}, {"DeletionProtectionEnabled", true}}, true,
                            CallDeadline(), &amb);
    if (r.ok()) {
      out << "  deletion protection enabled\n";
      changes.emplace_back("deletion protection");
    } else if (Unsupported(r.status()) || r.status().code() == StatusCode::kInvalidArgument) {
      out << "  WARNING: deletion protection could not be enabled: " << r.status().message() << "\n";
      ++warnings;
    } else {
      PrintError(err, r.status().Annotate("enabling deletion protection"), table);
      return ExitCodeFor(r.status());
    }
  }
  if (opts.provisioned && insp.desc.billing_mode == "PAY_PER_REQUEST" && !created) {
    out << "  WARNING: the table is on-demand; --provisioned only applies when creating (change it with "
           "`aws dynamodb update-table --billing-mode PROVISIONED ...`)\n";
    ++warnings;
  }
  for (const auto& f : insp.findings) {
    if (f.level == Level::kProblem) {
      out << "  PROBLEM  " << f.aspect << ": " << f.detail << " — fix: " << f.fix << "\n";
    }
  }
  if (created) {
    out << "Table " << table << " created" << (warnings ? " (with warnings above)" : "") << "\n";
  } else if (insp.problems() > 0) {
    out << "Table " << table << " already exists but has the problems above\n";
  } else if (changes.empty()) {
    out << "Table " << table << " already exists and is correct: nothing changed"
        << (warnings ? " (see warnings above)" : "") << "\n";
  } else {
    std::string list;
    for (const auto& c : changes) list += (list.empty() ? "" : ", ") + c;
    out << "Table " << table << " already existed; updated: " << list << "\n";
  }
  return insp.problems() > 0 ? kExitFailed : kExitOk;
}

}  // namespace dynatroni::cli
