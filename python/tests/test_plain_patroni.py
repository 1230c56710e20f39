"""Plain ``patroni`` and ``patronictl`` find the plugin after ``pip install <our wheel>`` (issue #20 part 1).

A fresh virtualenv from /usr/bin/python3 gets Patroni 4.1 with psycopg 3 (the pins of requirements-dev.lock,
from a wheelhouse ``pip wheel --require-hashes`` fills once) and then our wheel with ``pip install <wheel>``
only: no launcher, no ``PYTHONPATH``. In it, as the ``postgres`` user, against moto:

* ``patroni --validate-config`` accepts a ``dynamodb:`` section and names a bad setting of it;
* ``patroni patroni.yml`` bootstraps PostgreSQL 15 and holds the lease; ``patronictl list`` shows the Leader,
  ``patronictl edit-config`` writes the config item; a second node streams and ``patronictl switchover`` hands
  the lease to it;
* reinstalling Patroni keeps ``patroni/dcs/dynamodb.py``; ``pip uninstall dynatroni`` removes it, its bytecode and
  ``dynatroni-patroni.pth``, and ``patroni --validate-config`` then knows no ``dynamodb`` DCS again.

Debian's Patroni 3.0.2 (/usr/lib/python3/dist-packages) with our wheel in another site-packages (a virtualenv
with ``--system-site-packages``, as ``pip install`` into the system Python puts it into /usr/local) cannot see
``patroni/dcs/dynamodb.py``: Patroni lists the folder of its own ``patroni/dcs/__init__.py`` only. The test
checks that Patroni says so in one line instead of a traceback (docs/install.md).

The wheel is the one ``make python-install`` built into build-python/wheel/ and installed into the project
virtualenv (``DYNATRONI_WHEEL`` names another).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from importlib.metadata import distribution
from pathlib import Path
from typing import Dict, List


import wheel_layout
from plugin_harness import REPO, free_port, moto_ddb, scope  # noqa: F401  (fixtures)
from test_plugin_conformance import _write_full_config
from test_plugin_patroni_bootstrap import (BOOT_TIMEOUT, _chown_tree, _postgres_owned_dir, _psql,
                                           _stop_everything, _write_config)

SYSTEM_PYTHON = '/usr/bin/python3'
WHEELHOUSE = REPO / 'build-python' / 'patroni-wheels'
LOCK = REPO / 'requirements-dev.lock'


def _our_wheel() -> Path:
    named = os.environ.get('DYNATRONI_WHEEL')
    if named:
        return Path(named)
    version = (REPO / 'VERSION').read_text().strip()
    wheels = sorted((REPO / 'build-python' / 'wheel').glob(f'dynatroni-{version}-*.whl'))
    assert len(wheels) == 1, f'expected one dynatroni-{version}-*.whl in build-python/wheel/ (run make python-install)'
    return wheels[0]


def _patroni_pins() -> List[str]:
    """``name==version`` of Patroni[psycopg3] and everything it needs, from the lock (the closure is read from
    the metadata of the project virtualenv, which the lock installed)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    text = re.sub(r'#[^\n]*', '', LOCK.read_text()).replace('\\\n', ' ')
    pins = {canonicalize_name(ln.split('==')[0]): ' '.join(ln.split()) for ln in text.splitlines() if ln.strip()}
    seen: Dict[str, frozenset] = {}
    todo = [('patroni', frozenset({'psycopg3'}))]
    while todo:
        name, extras = todo.pop()
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, frozenset()) | extras
        for spec in distribution(name).requires or []:
            req = Requirement(spec)
            if req.marker and not any(req.marker.evaluate({'extra': e}) for e in seen[name] | {''}):
                continue
            todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    missing = sorted(set(seen) - set(pins))
    assert not missing, f'{missing}: needed by Patroni but not pinned in {LOCK.name}'
    return [pins[n] for n in sorted(seen)]


def _wheelhouse() -> List[str]:
    """Wheels of the pins (hash-checked by pip; sdists built once), kept in build-python/patroni-wheels/."""
    pins = _patroni_pins()
    stamp = WHEELHOUSE / 'requirements.txt'
    if not stamp.exists() or stamp.read_text() != '\n'.join(pins) + '\n':
        WHEELHOUSE.mkdir(parents=True, exist_ok=True)
        req = WHEELHOUSE / 'requirements.in'
        req.write_text('\n'.join(pins) + '\n')
        r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--disable-pip-version-check',
                            '--require-hashes', '--no-deps', '-w', str(WHEELHOUSE), '-r', str(req)],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        stamp.write_text(req.read_text())
    return [p.split()[0] for p in pins]


def _venv(work: Path, system_site: bool = False) -> Path:
    venv = work / ('venv-system-site' if system_site else 'venv')
    cmd = [SYSTEM_PYTHON, '-m', 'venv', str(venv)] + (['--system-site-packages'] if system_site else [])
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    subprocess.run(['chmod', '-R', 'a+rX', str(venv)], check=True, timeout=60)  # the postgres user runs it
    return venv


