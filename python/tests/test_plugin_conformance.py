"""Conformance of the DynamoDB plugin with Patroni's AbstractDCS contract.

Every plugin instance is built by Patroni's own ``get_dcs`` (after ``dynatroni.patroni_loader.install()``) and
talks to a real local DynamoDB server: each test runs against moto and against dynalite (the ``ddb`` fixture).
What the plugin stored is checked independently with boto3. Runs on Patroni 4.1 and on Debian's Patroni 3.0.2
(see plugin_harness.py for the few calls whose signature differs).
"""
from __future__ import annotations

import glob
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from patroni.dcs import Cluster, Leader, Member
from patroni.exceptions import DCSError

from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)
from plugin_harness import HAS_VERSION_FIELDS

MEMBER_DATA = {'conn_url': 'postgres://replicator@127.0.0.1:5432/postgres', 'api_url': 'http://127.0.0.1:8008/patroni',
               'state': 'running', 'role': 'replica', 'version': '4.1.0'}


def member_data(name: str) -> dict:
    return dict(MEMBER_DATA, conn_url=f'postgres://replicator@{name}:5432/postgres',
                api_url=f'http://{name}:8008/patroni')


def partition(dcs) -> str:
    return dcs._partition


# ---- construction and the empty cluster -----------------------------------------------------------------------

def test_get_dcs_builds_the_plugin_with_the_dial(make_dcs, scope):
    dcs = make_dcs('n1', failover_time=15)
    assert partition(dcs) == scope
    # failover_time is the single dial: ttl = F, loop_wait = retry_timeout = F / 3, whatever Patroni passed.
    assert dcs.ttl == 15
    assert dcs.loop_wait == 5
    assert dcs._core.timing()[:3] == (15.0, 5.0, 5.0)
    # ... and Patroni's later attempts to change them are ignored while the dial is set.
    assert not dcs.set_ttl(40)
    dcs.set_retry_timeout(12)
    dcs.reload_config({'ttl': 40, 'loop_wait': 13, 'retry_timeout': 12})
    assert dcs._core.timing()[:3] == (15.0, 5.0, 5.0)
    assert dcs.loop_wait == 5


def test_without_the_dial_patroni_timing_applies_and_set_ttl_reports_a_change(make_dcs):
    dcs = make_dcs('n1')
    assert dcs.ttl == 30 and dcs.loop_wait == 10
    assert dcs.set_ttl(40) is True
    assert dcs.ttl == 40
    assert not dcs.set_ttl(40)
    # After a TTL change the next watch returns at once so the HA loop re-runs with the new timing.
    started = time.monotonic()
    assert dcs.watch(None, 5) is True
    assert time.monotonic() - started < 1
    dcs.reload_config({'ttl': 25, 'loop_wait': 7, 'retry_timeout': 8})
    assert dcs._core.timing()[:3] == (25.0, 7.0, 8.0)
    assert dcs.loop_wait == 7


def test_get_cluster_on_an_empty_partition_is_an_empty_cluster(make_dcs):
    cluster = make_dcs('n1').get_cluster()
    assert isinstance(cluster, Cluster)
    empty = Cluster.empty()
    assert cluster.initialize is None and cluster.config is None and cluster.leader is None
    assert cluster.members == [] and cluster.failover is None and cluster.history is None
    assert cluster.failsafe is None
    assert cluster.sync.is_empty and cluster.sync.leader is None
    assert last_lsn_of(cluster) == last_lsn_of(empty) == 0
    assert slots_of(cluster) is None
    assert cluster.is_unlocked()
    assert cluster.workers == {}


# ---- initialize ----------------------------------------------------------------------------------------------

def test_initialize_race_has_exactly_one_winner_then_sysid_is_stored(make_dcs, ddb):
    a, b = make_dcs('a'), make_dcs('b')
    results = {}
    barrier = threading.Barrier(2)

    def race(dcs):
        barrier.wait()
        results[dcs._name] = dcs.initialize(create_new=True, sysid='')

    threads = [threading.Thread(target=race, args=(d,)) for d in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results.values()) == [False, True], results
    winner = a if results['a'] else b
    # "" (initializing) is distinct from absent.
    assert a.get_cluster().initialize == ''
    assert winner.initialize(create_new=False, sysid='7353926178238490100') is True
    assert b.get_cluster().initialize == '7353926178238490100'
    assert ddb.item(partition(a), 'initialize')['value'] == '7353926178238490100'
    # A second bootstrap race loses against the existing key.
    assert b.initialize(create_new=True, sysid='') is False
    assert winner.cancel_initialization() is True
    assert a.get_cluster().initialize is None
    assert 'value' not in ddb.item(partition(a), 'initialize')  # tombstone


# ---- config (compare-and-set) ----------------------------------------------------------------------------------

