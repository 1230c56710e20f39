"""A plugin instance in its own process, driven over stdin/stdout (one JSON object per line).

test_plugin_clock_offset.py runs this under libfaketime so that the node's wall clock (and every other clock
of the process) is hours off, while the test process keeps the real one. Commands:

  {"op": "time"}     -> {"wall": time.time(), "boot": CLOCK_BOOTTIME}
  {"op": "acquire"}  -> {"ok": bool}          acquire the leader lock as Patroni's ha.py does
  {"op": "renew"}    -> {"ok": bool}          update_leader on a fresh get_cluster()
  {"op": "leader"}   -> {"leader": name|null} get_cluster().leader as this node sees it
  {"op": "held"}     -> {"held": bool}        whether this node believes it holds the lease now
  {"op": "quit"}

Argument: the plugin's Patroni config as JSON.
"""
from __future__ import annotations

import json
import sys
import time

from plugin_harness import compat_acquire, compat_update_leader, get_dcs  # noqa: E402


def main() -> int:
    dcs = get_dcs(json.loads(sys.argv[1]))
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd['op']
        try:
            if op == 'time':
                out = {'wall': time.time(), 'boot': time.clock_gettime(time.CLOCK_BOOTTIME)}
            elif op == 'acquire':
                dcs.get_cluster()
                out = {'ok': bool(compat_acquire(dcs))}
            elif op == 'renew':
                out = {'ok': bool(compat_update_leader(dcs, dcs.get_cluster(), None))}
            elif op == 'leader':
                leader = dcs.get_cluster().leader
                out = {'leader': leader.name if leader else None}
            elif op == 'held':
                out = {'held': bool(dcs._core.lease('leader')['held'])}
            elif op == 'quit':
                return 0
            else:
                out = {'error': f'unknown op {op!r}'}
        except Exception as e:  # reported to the test, which fails on it
            out = {'error': f'{type(e).__name__}: {e}'}
        print(json.dumps(out), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