def _pip(venv: Path, *args: str) -> str:
    r = subprocess.run([str(venv / 'bin' / 'pip'), '--disable-pip-version-check', '-q', *args],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f'pip {" ".join(args)}:\n{r.stdout}{r.stderr}'
    subprocess.run(['chmod', '-R', 'a+rX', str(venv)], check=True, timeout=60)  # the postgres user runs it
    return r.stdout


def _site(venv: Path) -> Path:
    return next((venv / 'lib').glob('python3.*')) / 'site-packages'


def _env(work: Path) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('PATRONI_', 'AWS_', 'PG', 'PYTHON', 'VIRTUAL_ENV'))}
    env.update(HOME=str(work), LC_ALL='C.UTF-8', LANG='C.UTF-8')
    env['PATH'] = ':'.join(p for p in env.get('PATH', '').split(':') if 'venv' not in p)
    return env


def _run(cmd: List[str], work: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=str(work), env=_env(work),
                          user='postgres', group='postgres', extra_groups=[], **kw)


def _validate(bin_dir: Path, cfg: Path, work: Path) -> subprocess.CompletedProcess:
    return _run([str(bin_dir / 'patroni'), '--validate-config', str(cfg)], work)


class _Node:
    """One plain `patroni patroni.yml` of the fresh virtualenv, run as postgres (its configuration:
    test_plugin_patroni_bootstrap._write_config)."""

    def __init__(self, work: Path, name: str, bin_dir: Path, scope: str, ddb) -> None:
        self.dir, self.name, self.bin_dir = work / name, name, bin_dir
        self.dir.mkdir()
        self.pg_port = free_port()
        self.cfg = _write_config(self.dir, scope, ddb, free_port(), self.pg_port)
        self.cfg.write_text(self.cfg.read_text().replace('name: node1\n', f'name: {name}\n', 1))
        _chown_tree(self.dir)
        self.log = self.dir / 'patroni.log'
        self.proc = None

    def start(self) -> None:
        with open(self.log, 'wb') as log:
            self.proc = subprocess.Popen([str(self.bin_dir / 'patroni'), str(self.cfg)], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(self.dir),
                                         env=_env(self.dir), user='postgres', group='postgres', extra_groups=[],
                                         start_new_session=True)

    def wait(self, done, what: str) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not done():
            tail = self.log.read_text(errors='replace')[-4000:]
            assert self.proc.poll() is None, f'{self.name}: patroni exited with {self.proc.returncode}:\n{tail}'
            assert time.monotonic() < deadline, f'{what} within {BOOT_TIMEOUT}s; {self.name}:\n{tail}'
            time.sleep(1)

    def stop(self) -> None:
        if self.proc is not None:
            _stop_everything(self.proc, self.dir / 'data')


def _leads(ddb, scope: str, node: _Node) -> bool:
    item = ddb.item(scope, 'leader')
    return bool(item and item.get('value') == node.name and
                _psql(node.pg_port, 'select pg_is_in_recovery()').stdout.strip() == 'f')


