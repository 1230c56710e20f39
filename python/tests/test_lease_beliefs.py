"""The lease-belief checker (tools/lease_beliefs.py) and the plugin's belief records (DYNATRONI_LEASE_LOG,
python/dynatroni/lease_log.py).

1. Synthetic histories: clean handovers (by expiry, by release, a refused renewal) pass; a node that believes
   it renewed after another took over, a takeover before the holder bound, and a history with too few beliefs
   are flagged.
2. Real plugin instances on moto behind the fault proxy (its log is the DynamoDB history): two nodes with the
   belief log on. Unbroken, the follower takes over only after the holder's lease expired: no overlap, and the
   DynamoDB history is linearizable. Broken (a contender that does not wait out the lease: it deletes the
   leader item, then acquires), the DynamoDB history is still linearizable, and only the belief checker flags
   it. moto only: the subject is the plugin's lease, not the server; about 15 s (one ttl of 9 s).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List

import pytest

from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)

from tools import fault_proxy  # noqa: E402
from tools import lease_beliefs  # noqa: E402
from tools import linearizability  # noqa: E402

FAILOVER_TIME = 9  # ttl 9 s, loop_wait = retry_timeout = 3 s
REPO = Path(__file__).resolve().parents[2]


def rec(node: str, op: str, t_call: float, t_return: float, result: str = "ok", bound=None, pid: int = 1):
    held = bound is not None
    return lease_beliefs.Record(node, pid, "leader", op, t_call, t_return, result, held, bound)


def rules(problems) -> set:
    return {p.rule for p in problems}


# ---- 1. synthetic histories (times in seconds; ttl 9, margin ~2: a bound is send + 7)
HANDOVER_BY_EXPIRY = [rec("a", "acquire", 0.0, 0.1, bound=7.0), rec("a", "renew", 3.0, 3.1, bound=10.0),
                      rec("b", "acquire", 5.0, 5.1, "refused"), rec("b", "acquire", 13.0, 13.1, bound=20.0),
                      rec("a", "renew", 14.0, 14.1, "refused")]


def test_handover_after_the_holder_bound_passes():
    assert lease_beliefs.check(HANDOVER_BY_EXPIRY, min_holders=2) == []


def test_handover_by_release_passes():
    history = [rec("a", "acquire", 0.0, 0.1, bound=7.0), rec("a", "renew", 3.0, 3.1, bound=10.0),
               rec("a", "release", 4.0, 4.3),  # b acquires while a's release is in flight: a gave up at 4.0
               rec("b", "acquire", 4.1, 4.2, bound=11.0)]
    assert lease_beliefs.check(history, min_holders=2) == []


def test_a_refused_or_failed_renewal_ends_or_keeps_the_belief_as_the_core_says():
    history = [rec("a", "acquire", 0.0, 0.1, bound=7.0), rec("a", "renew", 3.0, 6.0, "error", bound=7.0),
               rec("a", "renew", 6.5, 6.6, "refused"), rec("b", "acquire", 6.7, 6.8, bound=13.0)]
    assert lease_beliefs.check(history, min_holders=2) == []
    # the same error, but b's takeover returned before a's bound: flagged
    history[-2:] = [rec("b", "acquire", 6.7, 6.8, bound=13.0), rec("a", "renew", 6.5, 7.5, "refused")]
    found = lease_beliefs.check(history)
    assert rules(found) == {"overlap"}, found
    assert "a believed it held 'leader' until 7.000" in found[0].message and "b's acquire" in found[0].message


def test_a_renewal_believed_after_the_takeover_is_flagged():
    # a's renewal was refused by DynamoDB, but a believes it renewed (the bug fixed in a6ab4ff)
    history = HANDOVER_BY_EXPIRY[:4] + [rec("a", "renew", 12.9, 13.2, "ok", bound=19.9)]
    found = lease_beliefs.check(history)
    assert rules(found) == {"overlap"}, found
    assert "b believed it held 'leader' until 20.000" in found[0].message


def test_a_takeover_before_the_holder_bound_is_flagged():
    history = HANDOVER_BY_EXPIRY[:2] + [rec("b", "acquire", 8.0, 8.1, bound=15.0)]
    found = lease_beliefs.check(history)
    assert rules(found) == {"overlap"} and "1.900s together" in found[0].message, found


def test_the_same_node_restarted_is_not_an_overlap():
    history = [rec("a", "acquire", 0.0, 0.1, bound=7.0), rec("a", "renew", 1.0, 1.1, bound=8.0, pid=2)]
    assert lease_beliefs.check(history) == []


@pytest.mark.parametrize("history,min_holders", [([], 1), ([rec("a", "acquire", 0, 0.1, "refused")], 1),
                                                 (HANDOVER_BY_EXPIRY[:2], 2)])
def test_too_few_beliefs_fail(history, min_holders):
    found = lease_beliefs.check(history, min_holders=min_holders)
    assert rules(found) == {"too_few_beliefs"}, found


def test_a_malformed_record_names_the_file_line_and_fields(tmp_path):
    path = tmp_path / "lease.jsonl"
    path.write_text(json.dumps({"node": "a", "op": "renew"}) + "\n")
    with pytest.raises(ValueError, match=r"lease.jsonl:1: not a lease record .*expected JSON with node, pid"):
        lease_beliefs.read([path])


def test_the_command_exits_1_on_an_overlap(tmp_path, capsys):
    path = tmp_path / "lease.jsonl"
    history = HANDOVER_BY_EXPIRY[:2] + [rec("b", "acquire", 8.0, 8.1, bound=15.0)]
    path.write_text("".join(json.dumps(r.__dict__) + "\n" for r in history))
    assert lease_beliefs.main([str(path)]) == 1
    assert "overlap: a believed" in capsys.readouterr().out
    path.write_text("".join(json.dumps(r.__dict__) + "\n" for r in HANDOVER_BY_EXPIRY))
    assert lease_beliefs.main([str(path)]) == 0


# ---- 2. real plugin instances on moto
def _run(moto_ddb, make_dcs_moto, scope, tmp_path, monkeypatch, broken: bool):
    """a acquires and renews; b takes over (unbroken: by waiting out the lease; broken: at once, by deleting
    the leader item first); then a's next renewal. Returns (belief records, linearizability result)."""
    lease_log_path = tmp_path / "lease.jsonl"
    monkeypatch.setenv("DYNATRONI_LEASE_LOG", str(lease_log_path))
    host, port = moto_ddb.endpoint.rsplit("//", 1)[1].rsplit(":", 1)
    proxy_log = tmp_path / "proxy.jsonl"
    with fault_proxy.FaultProxy(host, int(port), clients=["a", "b"], seed=23, log_path=str(proxy_log)) as proxy:
        a = make_dcs_moto("a", failover_time=FAILOVER_TIME, endpoint=proxy.url("a"))
        b = make_dcs_moto("b", failover_time=FAILOVER_TIME, endpoint=proxy.url("b"))
        assert type(a._core).__name__ == "LoggedCore", "DYNATRONI_LEASE_LOG did not turn the belief log on"
        a.get_cluster(), b.get_cluster()
        assert compat_acquire(a) is True
        cluster = a.get_cluster()
        assert compat_update_leader(a, cluster, 0x3000000) is True
        assert b.get_cluster().leader.name == "a" and compat_acquire(b) is False
        if broken:
            boto_client(proxy.url("b")).delete_item(
                TableName=moto_ddb.table, Key={"cluster_name": {"S": scope}, "key": {"S": "leader"}})
            b.get_cluster()
            assert compat_acquire(b) is True
        else:
            deadline = time.monotonic() + 3 * FAILOVER_TIME
            while True:
                b.get_cluster()
                if compat_acquire(b):
                    break
                assert time.monotonic() < deadline, "b never took the expired lease over"
                time.sleep(0.2)
        assert compat_update_leader(a, a.get_cluster(), 0x3000100) is False  # a learns it lost
    records = lease_beliefs.read([lease_log_path])
    lin = linearizability.check_records([r for r in fault_proxy.read_log(str(proxy_log))
                                         if r.get("partition") == scope], keys=["leader"])
    return records, lin


