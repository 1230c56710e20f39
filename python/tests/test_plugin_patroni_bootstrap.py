"""Real Patroni + real PostgreSQL 15 on the DynamoDB plugin, against moto.

For each supported Patroni:
  * 4.1 from PyPI: the Python running these tests (``python -m dynatroni.patroni``);
  * 3.0.2 from Debian's ``patroni`` package: ``/usr/bin/python3 -m dynatroni.patroni`` with PYTHONPATH pointing
    at a ``pip install --target``-style copy of our installed package (that is how docs/install.md tells Debian
    users to load it),
start Patroni as the ``postgres`` user with a ``dynamodb:`` section, wait until it bootstrapped a single-node
cluster (PostgreSQL answers ``pg_is_in_recovery() = false``), check the leader item in DynamoDB names the node
and is renewed, check ``patronictl list`` shows the node as Leader, then stop Patroni with SIGTERM and check
the lease was released (tombstone). Processes (PostgreSQL included) are always cleaned up.
"""
from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)

PG_BIN = Path('/usr/lib/postgresql/15/bin')
DEBIAN_PYTHON = '/usr/bin/python3'
DEBIAN_PATRONI = Path('/usr/lib/python3/dist-packages/patroni')
FAILOVER_TIME = 15  # ttl 15, loop_wait = retry_timeout = 5
LOOP_WAIT = FAILOVER_TIME / 3
BOOT_TIMEOUT = 90
PASSWORD = 'secret-pw'


def _run_as_postgres_ok(path: str) -> bool:
    return subprocess.run(['runuser', '-u', 'postgres', '--', 'test', '-x', path]).returncode == 0


@contextlib.contextmanager
def _postgres_owned_dir():
    """A temp dir the postgres user owns (pytest's tmp_path is under root's private /tmp/pytest-of-root)."""
    path = Path(tempfile.mkdtemp(prefix='dynatroni-boot-', dir='/tmp'))
    pw = pwd.getpwnam('postgres')
    try:
        os.chown(path, pw.pw_uid, pw.pw_gid)
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _chown_tree(path: Path) -> None:
    pw = pwd.getpwnam('postgres')
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for f in files:
            os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid)


