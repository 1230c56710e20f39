// `dynatroni doctor`: one line per check, PASS / WARN / FAIL with the fix.
//
// Permission probes write nothing: a GetItem of a key that does not exist, a
// Query of a partition that does not exist, and an UpdateItem on that key
// whose condition can never hold (attribute_exists AND attribute_not_exists
// of the same attribute), so DynamoDB authorizes it and then refuses it with
// ConditionalCheckFailed without changing anything.
#include <algorithm>
#include <ostream>

#include "aws/sigv4.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "http/curl_transport.h"

namespace dynatroni::cli {
namespace {

using json = nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr char kProbePartition[] = "dynatroni-doctor-probe";
constexpr char kProbeKey[] = "doctor-probe";
// The earlier Python DynamoDB DCS's default table_name (docs/migration.md).
constexpr char kEarlierDefaultTable[] = "softoboros-patroni";

enum class Result3 { kPass, kWarn, kFail };

struct Check {
  Result3 result = Result3::kPass;
  std::string name;
  std::string detail;
  std::string fix;
};

const char* Text(Result3 r) {
  switch (r) {
    case Result3::kPass:
      return "PASS";
    case Result3::kWarn:
      return "WARN";
    case Result3::kFail:
      return "FAIL";
  }
  return "?";
}

bool CredentialRejected(const Status& s) {
  static const char* const kCodes[] = {"UnrecognizedClientException",  "InvalidSignatureException",
                                       "ExpiredTokenException",        "MissingAuthenticationTokenException",
                                       "IncompleteSignatureException", "InvalidClientTokenId",
                                       "SignatureDoesNotMatch",        "ExpiredToken"};
  for (const char* c : kCodes) {
    if (s.aws_error() == c) return true;
  }
  return false;
}

std::string IamFix(const std::string& action, const std::string& region, const std::string& table) {
  return "allow " + action + " on arn:aws:dynamodb:" + region + ":<account>:table/" + table +
         " for this principal (docs/iam.md has the policies)";
}

class Doctor {
 public:
  Doctor(const Options& opts, const ResolvedConfig& config, const Env& env, const CliHooks& hooks)
      : opts_(opts), config_(config), env_(env), hooks_(hooks) {}

  void Run() {
    const auto& d = config_.dcs;
    Add(Result3::kPass, "configuration",
        "table " + d.table_name + " (" + config_.table_source + ")" +
            (config_.partition.empty()
                 ? std::string(", no cluster given")
                 : ", cluster " + config_.partition + " (" + config_.cluster_source + ")"));
    auto ctx = OpenContext(config_, env_, hooks_.clock);
    if (!ctx.ok()) {
      const Status& s = ctx.status();
      bool region = s.message().find("region") != std::string::npos;
      Add(Result3::kFail, region ? "region" : "client", s.message(),
          region ? "set --region, dynamodb.region, AWS_REGION or the profile's region"
                 : "fix the configuration above");
      return;
    }
    ctx_ = std::move(ctx).value();
    CheckCredentials();
    Add(Result3::kPass, "region", ctx_->client->region() + " (from " + config_.region_source + ")");
    if (!CheckEndpoint()) return;
    CheckTable();
    CheckPermissions();
    CheckClock();
    CheckCluster();
  }

  void Print(std::ostream& out) const {
    if (opts_.json) {
      json checks = json::array();
      for (const auto& c : checks_) {
        json j = {{"check", c.name}, {"result", Text(c.result)}, {"detail", c.detail}};
        if (!c.fix.empty()) j["fix"] = c.fix;
        checks.push_back(std::move(j));
      }
      PrintJson(out, json{{"table", config_.dcs.table_name},
                          {"cluster", config_.partition},
                          {"result", Text(Worst())},
                          {"checks", checks}});
      return;
    }
    TextTable t({"", "", ""});
    int pass = 0, warn = 0, fail = 0;
    for (const auto& c : checks_) {
      t.AddRow({Text(c.result), c.name, c.detail + (c.fix.empty() ? "" : " — fix: " + c.fix)});
      pass += c.result == Result3::kPass;
      warn += c.result == Result3::kWarn;
      fail += c.result == Result3::kFail;
    }
    t.Print(out);
    out << "doctor: " << pass << " passed, " << warn << (warn == 1 ? " warning, " : " warnings, ") << fail
        << " failed\n";
  }

  [[nodiscard]] Result3 Worst() const {
    Result3 w = Result3::kPass;
    for (const auto& c : checks_) {
      if (c.result == Result3::kFail) return Result3::kFail;
      if (c.result == Result3::kWarn) w = Result3::kWarn;
    }
    return w;
  }

