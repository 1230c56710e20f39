#!/usr/bin/env python3
"""Client overhead: the C++ client (bench/client_bench.cc) beside boto3 (bench/boto3_bench.py), against the
same local DynamoDB (moto and dynalite on loopback) and offline (canned answers), plus the import/start cost of Patroni's
DCS module with our plugin vs with boto3. Writes bench/results/client.json.

    client_overhead.py --bench-bin build-bench/bench/dynatroni_client_bench [--ops 1000]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import benchlib  # noqa: E402
import cluster_harness as h  # noqa: E402
import local_dynamodb  # noqa: E402

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
    ap.add_argument("--command", default="", help="the command that reproduces this (for the report)")
    args = ap.parse_args()
    py = sys.executable
    result = {"command": args.command, "load_before": benchlib.loadavg(), "ops": args.ops}
    result["offline"] = {
        "dynatroni": run_json([args.bench_bin, "--offline", "--ops", args.offline_ops]),
        "boto3": run_json([py, benchlib.BENCH / "boto3_bench.py", "--offline", "--ops", args.boto3_offline_ops]),
    }
    # Both keep connections alive as DynamoDB does (moto via tools/moto_server.py's keep-alive handler).
    for kind in ("moto", "dynalite"):
        with tempfile.TemporaryDirectory(prefix="dynatroni-bench-") as tmp:
            server = local_dynamodb.start(kind, Path(tmp))
            try:
                h.create_table(server.endpoint, TABLE)
                seed = h.boto_client(server.endpoint)  # the 16 items every loop reads and writes
                for i in range(16):
                    seed.put_item(TableName=TABLE, Item={"cluster_name": {"S": "bench"}, "key": {"S": f"k{i}"},
                                                         "value": {"S": "v" * 200}, "version": {"N": str(i)}})
                result[f"loopback_{kind}"] = {
                    "server": f"{kind} on loopback",
                    "dynatroni": run_json([args.bench_bin, "--endpoint", server.endpoint, "--table", TABLE,
                                           "--ops", args.ops]),
                    "boto3": run_json([py, benchlib.BENCH / "boto3_bench.py", "--endpoint", server.endpoint,
                                       "--table", TABLE, "--ops", args.ops]),
                }
            finally:
                server.stop()
    result["imports"] = import_costs(py, args.import_reps)
    result["load_after"] = benchlib.loadavg()
    benchlib.write_result("client", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
