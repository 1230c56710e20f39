// File: python/src/dcs_bindings.cc
//
// Binds dcs::Dcs (and its configuration) as dynatroni._core.Dcs for the
// Patroni plugin. Every method converts its arguments to C++ values, releases
// the GIL for the store call, and raises dynatroni._core.StoreError (mapped to
// Patroni's DCSError by the plugin) when DynamoDB cannot be reached or the
// outcome is unknown. str(StoreError) is Status::ToString(); its attributes
// carry the Status's parts for the plugin's log line (python/dynatroni/
// failure_log.py): code, message, aws_error, http_status and, from the
// failing DynamoDB call (core/status.h CallDetail), operation, attempts,
// elapsed (seconds) and request_id (None when unknown). Thread-safe: Dcs is.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "aws/providers/cache.h"
#include "dcs/config.h"
#include "dcs/dcs.h"
#include "dcs/dynamo_item_store.h"

namespace nb = nanobind;

namespace dynatroni::python {
namespace {

// Raised as dynatroni._core.StoreError (attributes: see the file comment).
struct StoreError : std::runtime_error {
  explicit StoreError(Status s) : std::runtime_error(s.ToString()), status(std::move(s)) {}
  Status status;
};
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
T Unwrap(Result<T> r) {
  if (!r.ok()) throw StoreError(r.status());
  return std::move(r).value();
}

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
Duration FromSeconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

nb::dict ItemDict(const dcs::ObservedItem& o) {
  nb::dict d;
  d["key"] = o.item.key;
  d["value"] = o.item.value;
  d["version"] = o.item.version;
  d["session"] = o.item.session;
  d["term"] = o.item.term;
  d["lease_ms"] = o.item.lease_ms;
  d["updated_at_ms"] = o.item.updated_at_ms;
  d["ttl"] = o.item.ttl_epoch_s;
  d["age"] = Seconds(o.age);
  return d;
}

class PyDcs {
 public:
  PyDcs(const std::map<std::string, std::string>& section, const std::string& partition,
        const std::string& name) {
    const dcs::Env env = dcs::ProcessEnvironment();  // read once, here at the edge
    auto config = dcs::ParseDcsConfig(section, env);
    if (!config.ok()) throw ConfigError(config.status().message());
    config_ = *config;
    // Without the GIL: resolving the region and credentials may wait on the network (IMDS, STS, a container
    // endpoint) for seconds, and Patroni's other threads (or an endpoint served from this process) need it.
    auto warnings = warnings_;
    auto stack = [&] {
      nb::gil_scoped_release release;
      return dcs::OpenStack(config_, env, [warnings](const std::string& w) { warnings->Add(w); });
    }();
    if (!stack.ok()) throw ConfigError(stack.status().message());
    credential_source_ = stack->credential_source;
    client_ = stack->client;
    // A wrong key schema (or a missing table) is a configuration error: say so
    // at start in one line instead of failing every call. Best effort: without
    // dynamodb:DescribeTable or with DynamoDB unreachable, start anyway.
    {
      nb::gil_scoped_release release;
      start_check_ = dcs::CheckTableAtStart(
          *client_, config_.table_name, Deadline::After(*SystemClock::Instance(), std::chrono::seconds(2)));
    }
    if (start_check_.code() == StatusCode::kFailedPrecondition) throw ConfigError(start_check_.message());
    auto d = dcs::MakeDcs(config_, stack->store, partition, name);
    if (!d.ok()) throw ConfigError(d.status().message());
    dcs_ = std::move(d).value();
  }

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