def test_plain_patroni_and_patronictl_find_the_plugin(moto_ddb, scope):  # noqa: F811
    ddb = moto_ddb
    wheel = _our_wheel()
    names = _wheelhouse()
    with _postgres_owned_dir() as work:
        venv = _venv(work)
        _pip(venv, 'install', '--no-index', '--find-links', str(WHEELHOUSE), '--no-deps', *names)
        site = _site(venv)
        assert not (site / 'patroni' / 'dcs' / 'dynamodb.py').exists()
        before = wheel_layout.files(venv)
        _pip(venv, 'install', '--no-index', str(wheel))  # the one step a user takes
        added = wheel_layout.files(venv) - before
        wheel_layout.check_documented_layout(added)
        shim = site / 'patroni' / 'dcs' / 'dynamodb.py'
        assert shim.is_file() and (site / 'dynatroni-patroni.pth').is_file()
        bin_dir = venv / 'bin'

        # 1. --validate-config: the section is known and checked by the plugin's parser.
        good, bad = work / 'valid.yml', work / 'bad' / 'valid.yml'
        bad.parent.mkdir()
        _write_full_config(good, scope, ddb)
        _write_full_config(bad, scope, ddb, dynamodb_extra='leader_poll_interval: -1\n')
        _chown_tree(work)
        r = _validate(bin_dir, good, work)
        assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stdout + r.stderr
        assert 'dynamodb' not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
        r = _validate(bin_dir, bad, work)
        assert r.returncode != 0 and 'Traceback' not in r.stderr, r.stdout + r.stderr
        assert 'leader_poll_interval' in r.stdout + r.stderr, r.stdout + r.stderr

        # 2. plain `patroni patroni.yml` bootstraps and leads; plain patronictl lists, edits and switches over.
        nodes = {name: _Node(work, name, bin_dir, scope, ddb) for name in ('node1', 'node2')}
        try:
            nodes['node1'].start()
            nodes['node1'].wait(lambda: _leads(ddb, scope, nodes['node1']), 'no primary holding the lease')

            def patronictl(*args: str) -> str:
                node = nodes['node1']
                r = _run([str(bin_dir / 'patronictl'), '-c', str(node.cfg), *args], node.dir)
                assert r.returncode == 0 and 'Traceback' not in r.stderr, f'patronictl {args}:\n{r.stdout}{r.stderr}'
                return r.stdout

            def members() -> List[tuple]:
                rows = json.loads(patronictl('list', '-f', 'json'))
                return sorted((m['Member'], m['Role'], m['State']) for m in rows)

            assert members() == [('node1', 'Leader', 'running')]
            patronictl('edit-config', '--force', '-p', 'work_mem=8MB')
            assert json.loads(ddb.item(scope, 'config')['value'])['postgresql']['parameters']['work_mem'] == '8MB'
            nodes['node2'].start()
            nodes['node2'].wait(lambda: ('node2', 'Replica', 'streaming') in members(), 'node2 never streamed')
            patronictl('switchover', '--leader', 'node1', '--candidate', 'node2', '--force')
            nodes['node2'].wait(lambda: _leads(ddb, scope, nodes['node2']), 'the switchover to node2 did not happen')
            for name in ('node1', 'node2'):  # the replica first, then the leader, which releases the lease
                nodes[name].proc.send_signal(signal.SIGTERM)
                nodes[name].proc.wait(60)
            assert 'value' not in ddb.item(scope, 'leader'), 'the lease was not released on SIGTERM'
        finally:
            for node in nodes.values():
                node.stop()

        # 3. Reinstalling Patroni keeps our file; uninstalling our wheel removes all it added to Patroni's folder.
        patroni_pin = next(n for n in names if n.startswith('patroni=='))
        _pip(venv, 'install', '--no-index', '--find-links', str(WHEELHOUSE), '--no-deps', '--force-reinstall',
             patroni_pin)
        assert shim.is_file(), 'reinstalling Patroni removed patroni/dcs/dynamodb.py'
        assert _validate(bin_dir, good, work).returncode == 0
        _pip(venv, 'uninstall', '-y', 'patroni')
        assert shim.is_file(), 'uninstalling Patroni removed patroni/dcs/dynamodb.py'
        _pip(venv, 'install', '--no-index', '--find-links', str(WHEELHOUSE), '--no-deps', patroni_pin)
        assert _validate(bin_dir, good, work).returncode == 0
        _pip(venv, 'uninstall', '-y', 'dynatroni')
        left = sorted(str(p.relative_to(site)) for p in site.rglob('*') if 'dynatroni' in p.name or
                      p.name.startswith('dynamodb'))
        assert left == [], left
        assert sorted(added & wheel_layout.files(venv)) == [], 'pip uninstall dynatroni left files it installed'
        r = _validate(bin_dir, good, work)  # as before our wheel: Patroni's DCS sections, none of them given
        out = r.stdout + r.stderr
        assert r.returncode != 0 and 'etcd3  is not defined' in out and 'dynamodb' not in out, out


def test_debian_patroni_with_our_wheel_in_another_site_packages_says_why(moto_ddb, scope):  # noqa: F811
    """Debian's /usr/lib/python3/dist-packages/patroni and our wheel in a virtualenv's site-packages: Patroni
    does not list our patroni/dcs/dynamodb.py, and the validator says so in one line (no traceback)."""
    wheel = _our_wheel()
    with _postgres_owned_dir() as work:
        venv = _venv(work, system_site=True)
        r = _run([str(venv / 'bin' / 'python'), '-c', 'import dynatroni'], work)
        assert r.returncode != 0, 'the system Python already has a dynatroni package: this test needs it without'
        _pip(venv, 'install', '--no-index', str(wheel))
        probe = _run([str(venv / 'bin' / 'python'), '-c', 'import patroni.version as v, patroni.dcs as d; '
                      'print(v.__version__, d.dcs_modules())'], work)
        assert probe.returncode == 0 and probe.stdout.startswith('3.0.2 '), probe.stdout + probe.stderr
        assert 'patroni.dcs.dynamodb' not in probe.stdout, probe.stdout
        cfg = work / 'patroni.yml'
        _write_full_config(cfg, scope, moto_ddb)
        _chown_tree(work)
        r = _run([str(venv / 'bin' / 'python'), '/usr/bin/patroni', '--validate-config', str(cfg)], work)
        out = r.stdout + r.stderr
        assert r.returncode != 0 and 'Traceback' not in out, out
        assert re.search(r'^dynatroni: Patroni /usr/lib/python3/dist-packages/patroni/dcs has no dynamodb\.py', out,
                         re.M), out
