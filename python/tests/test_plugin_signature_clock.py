"""A node whose clock is an hour off DynamoDB's: refused once, then it re-signs on DynamoDB's time, and no write
applies twice (also when the refused request is a renewal: DynamoDB's clock steps between a read and a write).

DynamoDB refuses a request signed more than 5 minutes away from its own clock (HTTP 400
``InvalidSignatureException``, "Signature expired: ..." or "Signature not yet current: ...", with the service's
time in the ``Date`` header); the client learns its offset from that header and re-signs (dynamodb/client.cc).
moto ignores ``X-Amz-Date``, so here the fault proxy (tools/fault_proxy.py) plays DynamoDB's clock: its
``check_date`` rule refuses such requests as DynamoDB does, and its clock is set an hour ahead of (or behind) this
host's, where the plugin and the CLI run. Everything else is forwarded to moto.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)
from plugin_harness import ACCESS_KEY, REGION, SECRET_KEY

from tools import fault_proxy  # noqa: E402

FAILOVER_TIME = 9.0
CLI = Path(sys.executable).parent / 'dynatroni'


def _refused(log):
    return [r for r in log if r.get('error') == 'InvalidSignatureException']


@pytest.mark.parametrize('server_offset', [3600, -3600], ids=['client-1h-behind', 'client-1h-ahead'])
def test_a_client_an_hour_off_learns_the_skew_from_the_date_header_and_applies_each_write_once(
        server_offset, moto_ddb, make_dcs_moto, scope, tmp_path):
    host, port = moto_ddb.endpoint.rsplit('//', 1)[1].rsplit(':', 1)
    log_path = tmp_path / 'proxy.jsonl'
    with fault_proxy.FaultProxy(host, int(port), clients=['plugin', 'status', 'doctor'], seed=29,
                                log_path=str(log_path), clock_offset=server_offset) as proxy:
        proxy.set_rules([{'action': 'check_date'}])
        a = make_dcs_moto('a', failover_time=FAILOVER_TIME, endpoint=proxy.url('plugin'))
        a.get_cluster()
        assert compat_acquire(a) is True
        for lsn in (0x3000000, 0x3000100):
            assert compat_update_leader(a, a.get_cluster(), lsn) is True
        assert a.get_cluster().leader.name == 'a'

        # the CLI (a process with its own client) reads the cluster through the same clock
        env = {'PATH': '/usr/bin:/bin', 'HOME': '/nonexistent', 'AWS_ACCESS_KEY_ID': ACCESS_KEY,
               'AWS_SECRET_ACCESS_KEY': SECRET_KEY, 'AWS_REGION': REGION}
        cmd = [str(CLI), 'status', '--json', '--cluster', scope, '--table', moto_ddb.table,
               '--endpoint-url', proxy.url('status')]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)['leader']['name'] == 'a', out.stdout
        doctor = subprocess.run([str(CLI), 'doctor', '--table', moto_ddb.table, '--endpoint-url',
                                 proxy.url('doctor')], capture_output=True, text=True, env=env, timeout=60)

        # DynamoDB's clock steps back to this host's between a read and the renewal: the renewal (a conditional
        # write) is the request refused, and its re-signed retry must apply it exactly once
        cluster = a.get_cluster()
        proxy.set_clock_offset(0)
        assert compat_update_leader(a, cluster, 0x3000200) is True
        assert compat_update_leader(a, a.get_cluster(), 0x3000300) is True

    log = fault_proxy.read_log(str(log_path))
    first_words = 'Signature expired' if server_offset > 0 else 'Signature not yet current'
    step_words = 'Signature not yet current' if server_offset > 0 else 'Signature expired'
    for client in ('plugin', 'status', 'doctor'):  # one process (and client) each
        mine = [r for r in log if r['client'] == client]
        refused = _refused(mine)
        # the first request of each client is refused; the one skew retry and everything after are accepted
        assert refused and refused[0]['seq'] == mine[0]['seq'], mine[:3]
        assert refused[0]['message'].startswith(first_words), refused[0]['message']
        assert len(refused) == (2 if client == 'plugin' else 1), [(r['op'], r['message']) for r in refused]
        accepted = [r for r in mine if r not in refused]
        # dynalite (DYNATRONI_E2E_BACKEND=dynalite) has no point-in-time recovery API: the server itself answers
        # the doctor's DescribeContinuousBackups with UnknownOperationException (past the proxy's signature check),
        # which the doctor takes as "not supported by this endpoint" (it still exits 0, asserted below)
        no_pitr = [r for r in accepted if moto_ddb.server == 'dynalite' and client == 'doctor' and 'upstream' in r
                   and (r['op'], r.get('error')) == ('DescribeContinuousBackups', 'UnknownOperationException')]
        bad = [(r['op'], r['outcome'], r.get('error')) for r in accepted
               if r['outcome'] not in ('ok', 'condition-failed') and r not in no_pitr]
        assert not bad, bad
    step = _refused([r for r in log if r['client'] == 'plugin'])[1]
    assert (step['op'], step['key']) == ('UpdateItem', 'leader') and step['message'].startswith(step_words), step
    # every acquire/renewal applied once: one forwarded UpdateItem per call, versions 1..5 in order
    writes = [r for r in log if r['client'] == 'plugin' and r['op'] == 'UpdateItem' and r['key'] == 'leader']
    forwarded = [r for r in writes if 'upstream' in r]
    assert len(writes) == 6 and [r['item']['version'] for r in forwarded] == [1, 2, 3, 4, 5], \
        [(r['outcome'], r.get('error'), r.get('item')) for r in writes]
    assert moto_ddb.item(scope, 'leader')['version'] == 5
    # and the doctor tells the operator (the clock check reads the proxy's Date header)
    clock_line = next(line for line in doctor.stdout.splitlines() if 'clock' in line)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    # the proxy's clock is server_offset from this host's: +1 h means this host is an hour behind the server
    direction = 'behind' if server_offset > 0 else 'ahead of'
    assert clock_line.startswith('WARN') and re.search(rf"clock is (59m 5\d\w*|1h( 0\dm)?) {direction} the server's Date",
                                                       clock_line), clock_line