  std::shared_ptr<Warnings> warnings_ = std::make_shared<Warnings>();
  Status start_check_;  // CheckTableAtStart's answer (kNotFound is reported, not fatal)
  dcs::DcsConfig config_;
  std::string credential_source_;
  std::shared_ptr<dynamodb::Client> client_;
  std::unique_ptr<dcs::Dcs> dcs_;
};

// Runs a store call without the GIL.
template <typename F>
auto NoGil(F&& f) {
  nb::gil_scoped_release release;
  return f();
}

// The Python class of StoreError (created in BindDcs).
nb::handle store_error_type;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)

void RaiseStoreError(const Status& s) {
  nb::object e = nb::borrow(store_error_type)(s.ToString());
  e.attr("code") = std::string(StatusCodeName(s.code()));
  e.attr("message") = s.message();
  e.attr("aws_error") = s.aws_error();
  e.attr("http_status") = s.http_status();
  const CallDetail* d = s.call_detail();
  e.attr("operation") = d ? nb::cast(d->operation) : nb::none();
  e.attr("attempts") = d ? nb::cast(d->attempts) : nb::none();
  e.attr("elapsed") = d ? nb::cast(std::chrono::duration<double>(d->elapsed).count()) : nb::none();
  e.attr("request_id") = d && !d->request_id.empty() ? nb::cast(d->request_id) : nb::none();
  PyErr_SetObject(store_error_type.ptr(), e.ptr());
}

// How often AWS refused the cached credentials (ExpiredTokenException,
// UnrecognizedClientException: the client dropped them and fetched new ones),
// and the latest refusal ("<error> for <masked key id> (<source>)"). (0, "")
// without a cache.
std::tuple<uint64_t, std::string> CredentialRefusals(const dynamodb::Client& client) {
  auto* cache = dynamic_cast<aws::CachingProvider*>(client.credentials().get());
  if (cache == nullptr) return {0, ""};
  auto r = cache->refusals();
  return {r.count, r.last};
}

// The error of the credential provider's last background refresh (empty when
// it succeeded, or the provider does not refresh in the background).
std::string CredentialRefreshError(const dynamodb::Client& client) {
  auto* cache = dynamic_cast<aws::CachingProvider*>(client.credentials().get());
  if (cache == nullptr) return {};
  Status s = cache->last_refresh_error();
  return s.ok() ? std::string() : "provider \"" + cache->name() + "\": " + s.ToString();
}

// The expiration (Unix seconds) of the cached credentials, when they expire.
std::optional<double> CredentialExpiry(const dynamodb::Client& client) {
  auto* cache = dynamic_cast<aws::CachingProvider*>(client.credentials().get());
  auto when = cache != nullptr ? cache->cached_expiration() : std::nullopt;
  if (!when) return std::nullopt;
  return std::chrono::duration<double>(when->time_since_epoch()).count();
}

}  // namespace

