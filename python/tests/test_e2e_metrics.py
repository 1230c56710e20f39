"""End to end: a real Prometheus (Debian's `prometheus` package) scrapes a running 3-node Patroni 4.1 +
PostgreSQL cluster on Dynatroni (issue #21 part 2), and the test asks Prometheus' HTTP API (/api/v1/query) whether
the series say what the cluster did:

  * exactly one node holds the lease, the one the leader item names, and every node reports its term;
  * every node loaded the cluster within the last loop_wait or so;
  * throttling the fault proxy injects into one node's requests shows up as exactly that many throttles there
    (and none elsewhere), and retries at least as many;
  * each node's request counters agree with the fault proxy's log of that node's requests (every node talks to
    moto through its own proxy listener), and its call counters with its latency histogram;
  * after a switchover the candidate holds the lease with a higher term, and the old leader holds it no more.

Prometheus runs with --config.file, --storage.tsdb.path in a temporary directory and a free loopback port,
scraping every node's `metrics_listen` (set through PATRONI_DYNAMODB_METRICS_LISTEN) every second.
Timing: failover_time 15 s (ttl 15 s, loop_wait = retry_timeout = 5 s).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]

from tools import cluster_harness as h  # noqa: E402
from tools.fault_proxy import FaultProxy, read_log  # noqa: E402

FAILOVER_TIME = 15.0
LOOP_WAIT = 5
TABLE = "patroni"
THROTTLES = 4
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


class Prometheus:
    """A Prometheus server scraping `targets` ({node: host:port}) every second, for the test only."""

    def __init__(self, targets: Dict[str, str], workdir: Path) -> None:
        self.port = h.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        static = "".join(f"      - targets: ['{addr}']\n        labels: {{node: {node}}}\n"
                         for node, addr in targets.items())
        config = workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                          f"scrape_configs:\n  - job_name: dynatroni\n    static_configs:\n{static}")
        self.log = open(workdir / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        h.wait_for(self._ready, 30, "Prometheus ready")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise h.FatalWait(f"prometheus exited with {self.proc.returncode}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, expr: str) -> List[Dict[str, Any]]:
        """The result of an instant query now (a list of {metric, value} or {metric, values})."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def by_node(self, expr: str) -> Dict[str, float]:
        return {r["metric"]["node"]: float(r["value"][1]) for r in self.query(expr)}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    assert os.geteuid() == 0, "the end-to-end tests run PostgreSQL as the postgres user: run them as root"
    work = tmp_path_factory.mktemp("metrics")
    names = ["node1", "node2", "node3"]
    with h.LocalDynamo(h.e2e_backend(), log_dir=work) as ddb:
        h.create_table(ddb.endpoint, TABLE)
        with FaultProxy("127.0.0.1", ddb.port, clients=names, seed=5, log_path=str(work / "proxy.jsonl")) as fault:
            listen = {n: f"127.0.0.1:{h.free_port()}" for n in names}
            cluster = h.Cluster(3, endpoint=ddb.endpoint, ctl_endpoint=ddb.endpoint, scope=f"metrics-{os.getpid()}",
                                failover_time=FAILOVER_TIME, table=TABLE,
                                node_endpoints={n: fault.url(n) for n in names},
                                node_env={n: {"PATRONI_DYNAMODB_METRICS_LISTEN": listen[n]} for n in names})
            with cluster:
                prom = Prometheus(listen, work)
                try:
                    cluster.start_all()
                    yield cluster, prom, fault, work / "proxy.jsonl"
                finally:
                    prom.stop()


def _wait_series(prom: Prometheus, expr: str, check, timeout: float, what: str) -> Dict[str, float]:
    """Waits until check(by_node(expr)) is true; returns that result."""
    last: Dict[str, Any] = {}

    def ok() -> Optional[Dict[str, float]]:
        nonlocal last
        last = prom.by_node(expr)
        return last if check(last) else None
    try:
        return h.wait_for(ok, timeout, what, interval=0.5)
    except Exception as e:
        raise AssertionError(f"{what}: last {expr} = {last}") from e


def _one_holder(prom: Prometheus, leader: str, timeout: float = 30) -> Dict[str, float]:
    return _wait_series(prom, "dynatroni_lease_held", lambda v: len(v) == 3 and v.get(leader) == 1
                        and sum(v.values()) == 1, timeout, f"exactly {leader} reporting the lease held")


