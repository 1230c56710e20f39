// `dynatroni break-glass promote`: replace a stuck leader lease whose holder is
// known to be dead, safely (docs/runbook-break-glass.md).
//
// Safety argument (the same one a Patroni follower relies on, docs/design.md):
// the command watches the leader item for a full lease TTL on its own
// monotonic clock and refuses if the version changes; a holder that is alive
// renews within every TTL. The tombstone is conditioned on exactly the
// version watched, so a renewal that lands after the watch makes it fail
// (refused, nothing removed). The tombstone keeps `term`; the member that
// acquires next increments it (old term + 1).
//
// Order: audit item (intent, before any change) → tombstone → failover key →
// audit outcome. The failover key is written after the tombstone so that a
// refused tombstone leaves no failover request behind for a live leader.
#include <ostream>

#include "cli/commands.h"
#include "cli/output.h"

namespace dynatroni::cli {
namespace {

using json = nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr auto kTombstoneGc = std::chrono::hours(24 * 7);

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

json ParseJsonObject(const std::optional<std::string>& v) {
  if (!v) return json::object();
  json j = json::parse(*v, nullptr, false);
  return j.is_object() ? j : json::object();
}

std::string Describe(const dcs::StoredItem& it) {
  if (!it.live()) return "released (tombstone) at version " + std::to_string(it.version);
  return "held by " + *it.value + " at version " + std::to_string(it.version) + " (term " +
         std::to_string(it.term) + ", session " + it.session + ")";
}

class BreakGlass {
 public:
  BreakGlass(const Options& opts, Context& ctx, std::ostream& out, std::ostream& err, std::istream& in,
             const Env& env, const CliHooks& hooks)
      : opts_(opts), ctx_(ctx), out_(out), err_(err), in_(in), hooks_(hooks), clock_(*ctx.clock) {
    prefix_ = opts.group ? std::to_string(*opts.group) + "/" : "";
    leader_key_ = prefix_ + "leader";
    failover_key_ = prefix_ + "failover";
    member_key_ = prefix_ + "members/" + opts.member;
    who_ = hooks.who.empty() ? WhoAmI(env) : hooks.who;
  }

  int Run() {
    const std::string& partition = ctx_.config.partition;
    auto items = ctx_.store->Query(partition, prefix_, CallDeadline());
    if (!items.ok())
      return Error(items.status().Annotate("reading cluster " + partition), "nothing was changed");
    std::optional<dcs::StoredItem> leader, member;
    std::vector<std::string> members;
    for (const auto& it : *items) {
      if (it.key == leader_key_) leader = it;
      if (it.key == member_key_ && it.live()) member = it;
      if (it.key.rfind(prefix_ + "members/", 0) == 0 && it.live()) {
        members.push_back(it.key.substr(prefix_.size() + 8));
      }
    }
    if (!leader || !leader->live()) {
      out_ << "REFUSED: cluster " << partition << " has no leader lease to break ("
           << (leader ? Describe(*leader) : "no leader item") << ").\n"
           << "Patroni elects a leader by itself when the lease is free; to choose the member use "
              "`patronictl failover --candidate "
           << opts_.member << "`. Nothing was changed.\n";
      return kExitFailed;
    }
    if (*leader->value == opts_.member) {
      out_ << "REFUSED: " << opts_.member << " holds the stuck lease itself; choose another --member. "
           << "Nothing was changed.\n";
      return kExitFailed;
    }
    if (!member) {
      std::string list;
      for (const auto& m : members) list += (list.empty() ? "" : ", ") + m;
      out_ << "REFUSED: " << opts_.member << " is not a member of cluster " << partition
           << " (members: " << (list.empty() ? "none" : list) << "). Nothing was changed.\n";
      return kExitFailed;
    }
    json mdata = ParseJsonObject(member->value);
    if (mdata.contains("tags") && mdata["tags"].is_object() &&
        mdata["tags"].value("nofailover", false) == true) {
      out_ << "REFUSED: " << opts_.member << " is tagged nofailover: Patroni would never promote it. "
           << "Nothing was changed.\n";
      return kExitFailed;
    }
    old_ = *leader;
    ttl_ = LeaseOf(old_);
    PrintPlan(mdata, *member);
    if (!Confirm()) {
      out_ << "Aborted: nothing was changed.\n";
      return kExitFailed;
    }
    if (int rc = Watch(); rc != kExitOk) return rc;
    return Act();
  }

