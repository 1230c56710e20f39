"""Each DynamoDB failure gives one log line naming its cause (issue 21, part 1).

The plugin is built by Patroni's own ``get_dcs`` and talks to moto through tools/fault_proxy.py (or to a table that
does not exist, a host name that does not resolve, a container credential endpoint that refuses). For each failure
in failure_lines.FAILURES the test makes it happen and asserts that the plugin logged exactly one line for it, on
the logger docs/operations.md names, with the shape failure_lines.py gives (operation, item key, DynamoDB's error
code and message, attempts, elapsed time, request id, what happens next). docs/operations.md's table quotes these
lines (test_docs.py checks it against the same shapes). The rate limiter is tested with an injected clock.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List

import pytest
from patroni.dcs import get_dcs
from patroni.exceptions import DCSError

from tools import fault_proxy
from dynatroni.failure_log import LOGGER_NAME, FailureLimiter
from failure_lines import BY_NAME, CREDENTIAL_REFRESH, FAILURES, SUMMARY
from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)

MEMBER = {'conn_url': 'postgres://replicator@a:5432/postgres', 'api_url': 'http://a:8008/patroni',
          'state': 'running', 'role': 'replica'}
# Recognisable secrets: none may appear in any line.
SECRET = 'fAkE/SeCrEt+KeY/nEvEr/LoGgEd/0123456789AB'
TOKEN = 'FakeSessionToken//NeverLogged+IQoJb3JpZ2luX2VjEXAMPLE'
AUTH_TOKEN = 'ContainerAuthToken-NeverLogged-0123456789'


class Lines:
    """The plugin's log lines as Patroni's default format shows them ('LEVEL: message')."""

    def __init__(self, caplog) -> None:
        self._caplog = caplog
        caplog.set_level(logging.INFO)

    def all(self) -> List[str]:
        return [f'{r.levelname}: {r.getMessage()}' for r in self._caplog.records if r.name == LOGGER_NAME]

    def failures(self) -> List[str]:
        return [line for line in self.all() if ' failed: ' in line or ' more failure' in line]

    def clear(self) -> None:
        self._caplog.clear()


@pytest.fixture
def lines(caplog) -> Lines:
    return Lines(caplog)


@pytest.fixture
def proxy(moto_ddb):
    port = int(moto_ddb.endpoint.rsplit(':', 1)[1])
    with fault_proxy.FaultProxy('127.0.0.1', port, seed=21) as p:
        yield p


def _dcs(scope: str, name: str, endpoint: str, table: str, **extra: Any):
    return get_dcs(dcs_config(scope=scope, name=name, endpoint=endpoint, table=table, failover_time=9, **extra))


def _assert_one_line(lines: Lines, name: str) -> str:
    failure = BY_NAME[name]
    got = lines.failures()
    assert len(got) == 1, f'{name}: expected exactly one failure line, got {got}'
    assert failure.match(got[0]), f'{name}: {got[0]!r} does not match {failure.pattern().pattern!r}'
    for secret in (SECRET, TOKEN, AUTH_TOKEN, 'Signature='):
        assert secret not in '\n'.join(lines.all())
    print(got[0])  # `pytest -s` shows the lines quoted in docs/operations.md
    return got[0]


def test_every_documented_failure_is_produced_here():
    assert set(BY_NAME) == {'throttling', '5xx', 'timeout', 'access denied', 'expired token', 'wrong table',
                            'DNS failure', 'credentials refused'}
    assert len(BY_NAME) == len(FAILURES)


def test_throttled_lease_renewal_is_an_error_saying_patroni_demotes(proxy, moto_ddb, scope, lines):
    a = _dcs(scope, 'a', proxy.url(), moto_ddb.table)
    assert compat_acquire(a)
    cluster = a.get_cluster()
    proxy.set_rules([{'action': 'throttling', 'ops': ['UpdateItem'], 'keys': ['leader']}])
    lines.clear()
    with pytest.raises(DCSError):
        compat_update_leader(a, cluster, None)
    _assert_one_line(lines, 'throttling')


def test_a_renewal_refused_because_another_node_holds_the_lease_is_an_error(moto_ddb, scope, lines):
    """update_leader returns False and Patroni demotes: the line saying why is an ERROR (it was a WARNING)."""
    a = _dcs(scope, 'a', moto_ddb.endpoint, moto_ddb.table)
    assert compat_acquire(a)
    cluster = a.get_cluster()
    held = moto_ddb.item(scope, 'leader')
    moto_ddb.put_raw(scope, 'leader', value='b', session='b:0123456789abcdef', version=int(held['version']) + 1,
                     term=int(held['term']) + 1, lease_ms=9000)
    lines.clear()
    assert compat_update_leader(a, cluster, None) is False
    assert 'ERROR: dynamodb: leader lease renewal refused: the lease is not ours any more' in lines.all(), lines.all()


def test_a_renewal_whose_outcome_stays_unknown_names_the_call_that_failed(proxy, moto_ddb, scope, lines):
    """A 500 answer to every renewal attempt and to the re-read that would resolve it: the DCS builds its own
    error ("leader write outcome unknown ... and the re-read failed"), and the line still names the DynamoDB call
    that failed last, its attempts and its request id (the binding adds them from the store's failure)."""
    a = _dcs(scope, 'a', proxy.url(), moto_ddb.table)
    assert compat_acquire(a)
    cluster = a.get_cluster()
    proxy.set_rules([{'action': 'error500', 'keys': ['leader']}])
    lines.clear()
    with pytest.raises(DCSError) as e:
        compat_update_leader(a, cluster, None)
    proxy.clear()
    got = lines.failures()
    print(str(e.value), got)
    assert len(got) == 1 and got[0].startswith('ERROR: dynamodb: lease renewal failed: GetItem \'leader\''), got
    assert 'InternalServerError (HTTP 500): leader write outcome unknown' in got[0], got[0]
    assert re.search(r'; [1-8] attempts? in \d+\.\d\d s, request id [A-Z0-9]{52}; lease not renewed', got[0]), got[0]


def test_with_failsafe_mode_a_failed_renewal_says_patroni_may_keep_the_primary(proxy, moto_ddb, scope, lines):
    a = _dcs(scope, 'a', proxy.url(), moto_ddb.table)
    assert a.set_config_value(json.dumps({'failsafe_mode': True}))
    assert compat_acquire(a)
    cluster = a.get_cluster()
    proxy.set_rules([{'action': 'throttling', 'ops': ['UpdateItem'], 'keys': ['leader']}])
    lines.clear()
    with pytest.raises(DCSError):
        compat_update_leader(a, cluster, None)
    got = lines.failures()
    assert len(got) == 1 and got[0].startswith('WARNING: dynamodb: lease renewal failed: '), got
    assert got[0].endswith('lease not renewed; Patroni keeps this primary only if every member answers its REST API '
                           '(failsafe_mode); still holding until ' + got[0][-12:]), got[0]


@pytest.mark.parametrize('name,rule', [
    ('5xx', {'action': 'error500', 'ops': ['Query']}),
    ('timeout', {'action': 'hang', 'ops': ['Query'], 'hang': 30}),
    ('expired token', {'action': 'expired_token', 'ops': ['Query']}),
])
def test_failed_cluster_load_of_a_replica_is_a_warning(proxy, moto_ddb, scope, lines, name, rule):
    b = _dcs(scope, 'b', proxy.url(), moto_ddb.table)
    proxy.set_rules([rule])
    lines.clear()
    with pytest.raises(DCSError):
        b.get_cluster()
    proxy.clear()
    _assert_one_line(lines, name)


def test_denied_member_write_is_a_warning_naming_the_action(proxy, moto_ddb, scope, lines):
    a = _dcs(scope, 'a', proxy.url(), moto_ddb.table)
    proxy.set_rules([{'action': 'access_denied', 'ops': ['UpdateItem'], 'keys': ['members/']}])
    lines.clear()
    assert a.touch_member(MEMBER) is False
    _assert_one_line(lines, 'access denied')


def test_wrong_table(proxy, moto_ddb, scope, lines):
    a = _dcs(scope, 'a', proxy.url(), unique_name('no-such-table'))
    lines.clear()
    with pytest.raises(DCSError):
        a.get_cluster()
    _assert_one_line(lines, 'wrong table')


def test_dns_failure(scope, lines):
    a = _dcs(scope, 'a', 'http://dynamodb.does-not-exist.invalid:8000', 'patroni')
    lines.clear()
    with pytest.raises(DCSError):
        a.get_cluster()
    _assert_one_line(lines, 'DNS failure')


class ContainerCredentials:
    """An ECS-style container credential endpoint: answers `script` in turn (a dict = credentials, an int = that
    HTTP status), then repeats the last answer."""

    def __init__(self, script: List[Any]) -> None:
        self.script = list(script)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                answer = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                status, body = (200, json.dumps(answer)) if isinstance(answer, dict) else (answer, '{}')
                data = body.encode()
                self.send_response(status)
                self.send_header('content-type', 'application/json')
                self.send_header('content-length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}/v2/credentials/abc'
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def container_env(monkeypatch, tmp_path):
    """Only the container link of the credential chain applies (no keys in the config or the environment)."""
    for k in list(os.environ):
        if k.startswith('AWS_'):
            monkeypatch.delenv(k)
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE', str(tmp_path / 'none'))
    monkeypatch.setenv('AWS_CONFIG_FILE', str(tmp_path / 'none'))
    monkeypatch.setenv('AWS_EC2_METADATA_DISABLED', 'true')
    monkeypatch.setenv('AWS_CONTAINER_AUTHORIZATION_TOKEN', AUTH_TOKEN)

    def use(server: ContainerCredentials) -> None:
        monkeypatch.setenv('AWS_CONTAINER_CREDENTIALS_FULL_URI', server.url)
    return use


def _keyless_dcs(scope: str, endpoint: str, table: str):
    config = dcs_config(scope=scope, name='a', endpoint=endpoint, table=table, failover_time=9)
    for k in ('access_key_id', 'secret_access_key'):
        del config['dynamodb'][k]
    return get_dcs(config)


def test_refused_credentials_name_the_provider_and_its_answer(moto_ddb, scope, lines, container_env):
    server = ContainerCredentials([403])
    try:
        container_env(server)
        a = _keyless_dcs(scope, moto_ddb.endpoint, moto_ddb.table)
        lines.clear()
        with pytest.raises(DCSError):
            a.get_cluster()
    finally:
        server.close()
    _assert_one_line(lines, 'credentials refused')


def test_failed_background_credential_refresh_is_logged_once(moto_ddb, scope, lines, container_env):
    # Credentials expiring in 6 minutes and 3 seconds are due for a background refresh about 3 s later
    # (refresh_window 5 min + background_lead 1 min, aws/providers/cache.h); the endpoint refuses that refresh.
    expiry = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 363))
    creds = {'AccessKeyId': 'ASIAFAKEKEYID7EXAMPLE', 'SecretAccessKey': SECRET, 'Token': TOKEN,
             'Expiration': expiry}
    server = ContainerCredentials([creds, 403])
    try:
        container_env(server)
        a = _keyless_dcs(scope, moto_ddb.endpoint, moto_ddb.table)
        deadline = time.monotonic() + 30
        while not a._core.credential_refresh_error and time.monotonic() < deadline:
            time.sleep(0.1)
        assert a._core.credential_refresh_error, 'the background refresh did not fail'
        lines.clear()
        a.get_cluster()  # works: the cached credentials are still valid
        a.get_cluster()
    finally:
        server.close()
    refresh = [line for line in lines.all() if 'credential refresh' in line]
    assert len(refresh) == 1 and CREDENTIAL_REFRESH.search(refresh[0]), refresh
    assert 'HTTP 403' in refresh[0]
    for secret in (SECRET, TOKEN, AUTH_TOKEN, 'ASIAFAKEKEYID7EXAMPLE', 'Signature='):
        assert secret not in '\n'.join(lines.all())
    print(refresh[0])


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_logs_the_first_failure_then_one_summary_a_minute():
    clock = FakeClock()
    limiter = FailureLimiter(clock=clock)
    assert limiter.record('cluster load: Unavailable', 'line 1', logging.WARNING) == (logging.WARNING, 'line 1')
    assert limiter.record('lease renewal: Unavailable', 'other', logging.ERROR) == (logging.ERROR, 'other')
    for i in range(2, 10):  # a failure every 5 s: counted, not logged
        clock.now += 5
        assert limiter.record('cluster load: Unavailable', f'line {i}', logging.WARNING) is None
    assert limiter.flush() == []  # 40 s into the window
    clock.now += 20
    level, summary = limiter.record('cluster load: Unavailable', 'line 10', logging.WARNING)
    assert (level, summary) == (logging.WARNING, '9 more failures of cluster load: Unavailable in the last 60 s; '
                                                 'latest: line 10')
    # The renewal kind had no further failure: flush forgets it, so its next failure is a full line again.
    assert limiter.flush() == []
    assert limiter.record('lease renewal: Unavailable', 'again', logging.ERROR) == (logging.ERROR, 'again')
    # Failures counted in a window are summarised by flush() when no further failure comes.
    clock.now += 1
    assert limiter.record('cluster load: Unavailable', 'line 11', logging.WARNING) is None
    clock.now += 59
    assert limiter.flush() == [(logging.WARNING, '1 more failure of cluster load: Unavailable in the last 60 s; '
                                                 'latest: line 11')]
    # Then a whole quiet minute: the next failure is logged in full.
    clock.now += 61
    assert limiter.flush() == []
    assert limiter.record('cluster load: Unavailable', 'line 12', logging.WARNING) == (logging.WARNING, 'line 12')


