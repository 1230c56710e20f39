"""The files a wheel of ours puts into a virtualenv, against docs/install.md's table after <!-- wheel-layout -->.

Used by test_plain_patroni.py (the wheel ``make python-install`` builds) and, as a script, by
packaging/wheels/check.sh (the portable wheel, in each Debian chroot)::

    python wheel_layout.py snapshot VENV >BEFORE      # before ``pip install <wheel>``
    python wheel_layout.py check VENV BEFORE          # after it: the added files are exactly the table's

Plain Python 3.9, standard library only: it runs in the chroots' virtualenvs.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import List, Set

REPO = Path(__file__).resolve().parents[2]


def files(venv: Path) -> Set[str]:
    """Every file (or symlink) under the virtualenv, relative to it, bytecode aside."""
    return {p.relative_to(venv).as_posix() for p in venv.rglob('*')
            if (p.is_file() or p.is_symlink()) and '__pycache__' not in p.parts}


def documented_layout(doc: Path = REPO / 'docs' / 'install.md') -> List[str]:
    """docs/install.md's table after <!-- wheel-layout -->: the paths a wheel puts into a virtualenv ("X" the
    Python's minor version, "<version>" ours, a trailing "/" a whole folder)."""
    m = re.search(r'<!-- wheel-layout -->\n\| path in the virtualenv \| what it is \|\n\|[-|]+\|\n((?:\|.*\n)+)',
                  doc.read_text())
    assert m, f'{doc}: no table after <!-- wheel-layout -->'
    return re.findall(r'^\| `([^`]+)` \|', m.group(1), re.M)


def check_documented_layout(added: Set[str], version: str = '') -> None:
    """The files ``pip install <wheel>`` added are exactly those the layout table names: each file under one row,
    each row with at least one file. Raises AssertionError naming the difference."""
    version = version or (REPO / 'VERSION').read_text().strip()
    patterns = {}
    for row in documented_layout():
        rx = re.escape(row).replace(r'python3\.X', r'python3\.\d+').replace(re.escape('<version>'), re.escape(version))
        patterns[row] = re.compile(rx + ('.+' if row.endswith('/') else ''))
    unlisted = sorted(f for f in added if not any(rx.fullmatch(f) for rx in patterns.values()))
    assert not unlisted, f'pip install <wheel> added files docs/install.md (wheel-layout) does not list: {unlisted}'
    empty = sorted(row for row, rx in patterns.items() if not any(rx.fullmatch(f) for f in added))
    assert not empty, f'docs/install.md (wheel-layout) lists paths the wheel did not install: {empty}'


def main(argv: List[str]) -> int:
    if len(argv) == 2 and argv[0] == 'snapshot':
        print('\n'.join(sorted(files(Path(argv[1])))))
        return 0
    if len(argv) == 3 and argv[0] == 'check':
        before = set(Path(argv[2]).read_text().splitlines())
        added = files(Path(argv[1])) - before
        try:
            check_documented_layout(added)
        except AssertionError as e:
            print(f'wheel layout: {e}', file=sys.stderr)
            return 1
        print(f'wheel layout: the {len(added)} files pip installed are those docs/install.md lists '
              f'({len(documented_layout())} rows)')
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
