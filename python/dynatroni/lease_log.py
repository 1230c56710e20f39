"""Debug hook: what this node believes about the leader lease, one JSON line per lease call.

Off unless ``DYNATRONI_LEASE_LOG`` names a file in Patroni's environment. Then every ``acquire_leader``,
``take_leader``, ``renew_leader`` and ``release_leader`` call of the C++ core appends one line to that file::

    {"node": "node1", "pid": 4242, "key": "leader", "op": "renew", "t_call": 812.503, "t_return": 812.517,
     "result": "ok", "held": true, "bound": 825.1, "version": 7, "term": 2}

* ``op``: acquire, take, renew or release; ``result``: ok (the call returned True), refused (False) or error
  (it raised: the outcome is unknown to the caller).
* ``t_call``/``t_return``: just before the call and just after it returned, in seconds of ``CLOCK_BOOTTIME``,
  the monotonic clock the C++ core measures the lease on. Every process of one machine shares it (libfaketime
  leaves it alone with ``FAKETIME_DONT_FAKE_MONOTONIC=1``), so the records of different nodes on one machine
  compare directly.
* ``held``/``bound``/``version``/``term``: the core's own view right after the call (``Dcs.lease(key)``): whether
  this process holds the lease, and until when it believes so (its holder bound, as the time of that read
  plus the remaining time the core reported: never earlier than the core's bound). ``bound`` is null when
  not held.

tools/lease_beliefs.py reads these files and checks that no two nodes ever believed they held the lease at
the same time; tools/chaos.py sets the variable for every node. A line that cannot be written is skipped with
one warning; the lease calls themselves are unchanged.
"""
from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Callable, Optional

logger = logging.getLogger(__name__)

ENV = 'DYNATRONI_LEASE_LOG'


def now() -> float:
    """The lease clock: CLOCK_BOOTTIME, in seconds."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def wrap(core: Any, node: str) -> Any:
    """`core` itself, or (with $DYNATRONI_LEASE_LOG set) a wrapper that logs its lease calls there."""
    path = os.environ.get(ENV)
    return LoggedCore(core, path, node) if path else core


class LoggedCore:
    """Delegates everything to the core; the four lease calls also append a belief record."""

    def __init__(self, core: Any, path: str, node: str) -> None:
        self._core, self._path, self._node = core, path, node
        self._warned = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._core, name)

    def acquire_leader(self, key: str) -> Any:
        return self._logged('acquire', key, self._core.acquire_leader, key)

    def take_leader(self, key: str) -> Any:
        return self._logged('take', key, self._core.take_leader, key)

    def renew_leader(self, key: str, version: Optional[int]) -> Any:
        return self._logged('renew', key, self._core.renew_leader, key, version)

    def release_leader(self, key: str, version: Optional[int] = None) -> Any:
        return self._logged('release', key, self._core.release_leader, key, version)

    def _logged(self, op: str, key: str, fn: Callable[..., Any], *args: Any) -> Any:
        t_call = now()
        try:
            out = fn(*args)
        except Exception:
            self._record(op, key, t_call, 'error')
            raise
        self._record(op, key, t_call, 'ok' if out else 'refused')
        return out

    def _record(self, op: str, key: str, t_call: float, result: str) -> None:
        t_return = now()
        lease = self._core.lease(key)
        read_at = now()
        held = bool(lease['held'])
        line = json.dumps({'node': self._node, 'pid': os.getpid(), 'key': key, 'op': op, 't_call': t_call,
                           't_return': t_return, 'result': result, 'held': held,
                           'bound': read_at + lease['remaining'] if held else None,
                           'version': lease['version'], 'term': lease['term']}, separators=(',', ':'))
        try:
            with open(self._path, 'a') as f:
                f.write(line + '\n')
        except OSError as e:
            if not self._warned:
                self._warned = True
                logger.warning('dynamodb: cannot append lease records to %s (%s): %s', self._path, ENV, e)
