#!/usr/bin/env python3
"""Fault injection on a real 3-node Patroni + PostgreSQL cluster on Dynatroni (``make chaos``).

One cluster (Patroni 4.1, ``synchronous_mode: strict``, the ``testing`` watchdog with the harness as the
hardware watchdog) runs on moto behind tools/fault_proxy.py: one proxy listener per node (so one node can be
cut off alone) and one for patronictl and the harness's own reads (never faulted, but logged, so the proxy log
is the complete DynamoDB history). The faults run one after another; before each, the cluster is healthy.

The checker (class Checker) runs throughout:
* a sampler thread per node: ``select pg_is_in_recovery()`` every 100 ms, with the probe's [start, end];
* a writer thread per node: while its node's last sample said primary, INSERTs uniquely numbered rows
  (``chaos_rows``: id, node, timeline from ``pg_walfile_name(pg_current_wal_lsn())``) with autocommit and no
  statement timeout (a commit waiting for the synchronous standby is never cancelled by the client, which
  would make PostgreSQL report it committed locally); outcome ``ok`` (the commit returned), ``fail`` (a
  definite error, e.g. read-only), ``info`` (connection lost: indeterminate).

Per fault it reports:
* **split-brain intervals** (must be 0; tools/split_brain.py): acknowledged writes on two different nodes on
  the same timeline, or an acknowledged write on an older timeline *invoked after* a write on a newer timeline
  was acknowledged (the old primary kept accepting writes after the new one did); a fault window with fewer
  than MIN_ACKS acknowledged writes counts as one interval (it proves nothing). Also, for information, the
  time two nodes both reported ``pg_is_in_recovery() = false`` in overlapping probes (a node that cannot
  commit is no harm);
* **lost acknowledged rows** (must be 0): ``ok`` ids missing from the leader after the cluster healed;
* **time to a writable primary**: from the fault to the first acknowledged write after the longest write
  outage it caused (0 when writes never stopped), and that outage's length;
and at the end the per-key linearizability of ``leader``, ``sync``, ``failover``, ``config`` and
``initialize`` from the proxy log (tools/linearizability.py), and the lease beliefs: every node's plugin logs
what it believes about the lease (``DYNATRONI_LEASE_LOG``; copied to ``lease-<node>.jsonl`` in --out), and
tools/lease_beliefs.py checks that no two nodes believed they held it at the same time (the proxy log tests the
store; this tests Dynatroni).

    python -m tools.chaos [--short] [--faults kill9_leader,throttle_and_drop] [--failover-time 30]
                          [--seed 1] [--out DIR] [--json results.json] [--doc docs/reliability.md]

``--doc`` rewrites the section between the CHAOS-RESULTS markers of that file from the results.
Run as root (PostgreSQL runs as the postgres user). Exit code 1 when a hard check fails.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import itertools
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from tools import cluster_harness as h
from tools import lease_beliefs
from tools import linearizability
from tools import split_brain
from tools.fault_proxy import FaultProxy, read_log


NODES = ["node1", "node2", "node3"]
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
PG_COMMANDS = "postgres,pg_ctl,initdb,pg_basebackup,pg_rewind,pg_controldata,pg_isready,psql"
# Preloaded before libfaketime in the clock faults: libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC=1 makes
# Python's time.sleep (clock_nanosleep on CLOCK_MONOTONIC, TIMER_ABSTIME) fail with EINVAL, which kills Patroni at
# its next sleep; a real clock step never touches monotonic sleeps, so they go straight to the kernel.
MONOTONIC_SLEEP_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
typedef int (*sleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);
int clock_nanosleep(clockid_t id, int flags, const struct timespec *req, struct timespec *rem) {
  if (id != CLOCK_REALTIME) return syscall(SYS_clock_nanosleep, id, flags, req, rem) == 0 ? 0 : errno;
  static sleep_fn next;
  if (!next) next = (sleep_fn)dlsym(RTLD_NEXT, "clock_nanosleep");
  return next(id, flags, req, rem);
}
"""
SHORT_FAULTS = ["kill9_leader", "throttle_and_drop", "clock_offset_plus60"]
ALL_FAULTS = ["kill9_leader", "sigstop_leader", "frozen_patroni", "leader_cut_off", "replica_cut_off",
              "throttling", "errors_5xx", "hangs", "dropped_replies", "throttle_and_drop",
              "clock_offset_plus60", "clock_offset_minus60", "clock_offset_plus600", "ddb_down_failsafe",
              "ddb_down_no_failsafe"]
# Acknowledged writes each fault's window must hold for its split-brain check to count (the writers commit
# every ~20 ms while a node is primary, so a healthy window has hundreds).
MIN_ACKS = 20
# Lease records that said "held" the run must have for its belief check to count (a leader renews every
# loop_wait, 5 s in the short run).
MIN_BELIEFS = 10
MARK_BEGIN = "<!-- CHAOS-RESULTS:BEGIN (written by tools/chaos.py --doc; do not edit by hand) -->"
MARK_END = "<!-- CHAOS-RESULTS:END -->"