 private:
  Duration LeaseOf(const dcs::StoredItem& it) const {
    Duration d = it.lease_ms > 0 ? Duration(milliseconds(it.lease_ms)) : Duration::zero();
    if (opts_.failover_time_s) {
      d = std::max(d, duration_cast<Duration>(std::chrono::duration<double>(*opts_.failover_time_s)));
    } else if (d == Duration::zero()) {
      d = ctx_.config.dcs.failover_time.value_or(std::chrono::seconds(30));
    }
    return d;
  }

  int Error(const Status& s, const std::string& state) {
    PrintError(err_, s, ctx_.config.dcs.table_name);
    err_ << "state: " << state << "\n";
    return ExitCodeFor(s) == kExitUsage ? kExitRuntime : ExitCodeFor(s);
  }

  void PrintPlan(const json& mdata, const dcs::StoredItem& member) {
    const int64_t wall_ms = EpochMillis(clock_.WallNow());
    out_ << "Break-glass promotion in cluster " << ctx_.config.partition << " (table "
         << ctx_.config.dcs.table_name << ", " << ctx_.client->region() << ")\n";
    TextTable t({"", ""});
    std::string written = old_.updated_at_ms > 0
                              ? ", last written " + FormatMillis(wall_ms - old_.updated_at_ms) +
                                    " ago by its writer's wall clock"
                              : "";
    t.AddRow({"stuck lease", *old_.value + ": term " + std::to_string(old_.term) + ", version " +
                                 std::to_string(old_.version) + ", lease " + FormatMillis(old_.lease_ms) +
                                 written});
    std::string role = mdata.value("role", std::string("?"));
    std::string state = mdata.value("state", std::string("?"));
    std::string tl = mdata.contains("timeline") ? ", timeline " + mdata["timeline"].dump() : "";
    std::string member_written =
        member.updated_at_ms > 0 ? ", last written " + FormatMillis(wall_ms - member.updated_at_ms) + " ago"
                                 : "";
    t.AddRow({"new leader", opts_.member + " (" + role + ", " + state + tl + member_written + ")"});
    t.AddRow({"reason", opts_.reason});
    t.AddRow({"operator", who_});
    t.Print(out_, "  ");
    const int64_t member_lease_ms = member.lease_ms > 0 ? member.lease_ms : 30000;
    if (member.updated_at_ms > 0 && wall_ms - member.updated_at_ms > 10 * member_lease_ms) {
      out_ << "WARNING: " << opts_.member << "'s member item was last written "
           << FormatMillis(wall_ms - member.updated_at_ms)
           << " ago (wall clock): if its Patroni is not running, nobody takes over after the lease is "
              "removed\n";
    }
    out_ << "Steps:\n"
         << "  1. watch the lease for " << FormatDuration(ttl_) << " (a full TTL); refuse if version "
         << old_.version << " changes (then " << *old_.value << " is alive)\n"
         << "  2. write the audit item break-glass/<epoch-ms> (who, when, reason, old leader, terms)\n"
         << "  3. remove the lease (tombstone), only if it is still at version " << old_.version << "\n"
         << "  4. set the failover key {\"member\":\"" << opts_.member << "\"} so " << opts_.member
         << " takes over with term " << old_.term + 1 << "\n"
         << "Only do this when " << *old_.value << " is known to be dead (powered off or fenced).\n";
  }

  bool Confirm() {
    if (opts_.yes) return true;
    out_ << "Type 'yes' to continue: ";
    out_.flush();
    std::string line;
    if (!std::getline(in_, line)) {
      out_ << "\n";
      return false;
    }
    return Trim(line) == "yes";
  }