def test_set_config_value_compare_and_set(make_dcs, ddb):
    a, b = make_dcs('a'), make_dcs('b')
    assert a.set_config_value(json.dumps({'ttl': 30, 'postgresql': {'parameters': {'max_connections': 100}}}))
    config = b.get_cluster().config
    assert config.data['postgresql']['parameters']['max_connections'] == 100
    v1, m1 = ver(config), modify_ver(config)
    assert isinstance(v1, int) and v1 > 0
    # A stale version (another node wrote in between) is refused and changes nothing.
    assert a.set_config_value(json.dumps({'ttl': 30, 'x': 1}), v1) is True
    assert b.set_config_value(json.dumps({'ttl': 99}), v1) is False
    config2 = b.get_cluster().config
    assert config2.data == {'ttl': 30, 'x': 1}
    assert ver(config2) != v1 and modify_ver(config2) != m1
    # The current version is accepted.
    assert b.set_config_value(json.dumps({'ttl': 31}), ver(config2)) is True
    assert a.get_cluster().config.data == {'ttl': 31}
    assert json.loads(ddb.item(partition(a), 'config')['value']) == {'ttl': 31}
    # Patroni 3.0.2's ctl passes the version as `index`.
    assert b.set_config_value(json.dumps({'ttl': 32}), index=ver(config2)) is False


# ---- members -----------------------------------------------------------------------------------------------------

def test_touch_member_appears_in_members_and_updates(make_dcs, ddb):
    a, b = make_dcs('a'), make_dcs('b')
    assert a.touch_member(member_data('a')) is True
    assert b.touch_member(member_data('b')) is True
    cluster = a.get_cluster()
    assert sorted(m.name for m in cluster.members) == ['a', 'b']
    ma = cluster.get_member('a', fallback_to_leader=False)
    assert ma.data == member_data('a')
    assert ma.conn_url.startswith('postgres://replicator@a:5432')
    assert ma.api_url == 'http://a:8008/patroni'
    first = ver(ma)
    assert a.touch_member(dict(member_data('a'), state='stopped')) is True
    ma2 = b.get_cluster().get_member('a', fallback_to_leader=False)
    assert ma2.data['state'] == 'stopped' and ver(ma2) != first
    raw = ddb.item(partition(a), 'members/a')
    assert json.loads(raw['value'])['state'] == 'stopped'
    assert raw['ttl'] > time.time()  # garbage-collection horizon only


def test_invalid_member_items_are_skipped_not_fatal(make_dcs, ddb, caplog):
    a = make_dcs('a')
    assert a.touch_member(member_data('a'))
    p = partition(a)
    ddb.put_raw(p, 'members/broken', value='{not json', version=3, session='x')
    ddb.put_raw(p, 'members/scalar', value='42', version=1, session='x')
    ddb.put_raw(p, 'members/foreign', value='{"conn_url": "postgres://f"}')  # no version: not one of ours
    caplog.set_level(logging.WARNING)
    cluster = a.get_cluster()
    assert [m.name for m in cluster.members] == ['a']
    text = caplog.text
    assert 'broken' in text and 'scalar' in text and 'foreign' in text


def test_cluster_load_pages_through_a_partition_larger_than_1mb(make_dcs, ddb, scope):
    # Five members of ~300 KB each (under DynamoDB's 400 KB item limit): ~1.5 MB, more than one 1 MB Query page.
    names = [f'm{i}' for i in range(5)]
    for name in names:
        dcs = make_dcs(name)
        assert dcs.touch_member(dict(member_data(name), padding='x' * 300_000)) is True
    reader = make_dcs('reader')
    assert reader.set_config_value('{"ttl": 30}')  # sorts after the members: only on a later page
    cluster = reader.get_cluster()
    assert sorted(m.name for m in cluster.members) == names
    assert all(len(m.data['padding']) == 300_000 for m in cluster.members)
    assert cluster.config.data == {'ttl': 30}
    page = boto_client(ddb.endpoint).query(TableName=ddb.table, ConsistentRead=True,
                                           KeyConditionExpression='cluster_name = :p',
                                           ExpressionAttributeValues={':p': {'S': scope}})
    # The servers cut pages at 1 MB like DynamoDB: the plugin's single get_cluster followed LastEvaluatedKey.
    assert 'LastEvaluatedKey' in page and len(page['Items']) < 6


# ---- the leader lock -----------------------------------------------------------------------------------------

def test_attempt_to_acquire_leader_one_winner_and_placeholder_member(make_dcs, ddb):
    a, b = make_dcs('a'), make_dcs('b')
    a.get_cluster(), b.get_cluster()
    assert compat_acquire(a) is True
    assert b.get_cluster().leader.name == 'a'
    assert compat_acquire(b) is False
    assert a.attempt_to_acquire_leader() is False  # the key exists: never overwritten, even by its holder
    cluster = b.get_cluster()
    # Leader without a member item still counts, with a placeholder member.
    assert cluster.leader.name == 'a' and ver(cluster.leader.member) == -1 and cluster.leader.member.data == {}
    assert not cluster.is_unlocked()
    a.touch_member(member_data('a'))
    cluster = b.get_cluster()
    assert cluster.leader.member.data == member_data('a')
    item = ddb.item(partition(a), 'leader')
    assert item['value'] == 'a' and item['term'] == 1 and item['session'] == cluster.leader.session


