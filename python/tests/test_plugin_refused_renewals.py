"""Renewals that DynamoDB refused without applying them, end to end through Patroni's own ``get_dcs`` (issue #19).

The project's fault proxy (tools/fault_proxy.py) sits in front of the local moto. Once the holder has renewed
normally, a rule refuses every leader write of the holder (ops UpdateItem, keys ["leader"], client "a") without
forwarding it: ``error500`` (DynamoDB's 500 after each of the client's retries), ``hang`` (the client's attempt
times out; the proxy never forwards) or ``drop_request`` (the connection is reset before anything is forwarded).
Reads (Query/GetItem) and the follower's writes pass. Each refusal is an unknown outcome to the client, so the
plugin re-reads the leader item, which still shows the holder's own EARLIER renewal. Before the fix (a6ab4ff)
that re-read counted as a renewal: ``update_leader`` said True and the holder bound was counted from the
refused send, so the old holder kept believing it led while the follower — timing the unchanged version —
took over.

Checked here, per fault, with the holder running Patroni-like cycles every loop_wait on its own thread and the
follower polling get_cluster / acquire on the main thread:

1. no renewal made while the rule is active ever returns True (False or DCSError only), and the leader item
   read directly from moto (bypassing the proxy) never moves past the last applied version of the holder;
   the holder bound the plugin reports never reaches beyond ``ttl - safety margin`` after the last applied send;
2. the follower takes over no earlier than ``ttl`` after the last APPLIED renewal was sent (from the proxy's
   own log: when the follower's takeover reached the proxy vs when the applied renewal did), and it does take
   over within ttl + 2 loop_wait;
3. the old holder had been told it lost — a renewal that raised DCSError or returned False, and
   ``_core.lease('leader')['held']`` False — before the follower's takeover call started.

moto only: the lease logic does not depend on the server, and this is a timing test (failover_time 9 s).
"""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from patroni.exceptions import DCSError

from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)

from tools import fault_proxy  # noqa: E402

FAILOVER_TIME = 9  # ttl 9 s, loop_wait = retry_timeout = 3 s, safety margin ~2 s

# The refusal, per case: never forwarded, so DynamoDB never applies the renewal.
FAULTS = {
    # 500 InternalServerError on every attempt: ambiguous to the client (a 5xx may have applied).
    'error500': {'action': 'error500'},
    # Held without forwarding longer than the client's attempt timeout (1 s here), shorter than retry_timeout:
    # each attempt times out on the client's side.
    'hang': {'action': 'hang', 'hang': 2.5},
    # Reset before forwarding: the client sent the request and got no answer.
    'drop_request': {'action': 'drop_request'},
}


@dataclasses.dataclass
class Renewal:
    started: float                # time.monotonic() before update_leader
    ended: float                  # ... after it returned or raised
    result: Any                   # True, False or the DCSError
    held: bool                    # _core.lease('leader')['held'] right after the call
    checked: float                # ... read at this time.monotonic()
    bound: Optional[float]        # now + lease['remaining'] when held (the holder bound the plugin keeps)
    item_value: Optional[str]     # the leader item read directly from moto right after the call
    item_version: Optional[int]

    def failed(self) -> bool:
        return self.result is False or isinstance(self.result, DCSError)

    def describe(self, t0: float) -> str:
        res = 'True' if self.result is True else 'False' if self.result is False else \
            f'DCSError({str(self.result)[:160]!r})'
        bound = f'{self.bound - t0:+.2f}' if self.bound is not None else '-'
        return (f'[{self.started - t0:+6.2f} .. {self.ended - t0:+6.2f}] update_leader -> {res}; held={self.held} '
                f'bound={bound}; table: {self.item_value}@v{self.item_version}')


