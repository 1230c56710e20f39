#include "dcs/lease_simulation.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <sstream>
#include <type_traits>
#include <vector>

#include "aws/credentials.h"
#include "core/seeded_draw.h"
#include "dcs/dcs.h"
#include "dcs/dynamo_item_store.h"
#include "dcs/sim_dynamodb.h"
#include "dcs/sim_fiber.h"
#include "dynamodb/client.h"
#include "http/transport.h"

namespace dynatroni::dcs {
namespace {

using sim::Instant;  // simulated global time since the start of the run
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kPartition[] = "sim";
constexpr char kLeader[] = "leader";
constexpr char kTable[] = "patroni";

class Simulation;

// A node's Dcs randomness (the failover-poll jitter): minstd_rand seeded from
// a hash of the session, the generator Dcs kept for itself before it took a
// Random (issue #22), so that every seed keeps its schedule (a SeededRandom
// would re-roll every schedule, and the mutation matrix's first catches and
// the million-schedule run of docs/reliability.md would have to be redone).
// Not the same with every standard library (std::hash and
// std::uniform_real_distribution are the library's own): libc++ builds
// (make wheels TESTS=1) run other schedules than libstdc++ ones.
class SessionRandom final : public Random {
 public:
  explicit SessionRandom(const std::string& session)
      : gen_(static_cast<std::minstd_rand::result_type>(std::hash<std::string>{}(session))) {}
  double Uniform01() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(gen_);
  }

 private:
  std::mutex mu_;
  std::minstd_rand gen_;
};

// A node's clocks: monotonic = offset + rate * global; wall likewise, plus
// the steps applied to it. SleepFor suspends the node's fiber.
class SimClock final : public Clock {
 public:
  SimClock(Simulation* sim, int node, double rate, Duration mono_offset, WallTime wall_base)
      : sim_(sim), node_(node), rate_(rate), mono_offset_(mono_offset), wall_base_(wall_base) {}
  MonoTime Now() override { return MonoTime(mono_offset_ + Scale(g)); }
  WallTime WallNow() override { return wall_base_ + duration_cast<WallTime::duration>(wall_step + Scale(g)); }
  void SleepFor(Duration d) override;
  [[nodiscard]] Instant GlobalOf(MonoTime t) const { return Unscale(t.time_since_epoch() - mono_offset_); }
  // A local duration as global time.
  [[nodiscard]] Instant Unscale(Duration d) const {
    return Instant(static_cast<int64_t>(static_cast<double>(d.count()) / rate_));
  }

  Instant g{0};           // the global instant this node's code is at
  Duration wall_step{0};  // sum of the wall-clock steps so far

 private:
  [[nodiscard]] Duration Scale(Instant i) const {
    return Duration(static_cast<int64_t>(static_cast<double>(i.count()) * rate_));
  }
  Simulation* sim_;
  int node_;
  double rate_;
  Duration mono_offset_;
  WallTime wall_base_;
};

// The transport of one node: every Send goes through the simulation.
class NodeTransport final : public http::Transport {
 public:
  NodeTransport(Simulation* sim, int node) : sim_(sim), node_(node) {}
  Result<http::Response> Send(const http::Request& request, Deadline deadline) override;

