"""The DynamoDB table deleted, then created again, under a running cluster (issue 23).

Two Patroni 4.1 + PostgreSQL 15 nodes on moto, failover_time 9. The table is deleted while node A leads: every call
answers ResourceNotFoundException, A's next renewal or cluster load fails and Patroni demotes it; no node promotes
(nobody can write a lease), and no Patroni process exits (a crash loop under systemd would start with one). Then the
table is created again, empty: no `initialize` key, no leader, no config. Patroni must not take that for a new
cluster: no node bootstraps (initdb) or exits on a "system ID mismatch"; a node takes the free lease, writes the
`initialize` key again with the cluster's existing system identifier, and the data written before the deletion is
still there. Meanwhile an expired lease wakes a replica's HA loop once (it used to wake it after every failed
cluster load: a loop of ~250 cycles a second against DynamoDB). About 40 s. Run as root.
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[2]

from tools import cluster_harness as h  # noqa: E402

FAILOVER_TIME = 9.0
TABLE = "patroni-gone"
# Log lines of a node that bootstraps a new cluster or gives up on the old one.
REINIT = ("trying to bootstrap a new cluster", "initialized a new cluster", "running bootstrap script",
          "system ID mismatch", "aborting start", "removing initialize key")


def _items(ddb, scope: str) -> Dict[str, dict]:
    client = h.boto_client(ddb.endpoint)
    out = client.query(TableName=TABLE, KeyConditionExpression="cluster_name = :c",
                       ExpressionAttributeValues={":c": {"S": scope}}, ConsistentRead=True)
    return {it["key"]["S"]: it for it in out["Items"]}


def test_table_deleted_and_recreated_under_a_running_cluster(ddb):
    scope = f"gone-{uuid.uuid4().hex[:8]}"
    c = h.Cluster(2, endpoint=ddb.endpoint, scope=scope, failover_time=FAILOVER_TIME, table=TABLE)
    with c:
        c.start_all()
        leader = c.wait_healthy(120)
        assert c.try_write(leader, note="before the table went")
        sysid = {n.name: c.query(n, "select system_identifier from pg_control_system()")[0][0] for n in c.nodes}
        assert len(set(sysid.values())) == 1, sysid
        before = _items(ddb, scope)
        assert before["initialize"]["value"]["S"] == str(next(iter(sysid.values())))
        patroni_pids = {n.name: n.patroni_pid for n in c.nodes}
        starts = {n.name: len(n.log_path.read_text(errors="replace")) for n in c.nodes}

        def alive() -> None:
            for n in c.nodes:
                assert n.patroni_pid == patroni_pids[n.name], f"{n.name}'s Patroni exited:\n{c.log_tail(n)}"

        # 1. The table goes: the leader demotes, nobody promotes, every Patroni keeps running.
        h.boto_client(ddb.endpoint).delete_table(TableName=TABLE)
        h.wait_for(lambda: not c.is_primary(leader), 6 * FAILOVER_TIME, f"{leader} to demote")
        end = time.monotonic() + 2 * FAILOVER_TIME
        seen: List[str] = []
        while time.monotonic() < end:
            seen += c.primaries()
            alive()
            time.sleep(0.5)
        assert not seen, f"a node promoted with the table gone: {seen}"
        text = c.node(leader).log_path.read_text(errors="replace")[starts[leader]:]
        assert "ResourceNotFoundException" in text and "Patroni demotes this primary now" in text, text[-3000:]
        for n in c.nodes:  # an expired lease wakes a node's HA loop once, not after every failed cluster load
            text = n.log_path.read_text(errors="replace")[starts[n.name]:]
            wakes = text.count("waking the HA loop: leader lease expired")
            assert wakes <= 1, f"{n.name} woke its HA loop {wakes} times for one expired lease"

        # 2. The table comes back empty: the cluster carries on with its own data, nobody re-initializes it.
        h.create_table(ddb.endpoint, TABLE)
        new_leader = c.wait_primary(6 * FAILOVER_TIME)
        h.wait_for(lambda: "initialize" in _items(ddb, scope), 4 * FAILOVER_TIME, "the initialize key written again")
        after = _items(ddb, scope)
        assert after["initialize"]["value"]["S"] == before["initialize"]["value"]["S"]
        assert after["leader"]["value"]["S"] == new_leader
        for n in c.nodes:
            if c.is_primary(n) is not None:
                assert c.query(n, "select system_identifier from pg_control_system()")[0][0] == sysid[n.name]
        rows = c.query(new_leader, f"select count(*) from {h.PROBE_TABLE} where note = 'before the table went'")
        assert rows[0][0] >= 1, "the data written before the deletion is gone"
        alive()
        for n in c.nodes:
            text = n.log_path.read_text(errors="replace")[starts[n.name]:]
            bad = [line for line in text.splitlines() if any(s in line for s in REINIT)]
            assert not bad, f"{n.name}: {bad}"
        print(f"leader {leader} demoted; after the table came back {new_leader} leads with system id "
              f"{after['initialize']['value']['S']}")
