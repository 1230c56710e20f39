// File: python/src/capi.cc
//
// The C ABI of python/src/capi.h: JSON in, JSON out, over the C++ core (dcs::Dcs, its configuration and
// SigV4 signing). python/dynatroni/_core.py turns it back into dynatroni._core's Python API (StoreError,
// ConfigError, Dcs, ...). Every entry point catches every exception: nothing C++ crosses the C boundary.
// Thread-safe as dcs::Dcs is: the handle's own state (configuration, client, start check) is written only
// while opening, the warnings under their mutex.
#include "python/src/capi.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "aws/credentials.h"
#include "aws/providers/cache.h"
#include "aws/sigv4.h"
#include "core/clock.h"
#include "core/status.h"
#include "dcs/config.h"
#include "dcs/dcs.h"
#include "dcs/dynamo_item_store.h"
#include "dynamodb/request_signing.h"
#include "http/transport.h"

struct dynatroni_dcs;  // defined below, in the global namespace (the C type)

namespace dynatroni::capi {
namespace {

using Json = nlohmann::ordered_json;

// A failed call: the status code of the C ABI and the JSON object *out carries.
struct Failure {
  dynatroni_status code;
  Json error;
};

Failure Message(dynatroni_status code, const std::string& message) {
  return {code, Json{{"message", message}}};
}
Failure TypeError(const std::string& message) { return Message(DYNATRONI_TYPE_ERROR, message); }

// StoreError's attributes (python/dynatroni/_core.py; failure_log.py reads them).
Failure StoreFailure(const Status& s) {
  Json e;
  e["str"] = s.ToString();
  e["code"] = std::string(StatusCodeName(s.code()));
  e["message"] = s.message();
  e["aws_error"] = s.aws_error();
  e["http_status"] = s.http_status();
  const CallDetail* d = s.call_detail();
  e["operation"] = d ? Json(d->operation) : Json(nullptr);
  e["attempts"] = d ? Json(d->attempts) : Json(nullptr);
  e["elapsed"] = d ? Json(std::chrono::duration<double>(d->elapsed).count()) : Json(nullptr);
  e["request_id"] = d && !d->request_id.empty() ? Json(d->request_id) : Json(nullptr);
  return {DYNATRONI_STORE_ERROR, std::move(e)};
}

// A Failure thrown through the dispatch code; caught at the C boundary.
struct Raised {
  Failure failure;
};

template <typename T>
T Unwrap(Result<T> r) {
  if (!r.ok()) throw Raised{StoreFailure(r.status())};
  return std::move(r).value();
}

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
Duration FromSeconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}
Json OptionalSeconds(const std::optional<Duration>& d) { return d ? Json(Seconds(*d)) : Json(nullptr); }

// The positional arguments of one call, checked as they are read.
class Args {
 public:
  Args(const char* name, const char* json, size_t expected) : name_(name) {
    if (json == nullptr) throw Raised{TypeError(std::string(name) + ": no arguments")};
    args_ = Json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (!args_.is_array()) throw Raised{TypeError(std::string(name) + ": arguments are not a JSON array")};
    if (args_.size() != expected) {
      throw Raised{TypeError(std::string(name) + ": takes " + std::to_string(expected) + " arguments, " +
                             std::to_string(args_.size()) + " given")};
    }
  }

