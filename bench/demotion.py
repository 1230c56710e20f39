#!/usr/bin/env python3
"""Measure the demotion allowance: how long PostgreSQL keeps accepting writes after the DCS plugin tells
Patroni the lease is lost (docs/design.md, "Why the old holder stops before a follower may take over").

    python -m bench.demotion --patroni 4.1 --runs 10            # writes bench/results/demotion-4.1.json
    python -m bench.demotion --patroni 3.0.2 --runs 10
    python -m bench.demotion --report bench/results/demotion-4.1.json bench/results/demotion-3.0.2.json

Setup: a one-node Patroni cluster (tools/cluster_harness.py, PostgreSQL 15 as the ``postgres`` user) on a
local moto (tools/local_dynamodb.py), the node talking to it through tools/fault_proxy.py. Patroni runs the
installed plugin; a ``sitecustomize.py`` put first on its PYTHONPATH wraps ``DynamoDB._update_leader`` and
``DynamoDB._load_cluster`` and appends one JSON line per call outcome with ``time.monotonic()``
(CLOCK_MONOTONIC, system-wide on Linux) to a file: that is *the moment the plugin raises* (or returns False).
Patroni's own log has only wall-clock milliseconds and is written after the fact, so the hook is the reference.

A writer (psycopg 3, autocommit, one persistent connection) INSERTs a row every ``--write-interval`` ms and
records the monotonic time each commit was acknowledged and the time the first statement failed. For each run:

    d_refused = first failed write - plugin raised/returned False    (the number the allowance must cover)
    d_last_ok = last acknowledged write - plugin raised               (< 0: nothing committed after the raise)
    d_exit    = postmaster gone - plugin raised                      (includes the shutdown checkpoint)

Cases (``--cases``):

* ``fast``: the proxy answers every ``UpdateItem`` of the ``leader`` item with 500 InternalServerError; the
  plugin retries until the renewal's deadline and raises ``DCSError`` -> Patroni ``demote('offline')`` ->
  ``stop='fast'`` (SIGINT to the postmaster).
* ``fast-hang``: every request of the node hangs (no reply); the renewal (or the cluster load) is cut off at its
  deadline -- the holder bound at the latest -- and the plugin raises ``DCSError`` -> ``demote('offline')``.
* ``fast-heavy``: as ``fast``, on a cluster with data on disk (``/var/tmp``), ``fsync=on``, 256 MB
  shared_buffers dirtied by an UPDATE of a ~150 MB table just before the fault, and a long
  ``INSERT ... SELECT generate_series`` transaction in progress on a second connection.
* ``immediate``: the leader item's ``version`` is bumped and its ``session`` changed directly in moto (another
  process of the same member name won it; with our own session the plugin would adopt the newer version); the
  next renewal's condition fails, the plugin returns False -> Patroni ``demote('immediate-nolock')`` ->
  ``stop='immediate'`` (SIGQUIT).

Between runs the leader item is tombstoned and the node re-acquires the lease and is promoted again; every run
waits a random 0-``loop_wait`` s of steady writing first so the fault lands at a random phase of the HA loop.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

from tools import cluster_harness as h  # noqa: E402
from tools.fault_proxy import FaultProxy  # noqa: E402

SITECUSTOMIZE = textwrap.dedent('''\
    # Installed by bench/demotion.py: time-stamps the DynamoDB plugin's lease outcomes (CLOCK_MONOTONIC).
    import importlib.abc, importlib.machinery, json, os, sys, time
    _LOG = os.environ.get("DEMOTION_HOOK_LOG")

    def _emit(event, **kw):
        rec = dict(event=event, t=time.monotonic(), wall=time.time(), **kw)
        with open(_LOG, "a") as f:
            f.write(json.dumps(rec) + "\\n")

    def _patch(mod):
        cls = mod.DynamoDB
        upd, load = cls._update_leader, cls._load_cluster

        def _update_leader(self, *a, **k):
            t0 = time.monotonic()
            try:
                ok = upd(self, *a, **k)
            except BaseException as e:
                _emit("update_leader_raised", t_call=t0, error=str(e)[:300])
                raise
            _emit("update_leader_ok" if ok else "update_leader_false", t_call=t0)
            return ok

        def _load_cluster(self, *a, **k):
            t0 = time.monotonic()
            try:
                c = load(self, *a, **k)
            except BaseException as e:
                _emit("load_cluster_raised", t_call=t0, error=str(e)[:300])
                raise
            leader = getattr(getattr(c, "leader", None), "name", None)
            if leader is not None and leader != self._name:
                _emit("load_cluster_other_leader", t_call=t0, leader=leader)
            return c
        cls._update_leader, cls._load_cluster = _update_leader, _load_cluster

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname != "dynatroni.dynamodb":
                return None
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None or spec.loader is None:
                return spec
            orig = spec.loader.exec_module

            def exec_module(module):
                orig(module)
                _patch(module)
            spec.loader.exec_module = exec_module
            return spec

    if _LOG:
        sys.meta_path.insert(0, _Finder())
''')

RAISE_EVENTS = {"fast": ("update_leader_raised", "load_cluster_raised"), "fast-heavy": None,
                "immediate": ("update_leader_false", "load_cluster_other_leader")}
RAISE_EVENTS["fast-heavy"] = RAISE_EVENTS["fast-hang"] = RAISE_EVENTS["fast"]


class Writer(threading.Thread):
    """INSERTs every `interval` s on one autocommit connection until the first failure."""

    def __init__(self, c: h.Cluster, interval: float) -> None:
        super().__init__(daemon=True)
        self.c, self.interval = c, interval
        self.conn = c.connect("node1", connect_timeout=2)
        self.t_last_ok: Optional[float] = None
        self.t_err: Optional[float] = None
        self.err = ""
        self.n_ok = 0
        self.stop_flag = threading.Event()

    def run(self) -> None:
        i = 0
        try:
            while not self.stop_flag.is_set():
                i += 1
                try:
                    self.conn.execute("insert into demotion_probe(v) values (%s)", (i,))
                except Exception as e:  # noqa: BLE001
                    self.t_err = time.monotonic()
                    self.err = f"{type(e).__name__}: {str(e).strip()[:200]}"
                    return
                self.t_last_ok = time.monotonic()
                self.n_ok += 1
                time.sleep(self.interval)
        finally:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001
                pass


class PostmasterWatch(threading.Thread):
    """Records the monotonic time the postmaster process disappears (polls /proc every 5 ms)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.t_gone = pid, None
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            if not os.path.exists(f"/proc/{self.pid}") or _zombie(self.pid):
                self.t_gone = time.monotonic()
                return
            time.sleep(0.005)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def _hook_events(path: Path) -> List[Dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return []


class Bench:
    def __init__(self, args: argparse.Namespace, ddb: h.LocalDynamo, fp: FaultProxy, heavy: bool) -> None:
        self.args, self.ddb, self.fp, self.heavy = args, ddb, fp, heavy
        dynamic: Dict[str, Any] = {}
        base_dir = None
        if heavy:
            dynamic = {"postgresql": {"parameters": {"shared_buffers": "256MB", "fsync": "on",
                                                     "max_wal_size": "1GB", "checkpoint_timeout": "30min"}}}
            base_dir = Path(tempfile.mkdtemp(prefix="dynatroni-demotion-", dir="/var/tmp"))
        self.c = h.Cluster(1, endpoint=fp.url("ctl"), ctl_endpoint=fp.url("ctl"),
                           node_endpoints={"node1": fp.url("node1")}, failover_time=args.failover_time,
                           patroni=args.patroni, scope=f"demotion-{os.getpid()}-{'heavy' if heavy else 'std'}",
                           dynamic=dynamic, base_dir=base_dir, keep=args.keep)
        hook = self.c.base_dir / "demotion-hook"
        hook.mkdir(exist_ok=True)
        (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
        os.chmod(hook, 0o755)
        os.chmod(hook / "sitecustomize.py", 0o644)
        node = self.c.node("node1")
        self.hook_log = node.dir / "demotion-hook.jsonl"
        pythonpath = str(hook) + (f":{self.c.pythonpath}" if self.c.pythonpath else "")
        self.c.node_env["node1"] = {"PYTHONPATH": pythonpath, "DEMOTION_HOOK_LOG": str(self.hook_log)}
        self.direct = h.boto_client(ddb.endpoint)

    def start(self) -> None:
        self.c.start("node1")
        h.wait_for(lambda: self.c.is_primary("node1"), 180, "node1 primary")
        self.c.ensure_probe_table("node1")
        self.c.wait_primary(60, what="node1 primary and writable")
        self.c.query("node1", "create table if not exists demotion_probe(id bigserial primary key, v int, "
                              "at timestamptz default clock_timestamp())")
        if self.heavy:
            self.c.query("node1", "create table if not exists demotion_fill(id int primary key, v int, "
                                  "pad text)", statement_timeout_ms=None)
            self.c.query("node1", "create table if not exists demotion_bulk(id int, pad text)")
            if not self.c.query("node1", "select 1 from demotion_fill limit 1"):
                h.say("heavy: filling demotion_fill (~150 MB)")
                self.c.query("node1", "insert into demotion_fill select g, 0, repeat('x', 100) "
                                      "from generate_series(1, 1000000) g", statement_timeout_ms=None)
                self.c.query("node1", "checkpoint", statement_timeout_ms=None)

    def leader_item(self) -> Dict[str, Any]:
        item = self.direct.get_item(TableName="patroni", ConsistentRead=True,
                                    Key={"cluster_name": {"S": self.c.partition}, "key": {"S": "leader"}})
        return item.get("Item", {})

    def recover(self) -> None:
        """Clear the faults, tombstone the leader item, wait until node1 is a writable primary again."""
        self.fp.clear()
        item = self.leader_item()
        if "value" in item:
            self.direct.update_item(
                TableName="patroni", Key={"cluster_name": {"S": self.c.partition}, "key": {"S": "leader"}},
                UpdateExpression="REMOVE #v SET #ver = #ver + :one",
                ExpressionAttributeNames={"#v": "value", "#ver": "version"},
                ExpressionAttributeValues={":one": {"N": "1"}})
        try:
            self.c.wait_primary(120, what="node1 primary again")
        except TimeoutError:
            h.say("recovery: restarting Patroni")
            self.c.stop("node1")
            self.c.start("node1")
            self.c.wait_primary(180, what="node1 primary after restart")

    def one_run(self, case: str, run: int) -> Dict[str, Any]:
        c, node = self.c, self.c.node("node1")
        loop_wait = self.args.failover_time / 3
        background = None
        if self.heavy:
            h.say("heavy: dirtying shared_buffers (UPDATE demotion_fill)")
            c.query("node1", "update demotion_fill set v = v + 1", statement_timeout_ms=None)

            def bulk() -> None:
                try:
                    c.query("node1", "insert into demotion_bulk select g, repeat('y', 100) "
                                     "from generate_series(1, 50000000) g", statement_timeout_ms=None)
                except Exception:  # noqa: BLE001 - it is meant to be cut off by the shutdown
                    pass
            background = threading.Thread(target=bulk, daemon=True)
            background.start()
        writer = Writer(c, self.args.write_interval / 1000)
        writer.start()
        pm = node.postmaster_pid()
        watch = PostmasterWatch(pm) if pm else None
        if watch:
            watch.start()
        time.sleep(1.0 + random.uniform(0, loop_wait))
        n_events = len(_hook_events(self.hook_log))
        t_fault = time.monotonic()
        if case in ("fast", "fast-heavy"):
            self.fp.set_rules([{"action": "error500", "ops": ["UpdateItem"], "keys": ["leader"],
                                "clients": ["node1"], "name": "renewal-fails"}])
        elif case == "fast-hang":
            self.fp.set_rules([{"action": "hang", "hang": 3600, "clients": ["node1"], "name": "dcs-hangs"}])
        elif case == "immediate":
            self.direct.update_item(
                TableName="patroni", Key={"cluster_name": {"S": c.partition}, "key": {"S": "leader"}},
                UpdateExpression="SET #ver = #ver + :one, #s = :other", ConditionExpression="#v = :me",
                ExpressionAttributeNames={"#v": "value", "#ver": "version", "#s": "session"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":me": {"S": "node1"},
                                           ":other": {"S": "demotion-bench-intruder"}})
        else:
            raise ValueError(case)
        deadline = t_fault + 3 * self.args.failover_time + 30
        raised = None
        while time.monotonic() < deadline:
            evs = [e for e in _hook_events(self.hook_log)[n_events:] if e["event"] in RAISE_EVENTS[case]]
            if evs and writer.t_err is not None and (watch is None or watch.t_gone is not None):
                raised = evs[0]
                break
            time.sleep(0.05)
        writer.stop_flag.set()
        if watch:
            watch.stop_flag.set()
        writer.join(5)
        res: Dict[str, Any] = {"case": case, "run": run, "patroni": c.patroni_version, "t_fault": t_fault,
                               "writes_ok": writer.n_ok, "writer_error": writer.err,
                               "loadavg": h_load()}
        if raised is None:
            res["error"] = "no raise/refusal observed within the deadline"
            evs = _hook_events(self.hook_log)[n_events:]
            res["events"] = [e["event"] for e in evs][-10:]
        else:
            t_r = raised["t"]
            res.update(raise_event=raised["event"], raise_after_fault=round(t_r - t_fault, 3),
                       raise_error=raised.get("error", ""),
                       d_refused=round(writer.t_err - t_r, 4),
                       d_last_ok=round(writer.t_last_ok - t_r, 4) if writer.t_last_ok else None,
                       d_exit=round(watch.t_gone - t_r, 4) if watch and watch.t_gone else None)
        if background is not None:
            background.join(30)
        h.say(f"run {case} #{run}: " + json.dumps({k: v for k, v in res.items() if k.startswith(("d_", "raise_e",
                                                                                            "error", "writer"))}))
        self.recover()
        return res


def h_load() -> List[float]:
    return [round(x, 2) for x in os.getloadavg()]


def summarize(values: List[float]) -> Dict[str, Any]:
    v = sorted(values)
    if not v:
        return {"n": 0}

    def pct(p: float) -> float:  # nearest-rank
        return v[max(0, math.ceil(p / 100 * len(v)) - 1)]
    return {"n": len(v), "min": v[0], "median": pct(50), "p90": pct(90), "max": v[-1]}


def report(paths: List[str]) -> str:
    rows = []
    for p in paths:
        data = json.loads(Path(p).read_text())
        by_case: Dict[str, List[Dict[str, Any]]] = {}
        for r in data["runs"]:
            by_case.setdefault(r["case"], []).append(r)
        for case, runs in by_case.items():
            good = [r for r in runs if "d_refused" in r]
            s = summarize([r["d_refused"] for r in good])
            e = summarize([r["d_exit"] for r in good if r.get("d_exit") is not None])
            last = max((r["d_last_ok"] for r in good if r.get("d_last_ok") is not None), default=None)
            rows.append((data["patroni"], case, len(runs), s, e, last, len(runs) - len(good)))
    out = ["| Patroni | Case | Runs | d_refused median (s) | p90 (s) | max (s) | latest ack after raise (s) | "
           "postmaster gone, max (s) | Failed runs |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for ver, case, n, s, e, last, failed in rows:
        f = (lambda x: f"{x:.3f}" if isinstance(x, (int, float)) else "-")
        out.append(f"| {ver} | {case} | {n} | {f(s.get('median'))} | {f(s.get('p90'))} | {f(s.get('max'))} | "
                   f"{f(last)} | {f(e.get('max'))} | {failed} |")
    return "\n".join(out)


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patroni", choices=["4.1", "3.0.2"], default="4.1")
    ap.add_argument("--cases", default="fast,fast-hang,immediate,fast-heavy")
    ap.add_argument("--runs", type=int, default=10, help="runs per case")
    ap.add_argument("--failover-time", type=float, default=12)
    ap.add_argument("--write-interval", type=float, default=2.0, help="ms between writes")
    ap.add_argument("--out", help="result JSON (default bench/results/demotion-<patroni>.json)")
    ap.add_argument("--keep", action="store_true", help="keep the cluster directories")
    ap.add_argument("--report", nargs="+", metavar="JSON", help="print the Markdown table of result files")
    args = ap.parse_args(argv)
    if args.report:
        print(report(args.report))
        return 0
    h.install_signal_handlers()
    cases = [x for x in args.cases.split(",") if x]
    out = Path(args.out) if args.out else BENCH / "results" / f"demotion-{args.patroni}.json"
    result: Dict[str, Any] = {"patroni": args.patroni, "failover_time": args.failover_time,
                              "write_interval_ms": args.write_interval, "runs": [],
                              "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "loadavg_start": h_load(), "command": " ".join(["python", "bench/demotion.py"] + argv)}

    def save() -> None:
        from bench import benchlib
        result["machine"] = benchlib.machine()
        result["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        result["loadavg_end"] = h_load()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")

    with h.LocalDynamo("moto") as ddb:
        h.create_table(ddb.endpoint, "patroni")
        with FaultProxy("127.0.0.1", ddb.port, clients=["node1", "ctl"], seed=1) as fp:
            for heavy in (False, True):
                mine = [c for c in cases if (c == "fast-heavy") == heavy]
                if not mine:
                    continue
                b = Bench(args, ddb, fp, heavy)
                base = b.c.base_dir
                try:
                    with b.c:
                        b.start()
                        for case in mine:
                            for run in range(1, args.runs + 1):
                                result["runs"].append(b.one_run(case, run))
                                save()
                finally:
                    if heavy and not args.keep:
                        shutil.rmtree(base, ignore_errors=True)
    save()
    print(report([str(out)]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
