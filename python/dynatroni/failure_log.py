"""The plugin's log line for a failed DynamoDB call, and the limiter that keeps an outage from flooding the log.

One line per failure (docs/operations.md, "What the log says")::

    dynamodb: <what> failed: <operation> <key> in <partition>: <error> (HTTP <n>): <message>;
        <attempts> attempts in <elapsed> s, request id <id>; <what happens next>

``<error>`` is DynamoDB's error code (``ThrottlingException``) or, when DynamoDB never answered, the status
code (``Unavailable``: a network error, the message says which). Everything comes from the attributes the
C++ core puts on ``_core.StoreError`` (python/src/capi.cc, python/dynatroni/_core.py), never from parsing its text.

The first failure of a kind (what failed + error) is logged at once; further ones within ``interval`` seconds
are counted, and one summary line per interval says how many there were and repeats the latest
(``N more failures of <kind> in the last 60 s; latest: ...``). A kind with no failure for a whole interval
starts again with a full line. The clock is injected (tests use a fake one).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

# The plugin's one logger: a child of Patroni's `patroni` logger, so Patroni's `log.loggers` settings (e.g.
# `patroni.dcs: DEBUG`) cover it. docs/operations.md names it (python/tests/test_docs.py checks).
LOGGER_NAME = 'patroni.dcs.dynamodb'
logger = logging.getLogger(LOGGER_NAME)

SUMMARY_INTERVAL = 60.0


def error_name(e: Any) -> str:
    """DynamoDB's error code, else the core's status code name (e.g. ``Unavailable`` for a network error)."""
    return getattr(e, 'aws_error', '') or getattr(e, 'code', '') or type(e).__name__


def failure_line(e: Any, what: str, key: str, partition: str, next_step: str) -> str:
    """The one line (without the ``dynamodb: `` prefix) for failure `e` (a ``_core.StoreError``)."""
    operation = getattr(e, 'operation', None) or '-'
    http = getattr(e, 'http_status', 0)
    error = error_name(e) + (f' (HTTP {http})' if http else '')
    message = getattr(e, 'message', None) or str(e)
    attempts = getattr(e, 'attempts', None)
    elapsed = getattr(e, 'elapsed', None)
    tries = '? attempts' if attempts is None else f'{attempts} attempt{"" if attempts == 1 else "s"}'
    took = '' if elapsed is None else f' in {elapsed:.2f} s'
    request_id = getattr(e, 'request_id', None) or 'none'
    return (f'{what} failed: {operation} {key!r} in {partition!r}: {error}: {message}; {tries}{took}, '
            f'request id {request_id}; {next_step}')


class FailureLimiter:
    """Decides, per kind of failure, whether a line is logged now, counted for a summary, or summarised.

    Thread-safe (Patroni's REST threads load the cluster concurrently with the HA loop).
    """

    def __init__(self, interval: float = SUMMARY_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        # kind -> [window start, failures counted since, latest line, latest level]
        self._kinds: Dict[str, List[Any]] = {}

    def record(self, kind: str, line: str, level: int) -> Optional[Tuple[int, str]]:
        """A failure of `kind` happened: returns (level, line) to log now, or None (counted for the summary)."""
        now = self._clock()
        with self._lock:
            state = self._kinds.get(kind)
            if state is None or (now - state[0] >= self._interval and state[1] == 0):
                self._kinds[kind] = [now, 0, line, level]
                return level, line
            state[1] += 1
            state[2], state[3] = line, max(state[3], level)
            if now - state[0] < self._interval:
                return None
            return self._summarise(kind, state, now)

    def flush(self) -> List[Tuple[int, str]]:
        """Summaries due now (a window ended with failures counted): call it now and then (e.g. per cycle)."""
        now = self._clock()
        out = []
        with self._lock:
            for kind, state in list(self._kinds.items()):
                if now - state[0] < self._interval:
                    continue
                if state[1]:
                    out.append(self._summarise(kind, state, now))
                else:
                    del self._kinds[kind]
        return out

    @staticmethod
    def _summarise(kind: str, state: List[Any], now: float) -> Tuple[int, str]:
        count, span, line, level = state[1], now - state[0], state[2], state[3]
        state[:] = [now, 0, line, logging.WARNING]
        return level, f'{count} more failure{"" if count == 1 else "s"} of {kind} in the last {span:.0f} s; ' \
                      f'latest: {line}'


def emit(entries: List[Tuple[int, str]]) -> None:
    for level, line in entries:
        logger.log(level, 'dynamodb: %s', line)