def test_prometheus_sees_what_the_cluster_did(setup):
    cluster, prom, fault, proxy_log = setup
    t_start = time.monotonic()
    leader = cluster.wait_healthy(120)
    h.say(f"metrics: cluster healthy after {time.monotonic() - t_start:.1f}s, leader {leader}")

    # Exactly one node holds the lease, the one the leader item names; every node reports the same term.
    _one_holder(prom, leader)
    term = cluster.leader_item()["term"]
    terms = _wait_series(prom, "dynatroni_lease_term", lambda v: len(v) == 3 and set(v.values()) == {term}, 20,
                         f"every node reporting term {term}")
    assert terms == {n.name: term for n in cluster.nodes}
    held = prom.by_node("dynatroni_lease_remaining_seconds")
    assert 0 < held[leader] <= FAILOVER_TIME and all(v == 0 for n, v in held.items() if n != leader), held
    renewed = _wait_series(prom, 'dynatroni_lease_renewals_total{result="renewed"}', lambda v: v.get(leader, 0) >= 1,
                           3 * LOOP_WAIT, f"{leader} renewing")
    assert all(v == 0 for n, v in renewed.items() if n != leader), renewed
    failed = prom.by_node('dynatroni_lease_renewals_total{result=~"failed|refused"}')
    assert set(failed.values()) == {0}, failed

    # Every node loaded the cluster recently (each HA cycle loads it; a cycle is at most loop_wait apart).
    age = prom.by_node("dynatroni_cluster_load_age_seconds")
    assert len(age) == 3 and all(0 <= v < 2 * LOOP_WAIT + 2 for v in age.values()), age

    # Throttling injected by the proxy into one replica's cluster loads: exactly that many throttles there.
    replica = next(n.name for n in cluster.nodes if n.name != leader)
    before = prom.by_node("dynatroni_dynamodb_throttles_total")
    assert set(before.values()) == {0}, before
    retries_before = prom.by_node("dynatroni_dynamodb_retries_total")[replica]
    fault.set_rules([{"action": "throttle", "ops": ["Query"], "clients": [replica], "count": THROTTLES}])
    h.wait_for(lambda: fault.stats()["by_fault"].get("throttle", 0) >= THROTTLES, 3 * LOOP_WAIT + 5,
               f"{THROTTLES} throttles injected into {replica}'s Query")
    throttles = _wait_series(prom, "dynatroni_dynamodb_throttles_total",
                             lambda v: v.get(replica) == THROTTLES, 10, f"{replica}'s throttles in Prometheus")
    assert {n: v for n, v in throttles.items() if n != replica} == {n.name: 0 for n in cluster.nodes
                                                                    if n.name != replica}
    # Each throttle is followed by a backoff sleep, counted as a retry once slept (so maybe a scrape later).
    _wait_series(prom, "dynatroni_dynamodb_retries_total", lambda v: v.get(replica, 0) >= retries_before + THROTTLES,
                 10, f"{replica}'s retries after the throttles")
    fault.clear()

    # The request counters agree with the fault proxy's log of each node's requests: the value in Prometheus'
    # last scrape lies between the requests the proxy finished before that scrape and those it received after.
    samples = prom.query("dynatroni_dynamodb_requests_total[5s]")
    records = read_log(str(proxy_log))
    mono_minus_wall = time.monotonic() - time.time()
    checked = 0
    for s in samples:
        node, op = s["metric"]["node"], s["metric"]["operation"]
        ts, value = s["values"][-1]
        t = float(ts) + mono_minus_wall
        mine = [r for r in records if r["client"] == node and r.get("op") == op]
        done_before = sum(1 for r in mine if r.get("t_complete", r["t_invoke"]) < t - 1.0)
        received_by = sum(1 for r in mine if r["t_invoke"] <= t + 1.0)
        assert done_before <= float(value) <= received_by, (node, op, done_before, value, received_by)
        checked += 1
    assert checked >= 6, samples  # at least Query and a write on each node
    throttled = sum(1 for r in records if r["client"] == replica and r.get("fault") == "throttle")
    assert throttled == THROTTLES
    # One call per operation: its outcome counted once and its latency observed once (the same lock).
    calls = prom.by_node('sum by (node, operation) (dynatroni_dynamodb_calls_total)')
    for r in prom.query('sum by (node, operation) (dynatroni_dynamodb_calls_total) - on (node, operation) '
                        'sum by (node, operation) (dynatroni_dynamodb_call_duration_seconds_count)'):
        assert float(r["value"][1]) == 0, r
    assert calls, "no calls counted"
    loads = prom.by_node('dynatroni_dynamodb_calls_total{operation="Query",outcome="success"}')
    assert len(loads) == 3 and all(v >= 2 for v in loads.values()), loads
    assert set(prom.by_node("dynatroni_dynamodb_unknown_outcomes_total").values()) == {0}
    capacity = prom.by_node('dynatroni_dynamodb_consumed_capacity_units_total{operation="Query"}')
    assert len(capacity) == 3 and all(v > 0 for v in capacity.values()), capacity  # moto reports capacity
    bad = prom.query('dynatroni_dynamodb_calls_total{outcome!~"success|condition_failed"}')
    assert bad == [], bad  # throttled calls were retried into successes

    # A switchover: the candidate holds the lease with a higher term; the old leader no longer holds it.
    candidate = next(n.name for n in cluster.nodes if n.name not in (leader, replica))
    cluster.patronictl("switchover", "--leader", leader, "--candidate", candidate, "--force")
    cluster.wait_primary(60, [candidate], f"{candidate} to accept writes")
    _one_holder(prom, candidate, 30)
    new_term = _wait_series(prom, "dynatroni_lease_term", lambda v: v.get(candidate, 0) > term, 10,
                            f"{candidate}'s term above {term}")[candidate]
    assert new_term == cluster.leader_item()["term"] > term
    assert prom.query(f"max(dynatroni_lease_term) > {term}"), "the term series did not increase"
    h.say(f"metrics: done after {time.monotonic() - t_start:.1f}s (term {term} -> {new_term:.0f})")