def _proxy_log(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _leader_updates(log: List[Dict[str, Any]], client: str) -> List[Dict[str, Any]]:
    return [r for r in log if r.get('client') == client and r.get('op') == 'UpdateItem' and r.get('key') == 'leader']


@pytest.mark.parametrize('fault', list(FAULTS))
def test_a_refused_renewal_is_never_reported_renewed_and_the_takeover_counts_from_the_last_applied_one(
        fault, moto_ddb, make_dcs_moto, scope, tmp_path):
    ddb = moto_ddb
    host, port = ddb.endpoint.rsplit('//', 1)[1].rsplit(':', 1)
    log_path = tmp_path / 'proxy.jsonl'
    with fault_proxy.FaultProxy(host, int(port), clients=['a', 'b'], seed=19, log_path=str(log_path)) as proxy:
        a = make_dcs_moto('a', failover_time=FAILOVER_TIME, endpoint=proxy.url('a'))
        b = make_dcs_moto('b', failover_time=FAILOVER_TIME, endpoint=proxy.url('b'))
        ttl, loop_wait, retry_timeout, margin = a._core.timing()
        assert (ttl, loop_wait, retry_timeout) == (9.0, 3.0, 3.0)

        # ---- the holder leads and renews normally; the follower reads each new version at once
        a.get_cluster(), b.get_cluster()
        assert compat_acquire(a) is True
        for lsn in (0x3000000, 0x3000100):
            cluster = a.get_cluster()
            cycle_start = time.monotonic()
            assert compat_update_leader(a, cluster, lsn) is True
            applied_ended = time.monotonic()
            assert b.get_cluster().leader.name == 'a'
            assert compat_acquire(b) is False
        applied_started = cycle_start  # the last APPLIED renewal was sent inside [applied_started, applied_ended]
        applied = ddb.item(scope, 'leader')
        assert applied['value'] == 'a' and applied['term'] == 1
        applied_version = applied['version']

        # ---- from now on every leader write of the holder is refused without being forwarded
        proxy.set_rules([dict(FAULTS[fault], ops=['UpdateItem'], keys=['leader'], clients=['a'], name=fault)])
        rule_set_at = time.monotonic()

        renewals: List[Renewal] = []
        holder_errors: List[str] = []
        stop = threading.Event()

        def holder() -> None:
            """Patroni's HA loop on the primary: a cycle every loop_wait (load the cluster, renew)."""
            next_cycle = applied_started + loop_wait
            lsn = 0x3000200
            try:
                while not stop.wait(max(0.0, next_cycle - time.monotonic())):
                    next_cycle += loop_wait
                    try:
                        cluster = a.get_cluster()
                    except DCSError as e:  # not expected (reads pass); Patroni would skip the renewal
                        holder_errors.append(f'get_cluster: {e!r}')
                        continue
                    started = time.monotonic()
                    try:
                        result: Any = compat_update_leader(a, cluster, lsn)
                    except DCSError as e:
                        result = e
                    ended = time.monotonic()
                    lease = a._core.lease('leader')
                    now = time.monotonic()
                    item = ddb.item(scope, 'leader') or {}
                    renewals.append(Renewal(started, ended, result, lease['held'], now,
                                            now + lease['remaining'] if lease['held'] else None,
                                            item.get('value'), item.get('version')))
                    lsn += 0x100
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                holder_errors.append(repr(e))

        thread = threading.Thread(target=holder, name='holder-ha-loop', daemon=True)
        thread.start()

        # ---- the follower: get_cluster + acquire, as a replica's HA cycle does, a few times a second
        told_lost_at: Optional[float] = None    # a failed renewal has returned AND the holder's lease is not held
        takeover_tried_at: Optional[float] = None
        taken_over_at: Optional[float] = None
        try:
            give_up = applied_ended + ttl + 2 * loop_wait + retry_timeout
            while time.monotonic() < give_up:
                if told_lost_at is None and any(r.failed() for r in list(renewals)) \
                        and not a._core.lease('leader')['held']:
                    told_lost_at = time.monotonic()
                cluster = b.get_cluster()
                assert cluster.leader is None or cluster.leader.name == 'a'
                tried = time.monotonic()
                if compat_acquire(b):
                    takeover_tried_at, taken_over_at = tried, time.monotonic()
                    break
                time.sleep(0.2)
            # The holder goes on with its cycles until it has made at least three renewals under the rule.
            while len(renewals) < 3 and thread.is_alive() and time.monotonic() < give_up + 2 * loop_wait:
                time.sleep(0.1)
        finally:
            stop.set()
            thread.join(2 * retry_timeout + 5)
        taken = ddb.item(scope, 'leader')
        assert not thread.is_alive(), 'the holder thread did not finish'
        for r in renewals:  # a failed renewal after which the lease was not held told the holder by then
            if r.failed() and not r.held:
                told_lost_at = r.checked if told_lost_at is None else min(told_lost_at, r.checked)

        def at(t: Optional[float]) -> str:
            return 'never' if t is None else f'{t - applied_started:+.2f}'

        timeline = '\n'.join(
            [f'fault {fault}; t=0 is the start of the last applied renewal (v{applied_version}); '
             f'ttl {ttl}, loop_wait {loop_wait}, retry_timeout {retry_timeout}, margin {margin:.3f}; '
             f'the rule was set at {at(rule_set_at)}',
             f'holder bound must stay <= {at(applied_ended + ttl - margin)}']
            + [r.describe(applied_started) for r in renewals]
            + [f'follower takeover call: {at(takeover_tried_at)} .. {at(taken_over_at)}; '
               f'holder told it lost at: {at(told_lost_at)}; '
               f'table now: {taken.get("value")}@v{taken.get("version")} term {taken.get("term")}']
            + [f'holder thread error: {e}' for e in holder_errors])

        print(timeline)  # shown by pytest -rA, and with any failure below
        assert not holder_errors, timeline
        # 1. Never a renewal reported for a write that did not apply; the table never moved for the holder.
        assert len(renewals) >= 3, timeline
        reported = [r for r in renewals if r.result is True]
        assert not reported, f'update_leader reported True for a renewal DynamoDB never applied\n{timeline}'
        assert all(r.failed() for r in renewals), timeline
        for r in renewals:
            assert (r.item_value, r.item_version) in (('a', applied_version), ('b', applied_version + 1)), timeline
            # The bound counts from the last APPLIED send (<= applied_ended), never from a refused one.
            assert r.bound is None or r.bound <= applied_ended + ttl - margin + 0.05, \
                f'the holder bound was extended by a refused renewal\n{timeline}'
        log = _proxy_log(log_path)
        a_writes = _leader_updates(log, 'a')
        last_applied = [w for w in a_writes if w.get('fault') == 'ok' and w.get('outcome') == 'ok'][-1]
        refused = [w for w in a_writes if w['t_invoke'] > last_applied['t_invoke']]
        assert refused and all(w['fault'] == fault and 'upstream' not in w for w in refused), \
            f'a leader write of the holder was forwarded under the rule: {refused}\n{timeline}'

        # 2. The follower took over, at the right time: no earlier than ttl after the last applied renewal.
        assert taken_over_at is not None, f'the follower never took over\n{timeline}'
        assert taken['value'] == 'b' and taken['version'] == applied_version + 1 and taken['term'] == 2, timeline
        b_takeover = [w for w in _leader_updates(log, 'b') if w.get('outcome') == 'ok']
        assert len(b_takeover) == 1, b_takeover
        # Both times on this process's monotonic clock: the takeover reached the proxy at least ttl after the
        # applied renewal did (which was before DynamoDB applied it and before the follower could see it).
        assert b_takeover[0]['t_invoke'] - last_applied['t_invoke'] >= ttl, timeline
        assert taken_over_at - applied_started >= ttl, timeline
        assert taken_over_at - applied_ended <= ttl + 2 * loop_wait, f'the takeover came late\n{timeline}'

        # 3. The old holder had been told it lost (a failed renewal, and the lease not held) before the takeover.
        assert told_lost_at is not None and told_lost_at < takeover_tried_at, \
            f'the old holder still believed it led when the follower took over\n{timeline}'
        assert not a._core.lease('leader')['held']

        # The old holder learns that the lock is somebody else's: False, with the rule still on and after it.
        assert compat_update_leader(a, a.get_cluster(), None) is False
        proxy.clear()
        assert compat_update_leader(a, a.get_cluster(), None) is False
        assert ddb.item(scope, 'leader') == taken
