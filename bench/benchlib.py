"""Small helpers shared by the benchmark drivers: the machine, the load, writing results."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any, Dict

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
# What adds the round trip of the "delay proxy" runs, as the results record it (bench/report.py names it).
DELAY_PROXY = "tools/fault_proxy.py with rtt_ms"


def loadavg() -> list:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> Dict[str, Any]:
    """CPU model, cores, memory and kernel of this machine (from lscpu and /proc)."""
    info: Dict[str, Any] = {"cores": os.cpu_count(), "kernel": platform.release()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() == "Model name":
                info["cpu_model"] = v.strip()
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["mem_total_mb"] = int(line.split()[1]) // 1024
    except OSError:
        pass
    return info


def write_result(name: str, data: Dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data.setdefault("machine", machine())
    data["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
    print(f"bench: wrote {path.relative_to(REPO)}", flush=True)
    return path