def test_update_leader_by_holder_and_by_non_holder(make_dcs, ddb):
    a, b = make_dcs('a'), make_dcs('b')
    a.get_cluster()
    assert compat_acquire(a)
    cluster = a.get_cluster()
    v0 = ddb.item(partition(a), 'leader')['version']
    failsafe = {'a': 'http://a:8008/patroni', 'b': 'http://b:8008/patroni'}
    assert compat_update_leader(a, cluster, 0x3000060, None, failsafe) is True
    item = ddb.item(partition(a), 'leader')
    assert item['value'] == 'a' and item['version'] > v0 and item['term'] == 1
    seen = b.get_cluster()
    assert seen.leader.name == 'a' and ver(seen.leader) == item['version']
    assert last_lsn_of(seen) == 0x3000060
    assert seen.failsafe == failsafe
    # Renewal by the holder keeps working on consecutive cycles.
    for _ in range(3):
        assert compat_update_leader(a, a.get_cluster(), 0x3000080) is True
    assert ddb.item(partition(a), 'leader')['version'] == item['version'] + 3
    # A node that does not hold the lock cannot renew it, and nothing changes.
    before = ddb.item(partition(a), 'leader')
    assert compat_update_leader(b, b.get_cluster(), 0x4000000) is False
    assert ddb.item(partition(a), 'leader') == before
    assert last_lsn_of(b.get_cluster()) == 0x3000080


def test_delete_leader_releases_only_our_own_lock(make_dcs, ddb):
    a, b = make_dcs('a'), make_dcs('b')
    a.get_cluster(), b.get_cluster()
    assert compat_acquire(a)
    cluster = b.get_cluster()
    assert compat_delete_leader(b, cluster) is False
    assert ddb.item(partition(a), 'leader')['value'] == 'a'
    version = ddb.item(partition(a), 'leader')['version']
    assert compat_delete_leader(a, a.get_cluster(), 0x5000000) is True
    item = ddb.item(partition(a), 'leader')
    assert 'value' not in item and item['version'] == version + 1  # tombstone: versions never go back
    cluster = b.get_cluster()
    assert cluster.leader is None and cluster.is_unlocked()
    assert last_lsn_of(cluster) == 0x5000000  # the last position survives for the next leader race
    assert compat_acquire(b) is True
    item = ddb.item(partition(a), 'leader')
    assert item['value'] == 'b' and item['term'] == 2


def test_take_leader_on_bootstrap(make_dcs, ddb):
    a, b = make_dcs('a'), make_dcs('b')
    assert a.take_leader() is True
    assert a.take_leader() is True  # already ours
    b.get_cluster()
    assert b.take_leader() is False
    assert ddb.item(partition(a), 'leader')['value'] == 'a'