 private:
  void Add(Result3 r, std::string name, std::string detail, std::string fix = "") {
    checks_.push_back({r, std::move(name), std::move(detail), std::move(fix)});
  }

  // The link of the AWS credential chain that answered (dcs::OpenStack
  // resolves it once): its name only, never a key.
  void CheckCredentials() {
    credentials_index_ = checks_.size();
    const std::string& source = ctx_->credential_source;
    const std::string unresolved = "unresolved (";
    if (source.rfind(unresolved, 0) == 0) {
      std::string why = source.substr(unresolved.size());
      if (!why.empty() && why.back() == ')') why.pop_back();
      Add(Result3::kFail, "credentials", why,
          "configure credentials: environment, profile, web identity, container or instance role");
    } else {
      Add(Result3::kPass, "credentials", "from " + (source.empty() ? std::string("unknown source") : source));
    }
  }

  // Three DescribeTable round trips: reachability and latency.
  bool CheckEndpoint() {
    const std::string& table = config_.dcs.table_name;
    std::vector<int64_t> ms;
    Status last;
    Clock& real = *SystemClock::Instance();
    for (int i = 0; i < 3; ++i) {
      MonoTime t0 = real.Now();
      auto d = ctx_->client->DescribeTable(table, CallDeadline(std::chrono::seconds(10)));
      int64_t took = duration_cast<milliseconds>(real.Now() - t0).count();
      if (d.ok()) {
        ms.push_back(took);
        describe_ = *d;
        continue;
      }
      last = d.status();
      if (last.code() == StatusCode::kNotFound || last.code() == StatusCode::kPermissionDenied) {
        ms.push_back(took);  // the service answered
        continue;
      }
      break;
    }
    const std::string endpoint = ctx_->client->endpoint() + " (" + config_.endpoint_source + ")";
    if (ms.empty() || (!last.ok() && last.code() != StatusCode::kNotFound &&
                       last.code() != StatusCode::kPermissionDenied)) {
      Add(Result3::kFail, "endpoint", endpoint + " unreachable: " + last.message(),
          "check the endpoint URL, DNS, proxy and security groups / VPC endpoint");
      return false;
    }
    std::sort(ms.begin(), ms.end());
    int64_t median = ms[ms.size() / 2];
    std::string detail = endpoint + " answers, DescribeTable round trip " + std::to_string(median) +
                         " ms (min " + std::to_string(ms.front()) + ", max " + std::to_string(ms.back()) +
                         ")";
    if (median > 250) {
      Add(Result3::kWarn, "endpoint", detail,
          "slow round trips eat into retry_timeout (failover_time / 3): run Patroni in the table's Region");
    } else {
      Add(Result3::kPass, "endpoint", detail);
    }
    if (!last.ok() && CredentialRejected(last)) {
      checks_[credentials_index_].result = Result3::kFail;
      checks_[credentials_index_].detail += "; AWS rejected them: " + last.message();
      checks_[credentials_index_].fix = "use valid, unexpired credentials for this account";
    }
    table_status_ = last;
    return true;
  }

  void CheckTable() {
    const std::string& table = config_.dcs.table_name;
    if (table_status_.code() == StatusCode::kNotFound) {
      table_missing_ = true;
      Add(Result3::kFail, "table", "table " + table + " does not exist in " + ctx_->client->region(),
          "dynatroni table create --table " + table);
      return;
    }
    if (table_status_.code() == StatusCode::kPermissionDenied) {
      if (!CredentialRejected(table_status_)) {
        Add(Result3::kWarn, "table",
            "DescribeTable is not allowed, so schema, TTL and global-table mode cannot be checked (the "
            "plugin "
            "does not need it): " +
                table_status_.message(),
            IamFix("dynamodb:DescribeTable and dynamodb:DescribeTimeToLive", ctx_->client->region(), table));
      }
      return;
    }
    auto insp = InspectTable(*ctx_->client, table);
    if (!insp.ok()) {
      Add(Result3::kWarn, "table", "could not inspect the table: " + insp.status().message());
      return;
    }
    for (const auto& f : insp->findings) {
      if (f.aspect == "pitr" || f.aspect == "deletion protection") continue;
      Result3 r = f.level == TableFinding::Level::kOk     ? Result3::kPass
                  : f.level == TableFinding::Level::kWarn ? Result3::kWarn
                                                          : Result3::kFail;
      std::string name = f.aspect == "key schema"     ? "table schema"
                         : f.aspect == "global table" ? "consistency"
                         : f.aspect == "status"       ? "table"
                                                      : f.aspect;
      Add(r, name, f.detail, f.fix);
    }
  }

