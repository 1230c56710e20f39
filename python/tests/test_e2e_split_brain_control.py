"""Positive control for the split-brain checker (tools/split_brain.py) on a real cluster: a real second primary
must be flagged.

Two primaries are possible when the leader's Patroni hangs while its PostgreSQL keeps accepting writes and no
watchdog resets the machine: the frozen Patroni neither renews the lease nor demotes, the replica takes the
lease over after ttl and promotes (timeline 2), and the old primary keeps committing on timeline 1. That is
what Patroni's watchdog is for (docs/design.md), so this cluster runs without one: 2 nodes, Patroni 4.1,
failover_time 15, on moto. The harness's Sampler writes through both nodes while the leader's Patroni is
stopped with SIGSTOP (its process group only); the test asserts that PostgreSQL itself reported two primaries,
that the checker flagged the old primary's writes (timeline order), and that `assert_no_split_brain` fails on
that history; and that the nodes' lease beliefs (DYNATRONI_LEASE_LOG, tools/lease_beliefs.py) never overlapped:
the lease held, the missing watchdog let PostgreSQL split. About 40 s. Run as root.
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

from tools import cluster_harness as h  # noqa: E402
from tools import lease_beliefs  # noqa: E402
from test_e2e_cluster import assert_no_split_brain  # noqa: E402

FAILOVER_TIME = 15.0
TABLE = "patroni"


def test_frozen_patroni_without_watchdog_is_flagged_as_split_brain(ddb):
    c = h.Cluster(2, endpoint=ddb.endpoint, scope=f"sbctl-{uuid.uuid4().hex[:8]}", failover_time=FAILOVER_TIME,
                  table=TABLE, watchdog=False, lease_log=True)
    with c:
        c.start_all()
        leader = c.wait_healthy(240)
        replica = next(n.name for n in c.nodes if n.name != leader)
        both_primary = False
        with h.Sampler(c) as sampler:
            time.sleep(1)
            c.pause(leader, patroni_only=True)
            try:
                def old_primary_wrote_after_new() -> bool:
                    return any(p.rule == "timeline_order" for p in sampler.split_brain(min_acks=0))
                # the replica promotes one ttl after the last renewal; the old primary keeps committing
                h.wait_for(old_primary_wrote_after_new, 3 * FAILOVER_TIME + 30,
                           f"{replica} to promote while {leader}'s PostgreSQL still commits")
                roles = c.roles()
                both_primary = roles[leader] is True and roles[replica] is True
                h.say(f"PostgreSQL's own view while {leader}'s Patroni is frozen: {roles}")
                time.sleep(1)  # a few more writes on both
            finally:
                c.resume(leader)
        problems = sampler.split_brain(allowed_transitions=1)
        h.say(f"sampler: {sampler.summary()}; problems: {[p.message for p in problems[:3]]}")
        assert both_primary, "the control did not produce two primaries: it proves nothing about the checker"
        flagged = {p.rule for p in problems}
        assert "timeline_order" in flagged and "too_few_acks" not in flagged, problems[:5]
        timelines: dict = {}
        for w in sampler.writes():
            timelines.setdefault(w.node, set()).add(w.timeline)
        h.say(f"timelines of the acknowledged writes: {timelines}")
        assert set(timelines) == {leader, replica} and max(timelines[leader]) < max(timelines[replica]), timelines
        with pytest.raises(AssertionError, match="split-brain check failed"):
            assert_no_split_brain(sampler, allowed_transitions=1)
        # The lease itself stayed exclusive: the frozen node's belief ended at its holder bound, before the
        # replica acquired. The two primaries come from the frozen Patroni that nothing reset, not the lease.
        beliefs = lease_beliefs.read([c.lease_log_path(n) for n in c.nodes])
        assert lease_beliefs.check(beliefs, min_held=2, min_holders=2) == [], beliefs
