"""A node whose clock is hours off neither steals a live lease nor keeps a dead one.

The skewed node is a second plugin process started under libfaketime (Debian's ``faketime``), so its wall clock
and all its other clocks read hours ahead of or behind the test process's; the other node is a plugin instance
in this process on the real clock. Both talk to the same local DynamoDB (moto: the lease logic does not depend
on the server). The lease never compares one node's clock with another's: each node times a lease by its own
monotonic clock from when it saw a version, so the offset must change nothing.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)
from plugin_harness import dcs_config

TTL = 9.0  # the smallest failover_time the plugin accepts: keeps the test short
WORKER = Path(__file__).resolve().parent / 'skewed_plugin_worker.py'


class SkewedNode:
    def __init__(self, offset: str, config: dict) -> None:
        faketime = shutil.which('faketime')
        assert faketime, 'faketime is missing: `make deps` installs the Debian package faketime'
        self.proc = subprocess.Popen([faketime, '-f', offset, sys.executable, str(WORKER), json.dumps(config)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def call(self, op: str) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({'op': op}) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f'skewed node exited (rc={self.proc.poll()})'
        out = json.loads(line)
        assert 'error' not in out, out['error']
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call('quit')
            except (AssertionError, OSError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def renew_while_other_tries(holder_renew, other_acquire, other_leader, holder_name: str) -> float:
    """The holder renews every loop_wait for ttl + 2 s while the other node keeps trying; returns the moment
    (this process's monotonic clock) the other node last saw a renewal."""
    start = time.monotonic()
    last_seen = start
    while time.monotonic() - start < TTL + 2:
        assert holder_renew() is True, f'{holder_name} lost a lease it was renewing'
        last_seen = time.monotonic()
        for _ in range(3):
            assert other_leader() == holder_name
            assert other_acquire() is False, 'a node took a lease that was being renewed'
            time.sleep(1)
    return last_seen


def wait_takeover(taker_acquire, last_seen: float, holder_held) -> tuple:
    """Polls until the taker acquires; returns (acquired_at, holder_lost_at) on this process's clock."""
    holder_lost_at = None
    while time.monotonic() - last_seen < TTL + 6:
        if holder_lost_at is None and not holder_held():
            holder_lost_at = time.monotonic()
        if taker_acquire():
            return time.monotonic(), holder_lost_at
        time.sleep(0.25)
    pytest.fail('the expired lease was never taken over')


@pytest.mark.parametrize('offset', ['+3h', '-26h'])
def test_skewed_node_neither_steals_a_live_lease_nor_keeps_a_dead_one(make_dcs_moto, moto_ddb, scope, offset):
    real = make_dcs_moto('real', failover_time=TTL)
    skewed = SkewedNode(offset, dcs_config(scope=scope, name='skewed', endpoint=moto_ddb.endpoint,
                                           table=moto_ddb.table, failover_time=TTL))
    try:
        # The worker's clock really is off by the offset (else this test would prove nothing).
        diff = skewed.call('time')['wall'] - time.time()
        expected = {'+3h': 3 * 3600, '-26h': -26 * 3600}[offset]
        assert abs(diff - expected) < 60, f'faketime did not shift the clock: {diff:.0f} s'

        # 1. The real-clock node holds and renews; the skewed node never gets the lock.
        assert compat_acquire(real)
        last_seen = renew_while_other_tries(
            lambda: compat_update_leader(real, real.get_cluster(), None),
            lambda: skewed.call('acquire')['ok'], lambda: skewed.call('leader')['leader'], 'real')
        # 2. The holder stops renewing: the skewed node takes over after a full ttl of its own observation,
        #    and not much later (it does not keep treating the dead lease as live).
        acquired_at, lost_at = wait_takeover(lambda: skewed.call('acquire')['ok'], last_seen,
                                             lambda: real._core.lease('leader')['held'])
        assert acquired_at - last_seen >= TTL - 0.1
        assert acquired_at - last_seen <= TTL + 3.0  # liveness; generous for a loaded CI machine
        assert lost_at is not None and lost_at < acquired_at, 'old holder still believed it held the lease'
        item = moto_ddb.item(real._partition, 'leader')
        assert item['value'] == 'skewed' and item['term'] == 2
        assert compat_update_leader(real, real.get_cluster(), None) is False

        # 3. Now the skewed node holds and renews; the real-clock node never gets the lock.
        last_seen = renew_while_other_tries(
            lambda: skewed.call('renew')['ok'], lambda: compat_acquire(real),
            lambda: (real.get_cluster().leader or type('L', (), {'name': None})).name, 'skewed')
        # 4. The skewed holder stops: its own bound runs out first, then the real node takes over in time.
        acquired_at, lost_at = wait_takeover(lambda: compat_acquire(real), last_seen,
                                             lambda: skewed.call('held')['held'])
        assert TTL - 0.1 <= acquired_at - last_seen <= TTL + 3.0
        assert lost_at is not None and lost_at < acquired_at, 'skewed holder still believed it held the lease'
        item = moto_ddb.item(real._partition, 'leader')
        assert item['value'] == 'real' and item['term'] == 3
        assert skewed.call('renew')['ok'] is False
    finally:
        skewed.close()