  void PermissionResult(const std::string& action, const Status& s, const std::string& ok_detail) {
    const std::string& table = config_.dcs.table_name;
    if (s.ok()) {
      Add(Result3::kPass, "permission", action + " allowed (" + ok_detail + ")");
    } else if (s.code() == StatusCode::kPermissionDenied) {
      Add(Result3::kFail, "permission", action + " denied: " + s.message(),
          IamFix(action, ctx_->client->region(), table));
    } else {
      Add(Result3::kWarn, "permission", action + " probe failed: " + s.message(), "re-run doctor");
    }
  }

  void CheckPermissions() {
    if (table_missing_) {
      Add(Result3::kWarn, "permission", "not probed: the table does not exist",
          "create the table, then re-run");
      return;
    }
    auto get = ctx_->store->Get(kProbePartition, kProbeKey, CallDeadline());
    PermissionResult("dynamodb:GetItem", get.status(), "strongly consistent read of a missing key");
    auto query = ctx_->store->Query(kProbePartition, "", CallDeadline());
    PermissionResult("dynamodb:Query", query.status(), "strongly consistent Query of an empty partition");

    dynamodb::UpdateItemRequest req;
    req.table = config_.dcs.table_name;
    req.key = {{dcs::kPartitionKey, dynamodb::AttributeValue::S(kProbePartition)},
               {dcs::kSortKey, dynamodb::AttributeValue::S(kProbeKey)}};
    req.update_expression = "SET #ver = if_not_exists(#ver, :zero) + :one";
    req.condition.condition = "attribute_exists(#k) AND attribute_not_exists(#k)";  // can never hold
    req.condition.names = {{"#ver", "version"}, {"#k", dcs::kSortKey}};
    req.condition.values = {{":zero", dynamodb::AttributeValue::N(int64_t{0})},
                            {":one", dynamodb::AttributeValue::N(int64_t{1})}};
    auto upd = ctx_->client->UpdateItem(req, CallDeadline());
    if (upd.ok() && !upd->condition_failed) {
      Add(Result3::kFail, "permission", "the UpdateItem probe was applied although its condition cannot hold",
          "report this: the endpoint does not evaluate conditions correctly");
      return;
    }
    PermissionResult(
        "dynamodb:UpdateItem", upd.status(),
        "conditional write refused by its condition, nothing written; BatchWriteItem, used only by "
        "`patronictl remove`, is not probed");
  }

  // The server's Date header against this host's wall clock.
  void CheckClock() {
    http::CurlOptions co;
    co.ca_bundle = config_.dcs.ca_bundle;
    auto transport = http::CurlTransport::Create(co);
    if (!transport.ok()) {
      Add(Result3::kWarn, "clock", "not measured: " + transport.status().message());
      return;
    }
    http::Request req;
    req.method = "GET";
    if (Status set = req.SetUrl(ctx_->client->endpoint() + "/", "endpoint"); !set.ok()) {
      Add(Result3::kWarn, "clock", "not measured: " + set.message());
      return;
    }
    Clock& real = *SystemClock::Instance();
    WallTime before = real.WallNow();
    auto resp = (*transport)->Send(req, CallDeadline(std::chrono::seconds(10)));
    WallTime after = real.WallNow();
    if (!resp.ok()) {
      Add(Result3::kWarn, "clock", "not measured: " + resp.status().message());
      return;
    }
    auto date = resp->Header("date");
    auto server = aws::ParseHttpDate(date);
    if (date.empty() || !server.ok()) {
      Add(Result3::kWarn, "clock", "not measured: the endpoint sent no usable Date header");
      return;
    }
    // Date has 1 s resolution: the server's time was in [Date, Date + 1 s).
    WallTime local_mid = before + (after - before) / 2;
    Duration ahead = local_mid - (*server + std::chrono::milliseconds(500));  // > 0: this host is ahead
    Duration uncertainty = std::chrono::milliseconds(500) + (after - before) / 2;
    Duration abs = ahead < Duration::zero() ? -ahead : ahead;
    std::string where = abs <= uncertainty
                            ? "agrees with the server's Date header to within ±" + FormatDuration(uncertainty)
                            : "is " + FormatDuration(abs) + " " +
                                  (ahead > Duration::zero() ? "ahead of" : "behind") +
                                  " the server's Date header (±" + FormatDuration(uncertainty) + ")";
    std::string detail =
        "this host's clock " + where + " (leases never use wall clocks; updated_at ages and TTL do)";
    if (abs > std::chrono::minutes(5)) {
      Add(Result3::kWarn, "clock", detail,
          "fix NTP on this host: requests need the client's skew correction (SigV4 allows 5 minutes)");
    } else if (abs > std::chrono::seconds(5)) {
      Add(Result3::kWarn, "clock", detail, "fix NTP (chrony/systemd-timesyncd) on this host");
    } else {
      Add(Result3::kPass, "clock", detail);
    }
  }

