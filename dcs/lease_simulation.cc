#include "dcs/lease_simulation.h"

#include <cstdio>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <sstream>
#include <vector>

#include "dcs/dcs.h"
#include "dcs/memory_item_store.h"

namespace dynatroni::dcs {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using Global = Duration;  // simulated real time since the start

constexpr char kPartition[] = "sim";
constexpr char kLeader[] = "leader";

class Simulation;

// A node's clocks: local = offset + rate * global.
class SimClock final : public Clock {
 public:
  SimClock(double rate, Duration mono_offset, Duration wall_offset)
      : rate_(rate), mono_offset_(mono_offset), wall_offset_(wall_offset) {}
  MonoTime Now() override { return MonoTime(mono_offset_ + Scale(g_)); }
  WallTime WallNow() override {
    return WallTime(duration_cast<WallTime::duration>(wall_offset_ + Scale(g_)));
  }
  void SleepFor(Duration d) override { g_ += Unscale(d); }
  [[nodiscard]] Global GlobalOf(MonoTime t) const { return Unscale(t.time_since_epoch() - mono_offset_); }
  // A local duration as global time.
  [[nodiscard]] Global Unscale(Duration d) const {
    return Global(static_cast<int64_t>(static_cast<double>(d.count()) / rate_));
  }

  Global g_{0};  // the global instant this node's code is "at"

 private:
  [[nodiscard]] Duration Scale(Global g) const {
    return Duration(static_cast<int64_t>(static_cast<double>(g.count()) * rate_));
  }
  double rate_;
  Duration mono_offset_;
  Duration wall_offset_;
};

struct Node {
  int id = 0;
  std::string name;
  std::unique_ptr<SimClock> clock;
  std::unique_ptr<Dcs> dcs;
  bool alive = true;
  int incarnation = 0;
  int phase = 0;  // 0 load, 1 lease call, 2 touch member
  Global cycle_start{0};
  bool has_first_delays = false;
  Global first_d1{0}, first_d2{0};
  bool leader_seen_mine = false, leader_seen_absent = false;
};

// The ItemStore one node sees: applies to the shared state with this node's
// delays and deadlines.
class NodeStore final : public ItemStore {
 public:
  NodeStore(Simulation* sim, int node) : sim_(sim), node_(node) {}
  Result<std::vector<StoredItem>> Query(const std::string& partition, const std::string& prefix,
                                        Deadline deadline) override;
  Result<std::optional<StoredItem>> Get(const std::string& partition, const std::string& key,
                                        Deadline deadline) override;
  Result<WriteOutcome> Write(const std::string& partition, const std::string& key, const Mutation& mutation,
                             const Precondition& pre, Deadline deadline) override;
  Status DeletePartition(const std::string&, Deadline) override { return Internal("not simulated"); }

 private:
  Simulation* sim_;
  int node_;
};

class Simulation {
 public:
  Simulation(uint64_t seed, const SimulationConfig& c) : rng_(seed), cfg_(c) {
    result_.seed = seed;
    timing_ = *Timing::FromFailoverTime(c.failover_time);
    for (int i = 0; i < c.nodes; ++i) {
      auto n = std::make_unique<Node>();
      n->id = i;
      n->name = "node" + std::to_string(i);
      nodes_.push_back(std::move(n));
      Start(i, Global(Uniform(0, timing_.loop_wait.count())));
    }
    Global takeover =
        Global(static_cast<int64_t>(static_cast<double>(timing_.ttl.count()) * (1 + c.max_drift))) +
        2 * timing_.loop_wait + 4 * c.max_delay + std::chrono::seconds(1);
    result_.takeover_bound = takeover;
  }

  SimulationResult Run() {
    while (!queue_.empty() && result_.safe) {
      Event e = queue_.top();
      queue_.pop();
      if (e.at > cfg_.duration) break;
      now_ = std::max(now_, e.at);
      ++result_.events;
      if (e.restart) {
        Start(e.node, now_);
        continue;
      }
      Node& n = *nodes_[static_cast<size_t>(e.node)];
      if (!n.alive || e.incarnation != n.incarnation) continue;
      Step(n, e.start);
      CheckSafety();
      CheckLiveness();
    }
    if (holder_crash_ && clean_window_ && now_ - *holder_crash_ > result_.takeover_bound && AnyoneCanLead()) {
      Fail(false, "no takeover within " + Ms(result_.takeover_bound) + " after the holder crashed at " +
                      Ms(*holder_crash_));
    }
    return result_;
  }

