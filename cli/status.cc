// `dynatroni status` (one cluster) and `dynatroni list` (the clusters of a table).
//
// Lease age, honestly: the lease is timed by observation (docs/design.md), and
// one invocation has no history. A single `status` therefore reports the
// leader's observed age as unknown ("first observation") together with the
// bound that follows from it — if the version is never renewed, this observer
// would consider the lease expired within lease_ms from now — plus the
// writer's wall-clock `updated_at` age, labelled as such. With --watch the
// same process keeps its observations, so later refreshes show the real
// observed age (time the current version has been seen unchanged) and the
// remaining time before this observer would consider it expired.
#include <algorithm>
#include <ostream>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "cli/output.h"
#include "dynamodb/client_json.h"

namespace dynatroni::cli {
namespace {

using json = nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr int kStaleFactor = 10;  // members not written for 10 x lease are leftovers

struct FirstSeen {
  int64_t version = 0;
  bool live = false;
  MonoTime at;
};
using Observations = std::map<std::string, FirstSeen>;

const char* const kPlainKeys[] = {"config",  "initialize", "sync",    "failover",
                                  "history", "status",     "failsafe"};

json ParseValue(const std::optional<std::string>& v) {
  if (!v) return nullptr;
  json j = json::parse(*v, nullptr, false);
  if (j.is_discarded()) return *v;
  return j;
}

std::optional<int64_t> JsonInt(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return std::nullopt;
  const json& v = j[key];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number()) return static_cast<int64_t>(v.get<double>());
  if (v.is_string()) {
    try {
      size_t pos = 0;
      long long n = std::stoll(v.get<std::string>(), &pos);
      if (pos == v.get<std::string>().size()) return static_cast<int64_t>(n);
    } catch (...) {
    }
  }
  return std::nullopt;
}

std::string JsonText(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

bool IsGroupKey(const std::string& key, std::string* group) {
  auto slash = key.find('/');
  if (slash == std::string::npos || slash == 0) return false;
  for (size_t i = 0; i < slash; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(key[i]))) return false;
  }
  if (group) *group = key.substr(0, slash);
  return true;
}

Duration DefaultLease(const Options& opts, const Context& ctx) {
  if (opts.failover_time_s) {
    return duration_cast<Duration>(std::chrono::duration<double>(*opts.failover_time_s));
  }
  if (ctx.config.dcs.failover_time) return *ctx.config.dcs.failover_time;
  return std::chrono::seconds(30);  // Patroni's default ttl
}

// The lease an observer applies to an item: lease_ms in the item, at least
// --failover-time when given (as the plugin uses max(own ttl, lease_ms)).
Duration LeaseOf(const dcs::StoredItem& item, const Options& opts, const Context& ctx) {
  Duration from_item = milliseconds(item.lease_ms);
  if (item.lease_ms <= 0) return DefaultLease(opts, ctx);
  if (opts.failover_time_s) return std::max(from_item, DefaultLease(opts, ctx));
  return from_item;
}

// Records this read and returns the observed age, or nullopt on a first
// observation of this version.
std::optional<Duration> Observe(Observations& obs, const dcs::StoredItem& item, MonoTime now) {
  auto it = obs.find(item.key);
  if (it == obs.end() || it->second.version != item.version || it->second.live != item.live()) {
    obs[item.key] = FirstSeen{item.version, item.live(), now};
    return std::nullopt;
  }
  return now - it->second.at;
}

json ItemJson(const dcs::StoredItem& item, int64_t wall_ms) {
  json j = {{"version", item.version}, {"live", item.live()}, {"value", ParseValue(item.value)}};
  if (item.updated_at_ms > 0) {
    j["updated_at"] = FormatEpochMillis(item.updated_at_ms);
    j["updated_age_ms"] = wall_ms - item.updated_at_ms;
  }
  if (!item.session.empty()) j["session"] = item.session;
  if (item.ttl_epoch_s > 0) j["ttl"] = item.ttl_epoch_s;
  return j;
}

