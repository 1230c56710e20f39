"""The short chaos run (tools/chaos.py --short) as a CI test: a real 3-node Patroni 4.1 cluster in
`synchronous_mode: strict` with the testing watchdog, behind the fault proxy, failover_time 15; faults: kill -9 of
the leader, throttling + 500s + dropped write replies, and the clock fault: the synchronous standby's wall clock
stepped +60 s while its Patroni runs (libfaketime timestamp file), kill -9 of the leader so the skewed node is
promoted, and its clock stepped back while it holds the lease (the fault's record of what it did is asserted).
A checker samples pg_is_in_recovery() on every node and writes numbered rows through whichever node is primary.

Asserted per fault: no split-brain interval, no acknowledged row lost, a writable primary within
ttl + loop_wait + retry_timeout + 10 s of the fault; the proxy's DynamoDB history is linearizable per key
(leader, sync, failover, config, initialize); and what the nodes believed about the lease (each plugin's
DYNATRONI_LEASE_LOG records) never overlapped across nodes, with every node seen leading among the holders.
About 2-3 minutes. Run as root.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

from tools import chaos  # noqa: E402


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


def test_clock_fault_stepped_the_sync_standbys_clock_mid_run_and_it_took_over(results):
    """The clock fault's record: it chose the synchronous standby (its role on /cluster, and the sync item named
    it), stepped that node's wall clock +60 s while its Patroni ran (the same pid before and after, the log clock
    measured at the real time before and 60 s off after), killed the leader after the step, the skewed node
    became the leader, and its clock was stepped back to the real time while it held the lease."""
    f = _fault(results, "clock_offset_plus60")
    rec = f["clock"]
    assert rec, "the clock fault recorded nothing: it did nothing"
    node, steps = rec["node"], rec["steps"]
    assert rec["roles"][node] == "sync_standby" and rec["sync_item_standby"] == node, rec
    assert len(steps) == 2, rec
    first, back = steps
    # the forward step, on the running synchronous standby
    assert first["offset_s"] == 60 and first["role"] == "sync_standby", first
    assert abs(first["before_s"]) <= 30, f"{node}'s clock was not at the real time before the step: {first}"
    assert abs(first["measured_s"] - 60) <= 10, f"{node}'s Patroni clock did not move +60 s: {first}"
    assert first["patroni_pid"] and first["patroni_pid"] == first["patroni_pid_after"], first
    # the failover, while the clock was off: the leader died after the step and the skewed node took over
    assert rec["leader_killed"] == f["leader_before"] != node, rec
    assert rec["role_at_kill"] == "sync_standby", f"{node} was not the synchronous standby when the leader died: {rec}"
    assert first["t_mono"] < rec["t_kill"] < rec["t_new_leader"], rec
    assert rec["new_leader"] == node, f"the skewed synchronous standby was not promoted: {rec}"
    # the backward step, while it led, on the same process
    assert back["offset_s"] == 0 and back["role"] == "leader", back
    assert rec["t_new_leader"] < back["t_mono"], rec
    assert abs(back["measured_s"]) <= 10, f"{node}'s Patroni clock did not step back: {back}"
    assert back["patroni_pid"] == back["patroni_pid_after"] == first["patroni_pid"] == rec["patroni_pid_end"], rec


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
