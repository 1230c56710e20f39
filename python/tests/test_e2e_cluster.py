"""End to end: real three-node Patroni + PostgreSQL clusters on Dynatroni (a local moto server).

Every test asserts on what PostgreSQL itself says (``pg_is_in_recovery()``, rows present), not only on Patroni's
view. Timing: ``failover_time`` 15 s (ttl 15 s, loop_wait = retry_timeout = 5 s).

Clusters (tools/cluster_harness.py):
  * ``cluster41``: 3 nodes, Patroni 4.1, shared by TestCore[4.1] and TestPatroni41 (module scope). Its nodes reach
    moto through the fault proxy (tools/fault_proxy.py: no rules unless a test sets them, its ``hang`` mode is how
    the DynamoDB-unreachable tests cut them off; its log is the test's record of which requests were held);
    patronictl and the test's own boto3 reads go to moto directly. It runs Patroni's watchdog
    (``testing`` driver, ``mode: required``) with the harness playing the hardware watchdog (timeout 12 s): a frozen
    leader is reset before its lease can be taken over, which is what makes "never two writable primaries" hold for
    a SIGSTOPped leader (docs/design.md, "What the design does not cover"). Without a watchdog the frozen primary's
    PostgreSQL resumes together with Patroni and commits writes for ~0.3 s after SIGCONT, until Patroni demotes it
    (measured with this harness; no DCS can prevent that). Before each test the ``healthy`` fixture restarts/resumes
    whatever an earlier test left down.
    Its nodes log their lease beliefs (``DYNATRONI_LEASE_LOG``); after each test the ``healthy41`` fixture checks
    that no two nodes ever believed they held the lease at once (tools/lease_beliefs.py).
  * ``TestCore[3.0.2]``: the same bootstrap/switchover/crash tests on Debian's Patroni 3.0.2 (its own cluster).
  * ``TestColdStart``: its own 2-node cluster (it stops everything).

The split-brain check (``Sampler``, in the harness, and the checker in tools/split_brain.py): one thread per
node, every 100 ms, on a persistent connection: ``select pg_is_in_recovery()`` and, if that says primary, one
INSERT (autocommit) returning its timeline. A node "accepts a write" when that INSERT is acknowledged
(committed). We assert that (0) at least MIN_ACKS writes were acknowledged, (1) no two nodes acknowledged writes
on one timeline and no older-timeline write was invoked after another node acknowledged a newer-timeline one,
(2) no two acknowledged writes on *different* nodes came back within 100 ms of each other, and (3) the sequence
of nodes whose writes were acknowledged changes at most as often as the test's planned role changes (A..A
B..B, never A B A). A node that only *reports* pg_is_in_recovery() = false but cannot commit is not counted: it
cannot diverge. python/tests/test_split_brain.py feeds the checker bad histories; the positive control
(python/tests/test_e2e_split_brain_control.py) shows it flags a real frozen leader without a watchdog.

Run:  /work/main/.venv-e2e/bin/python -m pytest python/tests/test_e2e_cluster.py -v  (as root)
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]

from tools import cluster_harness as h  # noqa: E402
from tools import lease_beliefs  # noqa: E402
from tools.fault_proxy import FaultProxy, read_log  # noqa: E402

FAILOVER_TIME = 15.0
TTL, LOOP_WAIT, RETRY_TIMEOUT = 15, 5, 5
# How long the fault proxy holds the leader's renewal in the "shorter than retry_timeout" test.
RENEWAL_HOLD = RETRY_TIMEOUT - 2
TABLE = "patroni"
# A crash is noticed one TTL after the last renewal this node *saw*; then Patroni's pre-promotion checks
# and `pg_ctl promote`. Allowed slack on top of the TTL for a loaded 2-core machine:
FAILOVER_SLACK = 6
# A new process (patronictl list) leaves a member out once its item's updated_at is 2 ttl + kMemberClockAllowance
# old by its clock (docs/design.md, "A new process's view of the members").
FRESH_READER_LIMIT = h.fresh_reader_limit(TTL)
# Acknowledged writes every split-brain check needs: the sampler writes every 100 ms while a node is primary,
# and each sampled test samples for at least a second before its fault and two seconds after the new primary;
# a planned handover (switchover, manual failover) waits for SIDE_ACKS writes on each side of it instead (a fast
# switchover once left only 8 writes in all: 3 before, 5 after).
MIN_ACKS = 10
SIDE_ACKS = MIN_ACKS

def _scope(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ----------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def fault(ddb, tmp_path_factory):
    """The fault proxy in front of moto (one listener for all of cluster41's nodes)."""
    log = tmp_path_factory.mktemp("fault-proxy") / "proxy.jsonl"
    with FaultProxy("127.0.0.1", ddb.port, clients=["nodes"], seed=23, log_path=str(log)) as p:
        yield p


@pytest.fixture(scope="module")
def proxy(fault):
    """The same fault proxy, as the DynamoDB-unreachable tests use it: set_mode("hang") cuts the nodes off."""
    yield fault


def _new_cluster(ddb, version: str, n: int = 3, endpoint: Optional[str] = None, **kw) -> h.Cluster:
    return h.Cluster(n, endpoint=endpoint or ddb.endpoint, ctl_endpoint=ddb.endpoint,
                     scope=_scope(f"e2e{version.replace('.', '')}"), failover_time=FAILOVER_TIME,
                     patroni=version, table=TABLE, **kw)


@pytest.fixture(scope="module")
def cluster41(ddb, proxy):
    c = _new_cluster(ddb, "4.1", endpoint=proxy.url("nodes"), watchdog=True, lease_log=True)
    with c:
        c.start_all()
        yield c


@pytest.fixture(scope="class")
def core_cluster(request, ddb):
    if request.param == "4.1":
        yield request.getfixturevalue("cluster41")
        return
    c = _new_cluster(ddb, request.param)
    with c:
        c.start_all()
        yield c


def ensure_healthy(c: h.Cluster, proxy: Optional[FaultProxy] = None, timeout: float = 180) -> str:
    """Undo what an earlier test left behind: proxy forwarding, nodes resumed and running; then wait."""
    if proxy is not None:
        proxy.set_mode("forward")
    for n in c.nodes:
        if n.paused:
            c.resume(n)
        if not n.patroni_pid:
            c.start(n)
    return c.wait_healthy(timeout)


@pytest.fixture
def healthy41(cluster41, proxy):
    """cluster41 healthy before the test; afterwards: no unexpected watchdog firing."""
    leader = ensure_healthy(cluster41, proxy)
    fired_before = {n.name: len(n.watchdog.fired) for n in cluster41.nodes}
    yield leader
    fired = {n.name: len(n.watchdog.fired) - fired_before[n.name] for n in cluster41.nodes}
    allowed = getattr(cluster41, "watchdog_expected", set())
    unexpected = {k: v for k, v in fired.items() if v and k not in allowed}
    cluster41.watchdog_expected = set()
    assert not unexpected, f"the watchdog fired unexpectedly: {unexpected}"
    assert_lease_beliefs_never_overlapped(cluster41)


@pytest.fixture(autouse=True)
def keep_logs_on_failure(request):
    """When a test fails, keep every open cluster's directory (logs, data) and say where it is."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        for obj in list(h._registry):
            if isinstance(obj, h.Cluster) and not obj.keep:
                obj.keep = True
                h.say(f"test failed: keeping {obj.base_dir} (Patroni logs: */patroni.log)")


# ----------------------------------------------------------------------------------------- helpers
def replicas_of(c: h.Cluster, leader: str) -> List[str]:
    return [n.name for n in c.nodes if n.name != leader]


def assert_roles(c: h.Cluster, primary: str, replicas: List[str], down: List[str] = ()) -> None:
    """PostgreSQL's own view: exactly `primary` is out of recovery; every node in `replicas` is in it."""
    roles = c.roles()
    assert roles[primary] is True, f"{primary} should be primary (pg_is_in_recovery = false): {roles}"
    for r in replicas:
        assert roles[r] is False, f"{r} should be a replica (pg_is_in_recovery = true): {roles}"
    for d in down:
        assert roles[d] is not True, f"{d} should not be a primary: {roles}"
    assert [n for n, p in roles.items() if p] == [primary], f"exactly one primary expected: {roles}"


def wait_follows(c: h.Cluster, replica: str, primary: str, timeout: float = 120) -> None:
    """Wait until `replica` is in recovery and streams from `primary` (pg_stat_replication on primary)."""
    h.wait_for(lambda: c.is_primary(replica) is False and replica in c.streaming_replicas(primary), timeout,
               f"{replica} to stream from {primary}")


def write_marker(c: h.Cluster, leader: str, table: str = "e2e_rows") -> str:
    c.query(leader, f"create table if not exists {table}(id serial primary key, marker text)")
    marker = uuid.uuid4().hex
    c.query(leader, f"insert into {table}(marker) values (%s)", (marker,))
    return marker


def marker_visible(c: h.Cluster, node: str, marker: str, table: str = "e2e_rows") -> bool:
    return bool(c.query(node, f"select 1 from {table} where marker = %s", (marker,)))


def assert_no_split_brain(sampler: h.Sampler, allowed_transitions: int, min_acks: int = MIN_ACKS) -> None:
    """The split-brain checker (tools/split_brain.py) on the sampler's acknowledged writes: fails on two
    writers at once, on A -> B -> A beyond `allowed_transitions`, and on fewer than `min_acks` writes."""
    problems = sampler.split_brain(allowed_transitions, min_acks)
    h.say(f"sampler: {sampler.summary()}")
    assert not problems, "split-brain check failed: " + "; ".join(p.message for p in problems[:10])


def assert_lease_beliefs_never_overlapped(c: h.Cluster) -> None:
    """What the nodes' plugins believed about the lease so far (DYNATRONI_LEASE_LOG): never two holders at once
    (tools/lease_beliefs.py), and at least one node held it."""
    problems = lease_beliefs.check(lease_beliefs.read([c.lease_log_path(n) for n in c.nodes]))
    assert not problems, "lease beliefs: " + "; ".join(p.message for p in problems[:5])


def wait_new_primary_after_crash(c: h.Cluster, crashed: List[str], t0: float) -> str:
    survivors = [n.name for n in c.nodes if n.name not in crashed]
    new = c.wait_primary(TTL + FAILOVER_SLACK + 10, survivors, f"a new primary among {', '.join(survivors)}")
    elapsed = time.monotonic() - t0
    h.say(f"new primary {new} accepted a write {elapsed:.1f}s after the crash")
    assert elapsed <= TTL + FAILOVER_SLACK, f"failover took {elapsed:.1f}s > ttl {TTL}s + {FAILOVER_SLACK}s"
    return new


# ----------------------------------------------------------------------------------------- tests
# 3.0.2 first, so that its cluster is gone before the shared 4.1 cluster starts (2 CPU cores).
@pytest.mark.parametrize("core_cluster", ["3.0.2", "4.1"], indirect=True, scope="class")
class TestCore:
    """Bootstrap, switchover and leader crash on Patroni 4.1 (PyPI) and Debian's Patroni 3.0.2."""

    def test_bootstrap(self, core_cluster):
        c = core_cluster
        leader = c.wait_healthy(240)
        replicas = replicas_of(c, leader)
        assert c.streaming_replicas(leader) == sorted(replicas)
        assert_roles(c, leader, replicas)
        assert c.leader_name() == leader
        marker = write_marker(c, leader)
        for r in replicas:
            h.wait_for(lambda r=r: marker_visible(c, r, marker), 30, f"the row on {r}")
        # and the cluster's items are in DynamoDB: leader, config, initialize, a member item per node
        keys = set(c.partition_items())
        assert {"leader", "config", "initialize"} <= keys, keys
        assert {f"members/{n.name}" for n in c.nodes} <= keys, keys

    def test_switchover(self, core_cluster, proxy):
        c = core_cluster
        leader = ensure_healthy(c, proxy if c.version == "4.1" else None)
        candidate = replicas_of(c, leader)[0]
        with h.Sampler(c) as sampler:
            sampler.wait_writes(leader, SIDE_ACKS, 30)  # acknowledged by the old leader
            out = c.patronictl("switchover", "--leader", leader, "--candidate", candidate, "--force").stdout
            h.say(out.strip().splitlines()[-1] if out.strip() else "(no output)")
            c.wait_primary(60, [candidate], f"{candidate} to accept writes")
            wait_follows(c, leader, candidate)
            sampler.wait_writes(candidate, SIDE_ACKS, 30)  # and by the new one
        assert_roles(c, candidate, replicas_of(c, candidate))
        assert c.leader_name() == candidate
        assert_no_split_brain(sampler, allowed_transitions=1)

    def test_leader_crash(self, core_cluster, proxy):
        c = core_cluster
        leader = ensure_healthy(c, proxy if c.version == "4.1" else None)
        marker = write_marker(c, leader)
        for r in replicas_of(c, leader):
            h.wait_for(lambda r=r: marker_visible(c, r, marker), 30, f"the row on {r}")
        with h.Sampler(c) as sampler:
            time.sleep(1)  # writes acknowledged by the old leader
            t0 = time.monotonic()
            c.crash(leader)
            new = wait_new_primary_after_crash(c, [leader], t0)
            time.sleep(2)  # exactly one, and it stays so (and acknowledges writes)
            assert_roles(c, new, [r for r in replicas_of(c, leader) if r != new], down=[leader])
        assert_no_split_brain(sampler, allowed_transitions=1)
        assert marker_visible(c, new, marker)
        item = c.leader_item()
        assert item["value"] == new and item["term"] >= 2, item
        # A new patronictl no longer lists the crashed node once FRESH_READER_LIMIT has passed since its last
        # member write, which was before t0; the second more covers nothing but a slewing clock.
        time.sleep(max(0.0, t0 + FRESH_READER_LIMIT + 1 - time.monotonic()))
        listed = {m["Member"]: m for m in json.loads(c.patronictl("list", "-f", "json").stdout)}
        assert leader not in listed, f"a new patronictl still lists the crashed {leader}: {listed[leader]}"
        assert sorted(listed) == sorted(replicas_of(c, leader)), listed
        assert all(m["State"] in ("running", "streaming") for m in listed.values()), listed
        # the crashed node comes back as a replica of the new leader
        c.start(leader)
        wait_follows(c, leader, new, 180)
        assert_roles(c, new, replicas_of(c, new))


class TestPatroni41:
    """Everything else, on the shared Patroni 4.1 cluster."""

    def test_failover_to_candidate(self, cluster41, healthy41):
        c, leader = cluster41, healthy41
        candidate = replicas_of(c, leader)[-1]
        with h.Sampler(c) as sampler:
            sampler.wait_writes(leader, SIDE_ACKS, 30)  # acknowledged by the old leader
            c.patronictl("failover", "--candidate", candidate, "--force")
            c.wait_primary(60, [candidate], f"{candidate} to accept writes")
            wait_follows(c, leader, candidate)
            sampler.wait_writes(candidate, SIDE_ACKS, 30)  # and by the new one
        assert_roles(c, candidate, replicas_of(c, candidate))
        assert_no_split_brain(sampler, allowed_transitions=1)

    def test_edit_config_reaches_every_node(self, cluster41, healthy41):
        c = cluster41
        value = f"{int(time.time()) % 50 + 5}MB"
        c.patronictl("edit-config", "--force", "-p", f"work_mem={value}")
        for n in c.nodes:
            h.wait_for(lambda n=n: c.query(n, "show work_mem")[0][0] == value, 3 * LOOP_WAIT + 10,
                       f"work_mem = {value} on {n.name}")
        config = json.loads(c.partition_items()["config"]["value"])
        assert config["postgresql"]["parameters"]["work_mem"] == value

    def test_pause_and_resume(self, cluster41, healthy41):
        c, leader = cluster41, healthy41
        c.patronictl("pause", "--wait")
        try:
            for n in c.nodes:
                h.wait_for(lambda n=n: c.rest(n).get("pause") is True, 30, f"{n.name} to report pause")
            assert "Maintenance mode: on" in c.patronictl("list").stdout
            # PostgreSQL keeps running unmanaged, roles unchanged
            assert_roles(c, leader, replicas_of(c, leader))
            assert c.try_write(leader)
        finally:
            c.patronictl("resume", "--wait")
        for n in c.nodes:
            h.wait_for(lambda n=n: not c.rest(n).get("pause"), 30, f"{n.name} to report resume")
        assert "Maintenance mode" not in c.patronictl("list").stdout
        assert_roles(c, leader, replicas_of(c, leader))

    def test_synchronous_mode_strict_switchover_loses_nothing(self, cluster41, healthy41):
        c, leader = cluster41, healthy41
        c.edit_config({"synchronous_mode": True, "synchronous_mode_strict": True})
        try:
            def sync_standby() -> Optional[str]:
                rows = c.query(leader, "select application_name from pg_stat_replication where sync_state = 'sync'")
                return rows[0][0] if rows else None
            standby = h.wait_for(sync_standby, 3 * LOOP_WAIT + 20, "a synchronous standby")
            c.query(leader, "create table if not exists sync_rows(id bigint primary key)")
            acked: List[int] = []
            errors: List[str] = []
            stop = threading.Event()

            def writer() -> None:
                i, conn = 0, None
                while not stop.is_set():
                    try:
                        if conn is None:
                            target = next((n for n in c.nodes if c.is_primary(n)), None)
                            if target is None:
                                time.sleep(0.05)
                                continue
                            conn = c.connect(target, statement_timeout_ms=0)
                        i += 1
                        conn.execute("insert into sync_rows values (%s)", (i,))
                        acked.append(i)  # the commit returned: acknowledged to the client
                    except Exception as e:  # noqa: BLE001 - failovers break connections
                        errors.append(type(e).__name__)
                        try:
                            conn.close()
                        except Exception:  # noqa: BLE001
                            pass
                        conn = None
                        time.sleep(0.05)
                if conn is not None:
                    conn.close()

            t = threading.Thread(target=writer, daemon=True)
            t.start()
            time.sleep(2)
            before = len(acked)
            c.patronictl("switchover", "--leader", leader, "--candidate", standby, "--force")
            c.wait_primary(60, [standby], f"{standby} to accept writes")
            h.wait_for(lambda: len(acked) > before + 20, 30, "writes acknowledged by the new primary")
            stop.set()
            t.join(30)
            present = {r[0] for r in c.query(standby, "select id from sync_rows")}
            lost = [i for i in acked if i not in present]
            h.say(f"{len(acked)} rows acknowledged ({before} before the switchover), {len(errors)} errors; "
                  f"lost: {len(lost)}")
            assert before > 0 and len(acked) > before
            assert not lost, f"acknowledged rows missing on the new primary {standby}: {lost[:20]}"
            assert_roles(c, standby, [])
        finally:
            c.edit_config({"synchronous_mode": False, "synchronous_mode_strict": False})

    def test_no_quorum_needed_lone_survivor_leads(self, cluster41, healthy41):
        c, leader = cluster41, healthy41
        victim = replicas_of(c, leader)[0]
        survivor = replicas_of(c, leader)[1]
        with h.Sampler(c) as sampler:
            time.sleep(1)  # writes acknowledged by the old leader
            t0 = time.monotonic()
            c.crash(leader)
            c.crash(victim)
            new = wait_new_primary_after_crash(c, [leader, victim], t0)
            time.sleep(2)  # writes acknowledged by the new one
        assert new == survivor
        assert c.try_write(survivor)
        assert_roles(c, survivor, [], down=[leader, victim])
        assert_no_split_brain(sampler, allowed_transitions=1)

    def test_paused_leader_is_replaced_and_follows_after_sigcont(self, cluster41, healthy41):
        c, leader = cluster41, healthy41
        cluster41.watchdog_expected = {leader}  # the frozen leader is reset by its watchdog, by design
        others = replicas_of(c, leader)
        with h.Sampler(c) as sampler:
            t0 = time.monotonic()
            c.pause(leader)
            new = c.wait_primary(TTL + FAILOVER_SLACK + 10, others, "a new leader while the old one is frozen")
            h.say(f"new leader {new} after {time.monotonic() - t0:.1f}s")
            assert time.monotonic() - t0 <= TTL + FAILOVER_SLACK
            time.sleep(max(0.0, TTL + 5 - (time.monotonic() - t0)))  # frozen for longer than the TTL
            c.resume(leader)
            wait_follows(c, leader, new, 120)
            time.sleep(1)
        assert_roles(c, new, replicas_of(c, new))
        assert c.leader_name() == new
        assert c.node(leader).watchdog.fired, "the frozen leader's watchdog should have fired"
        assert_no_split_brain(sampler, allowed_transitions=1)

    def test_dynamodb_unreachable_shorter_than_retry_timeout_no_demotion(self, cluster41, healthy41, fault):
        """The leader's renewal (its UpdateItem of the leader item) meets a DynamoDB that does not answer for
        RENEWAL_HOLD < retry_timeout seconds: the fault proxy holds every leader UpdateItem from the first one it
        sees until RENEWAL_HOLD seconds later, then resets them. The renewal must get through once the hold
        ends, the leader must not demote and nobody else may take over."""
        c, leader = cluster41, healthy41
        started = c.query(leader, "select pg_postmaster_start_time()")[0][0]
        rule = {"name": "hold-renewal", "action": "hang", "ops": ["UpdateItem"], "keys": ["leader"],
                "window": RENEWAL_HOLD}
        with h.Sampler(c) as sampler:
            time.sleep(1)
            t0 = time.monotonic()
            fault.set_rules([rule])
            try:
                # the next renewal comes within loop_wait (plus a loop's own time)
                h.wait_for(lambda: fault.rules()[0]["injected"] >= 1, LOOP_WAIT + RETRY_TIMEOUT + 5,
                           f"{leader}'s renewal to reach the fault proxy")
                time.sleep(RENEWAL_HOLD + 2 * LOOP_WAIT + 2)  # the hold, then two more renewals
            finally:
                fault.clear()
        held = sorted((r for r in read_log(fault.log_path) if r["t_invoke"] >= t0 and r["fault"] == "hang"),
                      key=lambda r: r["t_invoke"])
        assert held and all(r["op"] == "UpdateItem" and r["key"] == "leader" for r in held), held
        assert all(r.get("values", {}).get(":val", leader) == leader for r in held), held
        hold_end = held[0]["held_until"]
        renewed = [r for r in read_log(fault.log_path) if r["op"] == "UpdateItem" and r["key"] == "leader"
                   and r["t_invoke"] >= hold_end and r["outcome"] == "ok"]
        h.say(f"held {len(held)} leader update(s) of {leader}, the first for {hold_end - held[0]['t_invoke']:.1f}s "
              f"(retry_timeout {RETRY_TIMEOUT}s); {len(renewed)} renewal(s) after the hold")
        assert renewed and all(r["item"]["value"] == leader for r in renewed), renewed[:3]
        probes = [s for s in sampler.samples if s.node == leader and s.t_start >= t0]
        assert probes and all(s.primary is True and s.wrote for s in probes), \
            [s for s in probes if not (s.primary and s.wrote)][:5]
        assert_roles(c, leader, replicas_of(c, leader))
        assert c.query(leader, "select pg_postmaster_start_time()")[0][0] == started, "PostgreSQL restarted"
        assert c.leader_name() == leader
        assert_no_split_brain(sampler, allowed_transitions=0)

    def test_dynamodb_unreachable_longer_with_failsafe_primary_keeps_running(self, cluster41, healthy41, proxy):
        c, leader = cluster41, healthy41
        c.edit_config({"failsafe_mode": True})
        try:
            h.wait_for(lambda: "failsafe" in c.partition_items(), 3 * LOOP_WAIT + 10,
                       "the leader to publish the failsafe member list")
            with h.Sampler(c) as sampler:
                time.sleep(1)
                t0 = time.monotonic()
                proxy.set_mode("hang")
                time.sleep(TTL + 10)
                proxy.set_mode("forward")
                t1 = time.monotonic()
                h.say(f"DynamoDB was unreachable for {t1 - t0:.1f}s (ttl {TTL}s)")
                time.sleep(LOOP_WAIT + 2)
            probes = [s for s in sampler.samples if s.node == leader and s.t_start >= t0]
            bad = [s for s in probes if not (s.primary is True and s.wrote)]
            assert probes and not bad, f"the primary stopped accepting writes: {bad[:5]}"
            assert_roles(c, leader, replicas_of(c, leader))
            assert_no_split_brain(sampler, allowed_transitions=0)
            h.wait_for(lambda: c.leader_name() == leader, 3 * LOOP_WAIT, f"{leader} to renew the lease again")
        finally:
            proxy.set_mode("forward")
            c.edit_config({"failsafe_mode": False})

    def test_dynamodb_unreachable_longer_without_failsafe_primary_demotes(self, cluster41, healthy41, proxy):
        c, leader = cluster41, healthy41
        with h.Sampler(c) as sampler:
            time.sleep(1)
            t0 = time.monotonic()
            proxy.set_mode("hang")
            try:
                h.wait_for(lambda: c.is_primary(leader) is not True, TTL + 5,
                           f"{leader} to stop being a primary while DynamoDB is unreachable")
                t_demoted = time.monotonic()
                demoted = t_demoted - t0
                time.sleep(max(0.0, TTL + 5 - (time.monotonic() - t0)))
                assert c.primaries() == [], f"no node may be primary without DynamoDB: {c.roles()}"
            finally:
                proxy.set_mode("forward")
                t_restore = time.monotonic()
            new = c.wait_healthy(120)
        during = [s for s in sampler.samples if s.wrote and t0 <= s.t_end <= t_restore]
        last_write = max((s.t_end for s in during), default=t0)
        h.say(f"{leader} demoted {demoted:.1f}s after DynamoDB became unreachable (outage {t_restore - t0:.1f}s); "
              f"its last acknowledged write {last_write - t0:.1f}s after; leader afterwards: {new}")
        # During the outage only the old primary acknowledged writes, and it stopped doing so before any other
        # node could have taken its lease over (ttl after its last renewal, which was before t0).
        assert {s.node for s in during} <= {leader}, during[-3:]
        assert last_write - t0 < TTL - 1, f"{leader} accepted writes {last_write - t0:.1f}s into the outage"
        assert_no_split_brain(sampler, allowed_transitions=1)
        # Patroni kicks the watchdog only after a successful leader update: with the outage starting right after
        # a kick, its loop (loop_wait, then a DCS call failing after retry_timeout, then a fast stop of PostgreSQL
        # before it disarms the watchdog) can outlast the watchdog timeout, as it would with any DCS. That reset
        # is allowed here, but only once the node had already stopped being a primary on its own.
        fires = [t for t in c.node(leader).watchdog.fired if t >= t0]
        assert all(t >= t_demoted for t in fires), \
            f"the watchdog had to reset {leader} before it demoted itself ({[round(t - t0, 1) for t in fires]}s)"
        if fires:
            h.say(f"watchdog of {leader} fired {fires[0] - t0:.1f}s into the outage, after the demotion")
            c.watchdog_expected = {leader}

    def test_remove_deletes_the_cluster_items(self, cluster41, healthy41):
        c = cluster41
        assert c.partition_items(), "the cluster should have items before remove"
        c.stop_all()
        out = c.patronictl("remove", c.scope, input=f"{c.scope}\nYes I am aware\n")
        h.say(out.stdout.strip()[-200:])
        assert c.partition_items() == {}


class TestColdStart:
    """Stop everything; a replica that is behind the last leader's recorded position must not promote."""

    def test_stale_replica_does_not_promote_then_up_to_date_node_leads(self, ddb):
        c = _new_cluster(ddb, "4.1", n=2, dynamic={"maximum_lag_on_failover": 256 * 1024})
        with c:
            c.start_all()
            leader = c.wait_healthy(240)
            replica = replicas_of(c, leader)[0]
            c.query(leader, "create table cold(id bigint, pad text)")
            c.query(leader, "insert into cold select g, 'before' from generate_series(1, 1000) g")
            h.wait_for(lambda: c.query(replica, "select count(*) from cold")[0][0] == 1000, 30, "rows on the replica")
            c.stop(replica)
            c.query(leader, "insert into cold select g, repeat('x', 200) from generate_series(1, 20000) g")
            leader_lsn = c.wal_lsn(leader)
            c.stop(leader)
            status = c.partition_items().get("status", {}).get("value", "")
            h.say(f"leader stopped at LSN {leader_lsn}; status item: {status[:120]}")
            assert "leader" not in c.partition_items() or "value" not in c.partition_items()["leader"]

            c.start(replica)
            replica_lsn = h.wait_for(lambda: c.wal_lsn(replica), 60, f"{replica}'s PostgreSQL to answer")
            h.say(f"{replica} is {leader_lsn - replica_lsn} bytes behind the last leader position")
            assert leader_lsn - replica_lsn > 256 * 1024
            deadline = time.monotonic() + TTL + 3 * LOOP_WAIT
            while time.monotonic() < deadline:  # it must stay a replica, and nobody may hold the lease
                assert c.is_primary(replica) is not True, f"the stale {replica} promoted itself"
                time.sleep(0.5)
            assert c.leader_name() is None
            # Patroni says why (4.1: "My wal position exceeds maximum replication lag")
            assert "exceeds maximum replication lag" in c.node(replica).log_path.read_text()

            c.start(leader)
            assert c.wait_healthy(180) == leader
            h.wait_for(lambda: c.query(replica, "select count(*) from cold")[0][0] == 21000, 60,
                       "every row on the replica")
            assert_roles(c, leader, [replica])