Result<json> ReadStatus(const Options& opts, Context& ctx, Observations& obs) {
  const std::string prefix = opts.group ? std::to_string(*opts.group) + "/" : "";
  ctx.store_warnings.clear();
  auto items = ctx.store->Query(ctx.config.partition, prefix, CallDeadline());
  if (!items.ok()) return items.status().Annotate("reading cluster " + ctx.config.partition);
  const MonoTime now = ctx.clock->Now();
  const int64_t wall_ms = EpochMillis(ctx.clock->WallNow());

  json snap = {{"table", ctx.config.dcs.table_name},    {"region", ctx.client->region()},
               {"endpoint", ctx.client->endpoint()},    {"cluster", ctx.config.partition},
               {"read_at", FormatEpochMillis(wall_ms)}, {"items", items->size()}};
  if (opts.group) snap["group"] = *opts.group;
  json warnings = json::array();
  for (const auto& w : ctx.store_warnings) warnings.push_back(w);

  std::map<std::string, dcs::StoredItem> by_key;
  std::set<std::string> groups;
  for (const auto& item : *items) {
    std::string k = item.key.substr(prefix.size());
    std::string g;
    if (prefix.empty() && IsGroupKey(k, &g)) {
      groups.insert(g);
      continue;
    }
    by_key[k] = item;
  }
  if (!groups.empty()) {
    std::string list;
    for (const auto& g : groups) list += (list.empty() ? "" : ", ") + g;
    warnings.push_back("this is an MPP (Citus) cluster with groups " + list + ": use --group N to see one");
  }

  // Leader LSN for the lag column: `status` (Patroni >= 2.1), `optime/leader`, or the leader member.
  std::optional<int64_t> leader_lsn;
  if (auto it = by_key.find("status"); it != by_key.end() && it->second.live()) {
    json v = ParseValue(it->second.value);
    leader_lsn = v.is_number_integer() ? std::optional<int64_t>(v.get<int64_t>()) : JsonInt(v, "optime");
  }
  if (!leader_lsn) {
    if (auto it = by_key.find("optime/leader"); it != by_key.end() && it->second.live()) {
      json v = ParseValue(it->second.value);
      if (v.is_number_integer()) leader_lsn = v.get<int64_t>();
    }
  }

  // Leader.
  json leader = nullptr;
  std::string leader_name;
  if (auto it = by_key.find("leader"); it != by_key.end()) {
    const auto& li = it->second;
    const Duration lease = LeaseOf(li, opts, ctx);
    leader = {
        {"version", li.version}, {"term", li.term}, {"lease_ms", duration_cast<milliseconds>(lease).count()}};
    if (li.updated_at_ms > 0) {
      leader["updated_at"] = FormatEpochMillis(li.updated_at_ms);
      leader["updated_age_ms"] = wall_ms - li.updated_at_ms;
    }
    auto age = Observe(obs, li, now);
    if (!li.live()) {
      leader["state"] = "released";
      leader["name"] = nullptr;
    } else {
      leader_name = *li.value;
      leader["name"] = leader_name;
      leader["session"] = li.session;
      leader["first_observation"] = !age.has_value();
      if (!age) {
        leader["state"] = "held";
        leader["observed_age_ms"] = nullptr;
        leader["expires_within_ms"] = duration_cast<milliseconds>(lease).count();
      } else {
        Duration left = lease - *age;
        leader["observed_age_ms"] = duration_cast<milliseconds>(*age).count();
        leader["expires_within_ms"] = std::max<int64_t>(0, duration_cast<milliseconds>(left).count());
        leader["state"] = left > Duration::zero() ? "held" : "expired";
      }
      if (li.updated_at_ms > 0 && wall_ms - li.updated_at_ms > kStaleFactor * li.lease_ms &&
          li.lease_ms > 0) {
        warnings.push_back("the leader item was last written " + FormatMillis(wall_ms - li.updated_at_ms) +
                           " ago (writer's wall clock): if " + leader_name +
                           " is dead and no member takes over, see `dynatroni break-glass promote`");
      }
    }
  }
  snap["leader"] = leader;

  // Synchronous standbys (the `sync` key), for patronictl's role names.
  std::set<std::string> sync_standbys;
  if (auto it = by_key.find("sync"); it != by_key.end() && it->second.live()) {
    std::stringstream names(JsonText(ParseValue(it->second.value), "sync_standby"));
    std::string n;
    while (std::getline(names, n, ',')) {
      if (!n.empty()) sync_standbys.insert(n);
    }
  }

  // Members.
  json members = json::array();
  json leftovers = json::array();
  std::map<std::string, std::vector<std::string>> leftover_reasons;
  for (const auto& [k, item] : by_key) {
    if (k.rfind("members/", 0) != 0) continue;
    std::string name = k.substr(8);
    auto age = Observe(obs, item, now);
    if (!item.live()) continue;
    json v = ParseValue(item.value);
    json m = {{"name", name}, {"version", item.version}};
    // Role and state as patronictl shows them; the member's own view too.
    const bool is_leader = name == leader_name;
    m["role"] = is_leader ? "leader" : sync_standbys.count(name) ? "sync_standby" : "replica";
    m["reported_role"] = JsonText(v, "role");
    std::string rs = JsonText(v, "replication_state");
    m["state"] = !is_leader && !rs.empty() ? rs : JsonText(v, "state");
    if (auto tl = JsonInt(v, "timeline")) m["timeline"] = *tl;
    std::optional<int64_t> lsn = JsonInt(v, "xlog_location");
    if (!lsn) lsn = JsonInt(v, "replay_lsn");
    if (!lsn) lsn = JsonInt(v, "receive_lsn");
    if (lsn) m["lsn"] = *lsn;
    if (auto pv = JsonText(v, "version"); !pv.empty()) m["patroni_version"] = pv;
    m["leader"] = is_leader;
    if (is_leader && !leader_lsn && lsn) leader_lsn = lsn;
    if (item.updated_at_ms > 0) m["updated_age_ms"] = wall_ms - item.updated_at_ms;
    m["observed_age_ms"] = age ? json(duration_cast<milliseconds>(*age).count()) : json(nullptr);
    const Duration lease = LeaseOf(item, opts, ctx);
    const int64_t lease_ms = duration_cast<milliseconds>(lease).count();
    // The leader's own member item is rewritten only when its data changes: its lease renewals prove it
    // alive.
    bool stale =
        !is_leader && item.updated_at_ms > 0 && wall_ms - item.updated_at_ms > kStaleFactor * lease_ms;
    m["stale"] = stale;
    if (stale) {
      leftover_reasons[item.key].push_back(
          "member not written for " + FormatMillis(wall_ms - item.updated_at_ms) +
          " (updated_at, writer's wall clock) > 10 x lease " + FormatMillis(lease_ms));
    }
    members.push_back(std::move(m));
  }
  for (auto& m : members) {
    if (m["leader"].get<bool>() || !leader_lsn || !m.contains("lsn")) continue;
    int64_t lag = std::max<int64_t>(0, *leader_lsn - m["lsn"].get<int64_t>());
    m["lag_bytes"] = lag;
  }
  snap["members"] = members;

  // The other Patroni keys.
  json keys = json::object();
  for (const char* k : kPlainKeys) {
    auto it = by_key.find(k);
    keys[k] = it == by_key.end() ? json(nullptr) : ItemJson(it->second, wall_ms);
    if (it != by_key.end()) Observe(obs, it->second, now);
  }
  snap["keys"] = keys;

  // Audit items and keys Patroni does not know.
  json audits = json::array();
  json others = json::array();
  for (const auto& [k, item] : by_key) {
    if (k == "leader" || k.rfind("members/", 0) == 0) continue;
    bool plain = false;
    for (const char* p : kPlainKeys) plain = plain || k == p;
    if (plain) continue;
    if (k.rfind("break-glass/", 0) == 0) {
      json a = ParseValue(item.value);
      a["key"] = k;
      audits.push_back(std::move(a));
    } else {
      json o = ItemJson(item, wall_ms);
      o["key"] = k;
      others.push_back(std::move(o));
    }
  }
  snap["break_glass_audits"] = audits;
  snap["other_keys"] = others;

  // Leftovers: DynamoDB TTL passed (not yet deleted) and long-silent members.
  for (const auto& [k, item] : by_key) {
    if (item.ttl_epoch_s > 0 && item.ttl_epoch_s * 1000 < wall_ms) {
      leftover_reasons[item.key].push_back(
          "ttl passed " + FormatMillis(wall_ms - item.ttl_epoch_s * 1000) +
          " ago (this host's wall clock); DynamoDB deletes expired items within a few days");
    }
  }
  for (const auto& [k, reasons] : leftover_reasons) {
    std::string r;
    for (const auto& x : reasons) r += (r.empty() ? "" : "; ") + x;
    leftovers.push_back({{"key", k}, {"reason", r}});
  }
  snap["leftovers"] = leftovers;
  snap["warnings"] = warnings;
  return snap;
}