# ------------------------------------------------------------------------------------------------ checker
@dataclass
class Write:
    id: int
    node: str
    t_invoke: float
    t_complete: float
    outcome: str  # ok | fail | info
    tli: Optional[int] = None
    error: str = ""


@dataclass
class Probe:
    node: str
    t_start: float
    t_end: float
    primary: Optional[bool]


class Checker:
    def __init__(self, cluster: h.Cluster, interval: float = 0.1, write_pause: float = 0.02) -> None:
        self.c, self.interval, self.write_pause = cluster, interval, write_pause
        self.writes: List[Write] = []
        self.probes: List[Probe] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._primary: Dict[str, bool] = {n: False for n in NODES}
        self._threads: List[threading.Thread] = []

    def start(self, leader: str) -> None:
        self.c.query(leader, "create table if not exists chaos_rows(id bigint primary key, node text, "
                             "tli int, at timestamptz default clock_timestamp())")
        for n in self.c.nodes:
            for fn in (self._sample, self._write):
                t = threading.Thread(target=fn, args=(n,), name=f"{fn.__name__}-{n.name}", daemon=True)
                t.start()
                self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=3)  # a writer blocked on a frozen node is a daemon thread: left behind

    def _sample(self, node: h.Node) -> None:
        conn = None
        while not self._stop.is_set():
            t0, primary = time.monotonic(), None
            try:
                if conn is None:
                    conn = self.c.connect(node, statement_timeout_ms=2000)
                primary = not conn.execute("select pg_is_in_recovery()").fetchone()[0]
            except Exception:  # noqa: BLE001
                with contextlib.suppress(Exception):
                    conn.close()
                conn = None
            t1 = time.monotonic()
            with self._lock:
                self.probes.append(Probe(node.name, t0, t1, primary))
                self._primary[node.name] = bool(primary)
            self._stop.wait(max(0.0, self.interval - (t1 - t0)))
        with contextlib.suppress(Exception):
            conn.close()

    def _write(self, node: h.Node) -> None:
        conn = None
        while not self._stop.is_set():
            with self._lock:
                primary = self._primary[node.name]
            if not primary:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                    conn = None
                self._stop.wait(0.05)
                continue
            try:
                if conn is None:
                    conn = self.c.connect(node)  # no statement_timeout: never cancel a sync-commit wait
            except Exception:  # noqa: BLE001
                self._stop.wait(0.1)
                continue
            i = next(self._ids)
            t0 = time.monotonic()
            try:
                row = conn.execute(
                    f"insert into chaos_rows(id, node, tli) values (%s, %s, {h.TIMELINE_SQL}) returning tli",
                    (i, node.name)).fetchone()
                w = Write(i, node.name, t0, time.monotonic(), "ok", row[0])
            except Exception as e:  # noqa: BLE001
                msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
                definite = "read-only" in msg or "recovery" in msg
                w = Write(i, node.name, t0, time.monotonic(), "fail" if definite else "info", error=msg)
                with contextlib.suppress(Exception):
                    conn.close()
                conn = None
            with self._lock:
                self.writes.append(w)
            self._stop.wait(self.write_pause)
        with contextlib.suppress(Exception):
            conn.close()

    # ---- analysis ------------------------------------------------------------------------------------
    def oks(self, t0: float = -1e18, t1: float = 1e18) -> List[Write]:
        with self._lock:
            return sorted((w for w in self.writes if w.outcome == "ok" and t0 <= w.t_complete <= t1),
                          key=lambda w: w.t_complete)

    def split_brain(self, t0: float, t1: float) -> Dict[str, Any]:
        """The split-brain checker (tools/split_brain.py) on the acknowledged writes completed in [t0, t1]:
        at least MIN_ACKS of them, no two nodes on one timeline, no older-timeline write invoked after
        another node acknowledged a newer-timeline one; violations grouped into intervals."""
        acks = [split_brain.Ack(w.node, w.t_invoke, w.t_complete, w.tli, w.id) for w in self.oks(t0, t1)]
        problems = split_brain.check(acks, min_acks=MIN_ACKS)
        intervals = split_brain.intervals(problems)
        return {"intervals": len(intervals), "violating_writes": len(problems),
                "examples": [iv[2] for iv in intervals[:3]]}

    def dual_primary_seconds(self, t0: float, t1: float) -> float:
        """Informational: total time two nodes' overlapping probes both said pg_is_in_recovery() = false."""
        with self._lock:
            ps = [p for p in self.probes if p.primary and t0 <= p.t_start <= t1]
        by: Dict[str, List[Probe]] = {}
        for p in ps:
            by.setdefault(p.node, []).append(p)
        total = 0.0
        names = sorted(by)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                for pa in by[a]:
                    for pb in by[b]:
                        lo, hi = max(pa.t_start, pb.t_start), min(pa.t_end, pb.t_end)
                        if hi > lo:
                            total += hi - lo
                        elif pb.t_start > pa.t_end:
                            break
        return total

    def availability(self, t_fault: float, t_end: float) -> Dict[str, float]:
        """The longest gap between the fault and the acknowledged writes completed in [t_fault, t_end] (the
        fault counts as the first point, so an outage that starts with it is measured from it), and the time
        from the fault to the first acknowledged write that ended that gap."""
        ws = self.oks(t_fault, t_end)
        if not ws:
            return {"max_gap_s": t_end - t_fault, "time_to_writable_s": float("inf")}
        # from the fault itself, even when no write was acknowledged in the second before it
        points = [t_fault] + [w.t_complete for w in ws]
        gap, end_of_gap = 0.0, points[0]
        for a, b in zip(points, points[1:]):
            if b - a > gap:
                gap, end_of_gap = b - a, b
        ttw = end_of_gap - t_fault if gap > 1.0 else 0.0
        return {"max_gap_s": round(gap, 2), "time_to_writable_s": round(ttw, 2)}


