"""errors.dcs_call, the one decorator that turns a failed store call into what Patroni expects (issue #22): each
contract (raise DCSError, return False, return None), the report it makes first, and what it does with other
exceptions. The plugin's real failures are produced in test_plugin_failure_log.py and test_plugin_conformance.py;
these cover the paths no fault injection there reaches (a bug inside touch_member or a cluster load)."""
from __future__ import annotations

import logging

import pytest
from patroni.exceptions import DCSError

from dynatroni import _core
from dynatroni.dynamodb import DynamoDBError
from dynatroni.errors import dcs_call
from dynatroni.failure_log import LOGGER_NAME


class Fake:
    """Stands in for the DCS object: records what dcs_call reports."""

    def __init__(self, error: Exception) -> None:
        self.error, self.reports = error, []

    def _report_failure(self, e, what, key, next_step, primary) -> None:
        self.reports.append((type(e).__name__, what, key, next_step, primary))

    @dcs_call('lease renewal', 'lease not renewed', lambda dcs, key, *_: f'at {key}', primary=True)
    def renew(self, key: str) -> bool:
        raise self.error

    @dcs_call('write', 'not written', lambda dcs, key, *_: key, failed=False)
    def write(self, key: str) -> bool:
        raise self.error

    @dcs_call('leader poll', 'polls again', lambda *_: 'leader', failed=None)
    def poll(self) -> bool:
        raise self.error

    @dcs_call('member update', 'not refreshed', lambda *_: 'members/a', failed=False, unexpected='touch_member failed')
    def touch(self) -> bool:
        raise self.error

    @dcs_call('cluster load', 'not loaded', lambda *_: '(all keys)', primary=True,
              unexpected='failed to load the cluster')
    def load(self) -> bool:
        raise self.error

    @dcs_call('write', 'not written', lambda *_: 'k', failed=False)
    def fine(self, value: int) -> int:
        """Its docstring."""
        return value


def store_error() -> Exception:
    return _core.StoreError('Unavailable: connect refused')


def test_a_store_error_is_reported_once_then_ends_as_the_method_promises():
    f = Fake(store_error())
    with pytest.raises(DynamoDBError, match='connect refused') as raised:
        f.renew('leader')
    assert isinstance(raised.value, DCSError) and raised.value.__cause__ is None
    assert f.write('config') is False
    assert f.poll() is None
    assert f.touch() is False
    with pytest.raises(DynamoDBError):
        f.load()
    assert f.reports == [('StoreError', 'lease renewal', 'at leader', 'lease not renewed', True),
                         ('StoreError', 'write', 'config', 'not written', False),
                         ('StoreError', 'leader poll', 'leader', 'polls again', False),
                         ('StoreError', 'member update', 'members/a', 'not refreshed', False),
                         ('StoreError', 'cluster load', '(all keys)', 'not loaded', True)]


def test_other_exceptions_pass_through_unless_the_method_names_them(caplog):
    f = Fake(KeyError('value'))
    with pytest.raises(KeyError):
        f.renew('leader')
    with pytest.raises(KeyError):
        f.write('config')
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    # touch_member runs in Patroni's `finally`: never raises, one ERROR line.
    assert f.touch() is False
    # A bug while building the Cluster: Patroni sees a DCSError, the log has the traceback.
    with pytest.raises(DynamoDBError, match="failed to load the cluster: 'value'"):
        f.load()
    lines = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert lines == [('ERROR', "dynamodb: touch_member failed: 'value'", False),
                     ('ERROR', 'dynamodb: failed to load the cluster', True)]
    assert f.reports == []


def test_a_dcs_error_passes_through_a_raising_method_and_not_a_false_one():
    f = Fake(DCSError('from Patroni'))
    with pytest.raises(DCSError, match='from Patroni'):
        f.load()
    assert f.touch() is False


def test_success_returns_the_value_and_keeps_the_name():
    f = Fake(store_error())
    assert f.fine(7) == 7 and f.reports == []
    assert Fake.fine.__name__ == 'fine' and Fake.fine.__doc__ == 'Its docstring.'