 private:
  Simulation* sim_;
  int node_;
};

// Sets http::Response::resent where the transport interface has it.
template <typename R>
void MarkResent(R& response) {
  if constexpr (requires(R r) { r.resent = true; }) response.resent = true;
}

// DynamoItemStore takes the node's clock where its constructor accepts one.
template <typename Store = DynamoItemStore>
std::shared_ptr<ItemStore> MakeStore(std::shared_ptr<dynamodb::Client> client, Clock* clock) {
  if constexpr (std::is_constructible_v<Store, std::shared_ptr<dynamodb::Client>, std::string,
                                        DynamoItemStore::WarningSink, Clock*>) {
    return std::make_shared<Store>(std::move(client), kTable, nullptr, clock);
  } else {
    (void)clock;
    return std::make_shared<Store>(std::move(client), kTable);
  }
}

// A request on its way to the table.
struct InFlight {
  int node = 0;
  std::string target;
  std::string date;
  std::string body;
  std::string op;       // for traces
  sim::SimReply reply;  // the answer of the application whose reply is kept
  bool reply_ready = false;
  Instant reply_applied_at{0};
};

// An interval in which a node acts as leader (see the header).
struct Interval {
  int node = 0;
  Instant start{0};
  Instant end{0};    // final once !open
  Instant bound{0};  // the holder bound as last seen (global)
  bool open = true;
  int64_t version = 0;
  int64_t term = 0;
  std::string why;  // why it ended
};

struct Window {
  enum class Kind { kFull, kOneSided, kFlaky } kind = Kind::kFull;
  Instant from{0};
  Instant to{0};
};

struct Node {
  int id = 0;
  std::string name;
  std::string session;
  int incarnation = 0;
  std::unique_ptr<SimClock> clock;
  std::unique_ptr<SeededRandom> random;       // the DynamoDB client's
  std::unique_ptr<SessionRandom> dcs_random;  // the Dcs's
  std::unique_ptr<sim::Fiber> fiber;
  Dcs* dcs = nullptr;  // while the fiber runs the node
  bool alive = false;
  bool killed = false;
  uint64_t wait_token = 0;
  int open = -1;                          // index of the open interval, or -1
  int last_closed = -1;                   // index of the last closed interval
  std::optional<int64_t> leader_version;  // what the last LoadCluster showed (foreign leader)
  bool timing_picked_up = false;
  Duration large_wall_offset{0};
  Duration pickup_delay{0};  // after an edit-config, when this node's loop picks it up
  std::vector<Window> partitions;
};

class Simulation {
 public:
  Simulation(uint64_t seed, const SimulationConfig& c) : rng_(seed), cfg_(c) {
    result_.seed = seed;
    timing_ = *Timing::FromFailoverTime(c.failover_time);
    new_timing_ = timing_;
    sim::SimDynamoOptions to;
    to.table = kTable;
    to.stale_read_probability = c.stale_read_probability;
    to.max_staleness = c.max_staleness;
    to.short_page_probability = c.short_page_probability;
    table_ = std::make_unique<sim::SimDynamoDb>(to, [this] { return U01(); });
    table_->set_write_listener([this](const std::string&, const std::string& key, const nlohmann::json* item,
                                      Instant at,
                                      std::string_view cause) { OnTableWrite(key, item, at, cause); });
    if (Chance(c.config_change_probability)) {
      config_change_at_ = Instant(Uniform(0, c.duration.count()));
      const double factor = RealFromBits(rng_(), 0.5, 2.0);
      auto f = duration_cast<Duration>(c.failover_time * factor);
      new_timing_ = *Timing::FromFailoverTime(std::max<Duration>(f, Timing::kMinFailoverTime));
      ++result_.config_changes;
    }
    for (int i = 0; i < c.nodes; ++i) {
      auto n = std::make_unique<Node>();
      n->id = i;
      n->name = "node" + std::to_string(i);
      if (Chance(c.large_wall_offset_probability)) {
        n->large_wall_offset = Duration(Uniform(-(int64_t{1} << 52), int64_t{1} << 52));
      } else {
        n->large_wall_offset = Duration(Uniform(-5'000'000'000, 5'000'000'000));
      }
      if (Chance(c.partition_probability)) {
        Window w;
        w.kind = static_cast<Window::Kind>(Uniform(0, 2));
        w.from = Instant(Uniform(0, c.duration.count()));
        w.to = w.from + Instant(Uniform(0, c.max_partition.count()));
        n->partitions.push_back(w);
        ++result_.partitions;
      }
      n->pickup_delay = Duration(Uniform(0, timing_.loop_wait.count()));
      if (Chance(c.wall_step_probability)) {
        Push(Instant(Uniform(0, c.duration.count())), Event::Kind::kWallStep, i);
      }
      nodes_.push_back(std::move(n));
    }
    if (Chance(0.5)) {
      // A leftover member item of a node long gone, its `ttl` passed: the
      // table's TTL process deletes it at some random instant of the run.
      nlohmann::json gone = {{"cluster_name", {{"S", kPartition}}},
                             {"key", {{"S", "members/gone"}}},
                             {"value", {{"S", "{}"}}},
                             {"version", {{"N", "7"}}},
                             {"session", {{"S", "gone:1"}}},
                             {"ttl", {{"N", "1767225000"}}}};
      if (!table_->Seed(gone, Instant(0))) Fail(true, "internal: cannot seed the table");
    }
    for (int i = 0; i < c.nodes; ++i) Start(i, Instant(Uniform(0, timing_.loop_wait.count())));
    const double rho = c.max_drift;
    auto bound = [&](const Timing& t) {
      return duration_cast<Duration>(std::chrono::duration<double, std::nano>(
                 static_cast<double>(t.ttl.count()) * (1 + rho) / (1 - rho))) +
             2 * t.loop_wait + 12 * c.max_delay + t.retry_timeout + seconds(2);
    };
    result_.takeover_bound = bound(timing_);
    takeover_bound_ = std::max(bound(timing_), bound(new_timing_));
  }

  SimulationResult Run() {
    while (!queue_.empty() && result_.safe) {
      Event e = queue_.top();
      queue_.pop();
      if (e.at > cfg_.duration) break;
      now_ = std::max(now_, e.at);
      ++result_.events;
      Dispatch(e);
      CheckLiveness();
    }
    Finish();
    return result_;
  }

  // ---- called from the nodes' fibers ------------------------------------

  // Suspends node `id` until global instant `t` (no time passes for a
  // crashed node, which only unwinds).
  void WaitUntil(int id, Instant t) {
    Node& n = *nodes_[static_cast<size_t>(id)];
    if (n.killed) return;
    t = std::max(t, n.clock->g);
    const uint64_t token = ++n.wait_token;
    Push(t, Event::Kind::kResume, id, token);
    sim::Fiber::Suspend();
  }

  Result<http::Response> Send(int id, const http::Request& request, Deadline deadline);

 private:
  struct Event {
    enum class Kind { kResume, kApply, kTtl, kCrash, kRestart, kWallStep };
    Instant at{0};
    uint64_t seq = 0;
    Kind kind = Kind::kResume;
    int node = -1;
    uint64_t token = 0;  // kResume: wait token; kCrash: incarnation
    std::shared_ptr<InFlight> request;
    bool keep_reply = false;
    std::string key;  // kTtl
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  void Push(Event e) {
    e.seq = seq_++;
    queue_.push(std::move(e));
  }
  void Push(Instant at, Event::Kind kind, int node, uint64_t token = 0) {
    Event e;
    e.at = at;
    e.kind = kind;
    e.node = node;
    e.token = token;
    Push(std::move(e));
  }

