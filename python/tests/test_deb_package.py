"""The Debian package for Debian's own Patroni 3.0.2 (issue #20 part 3; tools/build_deb.sh, packaging/deb/).

The package is built from the wheel ``make python-install`` built (as ``make deb`` does). Then:

* what ``dpkg-deb -c`` lists is exactly what docs/install.md's table says it installs, and its ``Depends`` line is
  the one docs/install.md quotes, whose library packages are the packages of the libraries the compiled files link
  (ELF NEEDED, resolved by ldd, owner by ``dpkg -S``);
* ``apt-get install ./dynatroni_*.deb`` on this machine (root; Debian 12, Debian's ``patroni`` installed by ``make
  deps`` or pulled in by apt as a dependency): ``dpkg -S`` names our package as the owner of
  ``patroni/dcs/dynamodb.py`` in Debian's Patroni folder; ``dynatroni --version``; ``/usr/bin/patroni
  --validate-config`` accepts a ``dynamodb:`` section and names a bad setting of it; ``/usr/bin/patroni
  patroni.yml`` as the postgres user (what Debian's ``patroni@.service`` runs: there is no systemd in our
  containers) bootstraps PostgreSQL 15 on a local moto and takes the leader lease, ``/usr/bin/patronictl list``
  shows it Leader, SIGTERM releases it;
* ``apt-get remove dynatroni``, which the test runs even when a step fails, removes the shim, the ``.pth``, our
  package and the bytecode compiled at install (``patroni/dcs/__pycache__/dynamodb.*.pyc`` included), and leaves
  Debian's patroni as it was (``dpkg --verify patroni``): ``--validate-config`` knows no ``dynamodb`` DCS again.

While the package is installed, every ``/usr/bin/python3`` runs its ``.pth``; the tests that use the system Python
with our package on ``PYTHONPATH`` (test_plain_patroni's Debian case, ``make test-python-302``) need it absent and
run after this file.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import List, Optional, Set

import pytest

from plugin_harness import REPO, moto_ddb, scope  # noqa: F401  (fixtures)
from test_plain_patroni import _Node, _leads, _our_wheel, _run, _validate
from test_plugin_conformance import _write_full_config
from test_plugin_patroni_bootstrap import _chown_tree, _postgres_owned_dir

SITE = Path('/usr/lib/python3/dist-packages')
SHIM = SITE / 'patroni' / 'dcs' / 'dynamodb.py'
PTH = SITE / 'dynatroni-patroni.pth'
USR_BIN = Path('/usr/bin')
VERSION = (REPO / 'VERSION').read_text().strip()
INSTALL_MD = REPO / 'docs' / 'install.md'
APT = ['apt-get', '-y', '-q', '-o', 'DPkg::Lock::Timeout=300']
APT_ENV = dict(os.environ, DEBIAN_FRONTEND='noninteractive')


@pytest.fixture(scope='module')
def deb(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('deb')
    r = subprocess.run([str(REPO / 'tools' / 'build_deb.sh'), str(_our_wheel()), str(out)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    path = Path(r.stdout.strip().splitlines()[-1])
    assert re.fullmatch(rf'dynatroni_{re.escape(VERSION)}-\d+_amd64\.deb', path.name), path.name
    return path


def _dpkg_status(package: str) -> Optional[str]:
    r = subprocess.run(['dpkg-query', '-W', '-f', '${Status} ${Version}', package], capture_output=True, text=True,
                       timeout=60)
    return r.stdout if r.returncode == 0 and r.stdout.startswith('install ok installed') else None


def _deb_files(deb: Path) -> List[str]:
    """The absolute paths of the files (not directories) in the package."""
    r = subprocess.run(['dpkg-deb', '-c', str(deb)], capture_output=True, text=True, timeout=60, check=True)
    files = []
    for line in r.stdout.splitlines():
        perms, path = line.split()[0], line.split(None, 5)[5].split(' -> ')[0]
        if not perms.startswith('d'):
            files.append(path[1:])  # ./usr/... -> /usr/...
    return files


def _doc_section() -> str:
    text = INSTALL_MD.read_text()
    m = re.search(r'^## 4\. .*?(?=^## )', text, re.M | re.S)
    assert m, 'docs/install.md: no "## 4." section (the .deb)'
    return m.group(0)


def test_package_contents_and_depends_are_what_install_md_says(deb, tmp_path):
    section = _doc_section()
    table = re.search(r'<!-- deb-contents -->\n\| path \| what it is \|\n\|[-|]+\|\n((?:\|.*\n)+)', section)
    assert table, 'docs/install.md: no table after <!-- deb-contents -->'
    rows = [re.match(r'\| `([^`]+)`', ln).group(1).replace('<version>', VERSION)
            for ln in table.group(1).splitlines()]
    files = _deb_files(deb)
    for f in files:
        assert any(f == r or (r.endswith('/') and f.startswith(r)) for r in rows), \
            f'{f} is in the package but not in docs/install.md\'s table'
    for r in rows:
        assert any(f == r or (r.endswith('/') and f.startswith(r)) for f in files), \
            f'docs/install.md lists {r}; the package has no such file'

    depends = subprocess.run(['dpkg-deb', '-f', str(deb), 'Depends'], capture_output=True, text=True, timeout=60,
                             check=True).stdout.strip()
    quoted = re.search(r'<!-- deb-depends -->\n```\nDepends: ([^\n]+)\n```', section)
    assert quoted, 'docs/install.md: no Depends line after <!-- deb-depends -->'
    assert quoted.group(1) == depends, f'docs/install.md quotes {quoted.group(1)!r}; the package says {depends!r}'

    # The library packages of Depends are the owners of what the compiled files link (dpkg-shlibdeps' job,
    # checked here with readelf, ldd and dpkg -S).
    subprocess.run(['dpkg-deb', '-x', str(deb), str(tmp_path)], check=True, timeout=60)
    linked: Set[str] = set()
    for binary in [tmp_path / 'usr/bin/dynatroni', *tmp_path.glob('usr/lib/python3/dist-packages/dynatroni/*.so')]:
        dyn = subprocess.run(['readelf', '-d', str(binary)], capture_output=True, text=True, timeout=60, check=True)
        ldd = subprocess.run(['ldd', str(binary)], capture_output=True, text=True, timeout=60, check=True).stdout
        paths = dict(re.findall(r'^\s*(\S+) => (/\S+)', ldd, re.M))
        paths.update({Path(p).name: p for p in re.findall(r'^\s*(/\S+) \(0x', ldd, re.M)})
        for lib in re.findall(r'\(NEEDED\)\s+Shared library: \[([^\]]+)\]', dyn.stdout):
            assert lib in paths, f'{binary}: ldd does not resolve {lib}:\n{ldd}'
            linked.add(_owner(paths[lib]))
    named = {d.split()[0] for d in depends.split(', ')}
    assert named - {'python3', 'patroni'} == linked, f'Depends: {depends}; the compiled files link {sorted(linked)}'
    assert 'patroni (>= 3.0)' in depends.split(', ')


def _owner(path: str) -> str:
    for p in (path, os.path.realpath(path), re.sub(r'^/usr/', '/', path), '/usr' + path):
        r = subprocess.run(['dpkg-query', '-S', p], capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            return r.stdout.split(':', 1)[0]
    raise AssertionError(f'no Debian package owns {path}')


def _apt(*args: str, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    return subprocess.run(APT + list(args), capture_output=True, text=True, timeout=600, env=APT_ENV,
                          cwd=str(cwd) if cwd else None)


def _leftovers() -> List[str]:
    left = [p for p in (SHIM, PTH, SITE / 'dynatroni', USR_BIN / 'dynatroni', Path('/usr/share/doc/dynatroni'))
            if p.exists()]
    left += list((SHIM.parent / '__pycache__').glob('dynamodb.*')) + list(SITE.glob('dynatroni-*.dist-info'))
    return [str(p) for p in left]


def test_apt_installs_the_package_and_debian_patroni_runs_a_dynamodb_node(deb, moto_ddb, scope):  # noqa: F811
    ddb = moto_ddb
    assert os.geteuid() == 0, 'installs a Debian package: run as root'
    assert _dpkg_status('dynatroni') is None and not _leftovers(), \
        f'dynatroni is already installed ({_leftovers()}): apt-get purge dynatroni, then run again'
    patroni_verify = subprocess.run(['dpkg', '--verify', 'patroni'], capture_output=True, text=True, timeout=60)
    with _postgres_owned_dir() as work:
        good, bad = work / 'valid.yml', work / 'bad' / 'valid.yml'
        bad.parent.mkdir()
        _write_full_config(good, scope, ddb)
        _write_full_config(bad, scope, ddb, dynamodb_extra='leader_poll_interval: -1\n')
        node = _Node(work, 'node1', USR_BIN, scope, ddb)
        _chown_tree(work)
        failed = True
        try:
            r = _apt('install', '--no-install-recommends', f'./{deb.name}', cwd=deb.parent)
            assert r.returncode == 0, f'apt-get install ./{deb.name}:\n{r.stdout}{r.stderr}'
            assert _dpkg_status('dynatroni').endswith(f' {VERSION}-1'), _dpkg_status('dynatroni')
            assert _dpkg_status('patroni'), 'apt did not install Debian\'s patroni as a dependency'
            # Our file in Patroni's folder belongs to our package (Debian's patroni does not ship it).
            owner = subprocess.run(['dpkg-query', '-S', str(SHIM)], capture_output=True, text=True, timeout=60)
            assert owner.stdout.strip() == f'dynatroni: {SHIM}', owner.stdout + owner.stderr
            assert any((SHIM.parent / '__pycache__').glob('dynamodb.cpython-*.pyc')), 'postinst did not byte-compile'

            r = subprocess.run([str(USR_BIN / 'dynatroni'), '--version'], capture_output=True, text=True, timeout=60)
            assert r.returncode == 0 and VERSION in r.stdout, r.stdout + r.stderr

            # Debian's own patroni, no launcher, no PYTHONPATH (the environment is cleaned by _run/_Node).
            r = _validate(USR_BIN, good, work)
            assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stdout + r.stderr
            assert 'dynamodb' not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
            r = _validate(USR_BIN, bad, work)
            assert r.returncode != 0 and 'Traceback' not in r.stderr, r.stdout + r.stderr
            assert 'leader_poll_interval' in r.stdout + r.stderr, r.stdout + r.stderr

            node.start()  # /usr/bin/patroni patroni.yml as postgres:postgres, as patroni@.service's ExecStart
            node.wait(lambda: _leads(ddb, scope, node), 'no primary holding the lease')
            r = _run([str(USR_BIN / 'patronictl'), '-c', str(node.cfg), 'list', '-f', 'json'], node.dir)
            assert r.returncode == 0, r.stdout + r.stderr
            rows = [(m['Member'], m['Role'], m['State']) for m in json.loads(r.stdout)]
            assert rows == [('node1', 'Leader', 'running')], rows
            node.proc.send_signal(signal.SIGTERM)
            node.proc.wait(60)
            assert 'value' not in ddb.item(scope, 'leader'), 'the lease was not released on SIGTERM'
            failed = False
        finally:
            node.stop()
            r = _apt('remove', 'dynatroni')
            if not failed:
                assert r.returncode == 0, f'apt-get remove dynatroni:\n{r.stdout}{r.stderr}'

        # No configuration files: remove leaves nothing for purge (dpkg forgets the package).
        left = subprocess.run(['dpkg-query', '-W', '-f', '${db:Status-Abbrev}', 'dynatroni'], capture_output=True,
                              text=True, timeout=60)
        assert left.returncode != 0 or left.stdout.startswith('un'), left.stdout
        assert _leftovers() == [], f'left after apt-get remove dynatroni: {_leftovers()}'
        assert subprocess.run(['dpkg', '--verify', 'patroni'], capture_output=True, text=True,
                              timeout=60).stdout == patroni_verify.stdout, 'Debian\'s patroni changed'
        r = _validate(USR_BIN, good, work)  # as before the package: Debian's DCS sections, none of them given
        out = r.stdout + r.stderr
        assert r.returncode != 0 and 'etcd3  is not defined' in out and 'dynamodb' not in out, out
        assert 'Traceback' not in out, out
