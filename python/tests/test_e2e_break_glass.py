"""`dynatroni break-glass promote` on a real cluster (issue 23, operator failure modes), as
docs/runbook-break-glass.md describes it: 2 Patroni 4.1 + PostgreSQL 15 nodes on moto, failover_time 9, every
node and the command talking to moto through a listener of its own on the fault proxy (tools/fault_proxy.py).

Why the lease stays stuck: the runbook's "Patroni stopped on the replicas". Each scenario freezes (SIGSTOP) the
Patroni of the replica first, then the Patroni of the leader (its process group only: PostgreSQL runs on).

(a) A frozen leader, with Patroni's `testing` watchdog (played by the harness: it SIGKILLs PostgreSQL when not
    kicked for failover_time - 3 s). The operator runs the documented command: it watches the lease for a full
    lease (the item's lease_ms), writes the audit item, the tombstone at version + 1 with the term kept and the
    failover key {"member": replica}, exit 0. The replica's Patroni resumes, takes the free lease with term + 1 and
    promotes; Patroni clears the failover key. Then the old leader's Patroni resumes: none of its lease writes
    applies, it rejoins as a replica of the new leader. The audit item records the run ("done: ...").
(b) A live leader whose lease write lands between the command's last watch read and its conditional tombstone:
    the watchdog is turned off (configuration reload), both Patronis are frozen again for the watch, the proxy
    holds the command's tombstone, the leader's Patroni resumes and writes its lease (its plugin finds its own
    lease expired after the freeze and takes it over, term + 1, at exactly the version the command watched), then the
    tombstone is released: its condition fails, the command prints "REFUSED: the lease changed after the watch"
    and exits 1, the failover key stays unset, the audit item records the refusal, the leader keeps leading and
    the replica follows it. The proxy log must show the order: the last watch read at version V, the leader's
    write conditioned on V answered with V + 1, then the tombstone (sent before that write, forwarded after it)
    refused by DynamoDB on V + 1; otherwise the test fails (it cannot pass vacuously).

Throughout, the harness's Sampler writes through both nodes: the split-brain checker (tools/split_brain.py) must
find no two primaries, at least its minimum of acknowledged writes and one change of writer (a); the nodes'
lease beliefs (DYNATRONI_LEASE_LOG) never overlap. About 45 s. Run as root.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]

from tools import cluster_harness as h  # noqa: E402
from tools import lease_beliefs  # noqa: E402
from tools.fault_proxy import FaultProxy, read_log  # noqa: E402

FAILOVER_TIME = 9.0
TABLE = "patroni-break-glass"
CLI = "breakglass"  # the command's own fault-proxy listener
# The command's per-attempt timeout is min(10 s, half its 15 s call deadline): the tombstone is held for less, so
# that the command never gives up on it and retries while it is held.
HOLD_S = 6.0


class BreakGlass:
    """One `dynatroni break-glass promote` run in the background, as the runbook shows it (-c the cluster's
    configuration, --cluster, --member, --reason, --yes), talking to DynamoDB through `endpoint`."""

    def __init__(self, c: h.Cluster, endpoint: str, member: str, reason: str) -> None:
        cli = h.dynatroni_cli()
        assert cli, "the dynatroni command was not found (make python-install, or DYNATRONI_CLI)"
        self.args = ["break-glass", "promote", "-c", str(c.base_dir / "patronictl.yml"), "--cluster", c.scope,
                     "--member", member, "--reason", reason, "--yes", "--endpoint-url", endpoint]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PATRONI_"))}
        env.update(USER="bg-operator", HOME="/nonexistent")
        h.say(f"operator: dynatroni {' '.join(self.args)}")
        self.proc = subprocess.Popen([cli, *self.args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.lines: List[str] = []
        self.err: List[str] = []
        self._readers = [threading.Thread(target=self._read, args=(s, o), daemon=True)
                         for s, o in ((self.proc.stdout, self.lines), (self.proc.stderr, self.err))]
        for t in self._readers:
            t.start()

    @staticmethod
    def _read(stream, out: List[str]) -> None:
        for line in stream:
            out.append(line)

    def running(self) -> bool:
        return self.proc.poll() is None

    def finish(self, timeout: float = 60) -> int:
        rc = self.proc.wait(timeout=timeout)
        for t in self._readers:
            t.join(10)
        for line in self.output.splitlines():
            print(f"    | {line}", flush=True)
        h.say(f"  break-glass exit code {rc}")
        return rc

    @property
    def output(self) -> str:
        return "".join(self.lines) + "".join(self.err)


def _items(c: h.Cluster) -> Dict[str, Dict[str, Any]]:
    return c.partition_items()


def _audits(items: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [json.loads(it["value"]) for k, it in sorted(items.items()) if k.startswith("break-glass/")]


def _failover(items: Dict[str, Dict[str, Any]]) -> Optional[dict]:
    it = items.get("failover")
    return json.loads(it["value"]) if it and it.get("value") else None


def _leader_writes(records: List[dict], client: str, after: float = 0.0) -> List[dict]:
    return [r for r in records if r.get("client") == client and r.get("op") == "UpdateItem"
            and r.get("key") == "leader" and r["t_invoke"] >= after]


def _log_since(c: h.Cluster, node: str, offset: int) -> str:
    return c.node(node).log_path.read_text(errors="replace")[offset:]


def _log_len(c: h.Cluster, node: str) -> int:
    return len(c.node(node).log_path.read_text(errors="replace"))


def test_break_glass_on_a_real_cluster(ddb, tmp_path):
    names = ["node1", "node2"]
    log_path = tmp_path / "proxy.jsonl"
    with FaultProxy("127.0.0.1", ddb.port, clients=names + [CLI], seed=23, log_path=str(log_path)) as proxy:
        c = h.Cluster(2, endpoint=ddb.endpoint, ctl_endpoint=ddb.endpoint, scope=f"bg-{uuid.uuid4().hex[:8]}",
                      failover_time=FAILOVER_TIME, table=TABLE, watchdog=True, lease_log=True,
                      node_endpoints={n: proxy.url(n) for n in names})
        with c:
            c.start_all()
            leader = c.wait_healthy(120)
            replica = next(n for n in names if n != leader)
            h.wait_for(lambda: c.node(leader).watchdog.armed, 30, f"{leader}'s watchdog to be armed")
            with h.Sampler(c) as sampler:
                time.sleep(1)  # acknowledged writes on the leader before anything happens
                _scenario_a(c, proxy, log_path, leader, replica)
                _scenario_b(c, proxy, log_path, leader=replica, replica=leader)
            problems = sampler.split_brain(allowed_transitions=1)
            h.say(f"sampler: {sampler.summary()}")
            assert not problems, "split-brain check failed: " + "; ".join(p.message for p in problems[:10])
            writers = [w.node for w in sampler.writes()]
            assert writers[0] == leader and writers[-1] == replica, (writers[:1], writers[-1:])
            beliefs = lease_beliefs.read([c.lease_log_path(n) for n in c.nodes])
            assert lease_beliefs.check(beliefs, min_held=2, min_holders=2) == [], beliefs


def _scenario_a(c: h.Cluster, proxy: FaultProxy, log_path: Path, leader: str, replica: str) -> None:
    """(a) A frozen leader: break-glass hands the cluster to the replica; the old leader rejoins as a replica."""
    h.say(f"(a) {leader}'s Patroni frozen (PostgreSQL runs on, watchdog armed); break-glass to {replica}")
    fired_before = len(c.node(leader).watchdog.fired)
    c.pause(replica, patroni_only=True)  # why the lease stays stuck: Patroni stopped on the replica
    c.pause(leader, patroni_only=True)
    before = _items(c)["leader"]
    assert before["value"] == leader, before
    v, term = before["version"], before["term"]
    bg = BreakGlass(c, proxy.url(CLI), replica, f"{leader} frozen (e2e test a)")
    rc = bg.finish(90)
    out = bg.output
    assert rc == 0, f"break-glass exit {rc}, not 0:\n{out}"
    assert f"Watching leader for {FAILOVER_TIME:.1f}s (version {v} must not change)" in out, out
    assert f"Lease removed: tombstone at version {v + 1} (term {term} kept; the next leader gets term {term + 1})" \
        in out, out
    assert f'Failover key set: {{"member":"{replica}"}}' in out, out
    items = _items(c)
    tomb = items["leader"]
    assert "value" not in tomb and tomb["version"] == v + 1 and tomb["term"] == term, tomb
    assert _failover(items) == {"member": replica}, items.get("failover")
    audits = _audits(items)
    assert len(audits) == 1, audits
    a = audits[0]
    assert (a["action"], a["old_leader"], a["member"], a["old_version"], a["old_term"], a["new_term"]) == \
        ("promote", leader, replica, v, term, term + 1), a
    assert a["who"].startswith("bg-operator@") and a["reason"] == f"{leader} frozen (e2e test a)", a
    assert a["outcome"] == f"done: lease removed at version {v}, failover key set for {replica}", a
    assert a["watched_ms"] >= FAILOVER_TIME * 1000, a
    # The watchdog fenced the frozen leader: its PostgreSQL is gone before anyone may promote.
    h.wait_for(lambda: len(c.node(leader).watchdog.fired) > fired_before, 30, f"{leader}'s watchdog to fire")
    h.wait_for(lambda: c.node(leader).postmaster_pid() is None, 15, f"{leader}'s PostgreSQL to be gone")

    replica_log = _log_len(c, replica)
    c.resume(replica)
    new = c.wait_primary(60, [replica], f"{replica} to take the lease and promote")
    assert new == replica
    lead = h.wait_for(lambda: (lambda it: it if it.get("value") == replica else None)(_items(c)["leader"]), 30,
                      f"the leader item to name {replica}")
    assert lead["term"] == term + 1 and lead["version"] >= v + 2, lead
    h.wait_for(lambda: _failover(_items(c)) in (None, {}), 30, "Patroni to clear the failover key")
    text = _log_since(c, replica, replica_log)
    assert f"acquired the leader lease, term {term + 1}" in text, text[-3000:]

    t_resume, leader_log = time.monotonic(), _log_len(c, leader)
    c.resume(leader)
    h.wait_for(lambda: c.healthy_leader() == replica, 120, f"{leader} to rejoin as a replica of {replica}")
    writes = _leader_writes(read_log(str(log_path)), leader, t_resume)
    applied = [r for r in writes if r.get("outcome") == "ok"]
    assert not applied, f"{leader} wrote the lease after break-glass: {applied}"
    text = _log_since(c, leader, leader_log)
    for bad in ("acquired the leader lease", "acquired session lock", "promoted self to leader"):
        assert bad not in text, f"{leader}: {bad!r}:\n{text[-3000:]}"
    h.say(f"(a) done: {replica} leads with term {term + 1}; {leader} rejoined as a replica "
          f"({len(writes)} lease write(s) by {leader} after its resume, none applied)")


def _disable_watchdog(c: h.Cluster, leader: str) -> None:
    """Scenario (b) freezes the leader for a whole lease: turn Patroni's watchdog off by a configuration reload."""
    c.use_watchdog = False
    c._write_configs()  # noqa: SLF001 - the harness's own config writer, now with `watchdog: {mode: off}`
    for n in c.nodes:
        os.kill(n.patroni_pid, signal.SIGHUP)
    h.wait_for(lambda: not c.node(leader).watchdog.armed, 30, f"{leader}'s Patroni to disarm its watchdog")