def test_an_outage_gives_one_line_then_a_summary_a_minute(proxy, moto_ddb, scope, lines):
    """Through the plugin: 30 failed cluster loads over 2.5 (fake) minutes log 1 line and 2 summaries."""
    b = _dcs(scope, 'b', proxy.url(), moto_ddb.table)
    clock = FakeClock()
    b._failures = FailureLimiter(clock=clock)
    proxy.set_rules([{'action': 'expired_token', 'ops': ['Query']}])
    lines.clear()
    for _ in range(30):
        with pytest.raises(DCSError):
            b.get_cluster()
        clock.now += 5
    got = lines.failures()
    assert len(got) == 3, got
    assert BY_NAME['expired token'].match(got[0]), got[0]
    assert all(SUMMARY.search(line) for line in got[1:]), got
    assert [line.split(' more failure')[0].rsplit(' ', 1)[1] for line in got[1:]] == ['12', '12'], got
    print(got[1])


def test_real_patroni_logs_the_cause_before_it_demotes(moto_ddb, scope, proxy):
    """Patroni 4.1 + PostgreSQL 15, one node, through the fault proxy: once its lease renewals are throttled, its
    log has our ERROR line naming ThrottlingException (once), and then Patroni's own demotion."""
    import subprocess
    import sys

    from test_plugin_patroni_bootstrap import (_chown_tree, _postgres_owned_dir, _psql, _run_as_postgres_ok,
                                               _stop_everything, _write_config)

    python = sys.executable
    assert _run_as_postgres_ok(python), f'{python} cannot be run by the postgres user'
    via_proxy = Ddb('moto', proxy.url(), moto_ddb.table)
    with _postgres_owned_dir() as work:
        env = {k: v for k, v in os.environ.items() if not k.startswith(('PATRONI_', 'AWS_', 'PG'))}
        env.update(HOME=str(work), LC_ALL='C.UTF-8', LANG='C.UTF-8')
        api_port, pg_port = free_port(), free_port()
        cfg = _write_config(work, scope, via_proxy, api_port, pg_port)
        _chown_tree(work)
        log_path = work / 'patroni.log'
        with open(log_path, 'wb') as log:
            proc = subprocess.Popen([python, '-m', 'dynatroni.patroni', str(cfg)], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(work), env=env,
                                    user='postgres', group='postgres', extra_groups=[], start_new_session=True)

        def text() -> str:
            return log_path.read_text(errors='replace')

        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                assert proc.poll() is None, f'Patroni exited with {proc.returncode}:\n{text()[-6000:]}'
                r = _psql(pg_port, 'select pg_is_in_recovery()')
                item = moto_ddb.item(scope, 'leader')
                if r.returncode == 0 and r.stdout.strip() == 'f' and item and item.get('value') == 'node1':
                    break
                time.sleep(1)
            else:
                pytest.fail(f'no primary within 90 s:\n{text()[-6000:]}')
            proxy.set_rules([{'action': 'throttling', 'ops': ['UpdateItem'], 'keys': ['leader']}])
            deadline = time.monotonic() + 60
            while 'demoted self because DCS is not accessible' not in text() and time.monotonic() < deadline:
                assert proc.poll() is None, f'Patroni exited with {proc.returncode}:\n{text()[-6000:]}'
                time.sleep(0.5)
            proxy.clear()
            log_lines = text().splitlines()
        finally:
            _stop_everything(proc, work / 'data')
    ours = [i for i, line in enumerate(log_lines) if 'dynamodb: lease renewal failed' in line]
    demoted = [i for i, line in enumerate(log_lines) if 'demoting self because DCS is not accessible' in line]
    assert len(ours) == 1 and demoted, '\n'.join(log_lines[-60:])
    assert BY_NAME['throttling'].match(log_lines[ours[0]]), log_lines[ours[0]]
    assert ours[0] < demoted[0]
    print(log_lines[ours[0]])


