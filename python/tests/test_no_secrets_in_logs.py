"""No credential, session token or signature in any log line at any level (issue 8, "Security").

The plugin runs through a realistic sequence against moto with recognisable fake secrets, with every logger at
DEBUG (Patroni's, ours, the root) and with file descriptors 1 and 2 captured (so anything the C++ core writes
there is seen too), including error paths (corrupt items, an oversized value, an expired token, an unreachable
endpoint). Then the `dynatroni` command and `patronictl` run with the same secrets in their environment or
config file. Every captured byte is searched for the secret key, the session token, the full access key id and
any `Signature=` value.

Records of botocore/boto3/urllib3 (the test harness's own client, which logs its own signatures at DEBUG) are
not product output and are left out.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from patroni.dcs import get_dcs
from patroni.exceptions import DCSError

from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)

ACCESS_KEY_ID = 'ASIAFAKEKEYID7EXAMPLE'
SECRET = 'fAkE/SeCrEt+KeY/nEvEr/LoGgEd/0123456789AB'
TOKEN = 'FakeSessionToken//NeverLogged+IQoJb3JpZ2luX2VjEXAMPLE' + 'Q' * 64
HARNESS_LOGGERS = ('botocore', 'boto3', 'urllib3', 's3transfer')


def _assert_clean(text: str, where: str) -> None:
    for needle, what in ((SECRET, 'secret access key'), (TOKEN, 'session token'), (TOKEN[:24], 'session token prefix'),
                         (ACCESS_KEY_ID, 'full access key id'), ('Signature=', 'a signature')):
        assert needle not in text, f'{what} found in {where}: ...{text[max(0, text.find(needle) - 200):][:400]}...'


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        if record.name.startswith(HARNESS_LOGGERS):
            return
        text = record.getMessage()
        if record.exc_info:
            text += '\n' + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f'{record.levelname} {record.name}: {text}')


@pytest.fixture
def capture_all_logs():
    handler = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ('patroni', 'dynatroni', 'patroni.dcs.dynamodb'):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)



def _secret_config(scope, name, endpoint, table, **extra):
    return dcs_config(scope=scope, name=name, endpoint=endpoint, table=table, failover_time=9,
                      access_key_id=ACCESS_KEY_ID, secret_access_key=SECRET, session_token=TOKEN, **extra)


def test_plugin_logs_no_secret_at_debug_through_a_full_sequence(moto_ddb, scope, capture_all_logs, capfd):
    a = get_dcs(_secret_config(scope, 'a', moto_ddb.endpoint, moto_ddb.table))
    b = get_dcs(_secret_config(scope, 'b', moto_ddb.endpoint, moto_ddb.table))
    member = {'conn_url': 'postgres://replicator@a:5432/postgres', 'api_url': 'http://a:8008/patroni',
              'state': 'running', 'role': 'primary'}
    # Bootstrap, leadership, config, sync, history, failover, watch, demotion.
    assert a.get_cluster().leader is None
    assert a.initialize(create_new=True, sysid='7300000000000000001')
    assert a.touch_member(member) and b.touch_member(dict(member, role='replica'))
    assert compat_acquire(a) and not compat_acquire(b)
    cluster = a.get_cluster()
    assert compat_update_leader(a, cluster, 100) is True
    assert a.set_config_value(json.dumps({'ttl': 30, 'synchronous_mode': True}))
    assert compat_write_sync_state(a, 'a', ['b'], None)
    assert a.set_history_value(json.dumps([[1, 100, 'no recovery target specified', '2026-01-01', 'a']]))
    assert a.manual_failover('a', 'b')
    b.get_cluster()
    b.watch(ver(cluster.leader), 0.3)
    # Error paths: corrupt items, an oversized value, a compare-and-set that loses.
    moto_ddb.put_raw(scope, 'members/corrupt', value='{not json', version=2)
    moto_ddb.put_raw(scope, 'members/noversion', value='{}')
    a.get_cluster()
    assert a.set_history_value('x' * 500_000) is False
    assert a.set_config_value('{}', version=12345) is False
    assert compat_delete_leader(a, a.get_cluster())
    # An expired token and an unreachable endpoint.
    server = ExpiredTokenServer()
    try:
        expired = get_dcs(_secret_config(scope, 'c', server.endpoint, moto_ddb.table))
        with pytest.raises(DCSError):
            expired.get_cluster()
        assert expired.touch_member(member) is False
    finally:
        server.close()
    down = get_dcs(_secret_config(scope, 'd', 'http://127.0.0.1:1', moto_ddb.table))
    with pytest.raises(DCSError):
        down.get_cluster()
    assert down.delete_cluster() is False
    assert a.delete_cluster()

    out, err = capfd.readouterr()
    logs = '\n'.join(capture_all_logs.lines)
    assert 'acquired the leader lease' in logs  # the capture works, at INFO and above
    assert logging.getLogger('patroni.dcs.dynamodb').isEnabledFor(logging.DEBUG)
    assert 'ExpiredToken' in logs or 'expired' in logs.lower()
    _assert_clean(logs, 'the plugin and Patroni logs')
    _assert_clean(out + err, 'stdout/stderr (C++ core included)')


def test_plugin_construction_error_with_secrets_echoes_none(moto_ddb, scope, capture_all_logs, capfd):
    config = _secret_config(scope, 'a', moto_ddb.endpoint, moto_ddb.table)
    config['dynamodb']['failover_time'] = 'nonsense'
    with pytest.raises(SystemExit) as exc:
        get_dcs(config)
    out, err = capfd.readouterr()
    _assert_clean(str(exc.value.code), 'the SystemExit message')
    _assert_clean('\n'.join(capture_all_logs.lines) + out + err, 'the logs of a failed start')


def _cli_env(endpoint: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'PATRONI_'))}
    env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_SESSION_TOKEN=TOKEN,
               AWS_REGION=REGION, AWS_ENDPOINT_URL_DYNAMODB=endpoint, AWS_EC2_METADATA_DISABLED='true', **extra)
    return env


def _dynatroni() -> str:
    exe = Path(sys.executable).parent / 'dynatroni'
    assert exe.exists(), f'{exe} missing: run make python-install'
    return str(exe)


def test_assert_clean_finds_each_actual_secret():
    """The search itself: each real secret string (not a word like "token" or "secret") is caught anywhere in a
    text, and text that only talks about credentials is not."""
    for needle in (SECRET, TOKEN, TOKEN[:24], ACCESS_KEY_ID, 'Signature=0123abcd'):
        with pytest.raises(AssertionError):
            _assert_clean(f'INFO x: credentials {needle} loaded', 'a control text')
    _assert_clean('session token, secret access key and access key id from the environment; '
                  'ExpiredTokenException: the security token included in the request is expired', 'a control text')


def _run_cli(args, env, rc: int, *expected: str) -> str:
    """Runs `dynatroni ARGS`: it must end with exit status `rc` (0 ok, 1 check failed, 3 DynamoDB unreachable or a
    runtime error; never 2, a usage error that exercises nothing), print each of `expected`, and print no secret."""
    proc = subprocess.run([_dynatroni()] + args, capture_output=True, text=True, timeout=120, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == rc, (args, proc.returncode, out[-2000:])
    for e in expected:
        assert e in out, (args, e, out[-2000:])
    _assert_clean(out, f'`dynatroni {" ".join(args)}`')
    return out


def test_dynatroni_cli_prints_no_secret_in_any_command(moto_ddb, scope, tmp_path):
    table = unique_name('secrets_cli')
    env = _cli_env(moto_ddb.endpoint)
    # Every command runs to its intended end with the secrets loaded: exit 0 where it works, 3 where DynamoDB
    # says no or cannot be reached.
    _run_cli(['table', 'create', '--table', table], env, 0, f'Table {table} created')
    _run_cli(['table', 'check', '--table', table], env, 0, 'table check: no problems')
    _run_cli(['status', '--table', table, '--cluster', scope], env, 0, f'Cluster {scope}')
    status = json.loads(_run_cli(['status', '--table', table, '--cluster', scope, '--json'], env, 0))
    assert (status['cluster'], status['table']) == (scope, table)
    _run_cli(['list', '--table', table], env, 0, table)
    _run_cli(['doctor', '--table', table, '--cluster', scope], env, 0, 'PASS  credentials')
    doctor = json.loads(_run_cli(['doctor', '--table', table, '--cluster', scope, '--json'], env, 0))
    assert {c['check']: c['result'] for c in doctor['checks']}['credentials'] == 'PASS', doctor
    _run_cli(['cost', '--failover-time', '30', '--nodes', '3'], env, 0, 'Requests/min')
    _run_cli(['status', '--table', 'no-such-table', '--cluster', scope], env, 3, 'ResourceNotFoundException')
    _run_cli(['status', '--table', table, '--cluster', scope, '--endpoint-url', 'http://127.0.0.1:1'], env, 3,
             '127.0.0.1:1')
    # The secrets were really used: a server answering "expired token" saw this token and key id, and the
    # error the command prints names neither.
    server = ExpiredTokenServer()
    try:
        _run_cli(['status', '--table', table, '--cluster', scope, '--endpoint-url', server.endpoint], env, 3,
                 'ExpiredTokenException')
        sent = [{k.lower(): v for k, v in headers.items()} for headers, _ in server.requests]
        assert sent and all(h.get('x-amz-security-token') == TOKEN for h in sent), sent[:1]
        assert all(f'Credential={ACCESS_KEY_ID}/' in h.get('authorization', '') for h in sent), sent[:1]
    finally:
        server.close()
    # The same with the secrets in a Patroni config file instead of the environment.
    cfg = tmp_path / 'patroni.yml'
    cfg.write_text(textwrap.dedent(f"""\
        scope: {scope}
        name: node1
        dynamodb:
          table_name: {table}
          endpoint_url: {moto_ddb.endpoint}
          region: {REGION}
          access_key_id: {ACCESS_KEY_ID}
          secret_access_key: {SECRET}
          session_token: {TOKEN}
        """))
    plain_env = {k: v for k, v in env.items() if not k.startswith('AWS_')}
    plain_env['AWS_EC2_METADATA_DISABLED'] = 'true'
    _run_cli(['status', '-c', str(cfg)], plain_env, 0, f'Cluster {scope}')
    _run_cli(['doctor', '-c', str(cfg)], plain_env, 0, 'PASS  credentials')
    _run_cli(['table', 'check', '-c', str(cfg)], plain_env, 0, 'table check: no problems')


def test_patronictl_list_prints_no_secret(moto_ddb, scope, tmp_path):
    ctl = Path(sys.executable).parent / 'patronictl-dynamodb'
    assert ctl.exists(), f'{ctl} missing: run make python-install'
    cfg = tmp_path / 'patroni.yml'
    cfg.write_text(textwrap.dedent(f"""\
        scope: {scope}
        name: node1
        log:
          level: DEBUG
        dynamodb:
          table_name: {moto_ddb.table}
          endpoint_url: {moto_ddb.endpoint}
          region: {REGION}
          access_key_id: {ACCESS_KEY_ID}
          secret_access_key: {SECRET}
          session_token: {TOKEN}
        """))
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'PATRONI_'))}
    env['AWS_EC2_METADATA_DISABLED'] = 'true'
    for args in (['list'], ['show-config'], ['topology']):
        proc = subprocess.run([str(ctl), '-c', str(cfg)] + args, capture_output=True, text=True, timeout=120,
                              env=env)
        assert 'Traceback' not in proc.stderr, proc.stderr
        assert proc.returncode == 0, (args, proc.returncode, proc.stdout, proc.stderr)
        _assert_clean(proc.stdout + proc.stderr, f'`patronictl {" ".join(args)}`')