def test_plugin_beliefs_of_a_clean_takeover_never_overlap(moto_ddb, make_dcs_moto, scope, tmp_path, monkeypatch):
    records, lin = _run(moto_ddb, make_dcs_moto, scope, tmp_path, monkeypatch, broken=False)
    assert {(r.node, r.op, r.result) for r in records} >= {("a", "acquire", "ok"), ("a", "renew", "ok"),
                                                            ("b", "acquire", "refused"), ("b", "acquire", "ok"),
                                                            ("a", "renew", "refused")}, records
    assert all(r.bound > r.t_return for r in records if r.held), records
    assert lease_beliefs.check(records, min_held=3, min_holders=2) == []
    assert lin["ok"] is True, lin


def test_plugin_beliefs_of_a_broken_takeover_overlap_while_dynamodb_stays_linearizable(
        moto_ddb, make_dcs_moto, scope, tmp_path, monkeypatch):
    records, lin = _run(moto_ddb, make_dcs_moto, scope, tmp_path, monkeypatch, broken=True)
    assert lin["ok"] is True, lin  # the store did nothing wrong: its history cannot show this
    found: List = lease_beliefs.check(records, min_held=3, min_holders=2)
    assert rules(found) == {"overlap"}, found
    assert found[0].message.startswith("a believed it held")


def test_reliability_md_states_the_belief_checks_minimum():
    """docs/reliability.md's claims about the chaos run's belief check match the code."""
    from tools import chaos
    doc = " ".join((REPO / "docs" / "reliability.md").read_text().split())
    assert f"when fewer than {chaos.MIN_BELIEFS} records said held" in doc
    assert "DYNATRONI_LEASE_LOG=FILE" in doc
    from dynatroni import lease_log
    assert lease_log.ENV == "DYNATRONI_LEASE_LOG"