  // ---- used by NodeStore ---------------------------------------------------
  struct CallTiming {
    Global apply;
    Global respond;
    bool timed_out;  // the reply arrives after the deadline (or never)
  };
  CallTiming Time(int node, Deadline deadline) {
    Node& n = *nodes_[static_cast<size_t>(node)];
    Global d1, d2;
    if (n.has_first_delays) {
      d1 = n.first_d1;
      d2 = n.first_d2;
      n.has_first_delays = false;
    } else {
      d1 = Delay();
      d2 = Delay();
    }
    bool lost = Chance(cfg_.lost_reply_probability);
    bool slow = Chance(cfg_.slow_call_probability);
    if (slow) d2 += timing_.retry_timeout;
    if ((lost || slow) && node != holder_node_) clean_window_ = false;
    Global start = n.clock->g_;
    CallTiming t{start + d1, start + d1 + d2, false};
    Global deadline_g = deadline.infinite() ? Global::max() : n.clock->GlobalOf(deadline.when());
    if (lost || t.respond > deadline_g) {
      // The client gives up at its deadline (never before the current instant
      // of the simulation, so simulated time stays monotonic).
      t.timed_out = true;
      t.respond = deadline.infinite() ? t.respond + timing_.retry_timeout : std::max(deadline_g, now_);
    }
    n.clock->g_ = t.respond;
    return t;
  }
  std::map<std::string, StoredItem>& items() { return items_; }
  int64_t WallMs(int node) {
    return duration_cast<milliseconds>(nodes_[static_cast<size_t>(node)]->clock->WallNow().time_since_epoch())
        .count();
  }

 private:
  struct Event {
    Global at;
    uint64_t seq;
    int node;
    int incarnation;
    Global start;
    bool restart = false;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  int64_t Uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  Global Delay() { return Global(Uniform(0, cfg_.max_delay.count())); }
  static std::string Ms(Global g) { return std::to_string(duration_cast<milliseconds>(g).count()) + "ms"; }

  void Start(int id, Global at) {
    Node& n = *nodes_[static_cast<size_t>(id)];
    double rate = 1.0 + (std::uniform_real_distribution<double>(-1, 1)(rng_)) * cfg_.max_drift;
    n.clock = std::make_unique<SimClock>(rate, Duration(Uniform(0, int64_t{1} << 50)),
                                         Duration(Uniform(-(int64_t{1} << 52), int64_t{1} << 52)));
    n.clock->g_ = at;
    DcsOptions o;
    o.partition = kPartition;
    o.name = n.name;
    o.store = std::make_shared<NodeStore>(this, id);
    o.clock = n.clock.get();
    o.timing = timing_;
    n.dcs = std::move(Dcs::Create(o)).value();
    n.alive = true;
    ++n.incarnation;
    n.phase = 0;
    n.cycle_start = at;
    Schedule(n, at);
  }

  void Schedule(Node& n, Global start) {
    n.first_d1 = Delay();
    n.first_d2 = Delay();
    n.has_first_delays = true;
    queue_.push(Event{start + n.first_d1, seq_++, n.id, n.incarnation, start});
  }

  void Step(Node& n, Global start) {
    if (Chance(cfg_.crash_probability) && Alive() > 1) {
      Crash(n);
      return;
    }
    if (Chance(cfg_.pause_probability)) {
      ++result_.pauses;
      if (n.id != holder_node_) clean_window_ = false;
      Global pause(Uniform(0, 2 * timing_.ttl.count()));
      n.has_first_delays = false;
      Schedule(n, now_ + pause);
      return;
    }
    n.clock->g_ = start;
    if (cfg_.trace) {
      auto it = items_.find(kLeader);
      std::fprintf(stderr, "t=%s %s phase=%d start=%s leader=%s v=%lld\n", Ms(now_).c_str(), n.name.c_str(),
                   n.phase, Ms(start).c_str(),
                   it == items_.end() || !it->second.live() ? "-" : it->second.value->c_str(),
                   it == items_.end() ? 0LL : static_cast<long long>(it->second.version));
    }
    switch (n.phase) {
      case 0: {
        auto view = n.dcs->LoadCluster("");
        n.leader_seen_mine = n.leader_seen_absent = false;
        if (view.ok()) {
          auto it = view->items.find(kLeader);
          n.leader_seen_mine = it != view->items.end() && *it->second.item.value == n.name;
          n.leader_seen_absent = it == view->items.end();
        }
        n.phase = view.ok() && (n.leader_seen_mine || n.leader_seen_absent) ? 1 : 2;
        break;
      }
      case 1: {
        if (n.leader_seen_mine) {
          (void)n.dcs->RenewLeader(kLeader, std::nullopt);
        } else {
          auto r = n.dcs->AcquireLeader(kLeader);
          if (r.ok() && *r) OnAcquired(n);
        }
        n.phase = 2;
        break;
      }
      default: {
        (void)n.dcs->TouchMember("members/" + n.name, "{}");
        n.phase = 0;
        Global next = n.cycle_start + n.clock->Unscale(timing_.loop_wait);
        n.cycle_start = std::max(next, n.clock->g_);
        n.has_first_delays = false;
        Schedule(n, n.cycle_start);
        return;
      }
    }
    n.has_first_delays = false;
    Schedule(n, n.clock->g_ + milliseconds(1));
  }