def test_leader_race_from_threads_exactly_one_winner_each_round(make_dcs, ddb):
    a, b = make_dcs('a'), make_dcs('b')
    rounds = 50
    barrier = threading.Barrier(2, timeout=30)
    results = [[None, None] for _ in range(rounds)]
    errors = []

    def worker(idx, dcs):
        try:
            for r in range(rounds):
                barrier.wait()
                dcs.get_cluster()
                barrier.wait()
                results[r][idx] = compat_acquire(dcs)
                barrier.wait()
                if results[r][idx]:
                    assert compat_delete_leader(dcs, dcs.get_cluster()) is True
                barrier.wait()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i, d)) for i, d in enumerate((a, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    winners = [r.count(True) for r in results]
    assert winners == [1] * rounds, results
    # Both instances won at some point would be nice but is up to the scheduler; the fencing term must count
    # every acquisition.
    assert ddb.item(partition(a), 'leader')['term'] == rounds


def test_concurrent_calls_from_rest_api_threads_while_the_ha_loop_renews(make_dcs):
    a = make_dcs('a')
    a.get_cluster()
    assert compat_acquire(a)
    a.touch_member(member_data('a'))
    errors, seen = [], []
    stop = threading.Event()

    def rest_thread():
        try:
            while not stop.is_set():
                cluster = a.get_cluster()
                seen.append((cluster.leader.name, ver(cluster.leader)))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=rest_thread) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        for _ in range(15):
            assert compat_update_leader(a, a.get_cluster(), None) is True
            assert a.touch_member(member_data('a')) is True
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    assert len(seen) >= 6 and {name for name, _ in seen} == {'a'}
    assert a._core.lease('leader')['held']


def test_takeover_of_a_holder_that_stops_renewing_waits_a_full_ttl(make_dcs_moto, moto_ddb):
    # One timing check, on moto only: the lease logic does not depend on the server.
    ddb = moto_ddb
    ttl = 9.0
    a, b = make_dcs_moto('a', failover_time=ttl), make_dcs_moto('b', failover_time=ttl)
    assert compat_acquire(a)
    # While the holder renews every loop_wait (3 s), the other node never gets the lock.
    start = time.monotonic()
    while time.monotonic() - start < ttl + 2:
        assert compat_update_leader(a, a.get_cluster(), None) is True
        # b reads the cluster right after each renewal, so it sees each new version within milliseconds.
        last_renewal_seen = time.monotonic()
        for _ in range(3):
            assert b.get_cluster().leader.name == 'a'
            assert compat_acquire(b) is False
            time.sleep(1)
    # The holder stops renewing. b times the lease from when IT first saw the last version.
    holder_lost_at = None
    acquired_at = None
    while time.monotonic() - last_renewal_seen < ttl + 5:
        if holder_lost_at is None and not a._core.lease('leader')['held']:
            holder_lost_at = time.monotonic()
        cluster = b.get_cluster()
        if compat_acquire(b):
            acquired_at = time.monotonic()
            break
        assert cluster.leader is not None and cluster.leader.name == 'a'
        time.sleep(0.25)
    assert acquired_at is not None, 'b never took over the expired lease'
    assert acquired_at - last_renewal_seen >= ttl - 0.1
    assert acquired_at - last_renewal_seen <= ttl + 3.0  # liveness; generous for a loaded CI machine
    # The holder's own bound ran out before the follower could take over (ttl - safety margin).
    assert holder_lost_at is not None and holder_lost_at < acquired_at
    item = ddb.item(partition(a), 'leader')
    assert item['value'] == 'b' and item['term'] == 2
    # The old holder learns that the lock is gone: False (not an error), so Patroni demotes it.
    assert compat_update_leader(a, a.get_cluster(), None) is False


# ---- sync, failover, history, status, failsafe -----------------------------------------------------------------

def test_sync_state_compare_and_set(make_dcs, ddb):
    a, b = make_dcs('a'), make_dcs('b')
    v1 = a.set_sync_state_value(json.dumps({'leader': 'a', 'sync_standby': 'b'}))
    assert isinstance(v1, int) and not isinstance(v1, bool) and v1 > 0
    sync = b.get_cluster().sync
    assert sync.leader == 'a' and sync.sync_standby == 'b' and sync.matches('b') and ver(sync) == v1
    v2 = a.set_sync_state_value(json.dumps({'leader': 'a', 'sync_standby': None}), v1)
    assert isinstance(v2, int) and v2 != v1
    assert b.set_sync_state_value(json.dumps({'leader': 'b', 'sync_standby': None}), v1) is False  # stale
    assert b.get_cluster().sync.leader == 'a'
    # The public wrapper returns the new SyncState (>= 3.0.3) or the raw version (3.0.2).
    state = compat_write_sync_state(a, 'a', ['b'], v2)
    new_version = ver(state) if HAS_VERSION_FIELDS else state
    assert isinstance(new_version, int) and new_version not in (v1, v2)
    assert compat_write_sync_state(b, 'b', [], v2) in (None, False)
    # delete with a stale version is refused; with the current one it empties /sync.
    kw = 'version' if HAS_VERSION_FIELDS else 'index'
    assert a.delete_sync_state(**{kw: v2}) is False
    assert not b.get_cluster().sync.is_empty
    assert a.delete_sync_state(**{kw: new_version}) is True
    assert b.get_cluster().sync.is_empty
    assert 'value' not in ddb.item(partition(a), 'sync')
    # Patroni 3.0.2 passes `index=`; both spellings work.
    v3 = a.set_sync_state_value('{"leader": "a"}')
    assert a.delete_sync_state(index=v3) is True


def test_failover_key_and_manual_failover_compare_and_set(make_dcs, ddb):
    a, b = make_dcs('a'), make_dcs('b')
    assert a.manual_failover('a', 'b') is True
    failover = b.get_cluster().failover
    assert failover.leader == 'a' and failover.candidate == 'b' and failover.scheduled_at is None
    v1 = ver(failover)
    kw = 'version' if HAS_VERSION_FIELDS else 'index'
    assert a.manual_failover('a', 'c', **{kw: v1 + 7}) is False  # stale
    assert b.get_cluster().failover.candidate == 'b'
    # The leader clears it the way ha.py does: manual_failover('', '', version).
    assert b.manual_failover('', '', **{kw: v1}) is True
    failover = a.get_cluster().failover
    assert not failover.leader and not failover.candidate
    assert json.loads(ddb.item(partition(a), 'failover')['value']) == {}
    assert a.set_failover_value(json.dumps({'leader': 'a'}), ver(failover)) is True
    assert a.set_failover_value(json.dumps({'leader': 'x'}), ver(failover)) is False


def test_history_value(make_dcs):
    a = make_dcs('a')
    lines = [[1, 25165984, 'no recovery target specified', '2024-01-01T00:00:00+00:00', 'a']]
    assert a.set_history_value(json.dumps(lines)) is True
    history = make_dcs('b').get_cluster().history
    assert history.lines == lines
    assert a.get_cluster().timeline == 2


def test_write_status_and_failsafe_persist(make_dcs, ddb):
    a = make_dcs('a')
    a.get_cluster()
    a.write_status({'optime': 0x7000000, 'slots': {'logical_1': 0x6000000}, 'retain_slots': ['b']})
    a.write_failsafe({'a': 'http://a:8008/patroni'})
    fresh = make_dcs('cold-start')  # a new process knows the last position without any leader
    cluster = fresh.get_cluster()
    assert last_lsn_of(cluster) == 0x7000000
    assert slots_of(cluster) == {'logical_1': 0x6000000}
    if hasattr(cluster, 'status') and hasattr(cluster.status, 'retain_slots'):
        assert cluster.status.retain_slots == ['b']
    assert cluster.failsafe == {'a': 'http://a:8008/patroni'}
    items = ddb.items(partition(a))
    # status and failsafe are kept without any TTL attribute (never garbage-collected).
    assert 'ttl' not in items['status'] and 'ttl' not in items['failsafe']
    # write_leader_optime goes through /status as well.
    a.write_leader_optime(0x7000100)
    assert last_lsn_of(fresh.get_cluster()) == 0x7000100


# ---- delete_cluster -------------------------------------------------------------------------------------------

def test_delete_cluster_removes_every_item_of_the_partition_only(make_dcs, ddb, scope):
    a = make_dcs('a')
    other = make_dcs('a', scope_name=scope + '-other')
    for d in (a, other):
        d.initialize(create_new=True, sysid='1')
        d.set_config_value('{}')
        d.touch_member(member_data('a'))
        d.get_cluster()
        assert compat_acquire(d)
    a.set_history_value('[]')
    a.write_status({'optime': 1})
    a.write_failsafe({'a': 'x'})
    a.set_sync_state_value('{}')
    a.manual_failover('a', '')
    assert len(ddb.items(scope)) >= 9
    assert make_dcs('ctl', ctl=True).delete_cluster() is True
    assert ddb.items(scope) == {}
    assert a.get_cluster().leader is None
    assert len(ddb.items(scope + '-other')) == 4


# ---- MPP (Citus) groups ----------------------------------------------------------------------------------------

def test_mpp_groups_use_prefixed_keys_and_coordinator_sees_workers(make_dcs, ddb, scope):
    coord = make_dcs('c0', citus_group=0)
    w1 = make_dcs('w1', citus_group=1)
    w2 = make_dcs('w2', citus_group=2)
    for d in (coord, w1, w2):
        d.touch_member(member_data(d._name))
        d.get_cluster()
        assert compat_acquire(d)
        assert d.set_config_value('{"ttl": 30}')
    keys = set(ddb.items(scope))
    assert {'0/leader', '1/leader', '2/leader', '0/members/c0', '1/members/w1', '2/members/w2',
            '0/config', '1/config', '2/config'} <= keys
    assert not {'leader', 'members/w1', 'config'} & keys
    # A worker reads only its own group.
    cluster1 = w1.get_cluster()
    assert cluster1.leader.name == 'w1' and [m.name for m in cluster1.members] == ['w1']
    assert cluster1.workers == {}
    # The coordinator sees its own group and every worker group.
    cluster0 = coord.get_cluster()
    assert cluster0.leader.name == 'c0' and [m.name for m in cluster0.members] == ['c0']
    assert sorted(cluster0.workers) == [1, 2]
    assert cluster0.workers[1].leader.name == 'w1' and cluster0.workers[2].leader.name == 'w2'
    # A worker finds the coordinator.
    get_coordinator = getattr(w2, 'get_mpp_coordinator', None) or w2.get_citus_coordinator
    coordinator = get_coordinator()
    assert coordinator.leader.name == 'c0'
    # Each group's lease is independent: renewing and releasing group 1 leaves the others alone.
    assert compat_update_leader(w1, w1.get_cluster(), None) is True
    assert compat_delete_leader(w1, w1.get_cluster()) is True
    assert 'value' not in ddb.item(scope, '1/leader')
    assert ddb.item(scope, '2/leader')['value'] == 'w2'
    assert coord.get_cluster().workers[1].leader is None


# ---- watch ------------------------------------------------------------------------------------------------------

def test_watch_returns_within_timeout_and_clears_the_event(make_dcs):
    a, b = make_dcs('a', failover_time=9), make_dcs('b', failover_time=9)
    # Without a leader to track: waits for the event, at most `timeout`.
    started = time.monotonic()
    assert a.watch(None, 0.5) is False
    assert 0.45 <= time.monotonic() - started < 1.5
    # A woken event returns at once and is cleared (else Patroni's HA loop would spin).
    a.event.set()
    started = time.monotonic()
    assert a.watch(None, 5) is True
    assert time.monotonic() - started < 0.5
    assert not a.event.is_set()
    # A replica watching a live leader returns within its timeout too.
    a.get_cluster()
    assert compat_acquire(a)
    cluster = b.get_cluster()
    started = time.monotonic()
    assert b.watch(ver(cluster.leader), 1.0) is False
    assert time.monotonic() - started < 2.0
    # Setting the event from another thread (Ha.wakeup) ends a long watch early.
    threading.Timer(0.3, b.event.set).start()
    started = time.monotonic()
    assert b.watch(ver(cluster.leader), 20) is True
    assert time.monotonic() - started < 2.5
    assert not b.event.is_set()


def test_watch_wakes_the_replica_soon_after_the_leader_is_released(make_dcs):
    a, b = make_dcs('a', failover_time=9), make_dcs('b', failover_time=9)
    a.get_cluster()
    assert compat_acquire(a)
    cluster = b.get_cluster()
    threading.Timer(0.5, lambda: compat_delete_leader(a, a.get_cluster())).start()
    started = time.monotonic()
    assert b.watch(ver(cluster.leader), 8.0) is True
    elapsed = time.monotonic() - started
    # It polls the leader item once shortly after the expected renewal (loop_wait = 3 s), not at the timeout.
    assert elapsed < 6.0, elapsed
    assert b.get_cluster().leader is None


def test_switchover_request_wakes_the_candidate_soon_after_the_release(make_dcs):
    # failover_time 300: loop_wait 100 s, so neither the loop nor the renewal poll can explain an early wake-up;
    # only the failover-key reads (switchover_poll_interval, default 4 s) and the fast leader polls they start.
    a, b = make_dcs('a', failover_time=300), make_dcs('b', failover_time=300)
    a.get_cluster()
    assert compat_acquire(a)
    cluster = b.get_cluster()

    def request_then_release():
        assert a.manual_failover('a', 'b')
        time.sleep(1.0)  # the old leader's checkpoint and shutdown
        compat_delete_leader(a, a.get_cluster())

    threading.Timer(0.5, request_then_release).start()
    started = time.monotonic()
    assert b.watch(ver(cluster.leader), 60.0) is True
    elapsed = time.monotonic() - started
    assert elapsed < 10.0, elapsed
    after = b.get_cluster()
    assert after.leader is None
    assert after.failover and after.failover.candidate == 'b'


# ---- DynamoDB unreachable ---------------------------------------------------------------------------------------
# The endpoint is not a server here, so these run once (not per server).

RETRY_TIMEOUT = 3.0  # failover_time 9 -> retry_timeout 3


def _unreachable_dcs(endpoint, scope):
    from patroni.dcs import get_dcs
    return get_dcs(dcs_config(scope=scope, name='a', endpoint=endpoint, table='plugin-unreachable', failover_time=9))


def _cluster_with_leader(name):
    empty = Cluster.empty()
    leader = Leader(5, f'{name}:session', Member(4, name, f'{name}:session', {}))
    return Cluster(*[leader if f == 'leader' else getattr(empty, f) for f in Cluster._fields])


def test_refused_connection_raises_dcserror_for_the_ha_paths_and_false_elsewhere(scope):
    dcs = _unreachable_dcs('http://127.0.0.1:1', scope)
    for call in (dcs.get_cluster, lambda: compat_acquire(dcs)):
        started = time.monotonic()
        with pytest.raises(DCSError):
            call()
        assert time.monotonic() - started <= RETRY_TIMEOUT + 1.5
    # Renewing a lease Patroni says is ours: either DynamoDB is asked (DCSError: failsafe mode depends on it) or,
    # where this process has no record of the lease at all (Patroni 3.0.2 passes no leader), "not ours" (False).
    # Never a silent True.
    started = time.monotonic()
    try:
        renewed = compat_update_leader(dcs, _cluster_with_leader('a'), 100)
    except DCSError:
        renewed = None
    assert renewed in (None, False)
    if HAS_VERSION_FIELDS:
        assert renewed is None, 'with the leader passed in, the renewal must have asked DynamoDB'
    assert time.monotonic() - started <= RETRY_TIMEOUT + 1.5
    # Everything else reports failure without raising (touch_member runs in a `finally`).
    assert dcs.touch_member(member_data('a')) is False
    assert dcs.set_config_value('{}') is False
    assert dcs.set_sync_state_value('{}') is False
    assert dcs.take_leader() is False
    assert dcs.delete_cluster() is False


def test_outage_while_holding_the_lease_raises_dcserror_inside_the_holder_bound(make_dcs_moto, moto_ddb, scope):
    proxy = OutageProxy(moto_ddb.endpoint)
    try:
        a = make_dcs_moto('a', failover_time=9, endpoint=proxy.endpoint)
        ttl, _, retry_timeout, margin = a._core.timing()
        a.get_cluster()
        assert compat_acquire(a)
        cluster = a.get_cluster()
        assert compat_update_leader(a, cluster, None) is True
        renewed_at = time.monotonic()
        version = moto_ddb.item(scope, 'leader')['version']
        proxy.mode = 'blackhole'
        # The HA cycle: loading the cluster fails with DCSError within retry_timeout ...
        started = time.monotonic()
        with pytest.raises(DCSError):
            a.get_cluster()
        assert time.monotonic() - started <= retry_timeout + 1.0
        # ... and so does the renewal, which must also end inside the holder bound (ttl - safety margin after the
        # last successful renewal was sent), before any follower may take over.
        with pytest.raises(DCSError):
            compat_update_leader(a, cluster, None)
        assert time.monotonic() - renewed_at <= ttl - margin + 0.5
        # The failed renewal did not move the bound: held at most until the last applied renewal's bound.
        lease = a._core.lease('leader')
        assert not lease['held'] or time.monotonic() + lease['remaining'] <= renewed_at + ttl - margin + 0.1
        assert moto_ddb.item(scope, 'leader')['version'] == version  # nothing reached DynamoDB
        # DynamoDB is back and nobody took the lock: the holder renews it again.
        proxy.mode = 'forward'
        assert a.get_cluster().leader.name == 'a'
        assert compat_update_leader(a, a.get_cluster(), None) is True
        assert moto_ddb.item(scope, 'leader')['version'] == version + 1
    finally:
        proxy.close()


def test_a_silently_dead_keepalive_connection_costs_one_attempt_not_the_retry_timeout(make_dcs_moto, moto_ddb, scope):
    # At failover_time 30, retry_timeout is 10 s. A request hung on a connection whose path died is abandoned
    # after half of it and retried on a new connection, so get_cluster and the writes still succeed in time;
    # before, the first attempt could use all 10 s and Patroni would have demoted the primary.
    proxy = OutageProxy(moto_ddb.endpoint)
    try:
        a = make_dcs_moto('a', failover_time=30, endpoint=proxy.endpoint)
        retry_timeout = a._core.timing()[2]
        assert retry_timeout == 10
        assert a.get_cluster().leader is None  # opens the keep-alive connection
        assert compat_acquire(a)
        assert proxy.silence_existing() >= 2  # client side and moto side of the connection
        started = time.monotonic()
        cluster = a.get_cluster()
        took = time.monotonic() - started
        assert cluster.leader is not None and cluster.leader.name == 'a'
        assert retry_timeout / 2 - 0.5 <= took <= retry_timeout - 1, took  # one abandoned attempt, one retry
        version = moto_ddb.item(scope, 'leader')['version']
        proxy.silence_existing()
        started = time.monotonic()
        assert compat_update_leader(a, cluster, None) is True
        assert time.monotonic() - started <= retry_timeout - 1
        assert moto_ddb.item(scope, 'leader')['version'] == version + 1  # the renewal reached DynamoDB
    finally:
        proxy.close()


@pytest.fixture
def silent_endpoint():
    """A TCP port that accepts connections (kernel backlog) but never answers."""
    import socket
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(64)
    try:
        yield f'http://127.0.0.1:{sock.getsockname()[1]}'
    finally:
        sock.close()


def test_unresponsive_dynamodb_raises_dcserror_within_retry_timeout(silent_endpoint, scope):
    dcs = _unreachable_dcs(silent_endpoint, scope)
    for call in (dcs.get_cluster, lambda: compat_acquire(dcs)):
        started = time.monotonic()
        with pytest.raises(DCSError):
            call()
        elapsed = time.monotonic() - started
        assert elapsed <= RETRY_TIMEOUT + 1.0, elapsed


# ---- configuration: validation, errors, environment-only start ---------------------------------------------------

@pytest.mark.parametrize('override, field', [
    ({'failover_time': 2}, 'failover_time'),
    ({'table_name': 'x'}, 'table_name'),
    ({'leader_poll_interval': 'soon'}, 'leader_poll_interval'),
    ({'endpoint_url': 'ftp://nowhere'}, 'endpoint_url'),
    ({'tablename': 'typo'}, 'tablename'),
])
def test_invalid_settings_stop_construction_with_one_line_naming_the_field(ddb, scope, override, field):
    config = dcs_config(scope=scope, name='a', endpoint=ddb.endpoint, table=ddb.table)
    config['dynamodb'].update(override)
    with pytest.raises(SystemExit) as exc:
        get_dcs_for(config)
    message = str(exc.value.code)
    assert field in message, message
    assert '\n' not in message.strip(), message


def get_dcs_for(config):
    from patroni.dcs import get_dcs
    return get_dcs(config)


def _patroni_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PATRONI_', 'AWS_'))}
    env['PYTHONPATH'] = os.pathsep.join(p for p in [os.path.dirname(os.path.dirname(
        __import__('dynatroni').__file__)), env.get('PYTHONPATH', '')] if p)
    env.update(extra)
    return env


def _postgresql_bin_dir() -> str:
    """The bin_dir Patroni's validator checks (it must hold the PostgreSQL programs): the newest
    /usr/lib/postgresql/N/bin, PostgreSQL 15 on Debian 12; the wheels' check chroots install their own suite's
    (13 on bullseye, 17 on trixie; packaging/wheels/check.sh)."""
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/postgres'), key=lambda p: int(p.split('/')[4]))
    assert found, "no PostgreSQL in /usr/lib/postgresql: install Debian's postgresql package"
    return os.path.dirname(found[-1])


def _write_full_config(path, scope, ddb, dynamodb_extra=''):
    data_dir = path.parent / 'data'
    data_dir.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(f"""\
        scope: {scope}
        name: node1
        restapi:
          listen: 127.0.0.1:{free_port()}
          connect_address: 192.0.2.10:8008
        dynamodb:
          table_name: {ddb.table}
          endpoint_url: {ddb.endpoint}
          region: us-east-1
          access_key_id: x
          secret_access_key: y
          failover_time: 15
        """) + textwrap.indent(dynamodb_extra, '  ') + textwrap.dedent(f"""\
        bootstrap:
          dcs:
            ttl: 30
            loop_wait: 10
            retry_timeout: 10
          initdb:
            - encoding: UTF8
          pg_hba:
            - host all all 127.0.0.1/32 md5
        postgresql:
          listen: 127.0.0.1:{free_port()}
          connect_address: 192.0.2.10:5432
          data_dir: {data_dir}
          bin_dir: {_postgresql_bin_dir()}
          authentication:
            superuser:
              username: postgres
              password: secret
            replication:
              username: replicator
              password: secret
            rewind:
              username: rewinder
              password: secret
        """))


