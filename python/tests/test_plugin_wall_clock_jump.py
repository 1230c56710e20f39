"""The holder's wall clock steps an hour forward, then an hour back, while it holds the lease: nothing changes.

The holder is a plugin process (skewed_plugin_worker.py, built by Patroni's get_dcs) under libfaketime with a
timestamp file read on every call (``FAKETIME_TIMESTAMP_FILE``, ``FAKETIME_NO_CACHE=1``); the test rewrites the
file mid-lease. Only the wall clock is faked (``FAKETIME_DONT_FAKE_MONOTONIC=1``: libfaketime would otherwise
move CLOCK_MONOTONIC and CLOCK_BOOTTIME too), as when NTP or an operator steps a host's clock: the lease is timed
on CLOCK_BOOTTIME (core/clock.h), so the jump must not touch it. The other node is a plugin in this process on
the real clock and tries to take the lease every cycle. Asserted: right after each step the holder still holds
the lease; it renews (one version step per renewal) for longer than a ttl while the other node never gets it;
once it stops renewing, it has stopped believing it holds the lease by the time the other node takes over.
With CLOCK_BOOTTIME faked as well (libfaketime's default), the +1 h step ends the holder's lease at once and
the test fails.

Both talk to moto through the fault proxy, whose ``check_date`` rule refuses a request dated more than 5 minutes
off its clock as DynamoDB does: the holder's requests after each jump are refused once, the client learns the
offset from the ``Date`` header and re-signs (so the jump also exercises the SigV4 skew correction).
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path


from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)
from plugin_harness import dcs_config

from tools import fault_proxy  # noqa: E402

FAILOVER_TIME = 9.0  # ttl 9 s, loop_wait 3 s: the smallest the plugin accepts
LOOP_WAIT = 3.0
TTL = 9.0
WORKER = Path(__file__).resolve().parent / 'skewed_plugin_worker.py'
JUMP = 3600


def libfaketime() -> str:
    found = sorted(glob.glob('/usr/lib/*/faketime/libfaketimeMT.so.1'))
    assert found, 'libfaketime is missing: `make deps` installs the Debian package faketime'
    return found[0]


class JumpingNode:
    """The worker under libfaketime; ``jump(seconds)`` sets its wall clock to the real one + seconds."""

    def __init__(self, config: dict, stamp: Path, fake_monotonic: bool = False) -> None:
        self.stamp = stamp
        self.jump(0)
        env = dict(os.environ, LD_PRELOAD=libfaketime(), FAKETIME_TIMESTAMP_FILE=str(stamp), FAKETIME_NO_CACHE='1')
        if not fake_monotonic:
            env['FAKETIME_DONT_FAKE_MONOTONIC'] = '1'
        self.proc = subprocess.Popen([sys.executable, str(WORKER), json.dumps(config)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def jump(self, seconds: int) -> None:
        tmp = self.stamp.with_suffix('.tmp')
        tmp.write_text(f'{seconds:+d}\n')
        tmp.replace(self.stamp)  # atomic: libfaketime never reads a half-written file

    def call(self, op: str) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({'op': op}) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f'the holder exited (rc={self.proc.poll()})'
        out = json.loads(line)
        assert 'error' not in out, out['error']
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.call('quit')
                self.proc.wait(10)
            except (AssertionError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def renew_cycles(holder: JumpingNode, other, seconds: float, versions: list, version, jump: int) -> None:
    """Patroni's loop on both nodes every loop_wait for `seconds`: the holder renews, the other tries to take;
    the leader item's version after each renewal (``version()``, read from moto) goes to `versions`."""
    start = time.monotonic()
    while True:
        assert holder.call('renew')['ok'] is True, f'the holder lost the lease after a {jump:+d} s wall-clock step'
        assert holder.call('held')['held'] is True
        versions.append(version())
        assert compat_acquire(other) is False, f'the other node took the lease after a {jump:+d} s step'
        assert other.get_cluster().leader.name == 'holder'
        if time.monotonic() - start >= seconds:
            return
        time.sleep(LOOP_WAIT)


def test_a_wall_clock_jump_mid_lease_neither_loses_nor_hands_over_the_lease(make_dcs_moto, moto_ddb, scope,
                                                                            tmp_path):
    host, port = moto_ddb.endpoint.rsplit('//', 1)[1].rsplit(':', 1)
    log_path = tmp_path / 'proxy.jsonl'
    with fault_proxy.FaultProxy(host, int(port), clients=['holder', 'other'], seed=31,
                                log_path=str(log_path)) as proxy:
        proxy.set_rules([{'action': 'check_date'}])
        other = make_dcs_moto('other', failover_time=FAILOVER_TIME, endpoint=proxy.url('other'))
        holder = JumpingNode(dcs_config(scope=scope, name='holder', endpoint=proxy.url('holder'),
                                        table=moto_ddb.table, failover_time=FAILOVER_TIME), tmp_path / 'faketime')
        version = lambda: moto_ddb.item(scope, 'leader')['version']  # noqa: E731
        try:
            assert holder.call('acquire')['ok'] is True
            versions = [version()]
            renew_cycles(holder, other, 0, versions, version, 0)
            for jump, step in ((JUMP, +JUMP), (0, -JUMP)):  # +1 h, then back by 1 h, each mid-lease
                holder.jump(jump)
                t = holder.call('time')
                assert abs(t['wall'] - time.time() - jump) < 60, f'libfaketime did not move the wall clock: {t}'
                assert abs(t['boot'] - time.clock_gettime(time.CLOCK_BOOTTIME)) < 5, \
                    f'the step moved the holder\'s CLOCK_BOOTTIME: {t}'
                # right after the step, before any renewal: the holder still holds the lease
                assert holder.call('held')['held'] is True, f'a {step:+d} s wall-clock step ended the lease'
                # and keeps it, renewing, for longer than a ttl while the other node tries every cycle
                renew_cycles(holder, other, TTL + LOOP_WAIT if step > 0 else LOOP_WAIT, versions, version, step)
            # The holder stops renewing (its wall clock an hour behind where it was): the other node takes over
            # after its own ttl, and by then the holder no longer believes it holds the lease (a lease timed on
            # the wall clock would now run an hour longer).
            deadline = time.monotonic() + 3 * TTL
            holder_lost = False
            while not compat_acquire(other):
                holder_lost = holder_lost or not holder.call('held')['held']
                assert time.monotonic() < deadline, 'the other node never took over the abandoned lease'
                time.sleep(0.25)
            assert holder_lost and holder.call('held')['held'] is False, \
                'the holder still believed it held the lease when the other node took it over'
        finally:
            holder.close()

    item = moto_ddb.item(scope, 'leader')
    assert item['value'] == 'other' and item['term'] == 2, item
    assert versions == list(range(versions[0], versions[0] + len(versions))), versions  # one step per renewal
    # the holder's first request after each step was refused ("not yet current", then "expired") and re-signed
    refused = [r for r in fault_proxy.read_log(str(log_path)) if r.get('error') == 'InvalidSignatureException']
    assert [(r['client'], r['message'].split(':')[0]) for r in refused] == [
        ('holder', 'Signature not yet current'), ('holder', 'Signature expired')], refused