std::string AgeText(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "-";
  return FormatMillis(j[key].get<int64_t>()) + " ago";
}

void RenderStatus(const json& s, std::ostream& out) {
  out << "Cluster " << s["cluster"].get<std::string>();
  if (s.contains("group")) out << " group " << s["group"].get<int64_t>();
  out << "  (table " << s["table"].get<std::string>() << ", " << s["region"].get<std::string>() << ", "
      << s["endpoint"].get<std::string>() << ")  read at " << s["read_at"].get<std::string>() << "\n";

  const json& l = s["leader"];
  if (l.is_null()) {
    out << "Leader: none (no leader item)\n";
  } else if (l["state"] == "released") {
    out << "Leader: none (released: tombstone at version " << l["version"].get<int64_t>() << ", term "
        << l["term"].get<int64_t>() << "; the next leader gets term " << l["term"].get<int64_t>() + 1
        << ")\n";
  } else {
    const std::string lease = FormatMillis(l["lease_ms"].get<int64_t>());
    out << "Leader: " << l["name"].get<std::string>() << "  term " << l["term"].get<int64_t>() << "  version "
        << l["version"].get<int64_t>() << "  session " << l["session"].get<std::string>() << "\n";
    if (l["first_observation"].get<bool>()) {
      out << "  lease    " << lease
          << "; observed age unknown (first observation): if it is not renewed, this observer sees it expire "
             "within "
          << lease << "\n";
    } else if (l["state"] == "expired") {
      out << "  lease    " << lease << "; EXPIRED for this observer: version unchanged for "
          << FormatMillis(l["observed_age_ms"].get<int64_t>()) << " >= lease\n";
    } else {
      out << "  lease    " << lease << "; version seen unchanged for "
          << FormatMillis(l["observed_age_ms"].get<int64_t>()) << " by this observer: expires within "
          << FormatMillis(l["expires_within_ms"].get<int64_t>()) << " unless renewed\n";
    }
  }
  if (!l.is_null() && l.contains("updated_at")) {
    out << "  written  " << FormatMillis(l["updated_age_ms"].get<int64_t>())
        << " ago by the writer's wall clock (" << l["updated_at"].get<std::string>()
        << "; for humans only, the lease never uses it)\n";
  }

  const json& members = s["members"];
  out << "\nMembers (" << members.size() << ")\n";
  if (members.empty()) {
    out << "  none\n";
  } else {
    TextTable t({"Member", "Role", "State", "TL", "Lag MB", "Version", "Updated (wall clock)"});
    t.AlignRight(3);
    t.AlignRight(4);
    t.AlignRight(5);
    for (const auto& m : members) {
      std::string state = m["state"].get<std::string>();
      std::string lag = "";
      if (m.contains("lag_bytes")) {
        lag = std::to_string((m["lag_bytes"].get<int64_t>() + (1 << 19)) >> 20);
      } else if (!m["leader"].get<bool>()) {
        lag = "unknown";
      }
      std::string updated = AgeText(m, "updated_age_ms");
      if (m["stale"].get<bool>()) updated += " (stale)";
      std::string role = m["role"].get<std::string>();
      const std::string reported = m["reported_role"].get<std::string>();
      if (!m["leader"].get<bool>() && (reported == "primary" || reported == "master")) {
        role += " (reports " + reported + "!)";
      }
      t.AddRow({m["name"].get<std::string>(), role.empty() ? "-" : role, state.empty() ? "-" : state,
                m.contains("timeline") ? std::to_string(m["timeline"].get<int64_t>()) : "-", lag,
                std::to_string(m["version"].get<int64_t>()), updated});
    }
    t.Print(out, "  ");
    out << "  (Role as patronictl names it: leader = holds the lease; Version = item version, bumped by "
           "every "
           "write)\n";
  }

  out << "\nKeys\n";
  TextTable k({"Key", "Version", "Updated (wall clock)", "Value"});
  k.AlignRight(1);
  for (const char* name : kPlainKeys) {
    const json& it = s["keys"][name];
    if (it.is_null()) {
      k.AddRow({name, "-", "-", "(absent)"});
      continue;
    }
    std::string value = it["live"].get<bool>()
                            ? (it["value"].is_string() ? it["value"].get<std::string>() : it["value"].dump())
                            : "(deleted: tombstone)";
    k.AddRow({name, std::to_string(it["version"].get<int64_t>()), AgeText(it, "updated_age_ms"),
              Truncate(value, 60)});
  }
  k.Print(out, "  ");

  const json& audits = s["break_glass_audits"];
  if (!audits.empty()) {
    out << "\nBreak-glass audit items (" << audits.size() << ")\n";
    TextTable a({"Key", "Who", "When", "Old leader", "Member", "Outcome"});
    for (const auto& x : audits) {
      a.AddRow({JsonText(x, "key"), JsonText(x, "who"), JsonText(x, "when"), JsonText(x, "old_leader"),
                JsonText(x, "member"), Truncate(JsonText(x, "outcome"), 50)});
    }
    a.Print(out, "  ");
  }
  const json& others = s["other_keys"];
  if (!others.empty()) {
    out << "\nOther keys (" << others.size() << ")\n";
    TextTable o({"Key", "Version", "Updated (wall clock)", "Value"});
    o.AlignRight(1);
    for (const auto& x : others) {
      std::string value = x["live"].get<bool>()
                              ? (x["value"].is_string() ? x["value"].get<std::string>() : x["value"].dump())
                              : "(deleted: tombstone)";
      o.AddRow({x["key"].get<std::string>(), std::to_string(x["version"].get<int64_t>()),
                AgeText(x, "updated_age_ms"), Truncate(value, 50)});
    }
    o.Print(out, "  ");
  }

  const json& lo = s["leftovers"];
  if (lo.empty()) {
    out << "\nLeftovers: none\n";
  } else {
    out << "\nLeftovers (" << lo.size() << ")\n";
    TextTable t({"Key", "Why"});
    for (const auto& x : lo) t.AddRow({x["key"].get<std::string>(), x["reason"].get<std::string>()});
    t.Print(out, "  ");
  }
  for (const auto& w : s["warnings"]) out << "WARNING: " << w.get<std::string>() << "\n";
}