def _package_copy(dest: Path) -> Path:
    """A --target style install of our package (what `pip install --no-deps --target DIR <wheel>` produces)."""
    import dynatroni
    target = dest / 'site'
    shutil.copytree(Path(os.path.abspath(dynatroni.__file__)).parent, target / 'dynatroni',
                    ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    return target


def _write_config(work: Path, scope: str, ddb: Ddb, api_port: int, pg_port: int) -> Path:
    data_dir = work / 'data'
    cfg = work / 'patroni.yml'
    cfg.write_text(textwrap.dedent(f"""\
        scope: {scope}
        name: node1
        log:
          level: INFO
        restapi:
          listen: 127.0.0.1:{api_port}
          connect_address: 127.0.0.1:{api_port}
        dynamodb:
          table_name: {ddb.table}
          endpoint_url: {ddb.endpoint}
          region: {REGION}
          access_key_id: {ACCESS_KEY}
          secret_access_key: {SECRET_KEY}
          failover_time: {FAILOVER_TIME}
        bootstrap:
          dcs:
            ttl: 20
            loop_wait: 5
            retry_timeout: 5
            maximum_lag_on_failover: 1048576
            postgresql:
              use_pg_rewind: false
              parameters:
                shared_buffers: 16MB
                max_wal_senders: 4
                max_replication_slots: 4
          initdb:
            - encoding: UTF8
            - auth: trust
        postgresql:
          listen: 127.0.0.1:{pg_port}
          connect_address: 127.0.0.1:{pg_port}
          data_dir: {data_dir}
          bin_dir: {PG_BIN}
          pgpass: {work}/pgpass
          pg_hba:
            - local all all trust
            - host all all 127.0.0.1/32 md5
            - host replication replicator 127.0.0.1/32 md5
          parameters:
            unix_socket_directories: {work}
          authentication:
            superuser:
              username: postgres
              password: {PASSWORD}
            replication:
              username: replicator
              password: {PASSWORD}
        """))
    return cfg


def _psql(pg_port: int, sql: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PGPASSWORD=PASSWORD, PGCONNECT_TIMEOUT='3')
    return subprocess.run([str(PG_BIN / 'psql'), '-h', '127.0.0.1', '-p', str(pg_port), '-U', 'postgres', '-d',
                           'postgres', '-tAc', sql], capture_output=True, text=True, env=env, timeout=20)


def _stop_everything(proc: subprocess.Popen, data_dir: Path) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
    # PostgreSQL runs in its own session once Patroni starts it: stop it explicitly.
    pidfile = data_dir / 'postmaster.pid'
    if pidfile.exists():
        subprocess.run(['runuser', '-u', 'postgres', '--', str(PG_BIN / 'pg_ctl'), '-D', str(data_dir), 'stop',
                        '-m', 'immediate', '-w', '-t', '20'], capture_output=True, timeout=40)
    if pidfile.exists():
        with contextlib.suppress(Exception):
            pid = int(pidfile.read_text().split()[0])
            os.kill(pid, signal.SIGKILL)


PATRONIS = {
    # Patroni 4.1 from PyPI: the venv these tests normally run in (override with DYNATRONI_PATRONI41_PYTHON).
    '4.1': dict(python=os.environ.get('DYNATRONI_PATRONI41_PYTHON', sys.executable), pythonpath=None),
    # Debian's Patroni 3.0.2 under the system Python, with our package on PYTHONPATH.
    '3.0.2': dict(python=DEBIAN_PYTHON, pythonpath='copy'),
}


@pytest.mark.parametrize('patroni_version', list(PATRONIS))
def test_patroni_bootstraps_and_holds_the_lease(patroni_version, moto_ddb, scope):
    spec = PATRONIS[patroni_version]
    python = spec['python']
    assert _run_as_postgres_ok(python), (
        f'{python} cannot be run by the postgres user (PostgreSQL never runs as root); create the venv from '
        f'/usr/bin/python3, e.g. `/usr/bin/python3 -m venv .venv-plugin`')
    ddb = moto_ddb
    with _postgres_owned_dir() as work:
        env = {k: v for k, v in os.environ.items() if not k.startswith(('PATRONI_', 'AWS_', 'PG'))}
        env.update(HOME=str(work), LC_ALL='C.UTF-8', LANG='C.UTF-8')
        if spec['pythonpath'] == 'copy':
            env['PYTHONPATH'] = str(_package_copy(work))
        # The interpreter must load the Patroni version under test (Debian's for 3.0.2, PyPI's for 4.1).
        probe = subprocess.run([python, '-c', 'import patroni, patroni.version as v, dynatroni.dynamodb; '
                                'print(v.__version__, patroni.__file__)'],
                               capture_output=True, text=True, env=env, timeout=60)
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.split()[0].startswith(patroni_version), (
            f'{python} loads Patroni {probe.stdout.strip()}, not {patroni_version}; for 4.1 run the tests with the '
            f'Patroni 4.1 venv or set DYNATRONI_PATRONI41_PYTHON to its python')
        if patroni_version == '3.0.2':
            assert probe.stdout.split()[1].startswith(str(DEBIAN_PATRONI)), probe.stdout
        api_port, pg_port = free_port(), free_port()
        cfg = _write_config(work, scope, ddb, api_port, pg_port)
        _chown_tree(work)
        log_path = work / 'patroni.log'
        log = open(log_path, 'wb')
        proc = subprocess.Popen([python, '-m', 'dynatroni.patroni', str(cfg)], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=str(work), env=env, user='postgres',
                                group='postgres', extra_groups=[], start_new_session=True)

        def log_tail() -> str:
            return log_path.read_text(errors='replace')[-6000:]

        try:
            # 1. Bootstrap: a primary answering on its port and holding the leader item.
            deadline = time.monotonic() + BOOT_TIMEOUT
            primary = False
            while time.monotonic() < deadline:
                assert proc.poll() is None, f'Patroni exited with {proc.returncode}:\n{log_tail()}'
                r = _psql(pg_port, 'select pg_is_in_recovery()')
                item = ddb.item(scope, 'leader')
                if r.returncode == 0 and r.stdout.strip() == 'f' and item and item.get('value') == 'node1':
                    primary = True
                    break
                time.sleep(1)
            assert primary, f'no primary holding the lease within {BOOT_TIMEOUT}s:\n{log_tail()}'
            items = ddb.items(scope)
            assert items['initialize']['value'].isdigit()  # the system identifier
            assert json.loads(items['members/node1']['value'])['role'] in ('primary', 'master')
            assert json.loads(items['config']['value'])['loop_wait'] == 5

            # 2. The lease is renewed: the version keeps increasing over ~2 loop_waits.
            first = ddb.item(scope, 'leader')
            time.sleep(2 * LOOP_WAIT + 1.5)
            later = ddb.item(scope, 'leader')
            assert later['value'] == 'node1' and later['session'] == first['session']
            assert later['version'] >= first['version'] + 2, (first, later)
            assert later['term'] == first['term'] == 1
            assert proc.poll() is None, log_tail()

            # 3. patronictl (same Patroni) shows the node as the Leader.
            def patronictl(*args: str, stdin: str = '') -> str:
                r = subprocess.run([python, '-m', 'dynatroni.patronictl', '-c', str(cfg), *args], input=stdin,
                                   capture_output=True, text=True, env=env, timeout=90, cwd=str(work))
                assert r.returncode == 0, f'patronictl {" ".join(args)}: {r.stdout}{r.stderr}'
                assert 'Traceback' not in r.stderr, r.stderr
                return r.stdout

            rows = json.loads(patronictl('list', '-f', 'json'))
            assert [(r['Member'], r['Role'], r['State']) for r in rows] == [('node1', 'Leader', 'running')], rows
            out = patronictl('list', scope)
            assert 'Leader' in out and scope in out, out
            # edit-config: a compare-and-set of the config item from patronictl.
            patronictl('edit-config', scope, '--force', '-p', 'work_mem=8MB')
            assert json.loads(ddb.item(scope, 'config')['value'])['postgresql']['parameters']['work_mem'] == '8MB'
            assert 'work_mem: 8MB' in patronictl('show-config', scope)
            # pause/resume go through Patroni's REST API, which writes the config from its own threads.
            patronictl('pause', scope, '--wait')
            assert json.loads(ddb.item(scope, 'config')['value'])['pause'] is True
            assert 'Maintenance mode: on' in patronictl('list', scope)
            patronictl('resume', scope, '--wait')
            assert not json.loads(ddb.item(scope, 'config')['value']).get('pause')
            patronictl('history', scope)
            # Patroni applied the new configuration it read back from DynamoDB.
            deadline = time.monotonic() + 3 * LOOP_WAIT
            while _psql(pg_port, "select current_setting('work_mem')").stdout.strip() != '8MB':
                assert time.monotonic() < deadline, f'work_mem never applied:\n{log_tail()}'
                time.sleep(0.5)

            # 4. SIGTERM: Patroni stops PostgreSQL and releases the lease (tombstone, version bumped).
            before = ddb.item(scope, 'leader')
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
            released = ddb.item(scope, 'leader')
            assert 'value' not in released, released
            assert released['version'] > before['version']
            assert not (work / 'data' / 'postmaster.pid').exists(), 'PostgreSQL still running after Patroni stopped'
            assert 'Traceback' not in log_tail(), log_tail()

            # 5. patronictl remove deletes every item of the cluster.
            patronictl('remove', scope, stdin=f'{scope}\nYes I am aware\n')
            assert ddb.items(scope) == {}
        finally:
            _stop_everything(proc, work / 'data')
            log.close()