# ------------------------------------------------------------------------------------------------ faults
@dataclass
class FaultResult:
    name: str
    description: str
    leader_before: str = ""
    leader_after: str = ""
    acked_rows: int = 0
    lost_rows: int = 0
    split_brain_intervals: int = 0
    split_brain_examples: List[str] = field(default_factory=list)
    dual_primary_probe_s: float = 0.0
    time_to_writable_s: float = 0.0
    max_write_gap_s: float = 0.0
    bound_s: float = 0.0
    watchdog_fired: List[str] = field(default_factory=list)
    proxy_faults: Dict[str, int] = field(default_factory=dict)
    notes: str = ""
    error: str = ""
    duration_s: float = 0.0
    # the clock faults: what was done (node, why, its role at each wall-clock step, offsets, times, the measured
    # offset, its Patroni pid) - python/tests/test_chaos_short.py asserts it
    clock: Dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (not self.error and self.lost_rows == 0 and self.split_brain_intervals == 0
                and self.time_to_writable_s <= self.bound_s)


class Chaos:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ft = float(args.failover_time)
        self.ttl, self.loop_wait, self.retry_timeout = h._dial(self.ft)
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.results: List[FaultResult] = []
        self.skewed: Optional[str] = None
        self.interrupted = ""

    # ---- plumbing --------------------------------------------------------------------------------------
    def run(self) -> Dict[str, Any]:
        started = time.monotonic()
        proxy_log = self.out / "proxy.jsonl"
        if proxy_log.exists():
            proxy_log.unlink()
        with h.LocalDynamo(h.e2e_backend(), log_dir=self.out / h.e2e_backend()) as ddb:
            h.create_table(ddb.endpoint, "patroni")
            with FaultProxy("127.0.0.1", ddb.port, clients=NODES + ["ctl"], seed=self.args.seed,
                            log_path=str(proxy_log)) as fp:
                self.fp = fp
                c = h.Cluster(3, endpoint=fp.url("ctl"), ctl_endpoint=fp.url("ctl"),
                              node_endpoints={n: fp.url(n) for n in NODES}, failover_time=self.ft,
                              scope=f"chaos-{os.getpid()}", watchdog=True, lease_log=True,
                              dynamic={"synchronous_mode": True, "synchronous_mode_strict": True})
                self.c = c
                if any(f.startswith("clock_offset") for f in self.args.faults):
                    self._faketime_all()
                with c:
                    c.start_all()
                    leader = c.wait_healthy(300)
                    self._wait_sync(leader)
                    self.checker = Checker(c)
                    self.checker.start(leader)
                    try:
                        for name in self.args.faults:
                            try:
                                self._run_fault(name)
                            except KeyboardInterrupt as e:  # report the faults that completed
                                self.interrupted = f"interrupted during {name} ({e or 'SIGINT'})"
                                h.say(f"chaos: {self.interrupted}; reporting the {len(self.results)} completed")
                                break
                    finally:
                        self.checker.stop()
                        fp.clear()
                    partition = c.partition
                    lease_logs = self._copy_lease_logs()
        lin = linearizability.check_records(
            [r for r in read_log(str(proxy_log)) if r.get("partition") == partition])
        beliefs = self._check_beliefs(lease_logs)
        summary = {
            "when": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "mode": "short" if self.args.short else "full", "seed": self.args.seed,
            "failover_time": self.ft, "ttl": self.ttl, "loop_wait": self.loop_wait,
            "retry_timeout": self.retry_timeout, "host": f"{platform.node()} ({os.cpu_count()} CPUs)",
            "load_avg_at_end": os.getloadavg()[0], "duration_s": round(time.monotonic() - started, 1),
            "faults": [dict(asdict(r), passed=r.passed) for r in self.results],
            "acked_rows_total": len(self.checker.oks()),
            "linearizability": {"ok": lin["ok"], "keys": {k.rsplit("/", 1)[-1]: {
                kk: v[kk] for kk in ("linearizable", "ops", "writes", "unknown", "condition_failed") if kk in v}
                for k, v in lin["keys"].items()}, "details": {k: v.get("detail") for k, v in lin["keys"].items()
                                                              if v.get("detail")}},
            "proxy_log": str(proxy_log),
            "lease_beliefs": beliefs,
        }
        summary["interrupted"] = self.interrupted
        summary["passed"] = (all(r.passed for r in self.results) and lin["ok"] is True and beliefs["ok"]
                             and not self.interrupted)
        return summary

    def _copy_lease_logs(self) -> List[Path]:
        """The nodes' lease-belief logs (DYNATRONI_LEASE_LOG), copied into --out before the cluster is removed."""
        out = []
        for n in self.c.nodes:
            dst = self.out / f"lease-{n.name}.jsonl"
            src = self.c.lease_log_path(n)
            dst.write_bytes(src.read_bytes() if src.exists() else b"")
            out.append(dst)
        return out

    def _check_beliefs(self, paths: List[Path]) -> Dict[str, Any]:
        """tools/lease_beliefs.py on the whole run: no two nodes believed they held the lease at once, at
        least MIN_BELIEFS records said held, and every node seen leading (before or after a fault) held it."""
        records = lease_beliefs.read(paths)
        leaders = {x for r in self.results for x in (r.leader_before, r.leader_after) if x}
        problems = lease_beliefs.check(records, min_held=MIN_BELIEFS, min_holders=max(1, len(leaders)))
        holders = {r.node for r in records if r.held}
        if not leaders <= holders:
            problems.append(lease_beliefs.Problem("too_few_beliefs", 0.0, 0.0,
                                                  f"no lease belief of {sorted(leaders - holders)}, seen leading"))
        for p in problems[:5]:
            h.say(f"LEASE BELIEFS: {p.rule}: {p.message}")
        return {"ok": not problems, "problems": [f"{p.rule}: {p.message}" for p in problems[:10]],
                "holders": sorted(holders), **lease_beliefs.summary(records),
                "logs": [str(p) for p in paths]}

    def _wait_sync(self, leader: str, standby_wanted: Optional[str] = None) -> None:
        """Until the leader has published a synchronous standby (`standby_wanted`, if given) in the `sync` item
        that PostgreSQL also reports as sync: in strict mode only that node may be promoted, so a failover
        before it is known would (rightly) wait for the old leader to come back."""
        def ready() -> bool:
            item = self.c.partition_items().get("sync", {})
            standby = json.loads(item.get("value") or "{}").get("sync_standby")
            if not standby or json.loads(item.get("value") or "{}").get("leader") != leader:
                return False
            if standby_wanted and standby != standby_wanted:
                return False
            rows = self.c.query(leader, "select application_name from pg_stat_replication "
                                        "where sync_state in ('sync', 'quorum')")
            return standby in {r[0] for r in rows}
        h.wait_for(ready, 3 * self.loop_wait + 60, "a synchronous standby in the sync item")

    def _leader(self) -> str:
        return h.wait_for(lambda: self.c.healthy_leader(), 240, "a healthy cluster", quiet=True)

    def _heal_all(self) -> str:
        self.fp.clear()
        c = self.c
        for n in c.nodes:
            if n.paused:
                c.resume(n)
            with contextlib.suppress(Exception):
                h._signal_group(n.patroni_pid, signal.SIGCONT)
            if not n.patroni_pid:
                c.start(n)
        leader = c.wait_healthy(300)
        self._wait_sync(leader)
        return leader

    def _run_fault(self, name: str) -> None:
        fn: Callable[[FaultResult, str], None] = getattr(self, f"fault_{re.sub(r'[^a-z0-9_]', '_', name)}")
        doc = (fn.__doc__ or name).strip().splitlines()[0]
        res = FaultResult(name, doc, bound_s=self._bound(name))
        h.say(f"===== fault {name}: {doc}")
        try:
            res.leader_before = self._heal_all()
        except Exception as e:  # noqa: BLE001
            res.error = f"cluster not healthy before the fault: {e}"
            self.results.append(res)
            return
        fired0 = {n.name: len(n.watchdog.fired) for n in self.c.nodes}
        stats0 = dict(self.fp.stats()["by_fault"])
        time.sleep(2)
        t0 = time.monotonic()
        try:
            fn(res, res.leader_before)
        except Exception as e:  # noqa: BLE001
            res.error = f"{type(e).__name__}: {e}"
            h.say(f"fault {name} raised: {res.error}")
        try:
            res.leader_after = self._heal_all()
            time.sleep(2)
        except Exception as e:  # noqa: BLE001
            res.error = res.error or f"cluster did not heal: {e}"
        t1 = time.monotonic()
        sb = self.checker.split_brain(t0 - 2, t1)
        res.split_brain_intervals, res.split_brain_examples = sb["intervals"], sb["examples"]
        res.dual_primary_probe_s = round(self.checker.dual_primary_seconds(t0 - 2, t1), 2)
        av = self.checker.availability(getattr(self, "_t_disrupt", t0), t1)
        self.__dict__.pop("_t_disrupt", None)
        res.time_to_writable_s, res.max_write_gap_s = av["time_to_writable_s"], av["max_gap_s"]
        res.acked_rows = len(self.checker.oks(t0 - 2, t1))
        if not res.error:
            res.lost_rows = self._lost(res.leader_after)
        res.watchdog_fired = [n.name for n in self.c.nodes if len(n.watchdog.fired) > fired0[n.name]]
        stats1 = self.fp.stats()["by_fault"]
        res.proxy_faults = {k: v - stats0.get(k, 0) for k, v in stats1.items() if k != "ok" and v - stats0.get(k, 0)}
        res.duration_s = round(t1 - t0, 1)
        h.say(f"===== {name}: split-brain intervals {res.split_brain_intervals}, lost rows {res.lost_rows}, "
              f"time to writable {res.time_to_writable_s}s (bound {res.bound_s}s), max write gap "
              f"{res.max_write_gap_s}s, leader {res.leader_before} -> {res.leader_after}"
              f"{', ERROR ' + res.error if res.error else ''}")
        self.results.append(res)

    def _bound(self, name: str) -> float:
        # ttl to notice + loop_wait for the next HA cycle + retry_timeout for a slow DynamoDB call + 10 s for
        # pre-promotion checks, pg_ctl promote and the sync standby on a loaded 2-core machine
        if name.startswith("ddb_down") or name == "leader_cut_off":
            return self.ttl + 10 + self.ttl + self.loop_wait + 2 * self.retry_timeout + 10  # outage + recovery
        if name.startswith("clock_offset"):
            return self.ttl + self.loop_wait + self.retry_timeout + 10
        return self.ttl + self.loop_wait + self.retry_timeout + 10

    def _lost(self, leader: str) -> int:
        ok_ids = {w.id for w in self.checker.oks()}
        present = {r[0] for r in self.c.query(leader, "select id from chaos_rows", statement_timeout_ms=30000)}
        lost = sorted(ok_ids - present)
        if lost:
            h.say(f"LOST acknowledged rows: {lost[:20]}")
        return len(lost)

    def _hold(self, seconds: float) -> None:
        time.sleep(seconds)

    def _others(self, leader: str) -> List[str]:
        return [n for n in NODES if n != leader]

    def _wait_new_primary(self, exclude: str, timeout: float) -> str:
        return self.c.wait_primary(timeout, self._others(exclude), f"a new primary other than {exclude}")

    # ---- the faults (one method each; the first docstring line is the table's description) ----------------
    def fault_kill9_leader(self, res: FaultResult, leader: str) -> None:
        """kill -9 of the leader's Patroni and PostgreSQL; restarted after a new primary is up."""
        self.c.crash(leader)
        self._wait_new_primary(leader, res.bound_s + 30)
        self.c.start(leader)

    def fault_sigstop_leader(self, res: FaultResult, leader: str) -> None:
        """SIGSTOP of the leader's Patroni and PostgreSQL for ttl + 5 s, then SIGCONT (the watchdog resets it)."""
        self.c.pause(leader)
        self._hold(self.ttl + 5)
        self.c.resume(leader)

    def fault_frozen_patroni(self, res: FaultResult, leader: str) -> None:
        """SIGSTOP of the leader's Patroni only (PostgreSQL keeps running) for ttl + 5 s: the watchdog must fire."""
        self.c.pause(leader, patroni_only=True)
        try:
            self._hold(self.ttl + 5)
        finally:
            self.c.resume(leader)

    def _cut_off(self, node: str) -> None:
        self.fp.set_rules([{"action": "hang", "clients": [node], "hang": 3600}])
        self._hold(self.ttl + 10)
        self.fp.clear()

    def fault_leader_cut_off(self, res: FaultResult, leader: str) -> None:
        """The leader alone loses DynamoDB (its proxy listener hangs every request) for ttl + 10 s."""
        self._cut_off(leader)

    def fault_replica_cut_off(self, res: FaultResult, leader: str) -> None:
        """One replica alone loses DynamoDB for ttl + 10 s (nothing may change)."""
        self._cut_off(self._others(leader)[0])

    def _proxy_faults(self, rules: List[Dict[str, Any]], seconds: float) -> None:
        for r in rules:
            r.setdefault("clients", NODES)
        self.fp.set_rules(rules, seed=self.args.seed)
        self._hold(seconds)
        self.fp.clear()

    def fault_throttling(self, res: FaultResult, leader: str) -> None:
        """DynamoDB throttling: 30 % ProvisionedThroughputExceeded + 10 % ThrottlingException, 40 s."""
        self._proxy_faults([{"action": "throttle", "probability": 0.3},
                            {"action": "throttling", "probability": 0.1}], 40)

    def fault_errors_5xx(self, res: FaultResult, leader: str) -> None:
        """DynamoDB 500 InternalServerError (20 %) and 503 ServiceUnavailable (10 %), 40 s."""
        self._proxy_faults([{"action": "error500", "probability": 0.2},
                            {"action": "error503", "probability": 0.1}], 40)

    def fault_hangs(self, res: FaultResult, leader: str) -> None:
        """10 % of requests hang past the client's timeout (5 % before, 5 % after reaching DynamoDB), 40 s."""
        self._proxy_faults([{"action": "hang", "probability": 0.05, "hang": 3600},
                            {"action": "hang_reply", "probability": 0.05, "hang": 3600}], 40)

    def fault_dropped_replies(self, res: FaultResult, leader: str) -> None:
        """Writes applied with the reply dropped (25 % of UpdateItem) and truncated bodies (5 %), 40 s."""
        self._proxy_faults([{"action": "drop_reply", "ops": ["UpdateItem"], "probability": 0.25},
                            {"action": "truncate", "probability": 0.05}], 40)

    def fault_throttle_and_drop(self, res: FaultResult, leader: str) -> None:
        """Throttling (20 %), 500s (5 %) and dropped write replies (25 % of UpdateItem) together, 30 s."""
        self._proxy_faults([{"action": "drop_reply", "ops": ["UpdateItem"], "probability": 0.25},
                            {"action": "throttle", "probability": 0.2},
                            {"action": "error500", "probability": 0.05}], 30)

    # ---- the clock faults ----------------------------------------------------------------------------
    def _stamp(self, node: str) -> Path:
        return self.c.node(node).dir / "faketime"

    def _faketime_all(self) -> None:
        """Every node's Patroni (and the C++ core loaded into it) runs from the start under libfaketime reading
        its own timestamp file on every call (FAKETIME_TIMESTAMP_FILE, FAKETIME_NO_CACHE=1), at "+0"; a clock
        fault rewrites one node's file while it runs. Wall clock only (FAKETIME_DONT_FAKE_MONOTONIC=1: the
        lease is timed on CLOCK_BOOTTIME, which a host's clock step leaves alone), PostgreSQL excluded."""
        if not os.path.exists(FAKETIME_LIB):
            raise RuntimeError(f"{FAKETIME_LIB} is missing: apt-get install faketime (make deps)")
        src, shim = self.c.base_dir / "monotonic_sleep.c", self.c.base_dir / "monotonic_sleep.so"
        src.write_text(MONOTONIC_SLEEP_SHIM)
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(shim), str(src), "-ldl"], check=True)
        os.chmod(shim, 0o755)
        for n in NODES:
            self._set_clock(n, 0)
            self.c.node_env[n] = {"LD_PRELOAD": f"{shim} {FAKETIME_LIB}",
                                  "FAKETIME_TIMESTAMP_FILE": str(self._stamp(n)),
                                  "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                                  "FAKETIME_SKIP_CMDS": PG_COMMANDS}

    def _set_clock(self, node: str, offset_s: int) -> None:
        stamp = self._stamp(node)
        tmp = stamp.with_suffix(".tmp")
        tmp.write_text(f"{offset_s:+d}\n")
        os.chmod(tmp, 0o644)
        tmp.replace(stamp)  # atomic: libfaketime never reads a half-written file

    def _roles(self, leader: str) -> Dict[str, str]:
        """Each member's role as the leader's Patroni REST API /cluster reports it (leader, sync_standby,
        replica, ...)."""
        return {m["name"]: m.get("role", "") for m in self.c.rest(leader, "cluster").get("members", [])}

    def _clock_target(self, leader: str) -> Dict[str, Any]:
        """The node whose clock to move: the synchronous standby (in `synchronous_mode: strict` the only node
        Patroni may promote, so the leader kill below makes the skewed node the new leader). Without a
        synchronous standby (synchronous_mode off), the replica Patroni would promote: the one with the
        least lag on /cluster."""
        roles = self._roles(leader)
        sync_item = json.loads(self.c.partition_items().get("sync", {}).get("value") or "{}")
        sync = [n for n, r in roles.items() if r == "sync_standby"]
        if sync:
            node, why = sync[0], "the synchronous standby (/cluster role sync_standby): in strict synchronous " \
                                 "mode the only node that may be promoted when the leader dies"
        else:
            members = {m["name"]: m for m in self.c.rest(leader, "cluster").get("members", [])}
            replicas = [n for n in self._others(leader) if n in members]
            node = min(replicas, key=lambda n: (members[n].get("lag") or 0) if isinstance(
                members[n].get("lag"), int) else 1 << 62)
            why = "no synchronous standby: the least-lagging replica on /cluster, the one Patroni would promote"
        return {"node": node, "why": why, "leader": leader, "roles": roles,
                "sync_item_standby": sync_item.get("sync_standby"), "steps": []}

    def _step_clock(self, rec: Dict[str, Any], offset_s: int, leader: str) -> Dict[str, Any]:
        """Rewrite the node's timestamp file to `offset_s` while its Patroni runs; the step's record: the
        node's role on /cluster and its Patroni pid at the step, the real time, and the offset measured from
        the first Patroni log line written after the step (the node keeps running: the pid must not change)."""
        c, node = self.c, rec["node"]
        log = c.node(node).log_path
        step = {"offset_s": offset_s, "role": self._roles(leader).get(node, ""),
                "patroni_pid": c.node(node).patroni_pid, "before_s": _log_skew(log)}
        self._set_clock(node, offset_s)
        step["t_mono"], step["real_time"] = round(time.monotonic(), 3), _dt.datetime.now(_dt.timezone.utc).isoformat()
        time.sleep(0.5)  # a line timestamped before the step but not yet written by Patroni's log thread is skipped
        pos = log.stat().st_size
        skew = h.wait_for(lambda: [x for x in [_log_skew(log, pos)] if x is not None], 3 * self.loop_wait + 30,
                          f"a log line of {node}'s Patroni after its clock step")[0]
        step["measured_s"] = round(skew, 1)
        step["patroni_pid_after"] = c.node(node).patroni_pid
        rec["steps"].append(step)
        h.say(f"clock: {node} ({step['role']}) stepped to {offset_s:+d}s, Patroni's log clock now measured "
              f"{step['measured_s']:+.0f}s off (pid {step['patroni_pid']} -> {step['patroni_pid_after']})")
        return step

    def _clock_offset(self, res: FaultResult, leader: str, offset_s: int) -> None:
        """Step the synchronous standby's wall clock by `offset_s` while it runs (libfaketime timestamp file),
        kill -9 the leader so that the skewed node is promoted and takes the lease with its clock off, step its
        clock back to the real time while it holds the lease; restore everything at the end."""
        c = self.c
        self._wait_sync(leader)
        rec = res.clock = self._clock_target(leader)
        node = rec["node"]
        h.say(f"clock: target {node}: {rec['why']}; roles {rec['roles']}, "
              f"sync item names {rec['sync_item_standby']}")
        try:
            self._step_clock(rec, offset_s, leader)
            time.sleep(2)
            # The leader may drop the skewed standby from `sync` for a moment after the step (seen once:
            # sync_standby None, and in strict mode nobody may then be promoted); the kill waits until it is
            # the synchronous standby again, and records its role then.
            self._wait_sync(leader, node)
            rec["role_at_kill"] = self._roles(leader).get(node, "")
            self._t_disrupt = time.monotonic()
            rec["leader_killed"], rec["t_kill"] = leader, round(self._t_disrupt, 3)
            c.crash(leader)
            new = self._wait_new_primary(leader, res.bound_s + 30)
            rec["new_leader"], rec["t_new_leader"] = new, round(time.monotonic(), 3)
            h.wait_for(lambda: c.leader_name() == new, 3 * self.loop_wait + 30, f"{new} in the leader item")
            if new == node:  # a backward step while it holds the lease
                self._step_clock(rec, 0, new)
            c.start(leader)
            c.wait_healthy(240)
            rec["patroni_pid_end"] = c.node(node).patroni_pid
        finally:
            self._set_clock(node, 0)
        s0 = rec["steps"][0] if rec["steps"] else {}
        res.notes = (f"{node} ({s0.get('role', '?')}) stepped {offset_s:+d}s mid-run, measured "
                     f"{s0.get('measured_s', float('nan')):+.0f}s; new leader {rec.get('new_leader', '?')}"
                     + (" (the skewed node), stepped back to 0 while leading" if len(rec["steps"]) > 1 else ""))

    def fault_clock_offset_plus60(self, res: FaultResult, leader: str) -> None:
        """The sync standby's clock stepped +60 s mid-run, kill -9 of the leader, stepped back while it leads."""
        self._clock_offset(res, leader, 60)

    def fault_clock_offset_minus60(self, res: FaultResult, leader: str) -> None:
        """The sync standby's clock stepped -60 s mid-run, kill -9 of the leader, stepped back while it leads."""
        self._clock_offset(res, leader, -60)

    def fault_clock_offset_plus600(self, res: FaultResult, leader: str) -> None:
        """The sync standby's clock stepped +600 s mid-run, kill -9 of the leader, stepped back while it leads."""
        self._clock_offset(res, leader, 600)

    def _ddb_down(self, seconds: float) -> None:
        self.fp.set_rules([{"action": "hang", "clients": NODES, "hang": 3600}])
        self._hold(seconds)
        self.fp.clear()

    def fault_ddb_down_failsafe(self, res: FaultResult, leader: str) -> None:
        """DynamoDB unreachable for every node for ttl + 10 s with failsafe_mode on (the primary keeps running)."""
        c = self.c
        c.edit_config({"failsafe_mode": True})
        try:
            h.wait_for(lambda: "failsafe" in c.partition_items(), 3 * self.loop_wait + 20, "the failsafe member list")
            self._t_disrupt = time.monotonic()
            self._ddb_down(self.ttl + 10)
            h.wait_for(lambda: c.healthy_leader(), 120, "a healthy cluster")
        finally:
            self.fp.clear()
            c.edit_config({"failsafe_mode": False})

    def fault_ddb_down_no_failsafe(self, res: FaultResult, leader: str) -> None:
        """DynamoDB unreachable for every node for ttl + 10 s without failsafe_mode (the primary demotes)."""
        self._ddb_down(self.ttl + 10)


def _log_skew(path: Path, after: Optional[int] = None) -> Optional[float]:
    """Seconds between the newest Patroni log line's timestamp (written under libfaketime) and now; with `after`
    (a byte offset), only lines written past it count (None until there is one)."""
    try:
        with open(path, "rb") as f:
            if after is not None:
                f.seek(after)
            data = f.read()
        lines = data.decode(errors="replace").splitlines()[-20:]
    except OSError:
        return None
    for line in reversed(lines):
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d+)", line)
        if m:
            t = _dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").timestamp() + int(m.group(2)) / 1000
            return t - time.time()
    return None