  // Not std::uniform_*_distribution, whose algorithms differ between standard libraries: the mapping of
  // core/seeded_draw.h, so that a seed gives the same schedule with libstdc++ and libc++.
  double U01() { return UnitFromBits(rng_()); }
  int64_t Uniform(int64_t lo, int64_t hi) { return IntFromBits(rng_(), lo, hi); }
  bool Chance(double p) { return p > 0 && U01() < p; }
  Instant Delay() {
    if (Chance(cfg_.slow_delay_probability)) return Instant(Uniform(1'000'000, cfg_.max_delay.count()));
    return Instant(Uniform(1'000'000, 20'000'000));
  }
  static std::string Ms(Instant g) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.3fs", static_cast<double>(g.count()) / 1e9);
    return buf;
  }
  // One trace line (only with SimulationConfig::trace).
  template <typename... Parts>
  void Trace(const Parts&... parts) {
    if (!cfg_.trace) return;
    std::ostringstream os;
    os << "t=" << Ms(now_) << " ";
    (os << ... << parts);
    std::fprintf(stderr, "%s\n", os.str().c_str());
  }
  Node& NodeAt(int id) { return *nodes_[static_cast<size_t>(id)]; }
  // Which timing a node (re)starting at `at` reads from the configuration.
  const Timing& TimingAt(Instant at) const {
    return config_change_at_ && at >= *config_change_at_ ? new_timing_ : timing_;
  }

  void Dispatch(const Event& e) {
    switch (e.kind) {
      case Event::Kind::kResume: {
        Node& n = NodeAt(e.node);
        if (!n.fiber || n.killed || e.token != n.wait_token) return;
        n.clock->g = now_;
        RunSlice(n);
        return;
      }
      case Event::Kind::kApply:
        Apply(*e.request, e.keep_reply);
        return;
      case Event::Kind::kTtl:
        if (table_->ExpireIfDue(kPartition, e.key, now_)) ++result_.ttl_deletions;
        return;
      case Event::Kind::kCrash: {
        Node& n = NodeAt(e.node);
        if (n.alive && n.incarnation == static_cast<int>(e.token)) Crash(n);
        return;
      }
      case Event::Kind::kRestart:
        Disturb(e.node, now_);
        Start(e.node, now_);
        return;
      case Event::Kind::kWallStep: {
        Node& n = NodeAt(e.node);
        if (!n.alive) return;
        n.clock->wall_step += Chance(0.5) ? std::chrono::hours(1) : -std::chrono::hours(1);
        Trace(n.name, " wall clock stepped: now off by ", duration_cast<seconds>(n.clock->wall_step).count(),
              " s (plus its offset)");
        return;
      }
    }
  }

  // Runs node `n`'s fiber until it waits again or ends.
  void RunSlice(Node& n) {
    n.fiber->Resume();
    if (n.fiber->finished()) {
      n.fiber.reset();
      n.alive = false;
    }
  }

  void Start(int id, Instant at) {
    Node& n = NodeAt(id);
    ++n.incarnation;
    const double rate = 1.0 + RealFromBits(rng_(), -1, 1) * cfg_.max_drift;
    const WallTime wall = table_->WallAt(Instant(0)) + duration_cast<WallTime::duration>(n.large_wall_offset);
    n.clock = std::make_unique<SimClock>(this, id, rate, Duration(Uniform(0, int64_t{1} << 50)), wall);
    n.clock->g = at;
    n.random = std::make_unique<SeededRandom>(rng_());
    n.session = n.name + ":" + std::to_string(n.incarnation);
    n.dcs_random = std::make_unique<SessionRandom>(n.session);
    n.alive = true;
    n.killed = false;
    n.leader_version.reset();
    n.timing_picked_up = config_change_at_ && at >= *config_change_at_;
    n.fiber = std::make_unique<sim::Fiber>([this, id] { NodeMain(id); });
    const uint64_t token = ++n.wait_token;
    Push(at, Event::Kind::kResume, id, token);
    Trace(n.name, " starts (incarnation ", n.incarnation, ")");
  }

  void Crash(Node& n) {
    ++result_.crashes;
    Trace(n.name, " CRASH");
    if (n.open >= 0) {
      Interval& iv = intervals_[static_cast<size_t>(n.open)];
      Close(n, std::min(now_, iv.bound) + cfg_.demotion, "crashed");
    }
    if (n.id == holder_node_) {
      holder_crash_ = now_;
      holder_node_ = -1;
    } else {
      Disturb(n.id, now_);
    }
    n.alive = false;
    n.killed = true;
    ++n.wait_token;
    if (n.fiber) {
      // Unwind: every wait and send of a killed node returns at once.
      n.clock->g = now_;
      n.fiber->Resume();
      if (!n.fiber->finished()) {
        Fail(true, "internal: the fiber of crashed " + n.name + " did not finish");
        return;
      }
      n.fiber.reset();
    }
    Push(now_ + Instant(Uniform(0, cfg_.max_restart_after.count())), Event::Kind::kRestart, n.id);
  }