void BindDcs(nb::module_& m) {
  // Constructing nb::exception registers the Python class and the translator; the object itself is not
  // needed.
  store_error_type = PyErr_NewException("dynatroni._core.StoreError", PyExc_Exception, nullptr);
  m.attr("StoreError") = store_error_type;
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const StoreError& e) {
      RaiseStoreError(e.status);
    }
  });
  nb::exception<ConfigError>(m, "ConfigError",  // NOLINT(bugprone-throw-keyword-missing,bugprone-unused-raii)
                             PyExc_ValueError);

  m.def("partition_for", &dcs::PartitionFor, nb::arg("namespace"), nb::arg("scope"),
        "The DynamoDB partition (cluster_name) for a Patroni namespace and scope.");
  m.def(
      "parse_config",
      [](const std::map<std::string, std::string>& section) {
        auto c = dcs::ParseDcsConfig(section, dcs::ProcessEnvironment());
        if (!c.ok()) throw ConfigError(c.status().message());
        nb::dict d;
        d["table_name"] = c->table_name;
        d["region"] = c->region;
        d["endpoint_url"] = c->endpoint_url;
        d["failover_time"] =
            c->failover_time ? std::optional<double>(Seconds(*c->failover_time)) : std::nullopt;
        d["profile"] = c->profile;
        d["ca_bundle"] = c->ca_bundle;
        d["leader_poll_interval"] = Seconds(c->leader_poll_interval);
        d["switchover_poll_interval"] = Seconds(c->switchover_poll_interval);
        d["metrics_listen"] = c->metrics_listen;
        return d;
      },
      nb::arg("section"),
      "Validate a `dynamodb:` section (strings) layered with PATRONI_DYNAMODB_* variables.");

  nb::class_<PyDcs>(m, "Dcs")
      .def(nb::init<const std::map<std::string, std::string>&, const std::string&, const std::string&>(),
           nb::arg("section"), nb::arg("partition"), nb::arg("name"))
      .def_prop_ro("table_name", [](PyDcs& s) { return s.config_.table_name; })
      .def_prop_ro("region", [](PyDcs& s) { return s.client_->region(); })
      .def_prop_ro("endpoint", [](PyDcs& s) { return s.client_->endpoint(); })
      .def_prop_ro("credential_source", [](PyDcs& s) { return s.credential_source_; })
      .def_prop_ro("start_problem", [](PyDcs& s) { return s.start_check_.message(); })
      .def_prop_ro("credential_refresh_error", [](PyDcs& s) { return CredentialRefreshError(*s.client_); })
      .def_prop_ro("credential_refusals", [](PyDcs& s) { return CredentialRefusals(*s.client_); })
      .def_prop_ro("session", [](PyDcs& s) { return s.dcs_->session(); })
      .def_prop_ro("failover_time",
                   [](PyDcs& s) {
                     return s.config_.failover_time ? std::optional<double>(Seconds(*s.config_.failover_time))
                                                    : std::nullopt;
                   })
      .def("set_timing",
           [](PyDcs& s, double ttl, double loop_wait, double retry_timeout) {
             dcs::Timing t;
             t.ttl = FromSeconds(ttl);
             t.loop_wait = FromSeconds(loop_wait);
             t.retry_timeout = FromSeconds(retry_timeout);
             s.dcs_->SetTiming(t);
           })
      .def("timing",
           [](PyDcs& s) {
             auto t = s.dcs_->timing();
             return std::make_tuple(Seconds(t.ttl), Seconds(t.loop_wait), Seconds(t.retry_timeout),
                                    Seconds(t.SafetyMargin()));
           })
      .def("load_cluster",
           [](PyDcs& s, const std::string& prefix) {
             auto view = Unwrap(NoGil([&] { return s.dcs_->LoadCluster(prefix); }));
             nb::list items, expired;
             for (const auto& [k, o] : view.items) items.append(ItemDict(o));
             for (const auto& [k, o] : view.expired_leaders) expired.append(ItemDict(o));
             nb::dict d;
             d["items"] = items;
             d["expired_leaders"] = expired;
             d["expired_members"] = view.expired_members;
             d["warnings"] = s.warnings_->Drain();
             return d;
           })
      .def("acquire_leader",
           [](PyDcs& s, const std::string& k) {
             return Unwrap(NoGil([&] { return s.dcs_->AcquireLeader(k); }));
           })
      .def(
          "take_leader",
          [](PyDcs& s, const std::string& k) { return Unwrap(NoGil([&] { return s.dcs_->TakeLeader(k); })); })
      .def("renew_leader",
           [](PyDcs& s, const std::string& k, std::optional<int64_t> v) {
             return Unwrap(NoGil([&] { return s.dcs_->RenewLeader(k, v); }));
           })
      .def(
          "release_leader",
          [](PyDcs& s, const std::string& k, std::optional<int64_t> v) {
            return Unwrap(NoGil([&] { return s.dcs_->ReleaseLeader(k, v); }));
          },
          nb::arg("leader_key"), nb::arg("version").none() = nb::none())
      .def("lease",
           [](PyDcs& s, const std::string& k) {
             auto l = s.dcs_->Lease(k);
             nb::dict d;
             d["held"] = l.held;
             d["version"] = l.version;
             d["term"] = l.term;
             d["remaining"] = Seconds(l.remaining);
             return d;
           })
      .def("set_value",
           [](PyDcs& s, const std::string& k, const std::string& v, std::optional<int64_t> cas) {
             return Unwrap(NoGil([&] { return s.dcs_->SetValue(k, v, cas); }));
           })
      .def("initialize",
           [](PyDcs& s, const std::string& k, const std::string& v, bool create_new) {
             return Unwrap(NoGil([&] { return s.dcs_->Initialize(k, v, create_new); }));
           })
      .def("delete_key",
           [](PyDcs& s, const std::string& k, std::optional<int64_t> cas) {
             return Unwrap(NoGil([&] { return s.dcs_->DeleteKey(k, cas); }));
           })
      .def("touch_member",
           [](PyDcs& s, const std::string& k, const std::string& data) {
             return Unwrap(NoGil([&] { return s.dcs_->TouchMember(k, data); }));
           })
      .def("delete_cluster",
           [](PyDcs& s) {
             Status st = NoGil([&] { return s.dcs_->DeleteCluster(); });
             if (!st.ok()) throw StoreError(st);
           })
      .def(
          "plan_watch",
          [](PyDcs& s, const std::string& k, std::optional<int64_t> v, std::optional<double> remaining) {
            // remaining: seconds left in this watch() (None: unknown).
            const Duration left = remaining && std::isfinite(*remaining) && *remaining < 1e9
                                      ? FromSeconds(std::max(0.0, *remaining))
                                      : Duration::max();
            auto p = s.dcs_->PlanWatch(k, v, left);
            const char* action = p.action == dcs::WatchPlan::Action::kWait           ? "wait"
                                 : p.action == dcs::WatchPlan::Action::kPoll         ? "poll"
                                 : p.action == dcs::WatchPlan::Action::kPollFailover ? "poll_failover"
                                                                                     : "wake";
            return std::make_tuple(std::string(action), Seconds(p.wait), p.reason);
          },
          nb::arg("leader_key"), nb::arg("leader_version").none(), nb::arg("remaining").none() = nb::none())
      .def("poll_leader",
           [](PyDcs& s, const std::string& k, std::optional<int64_t> v) {
             return Unwrap(NoGil([&] { return s.dcs_->PollLeader(k, v); }));
           })
      .def("poll_failover",
           [](PyDcs& s, const std::string& k) {
             return Unwrap(NoGil([&] { return s.dcs_->PollFailover(k); }));
           })
      .def("metrics",
           [](PyDcs& s) {
             // The client's counters as they are now, for python/dynatroni/metrics.py (which renders them).
             auto st = s.client_->stats();
             nb::dict d;
             d["requests_by_operation"] = st.requests_by_operation;
             d["retries"] = st.retries;
             d["throttles"] = st.throttles;
             d["unknown_outcomes"] = st.unknown_outcomes;
             nb::list calls;
             for (const auto& [key, n] : st.calls) calls.append(nb::make_tuple(key.first, key.second, n));
             d["calls"] = calls;
             d["latency_bucket_bounds"] = std::vector<double>(dynamodb::kLatencyBucketBounds.begin(),
                                                              dynamodb::kLatencyBucketBounds.end());
             nb::dict latency;
             for (const auto& [op, h] : st.latency_by_operation) {
               latency[nb::cast(op)] = nb::make_tuple(std::vector<uint64_t>(h.counts.begin(), h.counts.end()),
                                                      h.sum_seconds, h.count);
             }
             d["latency"] = latency;
             d["consumed_capacity"] = st.consumed_capacity_by_operation;
             d["credential_expiry"] = CredentialExpiry(*s.client_);
             return d;
           })
      .def_prop_ro("metrics_listen", [](PyDcs& s) { return s.config_.metrics_listen; })
      .def("stats", [](PyDcs& s) {
        auto st = s.client_->stats();
        nb::dict d;
        // The failover-key polls are eventually consistent GetItems (half a read unit): counted apart.
        auto ops = st.requests_by_operation;
        const uint64_t eventual = s.dcs_ ? s.dcs_->failover_polls() : 0;
        if (eventual > 0) {
          auto it = ops.find("GetItem");
          if (it != ops.end()) it->second -= std::min<uint64_t>(it->second, eventual);
          ops["GetItem (eventually consistent)"] = eventual;
        }
        d["requests_by_operation"] = ops;
        d["retries"] = st.retries;
        d["throttles"] = st.throttles;
        return d;
      });
}

}  // namespace dynatroni::python
