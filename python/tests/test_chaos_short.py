"""The short chaos run (tools/chaos.py --short) as a CI test: a real 3-node Patroni 4.1 cluster in
`synchronous_mode: strict` with the testing watchdog, behind the fault proxy, failover_time 15; faults: kill -9 of
the leader, throttling + 500s + dropped write replies, and one replica's wall clock +60 s (libfaketime) followed by
kill -9 of the leader. A checker samples pg_is_in_recovery() on every node and writes numbered rows through
whichever node is primary.

Asserted per fault: no split-brain interval, no acknowledged row lost, a writable primary within
ttl + loop_wait + retry_timeout + 10 s of the fault; the proxy's DynamoDB history is linearizable per key
(leader, sync, failover, config, initialize); and what the nodes believed about the lease (each plugin's
DYNATRONI_LEASE_LOG records) never overlapped across nodes, with every node seen leading among the holders.
About 4-5 minutes. Run as root.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import chaos  # noqa: E402


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    assert os.geteuid() == 0, "the chaos test runs PostgreSQL as the postgres user: run it as root"
    out = tmp_path_factory.mktemp("chaos")
    rc = chaos.main(["--short", "--seed", "1", "--out", str(out), "--json", str(out / "results.json")])
    summary = json.loads((out / "results.json").read_text())
    summary["rc"] = rc
    return summary


def _fault(results, name):
    return next(f for f in results["faults"] if f["name"] == name)


@pytest.mark.parametrize("name", chaos.SHORT_FAULTS)
def test_fault_keeps_the_guarantees(results, name):
    f = _fault(results, name)
    assert not f["error"], f["error"]
    assert f["split_brain_intervals"] == 0, f["split_brain_examples"]
    assert f["lost_rows"] == 0
    assert f["acked_rows"] > 0, "the checker wrote nothing: the run proves nothing"
    assert f["time_to_writable_s"] <= f["bound_s"], f


def test_leader_kill_fails_over_to_another_node(results):
    f = _fault(results, "kill9_leader")
    assert f["leader_after"] != f["leader_before"]
    assert f["time_to_writable_s"] > 0, "writes should have stopped while nobody led"


def test_dynamodb_faults_were_injected(results):
    f = _fault(results, "throttle_and_drop")
    assert f["proxy_faults"].get("drop_reply", 0) > 0 and f["proxy_faults"].get("throttle", 0) > 0, f


def test_clock_offset_was_applied(results):
    f = _fault(results, "clock_offset_plus60")
    assert "measured" in f["notes"], f["notes"]
    skew = float(f["notes"].split("measured ")[1].split("s off")[0])
    assert 50 <= skew <= 70, f["notes"]


def test_dynamodb_history_is_linearizable(results):
    lin = results["linearizability"]
    assert lin["ok"] is True, lin
    assert {"leader", "config", "initialize"} <= set(lin["keys"]), lin["keys"]
    assert lin["keys"]["leader"]["writes"] > 10


def test_no_two_nodes_believed_they_held_the_lease_at_once(results):
    lb = results["lease_beliefs"]
    assert lb["ok"] is True, lb["problems"]
    assert lb["held"] >= chaos.MIN_BELIEFS and len(lb["holders"]) >= 2, lb  # kill -9 of the leader moved it


def test_run_verdict(results):
    assert results["passed"] and results["rc"] == 0
