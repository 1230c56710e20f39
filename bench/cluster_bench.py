#!/usr/bin/env python3
"""3-node Patroni clusters on etcd (Patroni's etcd3 backend) and on Dynatroni (moto on loopback, and moto behind
tools/fault_proxy.py adding a round trip), with the same PostgreSQL and timing: unplanned failover, planned switchover and steady
state. Writes bench/results/cluster.json after every round (a cut-short run keeps what it measured).

One cluster runs at a time. The backends alternate in blocks of `--block` rounds (each block is a fresh
cluster); a round is one failover and one switchover. `--budget-minutes` stops starting new blocks when the
time is up (failover_time values are run in the order given).

    cluster_bench.py --rounds 10 --failover-times "15 60" --steady-seconds 120   # as root

`--rounds 0` measures only the steady state (one fresh cluster per backend and F). `--result NAME` writes
bench/results/NAME.json instead (e.g. `--rounds 0 --failover-times 30 --backends dynamodb-loopback --result
cluster-steady-ft30`: the default dial's steady state, which bench/report.py shows beside the full run).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from bench import benchlib
from tools import cluster_harness as h
from tools import local_dynamodb
from tools.fault_proxy import FaultProxy

BACKENDS = ["etcd", "dynamodb-loopback", "dynamodb-latency"]
STATS_NAME = "dynatroni-stats.json"
TICKS = os.sysconf("SC_CLK_TCK")


def plugin_overlay(parent: Path) -> str:
    """A directory holding the installed dynatroni package (with its compiled extension) overlaid with this
    checkout's Python files, so the nodes run the working tree's plugin (e.g. $DYNATRONI_STATS_FILE) without a
    reinstall. Readable by postgres."""
    installed = subprocess.run([sys.executable, "-c", "import dynatroni, os; print(os.path.dirname(dynatroni.__file__))"],
                               capture_output=True, text=True).stdout.strip()
    if not installed:
        raise RuntimeError("the installed dynatroni package does not import (being reinstalled?): retry later")
    dst = parent / "dynatroni"
    shutil.copytree(installed, dst, ignore=shutil.ignore_patterns("__pycache__"))
    for f in (benchlib.REPO / "python" / "dynatroni").glob("*.py"):
        shutil.copy(f, dst / f.name)
    for root, dirs, files in os.walk(parent):
        for n in dirs + files:
            os.chmod(os.path.join(root, n), 0o755)
    os.chmod(parent, 0o755)
    return str(parent)


def proc_cpu_s(pid: int) -> float:
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def read_stats(node: h.Node) -> Dict[str, int]:
    with contextlib.suppress(OSError, ValueError):
        return dict(json.loads((node.dir / STATS_NAME).read_text())["requests_by_operation"])
    return {}


def steady(c: h.Cluster, seconds: float) -> Dict[str, Any]:
    """CPU seconds, peak RSS and (DynamoDB) counted requests of every Patroni process over `seconds`."""
    h.say(f"steady state: measuring for {seconds:.0f}s")
    start = {n.name: (n.patroni_pid, proc_cpu_s(n.patroni_pid), read_stats(n)) for n in c.nodes}
    t0 = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    nodes = []
    for n in c.nodes:
        pid, cpu0, req0 = start[n.name]
        req1 = read_stats(n)
        nodes.append({"name": n.name, "cpu_s": proc_cpu_s(pid) - cpu0,
                      "peak_rss_kb": proc_status_kb(pid, "VmHWM"), "rss_kb": proc_status_kb(pid, "VmRSS"),
                      "requests": {op: req1.get(op, 0) - req0.get(op, 0) for op in req1} if req1 else None})
    return {"seconds": elapsed, "nodes": nodes, "load": benchlib.loadavg()}


def first_write(c: h.Cluster, candidates: List[str], t0: float, timeout: float) -> Optional[tuple]:
    """Poll `candidates` every 100 ms until one commits an INSERT; (name, seconds since t0) or None."""
    while time.monotonic() - t0 < timeout:
        for name in candidates:
            if c.is_primary(name) and c.try_write(name, note="bench"):
                return name, time.monotonic() - t0
        time.sleep(0.1)
    return None


def failover_round(c: h.Cluster, ft: float) -> Dict[str, Any]:
    leader = c.wait_healthy(240)
    others = [n.name for n in c.nodes if n.name != leader]
    t0 = time.monotonic()
    c.crash(leader)
    got = first_write(c, others, t0, ft * 4 + 60)
    out = {"kind": "failover", "old": leader, "ok": got is not None}
    if got:
        out.update(new=got[0], seconds=got[1])
    c.start(leader)
    return out


def switchover_round(c: h.Cluster, ft: float) -> Dict[str, Any]:
    leader = c.wait_healthy(240)
    target = sorted(n.name for n in c.nodes if n.name != leader)[0]
    cmd = [c.python, "-m", "dynatroni.patronictl", "-c", str(c.base_dir / "patronictl.yml"), "switchover",
           c.scope, "--leader", leader, "--candidate", target, "--force"]
    t0 = time.monotonic()
    ctl = subprocess.Popen(cmd, env=dict(c._env(), HOME=str(c.base_dir)), cwd=str(c.base_dir),  # noqa: SLF001
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    got = first_write(c, [target], t0, ft * 4 + 60)
    ctl_out = ctl.communicate(timeout=120)[0]
    out = {"kind": "switchover", "old": leader, "ok": got is not None and ctl.returncode == 0}
    if got:
        out.update(new=got[0], seconds=got[1])
    if not out["ok"]:
        out["error"] = f"patronictl rc {ctl.returncode}: {ctl_out.strip()[-300:]}"
    return out


@contextlib.contextmanager
def backend(name: str, delay_ms: float, tmp: Path):
    """Yields the Cluster keyword arguments for `name` with its DCS running."""
    if name == "etcd":
        with h.LocalEtcd() as etcd:
            yield {"dcs": "etcd3", "etcd_hosts": etcd.hosts, "endpoint": ""}
        return
    server = local_dynamodb.start("moto", tmp)
    try:
        h.create_table(server.endpoint, "patroni")
        if name == "dynamodb-latency":
            host, port = server.endpoint.rsplit("/", 1)[1].split(":")
            with FaultProxy(host, int(port), rtt_ms=delay_ms) as proxy:
                yield {"endpoint": proxy.url(), "ctl_endpoint": server.endpoint}
        else:
            yield {"endpoint": server.endpoint}
    finally:
        server.stop()


def run_block(result: Dict[str, Any], name: str, ft: float, rounds: int, steady_s: float, overlay: str,
              args: argparse.Namespace, tmp: Path, deadline: float) -> int:
    """One fresh cluster of backend `name`: steady state (if steady_s), then up to `rounds` rounds (fewer when
    `deadline` passes). Returns the rounds run."""
    with backend(name, args.delay_ms, tmp) as kw:
        with h.Cluster(3, failover_time=ft, scope=f"bench-{name}-{int(ft)}-{int(time.time()) % 100000}",
                       verbose=False, pythonpath=overlay, **kw) as c:
            if name != "etcd" and args.dynamodb_option:
                extra = dict(o.split("=", 1) for o in args.dynamodb_option)
                section = c.dynamodb_section
                c.dynamodb_section = lambda endpoint=None: dict(section(endpoint), **extra)  # type: ignore
                c._write_configs()  # noqa: SLF001 - the configs were written by the constructor
            if name != "etcd":
                for n in c.nodes:
                    c.node_env[n.name] = {"DYNATRONI_STATS_FILE": str(n.dir / STATS_NAME)}
            result["patroni_version"] = c.patroni_version
            c.start_all()
            c.wait_healthy(300)
            if steady_s > 0:
                time.sleep(max(ft, 10))  # let the members settle after the bootstrap
                result["steady"].append(dict(steady(c, steady_s), backend=name, failover_time=ft))
                benchlib.write_result(args.result, result)
            for i in range(rounds):
                if time.monotonic() > deadline:
                    return i
                for fn in (failover_round, switchover_round):
                    load = benchlib.loadavg()
                    try:
                        r = fn(c, ft)
                    except (TimeoutError, RuntimeError, h.FatalWait) as e:
                        r = {"kind": fn.__name__.split("_")[0], "ok": False, "error": str(e)[-300:]}
                    r.update(backend=name, failover_time=ft, load=load, at=time.time())
                    result["rounds"].append(r)
                    h.say(f"{name} F={ft:g} round {i + 1}/{rounds} {r['kind']}: "
                          + (f"{r['seconds']:.2f}s" if r.get("ok") else f"FAILED {r.get('error', '')}"))
                    benchlib.write_result(args.result, result)
                    if not r["ok"]:
                        c.wait_healthy(300)
    return rounds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10, help="failover+switchover rounds per backend and F")
    ap.add_argument("--failover-times", default="15 60")
    ap.add_argument("--block", default="5", help="rounds per cluster before switching backend (one value, or one "
                    "per failover time)")
    ap.add_argument("--steady-seconds", type=float, default=120)
    ap.add_argument("--delay-ms", type=float, default=4.0, help="added round trip of dynamodb-latency")
    ap.add_argument("--budget-minutes", type=float, default=0, help="0 = no limit")
    ap.add_argument("--backends", default=" ".join(BACKENDS))
    ap.add_argument("--command", default="")
    ap.add_argument("--result", default="cluster", help="write bench/results/RESULT.json")
    ap.add_argument("--dynamodb-option", action="append", default=[], metavar="KEY=VALUE",
                    help="extra key of the nodes' `dynamodb:` section (repeatable), e.g. switchover_poll_interval=0")
    ap.add_argument("--title", default="", help="for a probe (--result cluster-probe-NAME): its heading")
    ap.add_argument("--description", default="", help="for a probe: what it reruns and why (shown in the report)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("cluster_bench: run as root (Patroni and PostgreSQL run as postgres)", file=sys.stderr)
        return 2
    h.install_signal_handlers()
    deadline = time.monotonic() + args.budget_minutes * 60 if args.budget_minutes else float("inf")
    etcd_version = subprocess.run(["/usr/bin/etcd", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    result: Dict[str, Any] = {
        "command": args.command, "title": args.title, "description": args.description, "rounds": [], "steady": [], "etcd_version": etcd_version.split()[-1],
        "config": {"rounds": args.rounds, "block": args.block.split(), "delay_ms": args.delay_ms,
                   "delay_proxy": benchlib.DELAY_PROXY,
                   "failover_times": [float(x) for x in args.failover_times.split()],
                   "steady_seconds": args.steady_seconds, "budget_minutes": args.budget_minutes,
                   "dynamodb_options": args.dynamodb_option},
        "notes": ["Patroni raises ttl below 20 s to 20 s (its own config validation) for the etcd3 backend; "
                  "the Dynatroni plugin keeps ttl = failover_time. At F=15 etcd therefore runs ttl 20, "
                  "loop_wait 5, retry_timeout 5; at F=60 both run ttl 60, loop_wait 20, retry_timeout 20.",
                  "The DynamoDB nodes run this checkout's plugin files over the installed extension "
                  "(PYTHONPATH overlay), so the request counters are the plugin's own."]}
    backends = args.backends.split()
    with tempfile.TemporaryDirectory(prefix="dynatroni-bench-", dir=h.default_base_parent()) as tmp:
        # Patroni runs as postgres: a PYTHONPATH entry it cannot reach is skipped silently, and the nodes would
        # run the installed package instead of the overlay (TemporaryDirectory is 0700).
        os.chmod(tmp, 0o755)
        overlay = plugin_overlay(Path(tmp) / "overlay")
        blocks = [int(b) for b in args.block.split()]
        for k, ft in enumerate(result["config"]["failover_times"]):
            block = blocks[min(k, len(blocks) - 1)]
            done = {b: 0 for b in backends}
            block_no = 0
            target = max(args.rounds, 1)  # --rounds 0: one cluster per backend for the steady state only
            while any(v < target for v in done.values()):
                order = backends[block_no % len(backends):] + backends[:block_no % len(backends)]
                for name in order:
                    if done[name] >= target:
                        continue
                    n = max(0, min(block, args.rounds - done[name]))
                    if time.monotonic() > deadline:
                        h.say("time budget used up: stopping")
                        result["notes"].append(f"stopped by the time budget ({args.budget_minutes:g} min)")
                        benchlib.write_result(args.result, result)
                        return 0
                    ran = run_block(result, name, ft, n, args.steady_seconds if done[name] == 0 else 0, overlay,
                                    args, Path(tmp), deadline)
                    done[name] += max(ran, 1)
                block_no += 1
    benchlib.write_result(args.result, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