  void OnAcquired(Node& n) {
    ++result_.acquisitions;
    if (holder_crash_) Recovered(n.name);
    holder_node_ = n.id;
  }

  void Crash(Node& n) {
    ++result_.crashes;
    if (cfg_.trace) std::fprintf(stderr, "t=%s %s CRASH\n", Ms(now_).c_str(), n.name.c_str());
    n.alive = false;
    n.dcs.reset();
    if (n.id == holder_node_) {
      holder_crash_ = now_;
      clean_window_ = true;
      holder_node_ = -1;
    } else {
      clean_window_ = false;
    }
    queue_.push(Event{now_ + Global(Uniform(0, cfg_.max_restart_after.count())), seq_++, n.id, n.incarnation,
                      now_, true});
  }

  int Alive() const {
    int a = 0;
    for (const auto& n : nodes_) a += n->alive ? 1 : 0;
    return a;
  }
  bool AnyoneCanLead() const { return Alive() > 0; }

  void CheckSafety() {
    int holders = 0;
    std::string who;
    for (auto& n : nodes_) {
      if (!n->alive) continue;
      Global saved = n->clock->g_;
      n->clock->g_ = now_;
      bool held = n->dcs->Lease(kLeader).held;
      n->clock->g_ = saved;
      if (held) {
        ++holders;
        who += " " + n->name;
      }
    }
    if (holders > 1) Fail(true, "two nodes believe they hold the lease at " + Ms(now_) + ":" + who);
    // A restarted holder may also resume its own lease (adopted by name).
    if (holders == 1 && holder_crash_) Recovered(who);
  }

  void Recovered(const std::string& who) {
    if (clean_window_) {
      Global took = now_ - *holder_crash_;
      result_.worst_takeover = std::max(result_.worst_takeover, took);
      if (took > result_.takeover_bound) {
        Fail(false, who + " took over " + Ms(took) + " after the holder crashed, bound " +
                        Ms(result_.takeover_bound));
      }
    }
    holder_crash_.reset();
    clean_window_ = true;
  }

  void CheckLiveness() {
    if (holder_crash_ && clean_window_ && now_ - *holder_crash_ > result_.takeover_bound) {
      Fail(false, "no takeover within " + Ms(result_.takeover_bound) + " of the holder's crash at " +
                      Ms(*holder_crash_));
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
    os << (safety ? "SAFETY" : "LIVENESS") << " violation (seed " << result_.seed << ", event "
       << result_.events << "): " << what;
    if (result_.violation.empty()) result_.violation = os.str();
  }

  std::mt19937_64 rng_;
  SimulationConfig cfg_;
  Timing timing_;
  SimulationResult result_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  std::map<std::string, StoredItem> items_;
  uint64_t seq_ = 0;
  Global now_{0};
  int holder_node_ = -1;
  std::optional<Global> holder_crash_;
  bool clean_window_ = true;
};

Result<std::vector<StoredItem>> NodeStore::Query(const std::string&, const std::string& prefix,
                                                 Deadline deadline) {
  auto t = sim_->Time(node_, deadline);
  if (t.timed_out) return Unavailable("simulated timeout");
  std::vector<StoredItem> out;
  for (const auto& [k, v] : sim_->items()) {
    if (k.compare(0, prefix.size(), prefix) == 0) out.push_back(v);
  }
  return out;
}

Result<std::optional<StoredItem>> NodeStore::Get(const std::string&, const std::string& key,
                                                 Deadline deadline) {
  auto t = sim_->Time(node_, deadline);
  if (t.timed_out) return Unavailable("simulated timeout");
  auto it = sim_->items().find(key);
  if (it == sim_->items().end()) return std::optional<StoredItem>();
  return std::optional<StoredItem>(it->second);
}

Result<WriteOutcome> NodeStore::Write(const std::string&, const std::string& key, const Mutation& mutation,
                                      const Precondition& pre, Deadline deadline) {
  int64_t wall = sim_->WallMs(node_);
  auto t = sim_->Time(node_, deadline);
  auto& items = sim_->items();
  auto it = items.find(key);
  std::optional<StoredItem> current;
  if (it != items.end()) current = it->second;
  WriteOutcome out;
  if (PreconditionHolds(pre, current)) {
    StoredItem next = ApplyMutation(key, current, mutation, wall);
    items[key] = next;
    out.applied = true;
    out.item = next;
  } else {
    out.item = current;
  }
  if (t.timed_out) return UnknownOutcome("simulated lost reply");
  return out;
}

}  // namespace

SimulationResult RunSimulation(uint64_t seed, const SimulationConfig& config) {
  Simulation sim(seed, config);
  return sim.Run();
}

}  // namespace dynatroni::dcs
