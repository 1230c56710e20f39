#!/usr/bin/env python3
"""Client overhead: the C++ client (bench/client_bench.cc) beside boto3 (bench/boto3_bench.py), against the
same local DynamoDB (moto and dynalite on loopback) and offline (canned answers; also with a sleep before each
operation, as long as a round trip, so the caches are cold), plus the import/start cost of Patroni's
DCS module with our plugin vs with boto3. Against the servers the C++ runs also replay each operation's request
through less of the stack (client_bench --floors: our HTTP layer, bare libcurl, a plain socket). Writes
bench/results/client.json.

    client_overhead.py --bench-bin build-bench/bench/dynatroni_client_bench [--ops 1000] [--reps 3] [--no-pin]
                       [--latency-ms 3] [--idle-ms 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import benchlib
from tools import cluster_harness as h
from tools import local_dynamodb
from tools.fault_proxy import FaultProxy

TABLE = "bench_client"

# What a Patroni process pays at start: fresh interpreters, each importing one set of modules.
IMPORT_CASES = {
    "patroni.dcs": "import patroni.dcs",
    "patroni.dcs + etcd3 backend": "import patroni.dcs, patroni.dcs.etcd3",
    "patroni.dcs + dynatroni plugin": "import patroni.dcs, dynatroni.dynamodb",
    "patroni.dcs + boto3 DynamoDB client": ("import patroni.dcs, boto3; boto3.client('dynamodb', "
                                            "region_name='us-east-1', endpoint_url='http://127.0.0.1:1', "
                                            "aws_access_key_id='x', aws_secret_access_key='y')"),
}
# Peak RSS is VmHWM: ru_maxrss would report this (parent) process's high-water mark, kept across fork + exec.
PROBE = ("import resource, time; t0 = time.perf_counter(); {stmt}; t1 = time.perf_counter(); "
         "ru = resource.getrusage(resource.RUSAGE_SELF); "
         "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]; "
         "print(t1 - t0, ru.ru_utime + ru.ru_stime, hwm)")


def run_json(cmd) -> dict:
    print("bench: " + " ".join(str(c) for c in cmd), flush=True)
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {p.stderr[-2000:]}")
    return json.loads(p.stdout)


def median_runs(runs: list) -> dict:
    """One client's result from `runs` (same loop repeated): per-operation medians, with every run's CPU kept."""
    out = dict(runs[0])
    out["runs"] = len(runs)
    out["peak_rss_kb"] = max(r["peak_rss_kb"] for r in runs)
    out["operations"] = {}
    for op in runs[0]["operations"]:
        cpu = [r["operations"][op]["cpu_us_per_op"] for r in runs]
        out["operations"][op] = {
            "cpu_us_per_op": statistics.median(cpu), "cpu_us_per_op_runs": cpu,
            "wall_us_per_op": statistics.median(r["operations"][op]["wall_us_per_op"] for r in runs),
            "errors": sum(r["operations"][op]["errors"] for r in runs)}
    if "floors" in runs[0]:  # the C++ client's --floors: the same requests through less of the stack
        out["floors"] = {}
        for op, fields in runs[0]["floors"].items():
            out["floors"][op] = {}
            for field in fields:
                values = [r["floors"][op][field] for r in runs if r.get("floors", {}).get(op, {}).get(field)]
                out["floors"][op][field] = statistics.median(values) if values else None
                out["floors"][op][field + "_runs"] = values
    return out


def alternate(cmds: dict, reps: int) -> dict:
    """Runs each client's command `reps` times, alternating clients, so slow drifts of the machine's load
    touch both alike; returns {client: median_runs(...)}."""
    runs = {name: [] for name in cmds}
    for _ in range(reps):
        for name, cmd in cmds.items():
            runs[name].append(run_json(cmd))
    return {name: median_runs(r) for name, r in runs.items()}


def import_costs(python: str, reps: int) -> dict:
    """Median (and min/max) import time, process CPU and peak RSS over `reps` fresh interpreters."""
    out = {}
    for name, stmt in IMPORT_CASES.items():
        runs = []
        for _ in range(reps):
            p = subprocess.run([python, "-c", PROBE.format(stmt=stmt)], capture_output=True, text=True,
                               timeout=120, check=True)
            wall, cpu, rss = p.stdout.split()
            runs.append((float(wall), float(cpu), int(rss)))
        out[name] = {"import_s_median": statistics.median(r[0] for r in runs),
                     "import_s_min": min(r[0] for r in runs), "import_s_max": max(r[0] for r in runs),
                     "process_cpu_s_median": statistics.median(r[1] for r in runs),
                     "peak_rss_kb_median": statistics.median(r[2] for r in runs), "reps": reps}
        print(f"bench: import {name}: {out[name]['import_s_median'] * 1000:.0f} ms, "
              f"{out[name]['peak_rss_kb_median'] / 1024:.1f} MB", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench-bin", required=True)
    ap.add_argument("--ops", type=int, default=1000, help="operations per loop against each local server")
    ap.add_argument("--offline-ops", type=int, default=20000, help="C++ operations per offline loop")
    ap.add_argument("--boto3-offline-ops", type=int, default=2000)
    ap.add_argument("--import-reps", type=int, default=7)
    ap.add_argument("--latency-ms", type=float, default=3.0,
                    help="also run against dynalite behind a delay proxy adding this round trip (0 = skip)")
    ap.add_argument("--idle-ms", type=float, default=3.0,
                    help="also run offline with this sleep before each operation (0 = skip)")
    ap.add_argument("--reps", type=int, default=3, help="runs of each loop per client, alternating; medians")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not keep the local server and the clients on separate CPUs")
    ap.add_argument("--command", default="", help="the command that reproduces this (for the report)")
    args = ap.parse_args()
    py = sys.executable
    all_cpus = os.sched_getaffinity(0)
    # A real DynamoDB does its work on other machines: with two or more CPUs the local server runs on the
    # last one and both clients on the first, so the server's work does not evict the client's caches (both
    # clients alike). The client's own TCP work (loopback delivery included) is still counted.
    pin = None if args.no_pin or len(all_cpus) < 2 else {"client_cpu": min(all_cpus), "server_cpu": max(all_cpus)}
    client_prefix = ["taskset", "-c", str(pin["client_cpu"])] if pin else []
    result = {"command": args.command, "load_before": benchlib.loadavg(), "ops": args.ops, "reps": args.reps,
              "pinning": pin, "delay_proxy": benchlib.DELAY_PROXY}
    result["offline"] = alternate({
        "dynatroni": client_prefix + [args.bench_bin, "--offline", "--ops", args.offline_ops],
        "boto3": client_prefix + [py, benchlib.BENCH / "boto3_bench.py", "--offline", "--ops",
                                  args.boto3_offline_ops],
    }, args.reps)
    if args.idle_ms > 0:
        # The same, sleeping before each operation as a client waiting for a network round trip does: the pure
        # client work (signing, encoding, decoding) with the caches as cold as a round trip leaves them. The
        # sleep's own CPU (the wake-up) is counted for both.
        idle_us = str(int(args.idle_ms * 1000))
        result["offline_idle"] = {"idle_ms": args.idle_ms, **alternate({
            "dynatroni": client_prefix + [args.bench_bin, "--offline", "--ops", args.ops, "--idle-us", idle_us],
            "boto3": client_prefix + [py, benchlib.BENCH / "boto3_bench.py", "--offline", "--ops", args.ops,
                                      "--idle-us", idle_us],
        }, args.reps)}
    # Both keep connections alive as DynamoDB does (moto via tools/moto_server.py's keep-alive handler).
    for kind in ("moto", "dynalite"):
        with tempfile.TemporaryDirectory(prefix="dynatroni-bench-") as tmp:
            if pin:  # the server (and every process and thread it starts) inherits this
                os.sched_setaffinity(0, {pin["server_cpu"]})
            try:
                server = local_dynamodb.start(kind, Path(tmp))
            finally:
                os.sched_setaffinity(0, all_cpus)
            try:
                h.create_table(server.endpoint, TABLE)
                seed = h.boto_client(server.endpoint)  # the 16 items every loop reads and writes
                for i in range(16):
                    seed.put_item(TableName=TABLE, Item={"cluster_name": {"S": "bench"}, "key": {"S": f"k{i}"},
                                                         "value": {"S": "v" * 200}, "version": {"N": str(i)}})
                def clients(endpoint: str) -> dict:
                    return {
                        "dynatroni": client_prefix + [args.bench_bin, "--endpoint", endpoint, "--table", TABLE,
                                                      "--ops", args.ops, "--floors"],
                        "boto3": client_prefix + [py, benchlib.BENCH / "boto3_bench.py", "--endpoint", endpoint,
                                                  "--table", TABLE, "--ops", args.ops],
                    }
                result[f"loopback_{kind}"] = {"server": f"{kind} on loopback",
                                              **alternate(clients(server.endpoint), args.reps)}
                if kind == "dynalite" and args.latency_ms > 0:
                    # The same fast server a real round trip away: the client idles between requests as it
                    # would against DynamoDB. The proxy thread inherits the server's CPU.
                    host, port = server.endpoint.rsplit("//", 1)[1].rsplit(":", 1)
                    if pin:
                        os.sched_setaffinity(0, {pin["server_cpu"]})
                    try:
                        proxy = FaultProxy(host, int(port), rtt_ms=args.latency_ms).start()
                    finally:
                        os.sched_setaffinity(0, all_cpus)
                    try:
                        result["latency_dynalite"] = {
                            "server": f"dynalite behind a {args.latency_ms:g} ms round-trip delay proxy",
                            "latency_ms": args.latency_ms, **alternate(clients(proxy.url()), args.reps)}
                    finally:
                        proxy.close()
            finally:
                server.stop()
    result["imports"] = import_costs(py, args.import_reps)
    result["load_after"] = benchlib.loadavg()
    benchlib.write_result("client", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