  [[nodiscard]] std::string Str(size_t i) const {
    if (!args_[i].is_string()) Bad(i, "a str");
    return args_[i].get<std::string>();
  }
  [[nodiscard]] std::optional<std::string> OptStr(size_t i) const {
    if (args_[i].is_null()) return std::nullopt;
    return Str(i);
  }
  [[nodiscard]] bool Bool(size_t i) const {
    if (!args_[i].is_boolean()) Bad(i, "a bool");
    return args_[i].get<bool>();
  }
  [[nodiscard]] double Float(size_t i) const {
    if (!args_[i].is_number()) Bad(i, "a float");
    return args_[i].get<double>();
  }
  [[nodiscard]] std::optional<double> OptFloat(size_t i) const {
    if (args_[i].is_null()) return std::nullopt;
    return Float(i);
  }
  [[nodiscard]] std::optional<int64_t> OptInt(size_t i) const {
    if (args_[i].is_null()) return std::nullopt;
    if (!args_[i].is_number_integer() ||
        (args_[i].is_number_unsigned() &&
         args_[i].get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
      Bad(i, "an int (64 bits) or None");
    }
    return args_[i].get<int64_t>();
  }
  [[nodiscard]] std::map<std::string, std::string> StrMap(size_t i) const {
    if (!args_[i].is_object()) Bad(i, "a mapping of str to str");
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : args_[i].items()) {
      if (!v.is_string()) Bad(i, "a mapping of str to str");
      out[k] = v.get<std::string>();
    }
    return out;
  }

 private:
  [[noreturn]] void Bad(size_t i, const char* what) const {
    throw Raised{TypeError(std::string(name_) + ": argument " + std::to_string(i + 1) + " must be " + what)};
  }