  void CheckCluster() {
    if (config_.partition.empty()) return;
    if (table_missing_) {
      std::string note = CheckEarlierDefaultTable();
      for (auto& c : checks_) {
        if (c.name == "table") c.detail += note;
      }
      return;
    }
    auto items = ctx_->store->Query(config_.partition, "", CallDeadline());
    if (!items.ok()) {
      if (items.status().code() != StatusCode::kPermissionDenied) {
        Add(Result3::kWarn, "cluster",
            "could not read cluster " + config_.partition + ": " + items.status().message());
      }
      return;
    }
    if (items->empty()) {
      Add(Result3::kWarn, "cluster", "no items for cluster " + config_.partition,
          "check scope and namespace: Patroni has not written this cluster (`dynatroni list` shows the "
          "clusters)");
      const size_t cluster_line = checks_.size() - 1;
      std::string note = CheckEarlierDefaultTable();
      checks_[cluster_line].detail += note;
      return;
    }
    std::string leader = "no leader";
    int members = 0;
    for (const auto& it : *items) {
      if (it.key == "leader" && it.live())
        leader = "leader " + *it.value + " (term " + std::to_string(it.term) + ")";
      if (it.key.rfind("members/", 0) == 0 && it.live()) ++members;
    }
    Add(Result3::kPass, "cluster",
        config_.partition + ": " + leader + ", " + std::to_string(members) + " member item(s)");
  }

  // The configured table has nothing for this cluster (or does not exist):
  // a cluster that ran on the earlier Python DynamoDB DCS with its default
  // table_name, moved without pinning it, still has its items in
  // softoboros-patroni. Best effort, in this Region only: adds a WARN line
  // when that table holds the cluster's partition (the earlier module's
  // partition was the scope, whatever the namespace); returns a note for
  // the caller's line when the table could not be read (e.g. access denied).
  std::string CheckEarlierDefaultTable() {
    const std::string& table = config_.dcs.table_name;
    if (table == kEarlierDefaultTable) return "";
    const std::string& partition = config_.scope.empty() ? config_.partition : config_.scope;
    dynamodb::QueryRequest req;
    req.table = kEarlierDefaultTable;
    req.consistent_read = false;
    req.key_condition.condition = "#pk = :pk";
    req.key_condition.names["#pk"] = dcs::kPartitionKey;
    req.key_condition.values[":pk"] = dynamodb::AttributeValue::S(partition);
    auto old = ctx_->client->Query(req, CallDeadline());
    if (!old.ok()) {
      if (old.status().code() == StatusCode::kNotFound) return "";
      return std::string("; table ") + kEarlierDefaultTable +
             " (the earlier Python DynamoDB DCS's default) not checked: " + old.status().message();
    }
    if (old->items.empty()) return "";
    Add(Result3::kWarn, "migration",
        std::string("table ") + kEarlierDefaultTable +
            " (the earlier Python DynamoDB DCS's default table_name) holds " +
            std::to_string(old->items.size()) + " item(s) of cluster " + partition + "; table " + table +
            (table_missing_ ? " does not exist" : " has none"),
        std::string("this cluster has not moved: set dynamodb.table_name: ") + kEarlierDefaultTable +
            " (and region: ca-central-1, failover_time: 60 if the old configuration left them unset), see "
            "docs/migration.md");
    return "";
  }

  const Options& opts_;
  const ResolvedConfig& config_;
  const Env& env_;
  const CliHooks& hooks_;
  std::unique_ptr<Context> ctx_;
  std::vector<Check> checks_;
  size_t credentials_index_ = 0;
  std::optional<dynamodb::TableDescription> describe_;
  Status table_status_;
  bool table_missing_ = false;
};

}  // namespace

int RunDoctor(const Options& opts, const ResolvedConfig& config, const Env& env, std::ostream& out,
              std::ostream& /*err*/, const CliHooks& hooks) {
  Doctor d(opts, config, env, hooks);
  d.Run();
  d.Print(out);
  return d.Worst() == Result3::kFail ? kExitFailed : kExitOk;
}

}  // namespace dynatroni::cli