def test_validate_config_accepts_a_dynamodb_section(ddb, scope, tmp_path):
    cfg = tmp_path / 'patroni.yml'
    _write_full_config(cfg, scope, ddb)
    proc = subprocess.run([sys.executable, '-m', 'dynatroni.patroni', '--validate-config', str(cfg)],
                          capture_output=True, text=True, timeout=60, env=_patroni_env(), cwd=str(tmp_path))
    output = proc.stdout + proc.stderr
    assert 'Traceback' not in output, output
    assert proc.returncode == 0, output
    assert 'dynamodb' not in output.lower(), output  # no complaint about our section


def test_validate_config_reports_a_bad_dynamodb_setting_cleanly(ddb, scope, tmp_path):
    cfg = tmp_path / 'patroni.yml'
    _write_full_config(cfg, scope, ddb, dynamodb_extra='leader_poll_interval: -1\n')
    proc = subprocess.run([sys.executable, '-m', 'dynatroni.patroni', '--validate-config', str(cfg)],
                          capture_output=True, text=True, timeout=60, env=_patroni_env(), cwd=str(tmp_path))
    output = proc.stdout + proc.stderr
    assert 'Traceback' not in output, output
    assert proc.returncode != 0
    assert 'leader_poll_interval' in output, output


def test_patroni_start_with_a_bad_setting_exits_with_one_line(ddb, scope, tmp_path):
    cfg = tmp_path / 'patroni.yml'
    _write_full_config(cfg, scope, ddb, dynamodb_extra='')
    cfg.write_text(cfg.read_text().replace('failover_time: 15', 'failover_time: 2'))
    proc = subprocess.run([sys.executable, '-m', 'dynatroni.patroni', str(cfg)], capture_output=True, text=True,
                          timeout=60, env=_patroni_env(), cwd=str(tmp_path))
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr, proc.stderr
    assert 'failover_time' in proc.stderr and 'at least 9' in proc.stderr, proc.stderr
    assert ddb.items(scope) == {}