  // Something delayed what node `id` can observe or do until `until`: the
  // takeover bound counts from the end of the last such disturbance.
  void Disturb(int id, Instant until) {
    if (id == holder_node_) return;
    disturbed_until_ = std::max(disturbed_until_, until);
  }

  // ---- the node script (runs on the node's fiber) ----------------------------

  void NodeMain(int id) {
    Node& n = NodeAt(id);
    aws::Credentials creds;
    creds.access_key_id = "AKIDSIMULATION";
    creds.secret_access_key = aws::SecretString("simulation-secret");
    creds.source = "static";
    dynamodb::ClientOptions co;
    co.region = "us-east-1";
    co.endpoint = "http://dynamodb.sim:8000";
    co.credentials = aws::MakeStaticProvider(creds);
    co.transport = std::make_shared<NodeTransport>(this, id);
    co.clock = n.clock.get();
    co.random = n.random.get();
    auto client = dynamodb::Client::Create(std::move(co));
    if (!client.ok()) {
      Fail(true, "internal: " + client.status().ToString());
      return;
    }
    DcsOptions o;
    o.partition = kPartition;
    o.name = n.name;
    o.session = n.session;
    o.store = MakeStore(std::shared_ptr<dynamodb::Client>(std::move(client).value()), n.clock.get());
    o.clock = n.clock.get();
    o.random = n.dcs_random.get();
    o.timing = TimingAt(n.clock->g);
    auto dcs = Dcs::Create(o);
    if (!dcs.ok()) {
      Fail(true, "internal: " + dcs.status().ToString());
      return;
    }
    n.dcs = dcs->get();
    Script(n, **dcs);
    n.dcs = nullptr;
  }

  void Script(Node& n, Dcs& dcs) {
    SimClock& clock = *n.clock;
    if (Chance(0.5)) (void)Call(n, "Initialize", dcs.Initialize("initialize", "sysid-" + n.name, true));
    MonoTime next = clock.Now();
    while (!n.killed) {
      if (clock.g >= cfg_.duration) {
        WaitUntil(n.id, cfg_.duration + seconds(1));  // the run ends first
        continue;
      }
      if (!n.timing_picked_up && config_change_at_ && clock.g >= *config_change_at_ + n.pickup_delay) {
        n.timing_picked_up = true;
        dcs.SetTiming(new_timing_);
        Trace(n.name, " picks up the new timing: ttl ", duration_cast<seconds>(new_timing_.ttl).count(),
              " s");
        Observe(n);
      }
      const Timing t = dcs.timing();
      if (Chance(cfg_.crash_probability) && Alive() > 1) {
        Push(clock.g + Instant(Uniform(0, t.loop_wait.count())), Event::Kind::kCrash, n.id,
             static_cast<uint64_t>(n.incarnation));
      }
      if (Chance(cfg_.pause_probability)) {
        ++result_.pauses;
        const Instant pause(Uniform(0, 2 * t.ttl.count()));
        Trace(n.name, " pauses for ", Ms(pause));
        Disturb(n.id, clock.g + pause);
        WaitUntil(n.id, clock.g + pause);
        if (n.killed) break;
        next = clock.Now();
      }
      Cycle(n, dcs);
      if (n.killed) break;
      next += dcs.timing().loop_wait;
      if (next < clock.Now()) next = clock.Now();
      if (Watch(n, dcs, next)) next = clock.Now();
    }
  }

  template <typename T>
  T Call(Node& n, const char* what, T result) {
    if (cfg_.trace && !n.killed) {
      std::string shown;
      if constexpr (std::is_same_v<T, Result<bool>>) {
        shown = result.ok() ? (*result ? "true" : "false") : result.status().ToString();
      } else {
        shown = result.ok() ? "ok" : result.status().ToString();
      }
      Trace(n.name, " ", what, " -> ", shown);
    }
    Observe(n);
    return result;
  }

  void Cycle(Node& n, Dcs& dcs) {
    auto view = Call(n, "LoadCluster", dcs.LoadCluster(""));
    if (!view.ok() || n.killed) return;
    auto leader = view->items.find(kLeader);
    const bool present = leader != view->items.end();
    const bool mine = present && leader->second.item.value == n.name;
    n.leader_version = present && !mine ? std::optional<int64_t>(leader->second.item.version) : std::nullopt;
    if (mine) {
      if (Chance(cfg_.release_probability)) {
        StepDown(n);
        (void)Call(n, "ReleaseLeader", dcs.ReleaseLeader(kLeader));
      } else {
        (void)Call(n, "RenewLeader", dcs.RenewLeader(kLeader, leader->second.item.version));
      }
    } else if (!present) {
      if (Chance(cfg_.take_probability)) {
        (void)Call(n, "TakeLeader", dcs.TakeLeader(kLeader));
      } else {
        (void)Call(n, "AcquireLeader", dcs.AcquireLeader(kLeader));
      }
    }
    if (n.killed) return;
    auto failover = view->items.find("failover");
    if (failover != view->items.end()) {
      if (dcs.Lease(kLeader).held && Chance(0.5)) {
        // A switchover: the leader hands over and removes the request.
        StepDown(n);
        (void)Call(n, "ReleaseLeader(switchover)", dcs.ReleaseLeader(kLeader));
        if (n.killed) return;
        (void)Call(n, "DeleteKey(failover)", dcs.DeleteKey("failover", failover->second.item.version));
      }
    } else if (present && !mine && Chance(cfg_.failover_request_probability)) {
      (void)Call(
          n, "SetValue(failover)",
          dcs.SetValue("failover", "{\"leader\":\"" + *leader->second.item.value + "\"}", std::nullopt));
    }
    if (n.killed) return;
    if (Chance(cfg_.config_write_probability)) {
      auto config = view->items.find("config");
      std::optional<int64_t> cas;
      if (config != view->items.end() && Chance(0.8)) cas = config->second.item.version;
      (void)Call(n, "SetValue(config)", dcs.SetValue("config", "{\"by\":\"" + n.name + "\"}", cas));
      if (n.killed) return;
    }
    if (Chance(0.02)) {
      (void)Call(n, "Initialize", dcs.Initialize("initialize", "sysid-" + n.name, Chance(0.5)));
      if (n.killed) return;
    }
    const bool held = dcs.Lease(kLeader).held;
    (void)Call(
        n, "TouchMember",
        dcs.TouchMember("members/" + n.name, held ? "{\"role\":\"primary\"}" : "{\"role\":\"replica\"}"));
  }