# ------------------------------------------------------------------------------------------------ report
def results_markdown(s: Dict[str, Any]) -> str:
    lines = [MARK_BEGIN, "",
             f"Run: `{'make chaos-short' if s['mode'] == 'short' else 'make chaos'}` ({s['mode']} run), "
             f"{s['when']}, seed {s['seed']}, failover_time {s['failover_time']:g} (ttl {s['ttl']}, "
             f"loop_wait {s['loop_wait']}, retry_timeout {s['retry_timeout']}), 3 nodes, Patroni 4.1, "
             f"`synchronous_mode: strict`, testing watchdog; {s['duration_s']:.0f} s on {s['host']}, "
             f"load average {s['load_avg_at_end']:.1f} at the end (other work was running on the machine). "
             f"{s['acked_rows_total']} rows acknowledged in total. Verdict: "
             f"**{'all checks passed' if s['passed'] else 'FAILED'}**."
             + (f" The run was {s['interrupted']}: only the completed faults are listed." if s.get('interrupted')
                else ""), "",
             "| Fault | Split-brain intervals | Lost acked rows | Time to writable primary (s) | Longest write gap (s) "
             "| Bound (s) | Rows acked | Watchdog fired | Proxy faults injected | Notes |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for f in s["faults"]:
        pf = ", ".join(f"{k} {v}" for k, v in sorted(f["proxy_faults"].items())) or "-"
        note = "; ".join(x for x in [f.get("notes", ""), f"leader {f['leader_before']} -> {f['leader_after']}",
                                     ("ERROR: " + f["error"]) if f["error"] else "",
                                     f"dual-primary probes {f['dual_primary_probe_s']}s"
                                     if f["dual_primary_probe_s"] else ""] if x)
        lines.append(f"| `{f['name']}`: {f['description']} | {f['split_brain_intervals']} | {f['lost_rows']} | "
                     f"{f['time_to_writable_s']} | {f['max_write_gap_s']} | {f['bound_s']:g} | {f['acked_rows']} | "
                     f"{', '.join(f['watchdog_fired']) or '-'} | {pf} | {note} |")
    lin = s["linearizability"]
    lines += ["", f"DynamoDB history (proxy log, all listeners): per-key compare-and-set linearizability "
                  f"**{'holds' if lin['ok'] else 'VIOLATED' if lin['ok'] is False else 'undecided'}**.", "",
              "| Key | Linearizable | Operations | Writes | Unknown outcome | Condition failed |", "|---|---|---|---|---|---|"]
    for k, v in lin["keys"].items():
        lines.append(f"| `{k}` | {v['linearizable']} | {v['ops']} | {v['writes']} | {v['unknown']} | "
                     f"{v['condition_failed']} |")
    lb = s.get("lease_beliefs") or {}
    if lb:
        lines += ["", f"Lease beliefs (each node's plugin with `DYNATRONI_LEASE_LOG`, tools/lease_beliefs.py): "
                      f"{lb['records']} records, {lb['held']} of them held, holders {', '.join(lb['holders']) or '-'}; "
                      f"no two nodes believed they held the lease at once: "
                      f"**{'holds' if lb['ok'] else 'VIOLATED'}**."]
        lines += [f"- {p}" for p in lb["problems"]]
    lines += ["", MARK_END]
    return "\n".join(lines)


def write_doc(doc: Path, s: Dict[str, Any]) -> None:
    text = doc.read_text() if doc.exists() else ""
    block = results_markdown(s)
    if MARK_BEGIN in text and MARK_END in text:
        a = text.index(MARK_BEGIN)
        b = text.index(MARK_END) + len(MARK_END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", action="store_true", help=f"only {', '.join(SHORT_FAULTS)}")
    ap.add_argument("--faults", help=f"comma-separated subset of: {', '.join(ALL_FAULTS)}")
    ap.add_argument("--failover-time", type=float, default=None, help="default 15 (short) / 30 (full)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="chaos-out")
    ap.add_argument("--json", help="write the results as JSON here")
    ap.add_argument("--doc", help="rewrite the CHAOS-RESULTS section of this Markdown file")
    args = ap.parse_args(argv)
    args.faults = args.faults.split(",") if args.faults else (SHORT_FAULTS if args.short else ALL_FAULTS)
    unknown = [f for f in args.faults if f not in ALL_FAULTS]
    if unknown:
        ap.error(f"unknown fault(s) {unknown}; known: {', '.join(ALL_FAULTS)}")
    if args.failover_time is None:
        args.failover_time = 15.0 if args.short else 30.0
    if os.geteuid() != 0:
        ap.error("run as root: PostgreSQL runs as the postgres user")
    h.install_signal_handlers()
    summary = Chaos(args).run()
    text = json.dumps(summary, indent=2, default=str)
    if args.json:
        Path(args.json).write_text(text + "\n")
    if args.doc:
        write_doc(Path(args.doc), summary)
    print(results_markdown(summary))
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
