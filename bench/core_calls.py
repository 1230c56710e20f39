#!/usr/bin/env python3
"""The plugin-level cost of a ``dynatroni._core`` call: wall time and process CPU per call of the installed core,
in this process, for calls that stay in the core (no network) and for calls to a local moto. Prints one JSON
object (medians of 3 runs of each loop); compare two builds by running it with each installed (or one of them on
``PYTHONPATH``). Not part of ``make bench``.

    python -m tools.local_dynamodb run -- python -m bench.core_calls [--local-calls 20000] [--store-calls 300]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Callable, Dict, Tuple

from bench import benchlib
from tools import cluster_harness as h


def measure(n: int, f: Callable[[], object]) -> Dict[str, float]:
    runs = []
    for _ in range(3):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            f()
        runs.append(((time.perf_counter() - w0) / n * 1e6, (time.process_time() - c0) / n * 1e6))
    return {"wall_us": round(statistics.median(r[0] for r in runs), 2),
            "cpu_us": round(statistics.median(r[1] for r in runs), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--local-calls", type=int, default=20000)
    ap.add_argument("--store-calls", type=int, default=300)
    args = ap.parse_args()
    import dynatroni._core as core

    endpoints = dict(p.split("=", 1) for p in os.environ["DYNATRONI_TEST_ENDPOINTS"].split(",") if p)
    table = "bench_core_calls"
    h.create_table(endpoints["moto"], table)
    d = core.Dcs({"table_name": table, "region": h.REGION, "endpoint_url": endpoints["moto"],
                  "access_key_id": h.ACCESS_KEY, "secret_access_key": h.SECRET_KEY}, "bench", "node1")
    d.set_timing(30, 10, 10)
    assert d.acquire_leader("leader")
    d.set_value("/service/bench/config", '{"x":1}', None)
    local, store = args.local_calls, args.store_calls
    cases: Dict[str, Tuple[int, Callable[[], object]]] = {
        "timing (in the core)": (local, d.timing),
        "lease (in the core)": (local, lambda: d.lease("leader")),
        "plan_watch (in the core)": (local, lambda: d.plan_watch("leader", None, 5.0)),
        "table_name (in the core)": (local, lambda: d.table_name),
        "metrics (in the core)": (local // 4, d.metrics),
        "load_cluster (moto)": (store, lambda: d.load_cluster("/service/bench/")),
        "touch_member (moto)": (store, lambda: d.touch_member("/service/bench/members/node1", '{"state":"running"}')),
        "renew_leader (moto)": (store, lambda: d.renew_leader("leader", None)),
    }
    load = benchlib.loadavg()
    results = {name: measure(n, f) for name, (n, f) in cases.items()}
    print(json.dumps({"core": core.__file__, "loadavg_before": load, "loadavg_after": benchlib.loadavg(),
                      "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