  // Patroni's watch(): until `until` (this node's clock) or an early wake.
  bool Watch(Node& n, Dcs& dcs, MonoTime until) {
    SimClock& clock = *n.clock;
    for (int guard = 0; guard < 1000 && !n.killed; ++guard) {
      const MonoTime now = clock.Now();
      if (now >= until) return false;
      const Duration remaining = until - now;
      if (!n.leader_version) {
        // As the plugin: no version while this node holds the lock (or sees no leader).
        WatchPlan plan = dcs.PlanWatch(kLeader, std::nullopt, remaining);
        if (plan.action == WatchPlan::Action::kWakeNow && plan.reason.starts_with("lease holder bound")) {
          return true;
        }
        Duration wait = remaining;
        if (dcs.Lease(kLeader).held && plan.action == WatchPlan::Action::kWait)
          wait = std::min(wait, plan.wait);
        clock.SleepFor(std::max<Duration>(wait, milliseconds(1)));
        Observe(n);
        continue;
      }
      WatchPlan plan = dcs.PlanWatch(kLeader, n.leader_version, remaining);
      switch (plan.action) {
        case WatchPlan::Action::kWakeNow:
          return true;
        case WatchPlan::Action::kPoll: {
          auto r = Call(n, "PollLeader", dcs.PollLeader(kLeader, n.leader_version));
          if (r.ok() && *r) return true;
          if (!r.ok()) clock.SleepFor(std::min<Duration>(remaining, seconds(1)));
          break;
        }
        case WatchPlan::Action::kPollFailover: {
          auto r = Call(n, "PollFailover", dcs.PollFailover(kLeader));
          if (!r.ok()) clock.SleepFor(std::min<Duration>(remaining, seconds(1)));
          break;
        }
        case WatchPlan::Action::kWait:
          clock.SleepFor(std::max<Duration>(std::min(plan.wait, remaining), milliseconds(1)));
          break;
      }
    }
    return false;
  }

  int Alive() const {
    int a = 0;
    for (const auto& n : nodes_) a += n->alive ? 1 : 0;
    return a;
  }

  // ---- the network ---------------------------------------------------------

  enum class Fate {
    kNormal,
    kThrottle,
    kLostRequestTimeout,
    kLostRequest500,
    kLostReply,
    kDuplicate,
    kLate,
    kErrorAfterApply,
    kSlow,
    kRefused,  // partition: no connection
  };

  static const char* FateName(Fate f) {
    switch (f) {
      case Fate::kNormal:
        return "ok";
      case Fate::kThrottle:
        return "throttled";
      case Fate::kLostRequestTimeout:
        return "request lost (timeout)";
      case Fate::kLostRequest500:
        return "request lost (500)";
      case Fate::kLostReply:
        return "applied, reply lost";
      case Fate::kDuplicate:
        return "applied twice (resent)";
      case Fate::kLate:
        return "applied late";
      case Fate::kErrorAfterApply:
        return "applied, then 500";
      case Fate::kSlow:
        return "applied, reply too slow";
      case Fate::kRefused:
        return "connection refused";
    }
    return "?";
  }

  Fate DrawFate(const Node& n, Instant t0) {
    for (const Window& w : n.partitions) {
      if (t0 < w.from || t0 >= w.to) continue;
      switch (w.kind) {
        case Window::Kind::kFull:
          return Chance(0.5) ? Fate::kRefused : Fate::kLostRequestTimeout;
        case Window::Kind::kOneSided:
          return Fate::kLostReply;
        case Window::Kind::kFlaky:
          if (Chance(0.6)) return Chance(0.5) ? Fate::kLostRequestTimeout : Fate::kLostReply;
          break;
      }
    }
    // Each fault is a separate draw, in this order.
    if (Chance(cfg_.lost_request_probability))
      return Chance(0.5) ? Fate::kLostRequestTimeout : Fate::kLostRequest500;
    if (Chance(cfg_.lost_reply_probability)) return Fate::kLostReply;
    if (Chance(cfg_.duplicate_probability)) return Fate::kDuplicate;
    if (Chance(cfg_.late_apply_probability)) return Fate::kLate;
    if (Chance(cfg_.error_after_apply_probability)) return Fate::kErrorAfterApply;
    if (Chance(cfg_.throttle_probability)) return Fate::kThrottle;
    if (Chance(cfg_.slow_call_probability)) return Fate::kSlow;
    return Fate::kNormal;
  }