  int Watch() {
    const MonoTime start = clock_.Now();
    out_ << "Watching " << leader_key_ << " for " << FormatDuration(ttl_) << " (version " << old_.version
         << " must not change)\n";
    while (true) {
      Duration watched = clock_.Now() - start;
      if (watched >= ttl_) break;
      clock_.SleepFor(std::min<Duration>(std::chrono::seconds(1), ttl_ - watched));
      watched = clock_.Now() - start;
      if (hooks_.on_watch_tick) hooks_.on_watch_tick(watched);
      auto got = ctx_.store->Get(ctx_.config.partition, leader_key_, CallDeadline());
      if (!got.ok())
        return Error(got.status().Annotate("reading the lease during the watch"), "nothing was changed");
      if (!*got) {
        out_ << "REFUSED: the leader item disappeared during the watch (cluster removed?). Nothing was "
                "changed.\n";
        return kExitFailed;
      }
      const dcs::StoredItem& now = **got;
      if (now.version != old_.version || now.value != old_.value) {
        if (now.live()) {
          out_ << "REFUSED: the lease was renewed during the watch: version " << old_.version << " -> "
               << now.version << ", " << Describe(now) << ".\n"
               << "Its holder is alive: use `patronictl switchover` / `patronictl failover` instead. "
               << "Nothing was changed.\n";
        } else {
          out_ << "REFUSED: the lease was released during the watch (version " << now.version
               << "): Patroni elects a new leader by itself; use `patronictl failover --candidate "
               << opts_.member << "` to choose it. Nothing was changed.\n";
        }
        return kExitFailed;
      }
      out_ << "  " << FormatDuration(watched) << " / " << FormatDuration(ttl_) << ": version " << old_.version
           << " unchanged\n";
      out_.flush();
    }
    watched_ = clock_.Now() - start;
    return kExitOk;
  }