  const char* name_;
  Json args_;
};

// ---------------------------------------------------------------- free functions

// Parses the n ASCII digits at s[pos, pos+n); -1 when any is not a digit.
int ParseDigits(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// "YYYYMMDDTHHMMSSZ" (UTC) -> WallTime.
Result<WallTime> ParseAmzDate(std::string_view s) {
  const auto bad = [&] {
    return InvalidArgument("amz_date: expected YYYYMMDDTHHMMSSZ (e.g. 20150830T123600Z), got '" +
                           std::string(s.substr(0, 32)) + "'");
  };
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return bad();
  const int year = ParseDigits(s, 0, 4);
  const int month = ParseDigits(s, 4, 2);
  const int day = ParseDigits(s, 6, 2);
  const int hour = ParseDigits(s, 9, 2);
  const int minute = ParseDigits(s, 11, 2);
  const int second = ParseDigits(s, 13, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return bad();
  const std::chrono::year_month_day ymd{std::chrono::year{year},
                                        std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 59) return bad();
  const auto tp = std::chrono::sys_days{ymd} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
                  std::chrono::seconds{second};
  return WallTime{std::chrono::duration_cast<WallTime::duration>(tp.time_since_epoch())};
}

// [endpoint, operation, body, region, access_key_id, secret_access_key, session_token|null, amz_date] ->
// {"method", "url", "headers", "body"}.
Json SignDynamoDbRequest(const char* args_json) {
  const Args a("sign_dynamodb_request", args_json, 8);
  auto when = ParseAmzDate(a.Str(7));
  if (!when.ok()) throw Raised{Message(DYNATRONI_VALUE_ERROR, when.status().message())};
  aws::Credentials creds;
  creds.access_key_id = a.Str(4);
  creds.secret_access_key = aws::SecretString(a.Str(5));
  creds.session_token = aws::SecretString(a.OptStr(6).value_or(""));
  creds.source = "python";
  aws::Signer signer(a.Str(3), std::string(dynamodb::kSigningService));
  auto signed_request = dynamodb::SignDynamoDbRequest(signer, a.Str(0), a.Str(1), a.Str(2), creds, *when);
  if (!signed_request.ok()) throw Raised{Message(DYNATRONI_VALUE_ERROR, signed_request.status().message())};
  Json headers = Json::object();
  for (const auto& [name, value] : signed_request->headers) headers[name] = value;
  Json out;
  out["method"] = signed_request->method;
  out["url"] = signed_request->url();
  out["headers"] = std::move(headers);
  out["body"] = signed_request->body;
  return out;
}

Json ParseConfig(const char* args_json) {
  const Args a("parse_config", args_json, 1);
  auto c = dcs::ParseDcsConfig(a.StrMap(0), dcs::ProcessEnvironment());
  if (!c.ok()) throw Raised{Message(DYNATRONI_CONFIG_ERROR, c.status().message())};
  Json d;
  d["table_name"] = c->table_name;
  d["region"] = c->region;
  d["endpoint_url"] = c->endpoint_url;
  d["failover_time"] = OptionalSeconds(c->failover_time);
  d["profile"] = c->profile;
  d["ca_bundle"] = c->ca_bundle;
  d["leader_poll_interval"] = Seconds(c->leader_poll_interval);
  d["switchover_poll_interval"] = Seconds(c->switchover_poll_interval);
  d["metrics_listen"] = c->metrics_listen;
  return d;
}

Json PartitionFor(const char* args_json) {
  const Args a("partition_for", args_json, 2);
  return dcs::PartitionFor(a.Str(0), a.Str(1));
}

using Function = Json (*)(const char*);
const std::map<std::string_view, Function>& Functions() {
  static const auto* const functions = new std::map<std::string_view, Function>{
      {"sign_dynamodb_request", &SignDynamoDbRequest},
      {"partition_for", &PartitionFor},
      {"parse_config", &ParseConfig},
  };
  return *functions;
}

// ---------------------------------------------------------------- Dcs

}  // namespace

// Warnings of the credential chain while opening (and later, from its background refresh), drained by
// load_cluster.
struct Warnings {
  std::mutex mu;
  std::vector<std::string> list;
  void Add(const std::string& w) {
    std::lock_guard<std::mutex> l(mu);
    if (list.size() < 100) list.push_back(w);
  }
  std::vector<std::string> Drain() {
    std::lock_guard<std::mutex> l(mu);
    return std::exchange(list, {});
  }
};

}  // namespace dynatroni::capi

struct dynatroni_dcs {
  std::shared_ptr<dynatroni::capi::Warnings> warnings = std::make_shared<dynatroni::capi::Warnings>();
  dynatroni::Status start_check;  // CheckTableAtStart's answer (kNotFound is reported, not fatal)
  dynatroni::dcs::DcsConfig config;
  std::string credential_source;
  std::shared_ptr<dynatroni::dynamodb::Client> client;
  std::unique_ptr<dynatroni::dcs::Dcs> dcs;
};

namespace dynatroni::capi {
namespace {

using Handle = dynatroni_dcs;

std::unique_ptr<Handle> Open(const char* args_json) {
  const Args a("Dcs", args_json, 3);
  const auto section = a.StrMap(0);
  const std::string partition = a.Str(1);
  const std::string name = a.Str(2);
  auto h = std::make_unique<Handle>();
  const dcs::Env env = dcs::ProcessEnvironment();  // read once, here at the edge
  auto config = dcs::ParseDcsConfig(section, env);
  if (!config.ok()) throw Raised{Message(DYNATRONI_CONFIG_ERROR, config.status().message())};
  h->config = *config;
  auto warnings = h->warnings;
  auto stack = dcs::OpenStack(h->config, env, [warnings](const std::string& w) { warnings->Add(w); });
  if (!stack.ok()) throw Raised{Message(DYNATRONI_CONFIG_ERROR, stack.status().message())};
  h->credential_source = stack->credential_source;
  h->client = stack->client;
  // A wrong key schema (or a missing table) is a configuration error: say so at start in one line instead of
  // failing every call. Best effort: without dynamodb:DescribeTable or with DynamoDB unreachable, start
  // anyway.
  h->start_check = dcs::CheckTableAtStart(*h->client, h->config.table_name,
                                          Deadline::After(*SystemClock::Instance(), std::chrono::seconds(2)));
  if (h->start_check.code() == StatusCode::kFailedPrecondition) {
    throw Raised{Message(DYNATRONI_CONFIG_ERROR, h->start_check.message())};
  }
  auto d = dcs::MakeDcs(h->config, stack->store, partition, name);
  if (!d.ok()) throw Raised{Message(DYNATRONI_CONFIG_ERROR, d.status().message())};
  h->dcs = std::move(d).value();
  return h;
}

Json ItemJson(const dcs::ObservedItem& o) {
  Json d;
  d["key"] = o.item.key;
  d["value"] = o.item.value ? Json(*o.item.value) : Json(nullptr);
  d["version"] = o.item.version;
  d["session"] = o.item.session;
  d["term"] = o.item.term;
  d["lease_ms"] = o.item.lease_ms;
  d["updated_at_ms"] = o.item.updated_at_ms;
  d["ttl"] = o.item.ttl_epoch_s;
  d["age"] = Seconds(o.age);
  return d;
}

aws::CachingProvider* Cache(const dynamodb::Client& client) {
  return dynamic_cast<aws::CachingProvider*>(client.credentials().get());
}

// How often AWS refused the cached credentials (ExpiredTokenException, UnrecognizedClientException: the
// client dropped them and fetched new ones), and the latest refusal ("<error> for <masked key id>
// (<source>)"). [0, ""] without a cache.
Json CredentialRefusals(const dynamodb::Client& client) {
  auto* cache = Cache(client);
  if (cache == nullptr) return Json::array({0, ""});
  auto r = cache->refusals();
  return Json::array({r.count, r.last});
}

// The error of the credential provider's last background refresh (empty when it succeeded, or the provider
// does not refresh in the background).
std::string CredentialRefreshError(const dynamodb::Client& client) {
  auto* cache = Cache(client);
  if (cache == nullptr) return {};
  Status s = cache->last_refresh_error();
  return s.ok() ? std::string() : "provider \"" + cache->name() + "\": " + s.ToString();
}

// The expiration (Unix seconds) of the cached credentials, when they expire.
Json CredentialExpiry(const dynamodb::Client& client) {
  auto* cache = Cache(client);
  auto when = cache != nullptr ? cache->cached_expiration() : std::nullopt;
  if (!when) return nullptr;
  return std::chrono::duration<double>(when->time_since_epoch()).count();
}

Json NoArgs(const char* method, const char* args_json) {
  (void)Args(method, args_json, 0);
  return nullptr;
}

Json Metrics(Handle& s) {
  // The client's counters as they are now, for python/dynatroni/metrics.py (which renders them).
  auto st = s.client->stats();
  Json d;
  d["requests_by_operation"] = st.requests_by_operation;
  d["retries"] = st.retries;
  d["throttles"] = st.throttles;
  d["unknown_outcomes"] = st.unknown_outcomes;
  Json calls = Json::array();
  for (const auto& [key, n] : st.calls) calls.push_back(Json::array({key.first, key.second, n}));
  d["calls"] = std::move(calls);
  d["latency_bucket_bounds"] =
      std::vector<double>(dynamodb::kLatencyBucketBounds.begin(), dynamodb::kLatencyBucketBounds.end());
  Json latency = Json::object();
  for (const auto& [op, h] : st.latency_by_operation) {
    latency[op] =
        Json::array({std::vector<uint64_t>(h.counts.begin(), h.counts.end()), h.sum_seconds, h.count});
  }
  d["latency"] = std::move(latency);
  d["consumed_capacity"] = st.consumed_capacity_by_operation;
  d["credential_expiry"] = CredentialExpiry(*s.client);
  return d;
}

Json Stats(Handle& s) {
  auto st = s.client->stats();
  Json d;
  // The failover-key polls are eventually consistent GetItems (half a read unit): counted apart.
  auto ops = st.requests_by_operation;
  const uint64_t eventual = s.dcs ? s.dcs->failover_polls() : 0;
  if (eventual > 0) {
    auto it = ops.find("GetItem");
    if (it != ops.end()) it->second -= std::min<uint64_t>(it->second, eventual);
    ops["GetItem (eventually consistent)"] = eventual;
  }
  d["requests_by_operation"] = ops;
  d["retries"] = st.retries;
  d["throttles"] = st.throttles;
  return d;
}

Json PlanWatch(Handle& s, const char* args_json) {
  const Args a("plan_watch", args_json, 3);
  // remaining: seconds left in this watch() (None: unknown).
  const std::optional<double> remaining = a.OptFloat(2);
  const Duration left = remaining && std::isfinite(*remaining) && *remaining < 1e9
                            ? FromSeconds(std::max(0.0, *remaining))
                            : Duration::max();
  auto p = s.dcs->PlanWatch(a.Str(0), a.OptInt(1), left);
  const char* action = p.action == dcs::WatchPlan::Action::kWait           ? "wait"
                       : p.action == dcs::WatchPlan::Action::kPoll         ? "poll"
                       : p.action == dcs::WatchPlan::Action::kPollFailover ? "poll_failover"
                                                                           : "wake";
  return Json::array({action, Seconds(p.wait), p.reason});
}

Json LoadCluster(Handle& s, const char* args_json) {
  const Args a("load_cluster", args_json, 1);
  auto view = Unwrap(s.dcs->LoadCluster(a.Str(0)));
  Json items = Json::array();
  Json expired = Json::array();
  for (const auto& [k, o] : view.items) items.push_back(ItemJson(o));
  for (const auto& [k, o] : view.expired_leaders) expired.push_back(ItemJson(o));
  Json d;
  d["items"] = std::move(items);
  d["expired_leaders"] = std::move(expired);
  d["expired_members"] = view.expired_members;
  d["warnings"] = s.warnings->Drain();
  return d;
}

Json Lease(Handle& s, const char* args_json) {
  const Args a("lease", args_json, 1);
  auto l = s.dcs->Lease(a.Str(0));
  Json d;
  d["held"] = l.held;
  d["version"] = l.version;
  d["term"] = l.term;
  d["remaining"] = Seconds(l.remaining);
  return d;
}

Json SetTiming(Handle& s, const char* args_json) {
  const Args a("set_timing", args_json, 3);
  dcs::Timing t;
  t.ttl = FromSeconds(a.Float(0));
  t.loop_wait = FromSeconds(a.Float(1));
  t.retry_timeout = FromSeconds(a.Float(2));
  s.dcs->SetTiming(t);
  return nullptr;
}

Json Timing(Handle& s, const char* args_json) {
  (void)NoArgs("timing", args_json);
  auto t = s.dcs->timing();
  return Json::array(
      {Seconds(t.ttl), Seconds(t.loop_wait), Seconds(t.retry_timeout), Seconds(t.SafetyMargin())});
}

using Method = std::function<Json(Handle&, const char*)>;

// A method of no arguments that returns `get(handle)`.
template <typename F>
Method Property(const char* name, F get) {
  return [name, get](Handle& s, const char* args_json) -> Json {
    (void)NoArgs(name, args_json);
    return get(s);
  };
}

// A store call on one key: `f(dcs, key)`.
template <typename F>
Method KeyMethod(const char* name, F f) {
  return [name, f](Handle& s, const char* args_json) -> Json {
    const Args a(name, args_json, 1);
    return Unwrap(f(*s.dcs, a.Str(0)));
  };
}

// A store call on one key with an optional version: `f(dcs, key, version)`.
template <typename F>
Method KeyVersionMethod(const char* name, F f) {
  return [name, f](Handle& s, const char* args_json) -> Json {
    const Args a(name, args_json, 2);
    return Unwrap(f(*s.dcs, a.Str(0), a.OptInt(1)));
  };
}

const std::map<std::string_view, Method>& Methods() {
  using dcs::Dcs;
  static const auto* const methods = new std::map<std::string_view, Method>{
      {"table_name", Property("table_name", [](Handle& s) -> Json { return s.config.table_name; })},
      {"region", Property("region", [](Handle& s) -> Json { return s.client->region(); })},
      {"endpoint", Property("endpoint", [](Handle& s) -> Json { return s.client->endpoint(); })},
      {"credential_source", Property("credential_source", [](Handle& s) -> Json { return s.credential_source; })},
      {"start_problem", Property("start_problem", [](Handle& s) -> Json { return s.start_check.message(); })},
      {"credential_refresh_error", Property("credential_refresh_error",
                                            [](Handle& s) -> Json { return CredentialRefreshError(*s.client); })},
      {"credential_refusals",
       Property("credential_refusals", [](Handle& s) -> Json { return CredentialRefusals(*s.client); })},
      {"session", Property("session", [](Handle& s) -> Json { return s.dcs->session(); })},
      {"failover_time",
       Property("failover_time", [](Handle& s) -> Json { return OptionalSeconds(s.config.failover_time); })},
      {"metrics_listen", Property("metrics_listen", [](Handle& s) -> Json { return s.config.metrics_listen; })},
      {"set_timing", &SetTiming},
      {"timing", &Timing},
      {"load_cluster", &LoadCluster},
      {"acquire_leader",
       KeyMethod("acquire_leader", [](Dcs& d, const std::string& k) { return d.AcquireLeader(k); })},
      {"take_leader", KeyMethod("take_leader", [](Dcs& d, const std::string& k) { return d.TakeLeader(k); })},
      {"renew_leader", KeyVersionMethod("renew_leader", [](Dcs& d, const std::string& k, std::optional<int64_t> v) {
         return d.RenewLeader(k, v);
       })},
      {"release_leader",
       KeyVersionMethod("release_leader",
                      [](Dcs& d, const std::string& k, std::optional<int64_t> v) { return d.ReleaseLeader(k, v); })},
      {"lease", &Lease},
      {"set_value",
       [](Handle& s, const char* args_json) -> Json {
         const Args a("set_value", args_json, 3);
         auto version = Unwrap(s.dcs->SetValue(a.Str(0), a.Str(1), a.OptInt(2)));
         return version ? Json(*version) : Json(nullptr);
       }},
      {"initialize",
       [](Handle& s, const char* args_json) -> Json {
         const Args a("initialize", args_json, 3);
         return Unwrap(s.dcs->Initialize(a.Str(0), a.Str(1), a.Bool(2)));
       }},
      {"delete_key", KeyVersionMethod("delete_key", [](Dcs& d, const std::string& k, std::optional<int64_t> v) {
         return d.DeleteKey(k, v);
       })},
      {"touch_member",
       [](Handle& s, const char* args_json) -> Json {
         const Args a("touch_member", args_json, 2);
         return Unwrap(s.dcs->TouchMember(a.Str(0), a.Str(1)));
       }},
      {"delete_cluster",
       [](Handle& s, const char* args_json) -> Json {
         (void)NoArgs("delete_cluster", args_json);
         Status st = s.dcs->DeleteCluster();
         if (!st.ok()) throw Raised{StoreFailure(st)};
         return nullptr;
       }},
      {"plan_watch", &PlanWatch},
      {"poll_leader", KeyVersionMethod("poll_leader", [](Dcs& d, const std::string& k, std::optional<int64_t> v) {
         return d.PollLeader(k, v);
       })},
      {"poll_failover",
       KeyMethod("poll_failover", [](Dcs& d, const std::string& k) { return d.PollFailover(k); })},
      {"metrics", Property("metrics", [](Handle& s) -> Json { return Metrics(s); })},
      {"stats", Property("stats", [](Handle& s) -> Json { return Stats(s); })},
  };
  return *methods;
}

// ---------------------------------------------------------------- the C boundary

// A malloc'd copy of `j` as JSON text (invalid UTF-8 replaced, never thrown), or null when out of memory.
char* Dump(const Json& j) {
  const std::string text = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  auto* out = static_cast<char*>(std::malloc(text.size() + 1));  // NOLINT(cppcoreguidelines-no-malloc)
  if (out != nullptr) std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

// Runs `f` (which returns the result JSON), mapping every exception to a status and an error object.
template <typename F>
int Guard(char** out, F&& f) {
  if (out == nullptr) return DYNATRONI_TYPE_ERROR;
  *out = nullptr;
  Failure failure{DYNATRONI_OK, nullptr};
  try {
    Json result = f();
    *out = Dump(result);
    return *out != nullptr ? DYNATRONI_OK : DYNATRONI_RUNTIME_ERROR;
  } catch (const Raised& r) {
    failure = r.failure;
  } catch (const std::invalid_argument& e) {
    failure = Message(DYNATRONI_VALUE_ERROR, e.what());
  } catch (const std::exception& e) {
    failure = Message(DYNATRONI_RUNTIME_ERROR, e.what());
  } catch (...) {
    failure = Message(DYNATRONI_RUNTIME_ERROR, "unknown C++ exception");
  }
  try {
    *out = Dump(failure.error);
  } catch (...) {
    *out = nullptr;
  }
  return failure.code;
}

Json NamesOf(const auto& map) {
  Json names = Json::array();
  for (const auto& [name, f] : map) names.push_back(std::string(name));
  return names;
}

}  // namespace
}  // namespace dynatroni::capi

extern "C" {

const char* dynatroni_version(void) { return DYNATRONI_VERSION; }

const char* dynatroni_methods(void) {
  using dynatroni::capi::NamesOf;
  static const std::string* const names = [] {
    dynatroni::capi::Json j;
    j["functions"] = NamesOf(dynatroni::capi::Functions());
    j["dcs_methods"] = NamesOf(dynatroni::capi::Methods());
    return new std::string(j.dump());
  }();
  return names->c_str();
}

int dynatroni_call(const char* function, const char* args_json, char** out) {
  return dynatroni::capi::Guard(out, [&]() -> dynatroni::capi::Json {
    const auto& functions = dynatroni::capi::Functions();
    auto it = function != nullptr ? functions.find(function) : functions.end();
    if (it == functions.end()) {
      throw dynatroni::capi::Raised{
          dynatroni::capi::TypeError("no function '" + std::string(function ? function : "(null)") + "'")};
    }
    return it->second(args_json);
  });
}

int dynatroni_dcs_open(const char* args_json, dynatroni_dcs** handle, char** out) {
  if (handle == nullptr) return DYNATRONI_TYPE_ERROR;
  *handle = nullptr;
  std::unique_ptr<dynatroni_dcs> opened;
  const int rc = dynatroni::capi::Guard(out, [&]() -> dynatroni::capi::Json {
    opened = dynatroni::capi::Open(args_json);
    return nullptr;
  });
  if (rc != DYNATRONI_OK) return rc;
  dynatroni_free(*out);
  *out = nullptr;
  *handle = opened.release();
  return rc;
}

int dynatroni_dcs_call(dynatroni_dcs* handle, const char* method, const char* args_json, char** out) {
  return dynatroni::capi::Guard(out, [&]() -> dynatroni::capi::Json {
    const auto& methods = dynatroni::capi::Methods();
    auto it = method != nullptr ? methods.find(method) : methods.end();
    if (it == methods.end()) {
      throw dynatroni::capi::Raised{
          dynatroni::capi::TypeError("Dcs has no method '" + std::string(method ? method : "(null)") + "'")};
    }
    if (handle == nullptr) throw dynatroni::capi::Raised{dynatroni::capi::TypeError("Dcs: closed")};
    return it->second(*handle, args_json);
  });
}

void dynatroni_dcs_close(dynatroni_dcs* handle) {
  delete handle;  // NOLINT(cppcoreguidelines-owning-memory): the C ABI owns it
}

void dynatroni_free(char* s) {
  std::free(s);  // NOLINT(cppcoreguidelines-no-malloc)
}

}  // extern "C"