  void ScheduleApply(const std::shared_ptr<InFlight>& req, Instant at, bool keep_reply) {
    Event e;
    e.at = at;
    e.kind = Event::Kind::kApply;
    e.request = req;
    e.keep_reply = keep_reply;
    Push(std::move(e));
  }

  void Apply(InFlight& req, bool keep_reply) {
    Node& n = NodeAt(req.node);
    if (!n.alive) Disturb(req.node, now_);  // a request of a crashed process still lands
    apply_node_ = req.node;
    sim::SimReply reply = table_->Handle(req.target, req.date, req.body, now_);
    apply_node_ = -1;
    if (cfg_.trace && reply.status != 200 && reply.error != "ConditionalCheckFailedException") {
      Trace("TABLE ", req.op, " from ", n.name, ": ", reply.status, " ", reply.error);
    }
    if (keep_reply) {
      req.reply = std::move(reply);
      req.reply_ready = true;
      req.reply_applied_at = now_;
    }
  }

  void OnTableWrite(const std::string& key, const nlohmann::json* item, Instant at, std::string_view cause) {
    auto str = [&](const char* name) -> std::string {
      if (item == nullptr) return {};
      auto it = item->find(name);
      if (it == item->end()) return {};
      auto s = it->find("S");
      if (s != it->end()) return s->get<std::string>();
      auto num = it->find("N");
      return num != it->end() ? num->get<std::string>() : std::string();
    };
    if (key == kLeader && item != nullptr) {
      const std::string session = str("session");
      const std::string version = str("version");
      if (!session.empty() && !version.empty()) {
        leader_writes_[{session, std::stoll(version)}] = at;
      }
    }
    if (item != nullptr) {
      if (auto ttl = table_->TtlOf(kPartition, key)) {
        // DynamoDB's TTL process deletes it some time after expiry.
        const Instant due = std::max(at, table_->InstantOfEpoch(*ttl + 1));
        if (due <= cfg_.duration) {
          Event e;
          e.at = due + Instant(Uniform(0, cfg_.max_ttl_delete_delay.count()));
          e.kind = Event::Kind::kTtl;
          e.key = key;
          Push(std::move(e));
        }
      }
    }
    if (cfg_.trace && (key == kLeader || cause == "TTL")) {
      Trace("TABLE ", key, " ", cause, apply_node_ >= 0 ? " by " + NodeAt(apply_node_).name : std::string(),
            ": value=", item == nullptr ? std::string("(deleted)") : str("value"),
            " version=", str("version"), " term=", str("term"), " session=", str("session"),
            " ttl=", str("ttl"));
    }
  }

  // ---- the checker -----------------------------------------------------------

  // After each Dcs call of `n` (and after its sleeps): what Lease() says now.
  void Observe(Node& n) {
    if (n.killed || n.dcs == nullptr) return;
    const Instant r = n.clock->g;
    const LeaseInfo lease = n.dcs->Lease(kLeader);
    if (n.open >= 0 && r > intervals_[static_cast<size_t>(n.open)].bound) {
      Interval& iv = intervals_[static_cast<size_t>(n.open)];
      Close(n, iv.bound + cfg_.demotion, "its bound passed");
    }
    if (lease.held) {
      const Instant bound = r + n.clock->Unscale(lease.remaining);
      if (n.open >= 0) {
        Interval& iv = intervals_[static_cast<size_t>(n.open)];
        iv.bound = bound;
        iv.version = lease.version;
        iv.term = lease.term;
        CheckOverlaps(static_cast<size_t>(n.open));
        return;
      }
      Instant start = r;
      auto w = leader_writes_.find({n.session, lease.version});
      if (w != leader_writes_.end()) start = std::min(start, w->second);
      Open(n, start, bound, lease);
    } else if (n.open >= 0) {
      Interval& iv = intervals_[static_cast<size_t>(n.open)];
      Close(n, std::min(r, iv.bound) + cfg_.demotion, "a call told it it does not hold the lease");
    }
  }

  // Patroni demotes (stops PostgreSQL, up to `demotion`) BEFORE it releases
  // the lease, and its loop waits for that: the release is sent only once
  // the node stopped acting as leader (also when an earlier failure already
  // started the demotion).
  void StepDown(Node& n) {
    if (n.open >= 0) {
      const Interval& iv = intervals_[static_cast<size_t>(n.open)];
      Close(n, std::min(n.clock->g, iv.bound) + cfg_.demotion, "it demoted to release the lease");
    }
    if (n.last_closed >= 0) WaitUntil(n.id, intervals_[static_cast<size_t>(n.last_closed)].end);
  }

  void Open(Node& n, Instant start, Instant bound, const LeaseInfo& lease) {
    size_t idx;
    if (n.last_closed >= 0 && intervals_[static_cast<size_t>(n.last_closed)].end >= start) {
      idx = static_cast<size_t>(n.last_closed);  // it never stopped acting: one interval
      intervals_[idx].open = true;
      intervals_[idx].why.clear();
    } else {
      Interval iv;
      iv.node = n.id;
      iv.start = start;
      intervals_.push_back(iv);
      idx = intervals_.size() - 1;
      ++result_.acquisitions;
    }
    Interval& iv = intervals_[idx];
    iv.bound = bound;
    iv.version = lease.version;
    iv.term = lease.term;
    n.open = static_cast<int>(idx);
    Trace(n.name, " acts as leader from ", Ms(iv.start), " (version ", lease.version, ", term ", lease.term,
          ", bound ", Ms(bound), ")");
    if (holder_crash_) Recovered(n);
    holder_node_ = n.id;
    CheckOverlaps(idx);
  }