bool Fatal(const Status& s) {
  return s.code() == StatusCode::kNotFound || s.code() == StatusCode::kPermissionDenied ||
         s.code() == StatusCode::kInvalidArgument;
}

}  // namespace

int RunStatus(const Options& opts, Context& ctx, std::ostream& out, std::ostream& err,
              const CliHooks& hooks) {
  Observations obs;
  const bool watch = opts.watch_s.has_value();
  const Duration interval =
      watch ? duration_cast<Duration>(std::chrono::duration<double>(*opts.watch_s)) : Duration::zero();
  int rc = kExitOk;
  for (int64_t refresh = 1;; ++refresh) {
    auto snap = ReadStatus(opts, ctx, obs);
    if (watch && refresh > 1 && !opts.json) {
      if (hooks.out_is_tty) {
        out << "\033[H\033[2J";
      } else {
        out << "\n";
      }
    }
    if (!snap.ok()) {
      PrintError(err, snap.status(), ctx.config.dcs.table_name);
      rc = ExitCodeFor(snap.status());
      if (!watch || Fatal(snap.status())) return rc;
    } else {
      rc = kExitOk;
      if (watch) (*snap)["refresh"] = refresh;
      if (opts.json) {
        PrintJson(out, *snap, watch);
      } else {
        if (watch) out << "Every " << FormatDuration(interval) << " (refresh " << refresh << ")\n";
        RenderStatus(*snap, out);
      }
    }
    out.flush();
    if (!watch || (opts.count > 0 && refresh >= opts.count)) break;
    ctx.clock->SleepFor(interval);
  }
  return rc;
}