def _environment_config(monkeypatch, ddb, scope, **extra_env):
    for k in list(os.environ):
        if k.startswith('PATRONI_'):
            monkeypatch.delenv(k)
    monkeypatch.setenv('PATRONI_SCOPE', scope)
    monkeypatch.setenv('PATRONI_NAME', 'env-node')
    monkeypatch.setenv('PATRONI_DYNAMODB_URL',
                       f'dynamodb://{ddb.table}?region=us-east-1&endpoint_url={ddb.endpoint}&failover_time=15')
    monkeypatch.setenv('PATRONI_DYNAMODB_ACCESS_KEY_ID', 'x')
    monkeypatch.setenv('PATRONI_DYNAMODB_SECRET_ACCESS_KEY', 'y')
    monkeypatch.delenv('AWS_ACCESS_KEY_ID', raising=False)
    monkeypatch.delenv('AWS_SECRET_ACCESS_KEY', raising=False)
    for k, v in extra_env.items():
        monkeypatch.setenv(k, v)
    from patroni.config import Config
    return Config('')


def test_environment_only_start_builds_the_plugin(monkeypatch, ddb, scope):
    config = _environment_config(monkeypatch, ddb, scope)
    assert 'url' in config['dynamodb']  # Patroni itself built the section from PATRONI_DYNAMODB_URL
    dcs = get_dcs_for(config)
    assert type(dcs).__name__ == 'DynamoDB'
    assert dcs._core.table_name == ddb.table and dcs._core.endpoint.rstrip('/') == ddb.endpoint
    assert dcs.ttl == 15 and dcs.loop_wait == 5
    assert dcs.touch_member(member_data('env-node')) is True
    assert ddb.item(scope, 'members/env-node')['value']
    assert [m.name for m in dcs.get_cluster().members] == ['env-node']


def test_environment_variables_layer_over_the_url(monkeypatch, ddb, scope):
    config = _environment_config(monkeypatch, ddb, scope, PATRONI_DYNAMODB_FAILOVER_TIME='12')
    dcs = get_dcs_for(config)
    assert dcs.ttl == 12 and dcs.loop_wait == 4