  int Act() {
    const std::string& partition = ctx_.config.partition;
    const int64_t now_ms = EpochMillis(clock_.WallNow());
    audit_key_ = "break-glass/" + std::to_string(now_ms);
    audit_ = {{"action", "promote"},
              {"cluster", partition},
              {"who", who_},
              {"when", FormatEpochMillis(now_ms)},
              {"when_ms", now_ms},
              {"reason", opts_.reason},
              {"old_leader", *old_.value},
              {"old_session", old_.session},
              {"old_version", old_.version},
              {"old_term", old_.term},
              {"new_term", old_.term + 1},
              {"member", opts_.member},
              {"watched_ms", duration_cast<milliseconds>(watched_).count()},
              {"outcome", "in progress"}};
    dcs::Mutation audit;
    audit.value = audit_.dump();
    audit.session = "dynatroni-cli:" + who_;
    auto w = ctx_.store->Write(partition, audit_key_, audit, dcs::Precondition::Absent(), CallDeadline());
    if (!w.ok()) return Error(w.status().Annotate("writing the audit item"), "the lease was not touched");
    if (!w->applied) {
      return Error(FailedPrecondition("audit item " + audit_key_ + " already exists; re-run"),
                   "the lease was not touched");
    }
    audit_version_ = w->item->version;
    out_ << "Audit item " << audit_key_ << " written\n";

    // The tombstone, only at the version watched.
    dcs::Mutation tomb;
    tomb.ttl_epoch_s =
        duration_cast<std::chrono::seconds>(clock_.WallNow().time_since_epoch() + kTombstoneGc).count();
    auto t = ctx_.store->Write(partition, leader_key_, tomb, dcs::Precondition::VersionIs(old_.version),
                               CallDeadline());
    std::optional<dcs::StoredItem> after;
    bool applied = false;
    if (t.ok()) {
      applied = t->applied;
      after = t->item;
    }
    if (!t.ok() || (!applied && t->ambiguous) || (!applied && !after)) {
      if (!t.ok() && t.status().code() != StatusCode::kUnknownOutcome) {
        Outcome("error: tombstone failed: " + t.status().message());
        return Error(t.status().Annotate("removing the lease"), "audit item written, lease unchanged");
      }
      auto got = ctx_.store->Get(partition, leader_key_, CallDeadline());
      if (!got.ok()) {
        Outcome("unknown: the tombstone's outcome could not be read back");
        return Error(got.status().Annotate("re-reading the lease after an unknown outcome"),
                     "unknown: check with `dynatroni status`");
      }
      after = *got;
      // A tombstone at exactly old version + 1 is our conditional write (or a
      // release by the holder): either way the lease is free.
      applied = after && !after->live() && after->version == old_.version + 1;
    }
    if (!applied) {
      std::string now = after ? Describe(*after) : "unknown";
      Outcome("refused: the lease changed before the tombstone (" + now + ")");
      out_ << "REFUSED: the lease changed after the watch: now " << now
           << ". Nothing else was changed (the audit item records the refusal).\n";
      return kExitFailed;
    }
    out_ << "Lease removed: tombstone at version " << after->version << " (term " << old_.term
         << " kept; the next leader gets term " << old_.term + 1 << ")\n";

    // Patroni's failover key: Failover.from_node reads `member` as the candidate.
    dcs::Mutation fo;
    fo.value = json{{"member", opts_.member}}.dump();
    fo.session = "dynatroni-cli:" + who_;
    auto f = ctx_.store->Write(partition, failover_key_, fo, dcs::Precondition::None(), CallDeadline());
    if (!f.ok() || !f->applied) {
      Status s = f.ok() ? Internal("unconditional write of the failover key was not applied") : f.status();
      Outcome("lease removed; failover key NOT set: " + s.message());
      out_ << "WARNING: the lease is removed but the failover key could not be set; Patroni now elects the "
              "healthiest member. To prefer "
           << opts_.member << ": `patronictl failover --candidate " << opts_.member << "`\n";
      return Error(s.Annotate("setting the failover key"), "lease removed, failover key not set");
    }
    out_ << "Failover key set: " << *fo.value << " (version " << f->item->version << ")\n";
    Outcome("done: lease removed at version " + std::to_string(old_.version) + ", failover key set for " +
            opts_.member);
    out_ << "Done. " << opts_.member << " should acquire the lease (term " << old_.term + 1
         << ") within a Patroni loop. Verify:\n"
         << "  dynatroni status --cluster " << ctx_.config.scope << " --watch\n";
    return kExitOk;
  }

  // Records the outcome in the audit item (best effort; reported if it fails).
  void Outcome(const std::string& outcome) {
    audit_["outcome"] = outcome;
    dcs::Mutation m;
    m.value = audit_.dump();
    m.session = "dynatroni-cli:" + who_;
    auto w = ctx_.store->Write(ctx_.config.partition, audit_key_, m,
                               dcs::Precondition::VersionIs(audit_version_), CallDeadline());
    if (!w.ok() || !w->applied) {
      err_ << "dynatroni: warning: could not record the outcome in " << audit_key_ << ": "
           << (w.ok() ? "the item changed" : w.status().message()) << "\n";
    }
  }

  const Options& opts_;
  Context& ctx_;
  std::ostream& out_;
  std::ostream& err_;
  std::istream& in_;
  const CliHooks& hooks_;
  Clock& clock_;
  std::string prefix_, leader_key_, failover_key_, member_key_, who_;
  dcs::StoredItem old_;
  Duration ttl_{0};
  Duration watched_{0};
  std::string audit_key_;
  int64_t audit_version_ = 0;
  json audit_;
};

}  // namespace

int RunBreakGlass(const Options& opts, Context& ctx, std::ostream& out, std::ostream& err, std::istream& in,
                  const Env& env, const CliHooks& hooks) {
  BreakGlass b(opts, ctx, out, err, in, env, hooks);
  return b.Run();
}

}  // namespace dynatroni::cli