  void Close(Node& n, Instant end, const char* why) {
    Interval& iv = intervals_[static_cast<size_t>(n.open)];
    iv.end = std::max(end, iv.start);
    iv.open = false;
    iv.why = why;
    n.last_closed = n.open;
    n.open = -1;
    Trace(n.name, " stops acting as leader at ", Ms(iv.end), ": ", why);
    CheckOverlaps(static_cast<size_t>(n.last_closed));
  }

  // The end of an interval as far as known: final, or (open) the earliest it
  // can still end — its node can be told it lost no earlier than now.
  Instant EndOf(const Interval& iv) const {
    return iv.open ? std::min(now_, iv.bound) + cfg_.demotion : iv.end;
  }

  void CheckOverlaps(size_t idx) {
    const Interval& a = intervals_[idx];
    for (const Interval& b : intervals_) {
      if (b.node == a.node) continue;
      if (a.start < EndOf(b) && b.start < EndOf(a)) {
        const Interval& first = a.start <= b.start ? a : b;
        const Interval& second = a.start <= b.start ? b : a;
        auto describe = [&](const Interval& iv) {
          return NodeAt(iv.node).name + " over [" + Ms(iv.start) + ", " + Ms(EndOf(iv)) +
                 (iv.open ? "+ (still acting)" : ")") + " (version " + std::to_string(iv.version) +
                 ", term " + std::to_string(iv.term) + ", bound " + Ms(iv.bound) +
                 (iv.open ? std::string() : ", ended: " + iv.why) + ")";
        };
        Fail(true, "two nodes act as leader at once: " + describe(first) + " and " + describe(second));
        return;
      }
    }
  }

  void Recovered(const Node& n) {
    const Instant took = now_ - *holder_crash_;
    const Instant allowed = std::max(*holder_crash_, disturbed_until_) + takeover_bound_ - *holder_crash_;
    // The worst case reported is over undisturbed windows only.
    if (disturbed_until_ <= *holder_crash_) result_.worst_takeover = std::max(result_.worst_takeover, took);
    if (took > allowed) {
      Fail(false, n.name + " took over " + Ms(took) + " after the holder crashed, allowed " + Ms(allowed));
    }
    holder_crash_.reset();
  }

  void CheckLiveness() {
    if (!holder_crash_ || Alive() == 0) return;
    const Instant deadline = std::max(*holder_crash_, disturbed_until_) + takeover_bound_;
    if (now_ > deadline) {
      Fail(false, "no takeover within " + Ms(deadline - *holder_crash_) + " of the holder's crash at " +
                      Ms(*holder_crash_) + " (last disturbance ended " + Ms(disturbed_until_) + ")");
    }
  }

  void Finish() {
    if (result_.safe) now_ = std::max(now_, cfg_.duration);
    for (auto& np : nodes_) {
      Node& n = *np;
      if (n.open >= 0) {
        Interval& iv = intervals_[static_cast<size_t>(n.open)];
        Close(n, std::min(now_, iv.bound) + cfg_.demotion, "the run ended");
      }
      n.killed = true;
      if (n.fiber) {
        n.fiber->Resume();
        if (!n.fiber->finished()) {
          Fail(true, "internal: the fiber of " + n.name + " did not finish");
          std::abort();  // its stack cannot be released safely
        }
        n.fiber.reset();
      }
    }
  }

  void Fail(bool safety, const std::string& what) {
    if (safety) {
      if (!result_.safe) return;
      result_.safe = false;
    } else {
      if (!result_.live) return;
      result_.live = false;
    }
    std::ostringstream os;
    os << (safety ? "SAFETY" : "LIVENESS") << " violation (seed " << result_.seed << ", t=" << Ms(now_)
       << ", event " << result_.events << "): " << what;
    if (result_.violation.empty()) result_.violation = os.str();
    Trace(os.str());
  }

  std::mt19937_64 rng_;
  SimulationConfig cfg_;
  Timing timing_;
  Timing new_timing_;
  std::optional<Instant> config_change_at_;
  SimulationResult result_;
  std::unique_ptr<sim::SimDynamoDb> table_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  uint64_t seq_ = 0;
  Instant now_{0};
  std::vector<Interval> intervals_;
  std::map<std::pair<std::string, int64_t>, Instant> leader_writes_;  // (session, version) -> applied at
  int holder_node_ = -1;
  std::optional<Instant> holder_crash_;
  Instant disturbed_until_{0};
  Duration takeover_bound_{0};
  int apply_node_ = -1;