def test_real_patroni_with_a_wrong_table_logs_the_cause_once(moto_ddb, scope):
    """Patroni 4.1 pointed at a table that does not exist: besides its own `Can not get cluster from dcs` every few
    seconds, its log has our WARNING line naming ResourceNotFoundException, once (rate-limited)."""
    import subprocess
    import sys

    from test_plugin_patroni_bootstrap import _chown_tree, _postgres_owned_dir, _stop_everything, _write_config

    wrong = Ddb('moto', moto_ddb.endpoint, unique_name('no-such-table'))
    with _postgres_owned_dir() as work:
        env = {k: v for k, v in os.environ.items() if not k.startswith(('PATRONI_', 'AWS_', 'PG'))}
        env.update(HOME=str(work), LC_ALL='C.UTF-8', LANG='C.UTF-8')
        cfg = _write_config(work, scope, wrong, free_port(), free_port())
        _chown_tree(work)
        log_path = work / 'patroni.log'
        with open(log_path, 'wb') as log:
            proc = subprocess.Popen([sys.executable, '-m', 'dynatroni.patroni', str(cfg)], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(work), env=env,
                                    user='postgres', group='postgres', extra_groups=[], start_new_session=True)

        def text() -> str:
            return log_path.read_text(errors='replace')

        try:
            deadline = time.monotonic() + 60
            while text().count('Can not get cluster from dcs') < 3 and time.monotonic() < deadline:
                assert proc.poll() is None, f'Patroni exited with {proc.returncode}:\n{text()[-6000:]}'
                time.sleep(0.5)
            log_lines = text().splitlines()
        finally:
            _stop_everything(proc, work / 'data')
    ours = [i for i, line in enumerate(log_lines) if 'dynamodb: cluster load failed' in line]
    patronis = [i for i, line in enumerate(log_lines) if 'Can not get cluster from dcs' in line]
    assert len(patronis) >= 3 and len(ours) == 1, '\n'.join(log_lines[-40:])
    assert BY_NAME['wrong table'].match(log_lines[ours[0]]), log_lines[ours[0]]
    assert ours[0] < patronis[0]
    print(log_lines[ours[0]])