int RunList(const Options& opts, Context& ctx, std::ostream& out, std::ostream& err) {
  const std::string& table = ctx.config.dcs.table_name;
  // A Scan of the partition keys only (the CLI may Scan; the plugin never does).
  std::set<std::string> clusters;
  json start = nullptr;
  for (int page = 0; page < 100000; ++page) {
    json body = {{"TableName", table},
                 {"ProjectionExpression", "#c"},
                 {"ExpressionAttributeNames", {{"#c", dcs::kPartitionKey}}}};
    if (!start.is_null()) body["ExclusiveStartKey"] = start;
    auto r = dynamodb::Call(*ctx.client, "Scan", body, false, CallDeadline(std::chrono::seconds(30)));
    if (!r.ok()) {
      PrintError(err, r.status().Annotate("Scan of table " + table), table);
      return ExitCodeFor(r.status());
    }
    if (r->contains("Items") && (*r)["Items"].is_array()) {
      for (const auto& it : (*r)["Items"]) {
        if (it.contains(dcs::kPartitionKey) && it[dcs::kPartitionKey].contains("S")) {
          clusters.insert(it[dcs::kPartitionKey]["S"].get<std::string>());
        }
      }
    }
    if (!r->contains("LastEvaluatedKey") || (*r)["LastEvaluatedKey"].empty()) break;
    start = (*r)["LastEvaluatedKey"];
  }
  const int64_t wall_ms = EpochMillis(ctx.clock->WallNow());
  json rows = json::array();
  for (const auto& c : clusters) {
    auto items = ctx.store->Query(c, "", CallDeadline());
    if (!items.ok()) {
      PrintError(err, items.status().Annotate("reading cluster " + c), table);
      return ExitCodeFor(items.status());
    }
    json row = {{"cluster", c}, {"leader", nullptr},  {"term", nullptr},
                {"members", 0}, {"stale_members", 0}, {"items", items->size()}};
    std::set<std::string> groups;
    for (const auto& it : *items) {
      std::string g;
      std::string k = it.key;
      if (IsGroupKey(k, &g)) {
        groups.insert(g);
        k = k.substr(g.size() + 1);
        if (g != "0") continue;  // show the coordinator (group 0) of an MPP cluster
      }
      if (k == "leader") {
        row["term"] = it.term;
        if (it.live()) row["leader"] = *it.value;
      } else if (k.rfind("members/", 0) == 0 && it.live()) {
        int64_t lease_ms = it.lease_ms > 0 ? it.lease_ms : 30000;
        bool stale = it.updated_at_ms > 0 && wall_ms - it.updated_at_ms > kStaleFactor * lease_ms;
        row[stale ? "stale_members" : "members"] = row[stale ? "stale_members" : "members"].get<int>() + 1;
      }
    }
    if (!groups.empty()) {
      json g = json::array();
      for (const auto& x : groups) g.push_back(std::stoll(x));
      row["mpp_groups"] = g;
    }
    rows.push_back(std::move(row));
  }
  if (opts.json) {
    PrintJson(out, json{{"table", table}, {"clusters", rows}});
    return kExitOk;
  }
  if (rows.empty()) {
    out << "No clusters in table " << table << "\n";
    return kExitOk;
  }
  TextTable t({"Cluster", "Leader", "Term", "Members", "Stale", "Items"});
  t.AlignRight(2);
  t.AlignRight(3);
  t.AlignRight(4);
  t.AlignRight(5);
  for (const auto& r : rows) {
    std::string name = r["cluster"].get<std::string>();
    if (r.contains("mpp_groups")) name += " (MPP, " + std::to_string(r["mpp_groups"].size()) + " groups)";
    t.AddRow({name, r["leader"].is_null() ? "-" : r["leader"].get<std::string>(),
              r["term"].is_null() ? "-" : std::to_string(r["term"].get<int64_t>()),
              std::to_string(r["members"].get<int>()), std::to_string(r["stale_members"].get<int>()),
              std::to_string(r["items"].get<size_t>())});
  }
  t.Print(out);
  return kExitOk;
}

}  // namespace dynatroni::cli