  friend class SimClock;
};

void SimClock::SleepFor(Duration d) {
  if (d <= Duration::zero()) return;
  // Round up: the node's clock must have advanced by at least `d` when it wakes.
  sim_->WaitUntil(node_, g + Unscale(d) + Instant(2));
}

Result<http::Response> NodeTransport::Send(const http::Request& request, Deadline deadline) {
  return sim_->Send(node_, request, deadline);
}

Result<http::Response> Simulation::Send(int id, const http::Request& request, Deadline deadline) {
  Node& n = NodeAt(id);
  if (n.killed) return Unavailable("simulated: the process crashed");
  SimClock& c = *n.clock;
  const Instant dl = deadline.infinite() ? c.g + seconds(10) : c.GlobalOf(deadline.when());
  if (c.g >= dl) return Unavailable("simulated: the deadline passed before sending");
  const Timing& t = TimingAt(c.g);
  if (Chance(cfg_.pause_in_call_probability)) {
    // The process stalls after the client's deadline check, before the
    // request leaves: it is still sent, even past the deadline.
    ++result_.pauses;
    const Instant pause(Uniform(0, 2 * t.ttl.count()));
    Trace(n.name, " stalls for ", Ms(pause), " before sending");
    Disturb(id, c.g + pause + t.retry_timeout);
    WaitUntil(id, c.g + pause);
    if (n.killed) return Unavailable("simulated: the process crashed");
  }
  ++result_.requests;
  const Instant t0 = c.g;
  auto req = std::make_shared<InFlight>();
  req->node = id;
  req->body = request.body;
  for (const auto& [name, value] : request.headers) {
    if (name == "x-amz-target") req->target = value;
    if (name == "x-amz-date") req->date = value;
  }
  req->op = req->target.substr(req->target.find('.') + 1);
  const Fate fate = DrawFate(n, t0);
  const Instant d1 = Delay();
  const Instant d2 = Delay();
  std::optional<Instant> reply_at;  // nullopt: no reply ever
  std::optional<sim::SimReply> injected;
  bool resent = false;
  Instant refused_at{0};
  switch (fate) {
    case Fate::kNormal:
      ScheduleApply(req, t0 + d1, true);
      reply_at = t0 + d1 + d2;
      break;
    case Fate::kThrottle:
      injected = Chance(0.5)
                     ? sim::SimDynamoDb::Error(400, "ThrottlingException",
                                               "Rate of requests exceeds the allowed throughput.")
                     : sim::SimDynamoDb::Error(
                           400, "ProvisionedThroughputExceededException",
                           "The level of configured provisioned throughput for the table was exceeded.");
      reply_at = t0 + d1 + d2;
      break;
    case Fate::kLostRequestTimeout:
      break;
    case Fate::kLostRequest500:
      injected = sim::SimDynamoDb::Error(500, "InternalServerError", "Internal server error");
      reply_at = t0 + d1 + d2;
      break;
    case Fate::kLostReply:
      ScheduleApply(req, t0 + d1, false);
      break;
    case Fate::kDuplicate: {
      // The reply of the first copy is lost; the transport resends the same
      // bytes on a new connection and returns the second copy's answer.
      ScheduleApply(req, t0 + d1, false);
      const Instant second = t0 + d1 + d2 + Delay();
      ScheduleApply(req, second, true);
      reply_at = second + Delay();
      resent = true;
      break;
    }
    case Fate::kLate: {
      const Instant earliest = t0 + d1;
      const Instant latest = dl + cfg_.late_beyond_deadline;
      const Instant apply = earliest + Instant(Uniform(0, std::max<int64_t>(0, (latest - earliest).count())));
      ScheduleApply(req, apply, true);
      reply_at = apply + d2;
      break;
    }
    case Fate::kErrorAfterApply:
      ScheduleApply(req, t0 + d1, false);
      injected = sim::SimDynamoDb::Error(500, "InternalServerError", "Internal server error");
      reply_at = t0 + d1 + d2;
      break;
    case Fate::kSlow:
      ScheduleApply(req, t0 + d1, true);
      reply_at = t0 + d1 + d2 + t.retry_timeout;
      break;
    case Fate::kRefused:
      refused_at = std::min(dl, t0 + Instant(Uniform(1'000'000, 1'000'000'000)));
      break;
  }
  if (fate != Fate::kNormal) {
    ++result_.faults;
    Disturb(id, t0 + t.retry_timeout + 4 * cfg_.max_delay +
                    (fate == Fate::kLate ? cfg_.late_beyond_deadline : Duration::zero()));
    Trace(n.name, " ", req->op, ": ", FateName(fate));
  }
  if (fate == Fate::kRefused) {
    WaitUntil(id, refused_at);
    return Unavailable("simulated: connection refused");
  }
  if (!reply_at || *reply_at > dl) {
    WaitUntil(id, dl);
    if (n.killed) return Unavailable("simulated: the process crashed");
    return UnknownOutcome("simulated: timeout after sending the request");
  }
  WaitUntil(id, *reply_at);
  if (n.killed) return Unavailable("simulated: the process crashed");
  http::Response resp;
  if (injected) {
    resp = table_->ToHttp(*injected, *reply_at);
  } else if (req->reply_ready) {
    resp = table_->ToHttp(req->reply, req->reply_applied_at);
  } else {
    Fail(true, "internal: a reply was due before its request applied");
    return Internal("simulation ordering error");
  }
  if (resent) MarkResent(resp);
  return resp;
}

}  // namespace

SimulationResult RunSimulation(uint64_t seed, const SimulationConfig& config) {
  Simulation sim(seed, config);
  return sim.Run();
}

}  // namespace dynatroni::dcs
