"""What a failed DynamoDB call becomes for Patroni: one decorator, :func:`dcs_call`, on every plugin method that
calls the store (as Patroni's etcd backends wrap theirs in ``catch_etcd_errors``).

Patroni's AbstractDCS gives its methods three contracts when the DCS cannot be reached, and the decorator's
``failed`` argument picks one:

* ``failed=RAISE`` (the default): raise :class:`DynamoDBError`, Patroni's ``DCSError``. For the calls the HA loop
  must see fail: loading the cluster, acquiring and renewing the leader lease (Patroni demotes a primary whose
  load or renewal raises, unless failsafe mode keeps it).
* ``failed=False``: return False, never raise. Every other write (Patroni treats False as "not done" and tries
  again in its next cycle). ``touch_member`` runs in a ``finally``: with ``unexpected=...`` it also never raises
  anything else.
* ``failed=None``: return None; the watch's polls, whose caller pauses before polling again.

Either way the failure is first logged once by the DCS object (``_report_failure``: failure_log.py's one line,
rate-limited per kind), naming ``what`` failed, on which ``key``, and ``next_step`` (what was not done and what
Patroni does next). ``primary=True`` marks a failure that makes a primary demote: the line then says whether it
does and until when this node still holds the lease, and is an ERROR when it demotes.

A ``_core.StoreError`` (the C++ core could not reach DynamoDB, or the outcome is unknown) is the only error
handled, unless ``unexpected`` names the call: then any other exception (a bug, data Patroni cannot use) is
logged as ``dynamodb: <unexpected>`` too and ends the same way (with ``failed=RAISE``, a ``DCSError`` passes
through unchanged).
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Optional, TypeVar

from patroni.exceptions import DCSError

from . import _core
from .failure_log import LOGGER_NAME

logger = logging.getLogger(LOGGER_NAME)

F = TypeVar('F', bound=Callable[..., Any])


class DynamoDBError(DCSError):
    """DynamoDB could not be reached, or a write's outcome is unknown."""


class _Raise:
    def __repr__(self) -> str:
        return 'RAISE'


RAISE: Any = _Raise()


def dcs_call(what: str, next_step: str, key: Callable[..., str], *, failed: Any = RAISE, primary: bool = False,
             unexpected: Optional[str] = None) -> Callable[[F], F]:
    """Decorates a method of the DCS object that calls the store (see the module docstring).

    `key(self, *args, **kwargs)` (the method's own arguments) is the table key the log line names, computed only
    on failure.
    """
    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except _core.StoreError as e:
                self._report_failure(e, what, key(self, *args, **kwargs), next_step, primary)
                if failed is RAISE:
                    raise DynamoDBError(str(e)) from None
                return failed
            except Exception as e:
                if unexpected is None or (failed is RAISE and isinstance(e, DCSError)):
                    raise
                if failed is RAISE:
                    logger.exception('dynamodb: %s', unexpected)
                    raise DynamoDBError(f'{unexpected}: {e}') from None
                logger.error('dynamodb: %s: %s', unexpected, e)
                return failed
        return wrapper  # type: ignore[return-value]
    return decorate