def _scenario_b(c: h.Cluster, proxy: FaultProxy, log_path: Path, leader: str, replica: str) -> None:
    """(b) The leader's lease write lands between break-glass's last watch read and its tombstone."""
    h.say(f"(b) {leader} leads; its lease write lands between break-glass's watch and its tombstone")
    _disable_watchdog(c, leader)
    fired_before = len(c.node(leader).watchdog.fired)
    proxy.set_rules([{"name": "hold the tombstone", "action": "delay", "delay": HOLD_S, "ops": ["UpdateItem"],
                      "keys": ["leader"], "clients": [CLI], "count": 1}])
    leader_log, replica_log = _log_len(c, leader), _log_len(c, replica)
    t_start = time.monotonic()
    c.pause(replica, patroni_only=True)
    c.pause(leader, patroni_only=True)
    before = _items(c)["leader"]
    assert before["value"] == leader, before
    v, term = before["version"], before["term"]
    bg = BreakGlass(c, proxy.url(CLI), replica, f"{leader} looks stuck (e2e test b)")

    def tombstone_held() -> bool:
        if not bg.running():
            raise h.FatalWait(f"break-glass ended before its tombstone was held:\n{bg.output}")
        return proxy.rules()[0]["injected"] == 1
    try:
        h.wait_for(tombstone_held, 60, "break-glass to watch a full lease and send its tombstone (held)")
        t_held = time.monotonic()
        c.resume(leader)

        def leader_wrote() -> bool:
            return any(r.get("outcome") == "ok" for r in _leader_writes(read_log(str(log_path)), leader, t_held))
        h.wait_for(leader_wrote, HOLD_S, f"{leader}'s lease write while the tombstone is held", interval=0.05)
        t_release = time.monotonic()
        proxy.clear()  # the held tombstone goes to DynamoDB now
        rc = bg.finish(60)
    finally:
        proxy.clear()
        if bg.running():
            bg.proc.kill()
        for n in (leader, replica):
            if c.node(n).paused:
                c.resume(n)
    out = bg.output

    # The proxy log: last watch read at V -> the leader's write conditioned on V -> the tombstone refused.
    records = read_log(str(log_path))
    tombs = _leader_writes(records, CLI, t_start)
    assert len(tombs) == 1, tombs
    tomb = tombs[0]
    reads = [r for r in records if r.get("client") == CLI and r.get("op") == "GetItem" and r.get("key") == "leader"
             and t_start <= r["t_invoke"] and r["t_complete"] <= tomb["t_invoke"]]
    assert reads, "no watch read before the tombstone"
    last_read = reads[-1]
    assert last_read.get("item", {}).get("version") == v, last_read
    writes = [r for r in _leader_writes(records, leader, last_read["t_complete"]) if r["t_complete"] <= t_release]
    applied = [r for r in writes if r.get("outcome") == "ok"]
    assert applied, writes
    renewal = applied[0]
    between = [r for r in records if r.get("op") == "UpdateItem" and r.get("key") == "leader" and r is not tomb
               and last_read["t_complete"] < r["t_invoke"] < renewal["t_invoke"]]
    assert not between, f"other lease writes between the watch and {leader}'s write: {between}"
    h.say(f"  proxy log: watch read at version {v} done at {last_read['t_complete']:.3f}; tombstone sent at "
          f"{tomb['t_invoke']:.3f} (held); {leader}'s lease write {renewal['t_invoke']:.3f}-"
          f"{renewal['t_complete']:.3f} -> version {renewal['item']['version']}; tombstone released at {t_release:.3f}, answered "
          f"{tomb.get('upstream', {}).get('outcome')} at {tomb['t_complete']:.3f}")
    assert last_read["t_complete"] < tomb["t_invoke"] < renewal["t_invoke"], (last_read, tomb, renewal)
    assert renewal["t_complete"] < t_release < tomb["t_complete"], (renewal, t_release, tomb)
    assert v in (renewal.get("values") or {}).values(), f"the leader's write was not conditioned on {v}: {renewal}"
    assert renewal["item"]["version"] == v + 1 and renewal["item"]["value"] == leader, renewal
    assert tomb.get("fault") == "delay", tomb
    assert tomb.get("upstream", {}).get("outcome") == "condition-failed", \
        f"the tombstone sent after a watch at version {v} applied over {leader}'s version {v + 1}: {tomb}\n{out}"

    # The command refused, as the runbook says, and changed nothing but its audit item.
    assert rc == 1, f"break-glass exit {rc}, not 1 (refused):\n{out}"
    assert f"Watching leader for {FAILOVER_TIME:.1f}s (version {v} must not change)" in out, out
    # The refusal names the item DynamoDB answered with: the leader's renewal at v+1, or a later write of its own.
    # After the freeze the leader writes twice (a renewal, then the take-over of its own expired lease), and the
    # second can land before the released tombstone reaches DynamoDB.
    refused = re.search(rf"REFUSED: the lease changed after the watch: now held by {leader} at version (\d+)", out)
    assert refused and int(refused.group(1)) >= v + 1, out
    assert "Nothing else was changed (the audit item records the refusal)." in out, out
    assert "Lease removed" not in out and "Failover key set" not in out, out
    items = _items(c)
    assert _failover(items) in (None, {}), items.get("failover")
    audits = [a for a in _audits(items) if a["reason"] == f"{leader} looks stuck (e2e test b)"]
    assert len(audits) == 1, _audits(items)
    assert audits[0]["old_version"] == v and audits[0]["member"] == replica, audits[0]
    held = re.match(rf"refused: the lease changed before the tombstone \(held by {leader} at version (\d+)",
                    audits[0]["outcome"])
    assert held and int(held.group(1)) >= v + 1, audits[0]

    # The leader keeps leading: it renews on, the replica follows it, nobody fails over.
    lead = h.wait_for(lambda: (lambda it: it if it.get("value") == leader and it["version"] >= v + 3 else None)(
        _items(c)["leader"]), 30, f"{leader} to renew its lease twice more")
    h.wait_for(lambda: c.healthy_leader() == leader, 60, f"{replica} streaming from {leader} again")
    assert c.primaries() == [leader]
    assert len(c.node(leader).watchdog.fired) == fired_before, "the watchdog fired though it was turned off"
    for n, off in ((leader, leader_log), (replica, replica_log)):
        text = _log_since(c, n, off)
        for bad in ("acquired the leader lease, term", "promoted self to leader", "demoting", "Demoting"):
            if n == leader and bad == "acquired the leader lease, term":
                continue  # the leader took over its own expired lease after the freeze
            assert bad not in text, f"{n}: {bad!r}:\n{text[-3000:]}"
    h.say(f"(b) done: break-glass refused; {leader} leads (version {lead['version']}, term {lead['term']})")
