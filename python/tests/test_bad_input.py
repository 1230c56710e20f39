"""Bad input end to end (issue 8): hostile settings, a wrong table, corrupt items, oversized values, bad
credentials, a wrong region or endpoint.

Each case must end in one clear line naming the field or the fix (or a logged skip), never a crash, a hang past
retry_timeout, or lost data. The plugin is built by Patroni's own get_dcs and talks to a real local DynamoDB
(moto and dynalite through the ``ddb`` fixture; see plugin_harness.py).
"""
from __future__ import annotations

import json
import logging
import time

import pytest
from patroni.dcs import get_dcs
from patroni.exceptions import DCSError

from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)

RETRY_TIMEOUT = 3.0  # failover_time 9 -> ttl 9, loop_wait 3, retry_timeout 3


def _one_clear_line(message: str, *fields: str, max_len: int = 600) -> None:
    assert '\n' not in message.strip() and '\r' not in message, repr(message)
    assert len(message) < max_len, f'{len(message)} characters: {message[:200]}...'
    assert all(ch >= ' ' and ch != '\x7f' for ch in message), repr(message)
    for f in fields:
        assert f in message, f'{f!r} not in {message!r}'


def _construction_error(config) -> str:
    with pytest.raises(SystemExit) as exc:
        get_dcs(config)
    return str(exc.value.code)


# ---- invalid and hostile `dynamodb:` settings ------------------------------------------------------------------

HUGE = 'x' * 200_000


@pytest.mark.parametrize('override, field', [
    ({'table_name': HUGE}, 'table_name'),
    ({'table_name': 'pat\nroni\x1b[2J'}, 'table_name'),
    ({'table_name': 'pat roni'}, 'table_name'),
    ({'failover_time': float('nan')}, 'failover_time'),
    ({'failover_time': float('inf')}, 'failover_time'),
    ({'failover_time': -30}, 'failover_time'),
    ({'failover_time': 1e300}, 'failover_time'),
    ({'failover_time': True}, 'failover_time'),
    ({'failover_time': '30s'}, 'failover_time'),
    ({'failover_time': [30]}, 'failover_time'),
    ({'region': {'name': 'us-east-1'}}, 'region'),
    ({'leader_poll_interval': 0}, 'leader_poll_interval'),
    ({'leader_poll_interval': HUGE}, 'leader_poll_interval'),
    ({'switchover_poll_interval': -2}, 'switchover_poll_interval'),
    ({'switchover_poll_interval': 'often'}, 'switchover_poll_interval'),
    ({'metrics_listen': 9547}, 'metrics_listen'),
    ({'metrics_listen': 'http://127.0.0.1:9547'}, 'metrics_listen'),
    ({'metrics_listen': '127.0.0.1:70000'}, 'metrics_listen'),
    ({'metrics_listen': HUGE}, 'metrics_listen'),
    ({'endpoint_url': 'http://127.0.0.1:8000/\r\nX-Injected: 1'}, 'endpoint_url'),
    ({'endpoint_url': 'http://user:password@127.0.0.1:8000'}, 'endpoint_url'),
    ({'endpoint_url': 'https://127.0.0.1:99999'}, 'endpoint_url'),
    ({'endpoint_url': 'http://[::1'}, 'endpoint_url'),
    ({'endpoint_url': HUGE}, 'endpoint_url'),
    ({'url': 'dynamodb://t-able?region=us-east-1&junk=1'}, 'junk'),
    ({'url': 'dynamodb://t%0Aable'}, 'table_name'),
    ({'url': 'dynamodb://t-able?failover_time=nan'}, 'failover_time'),
    ({'url': 'http://t-able'}, 'url'),
    ({'region': 'us-east-1; rm -rf /'}, 'region'),
    ({HUGE: 1}, 'unknown setting'),
])
def test_hostile_settings_stop_construction_with_one_clear_line(ddb, scope, override, field):
    config = dcs_config(scope=scope, name='a', endpoint=ddb.endpoint, table=ddb.table)
    if 'url' in override:  # the URL is the lowest layer: drop the section keys it would otherwise lose to
        for k in ('table_name', 'endpoint_url', 'region'):
            config['dynamodb'].pop(k)
    config['dynamodb'].update(override)
    message = _construction_error(config)
    _one_clear_line(message, field)
    assert ddb.items(scope) == {}


def test_secrets_in_a_bad_section_are_not_echoed(ddb, scope):
    secret, token = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYBADINPUTKEY', 'FQoGZXIvYXdzBADINPUTTOKEN'
    config = dcs_config(scope=scope, name='a', endpoint=ddb.endpoint, table=ddb.table, session_token=token)
    del config['dynamodb']['access_key_id']
    config['dynamodb']['secret_access_key'] = secret
    message = _construction_error(config)
    _one_clear_line(message, 'access_key_id')
    assert secret not in message and token not in message


# ---- a table with the wrong key schema, or none --------------------------------------------------------------------

@pytest.mark.parametrize('key_schema, attributes', [
    ([('id', 'HASH')], [('id', 'S')]),
    ([('cluster_name', 'HASH')], [('cluster_name', 'S')]),
    ([('cluster_name', 'HASH'), ('key', 'RANGE')], [('cluster_name', 'S'), ('key', 'N')]),
], ids=['foreign', 'no-sort-key', 'numeric-sort-key'])
def test_wrong_key_schema_stops_plugin_start_with_one_line(ddb, scope, key_schema, attributes):
    table = unique_name('wrong_schema')
    client = boto_client(ddb.endpoint)
    client.create_table(TableName=table, BillingMode='PAY_PER_REQUEST',
                        KeySchema=[{'AttributeName': n, 'KeyType': t} for n, t in key_schema],
                        AttributeDefinitions=[{'AttributeName': n, 'AttributeType': t} for n, t in attributes])
    deadline = time.monotonic() + 30
    while client.describe_table(TableName=table)['Table']['TableStatus'] != 'ACTIVE':  # dynalite: CREATING first
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        message = _construction_error(dcs_config(scope=scope, name='a', endpoint=ddb.endpoint, table=table))
        _one_clear_line(message, 'table_name', table, 'cluster_name (S, HASH) + key (S, RANGE)',
                        'dynatroni table create')
        assert client.scan(TableName=table)['Items'] == []
    finally:
        client.delete_table(TableName=table)


def test_missing_table_is_reported_at_start_and_by_every_call(ddb, scope, caplog):
    caplog.set_level(logging.ERROR)
    table = unique_name('no_such_table')
    dcs = get_dcs(dcs_config(scope=scope, name='a', endpoint=ddb.endpoint, table=table, failover_time=9))
    assert f'table {table} does not exist' in caplog.text and 'dynatroni table create' in caplog.text
    started = time.monotonic()
    with pytest.raises(DCSError) as exc:
        dcs.get_cluster()
    assert time.monotonic() - started <= RETRY_TIMEOUT + 1.5
    _one_clear_line(str(exc.value), 'NotFound')


# ---- foreign or corrupt items in the cluster's partition ---------------------------------------------------------

def _put(ddb, item):
    boto_client(ddb.endpoint).put_item(TableName=ddb.table, Item=item)


def test_corrupt_and_foreign_items_are_skipped_with_a_warning_and_kept(make_dcs, ddb, caplog):
    a = make_dcs('a', failover_time=9)
    assert a.touch_member({'conn_url': 'postgres://a', 'api_url': 'http://a/patroni', 'state': 'running'})
    assert a.set_config_value(json.dumps({'ttl': 30}))
    p = a._partition
    pk = {'cluster_name': {'S': p}}
    corrupt = {
        'members/binary': {'value': {'B': b'\x00\x01\xff'}, 'version': {'N': '1'}},
        'members/numeric': {'value': {'N': '42'}, 'version': {'N': '2'}},
        'members/textversion': {'value': {'S': '{}'}, 'version': {'S': 'seven'}},
        'members/noversion': {'value': {'S': '{}'}},
        'members/zeroversion': {'value': {'S': '{}'}, 'version': {'N': '0'}},
        'members/hugeversion': {'value': {'S': '{}'}, 'version': {'N': '1' + '0' * 30}},
        'failover': {'value': {'L': [{'S': 'x'}]}, 'version': {'N': '3'}},
        'sync': {'value': {'S': '{}'}, 'version': {'N': '1'}, 'term': {'S': 'not a number'}},
    }
    for key, attrs in corrupt.items():
        _put(ddb, dict(pk, key={'S': key}, **attrs))
    # Foreign but well-typed attributes are tolerated: unknown keys, a numeric session, a binary extra.
    _put(ddb, dict(pk, key={'S': 'members/tolerant'}, value={'S': '{"conn_url": "postgres://t"}'},
                   version={'N': '4'}, session={'N': '9'}, owner={'S': 'someone else'}, blob={'B': b'\x00'}))
    # A leader whose lease_ms would overflow (found by fuzzing): read, not a crash, and not a lease for ever.
    _put(ddb, dict(pk, key={'S': 'leader'}, value={'S': 'intruder'}, version={'N': '5'}, session={'S': 's'},
                   lease_ms={'N': '99999999999999999'}))
    before = ddb.items(p)

    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    cluster = a.get_cluster()
    assert time.monotonic() - started <= RETRY_TIMEOUT + 1.5
    names = sorted(m.name for m in cluster.members)
    assert names == ['a', 'tolerant'], names
    assert cluster.config is not None and cluster.config.data == {'ttl': 30}
    assert cluster.failover is None
    assert cluster.leader is not None and cluster.leader.name == 'intruder'
    for key in corrupt:
        assert key in caplog.text, f'no warning names {key}: {caplog.text}'
    for record in caplog.records:
        _one_clear_line(record.getMessage())
    # Nothing was deleted or rewritten by reading.
    assert ddb.items(p) == before


# ---- a value over DynamoDB's 400 KB item limit ---------------------------------------------------------------------

def test_value_over_the_item_limit_fails_clearly_and_loses_nothing(make_dcs, ddb, caplog):
    a = make_dcs('a', failover_time=9)
    history = [[1, 25165984, 'no recovery target specified', '2026-01-01T00:00:00+00:00', 'a']]
    assert a.set_history_value(json.dumps(history))
    assert a.set_config_value(json.dumps({'ttl': 30}))
    p = a._partition
    before = ddb.items(p)
    # A long timeline history: ~20000 switchovers, ~1.6 MB of JSON.
    long_history = [[t, 25165984 + t, 'no recovery target specified', '2026-01-01T00:00:00+00:00', f'node{t % 3}']
                    for t in range(1, 20000)]
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    assert a.set_history_value(json.dumps(long_history)) is False
    assert a.touch_member({'conn_url': 'postgres://a', 'tags': {'blob': 'y' * 500_000}}) is False
    assert time.monotonic() - started <= 2 * (RETRY_TIMEOUT + 1.5)
    # One failure line each (docs/operations.md, "What the log says"): WARNING, as Patroni retries the write.
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 2, errors
    for e in errors:
        _one_clear_line(e, '400 KB', 'split or compress')
    assert ddb.items(p) == before  # nothing else lost, nothing half-written
    cluster = a.get_cluster()
    assert cluster.history is not None and len(cluster.history.lines) == 1
    # The store still works afterwards.
    assert a.set_history_value(json.dumps(history + [[2, 50331648, 'switchover', '2026-01-02', 'b']]))


# ---- expired or missing credentials -------------------------------------------------------------------------------

@pytest.fixture
def no_aws_environment(monkeypatch, tmp_path):
    for k in list(__import__('os').environ):
        if k.startswith(('AWS_', 'PATRONI_DYNAMODB_')):
            monkeypatch.delenv(k)
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE', str(tmp_path / 'no-credentials'))
    monkeypatch.setenv('AWS_CONFIG_FILE', str(tmp_path / 'no-config'))
    monkeypatch.setenv('AWS_EC2_METADATA_DISABLED', 'true')
    monkeypatch.setenv('HOME', str(tmp_path))


def test_missing_credentials_give_one_line_naming_the_fix_within_retry_timeout(ddb, scope, no_aws_environment):
    config = dcs_config(scope=scope, name='a', endpoint=ddb.endpoint, table=ddb.table, failover_time=9)
    del config['dynamodb']['access_key_id'], config['dynamodb']['secret_access_key']
    dcs = get_dcs(config)
    assert dcs._core.credential_source.startswith('unresolved')
    for call in (dcs.get_cluster, dcs.attempt_to_acquire_leader):
        started = time.monotonic()
        with pytest.raises(DCSError) as exc:
            call()
        assert time.monotonic() - started <= RETRY_TIMEOUT + 1.5
        # One line, but it lists why each link of the credential chain had nothing: allow it to be longer.
        _one_clear_line(str(exc.value), 'credentials', 'AWS_ACCESS_KEY_ID', max_len=1200)
    assert dcs.touch_member({'conn_url': 'postgres://a'}) is False
    assert ddb.items(scope) == {}



def test_expired_session_token_is_one_clear_line_without_the_secret(scope, caplog):
    secret, token = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXPIREDKEY', 'FQoGZXIvYXdzEXPIREDSESSIONTOKEN'
    server = ExpiredTokenServer()
    try:
        caplog.set_level(logging.DEBUG)
        dcs = get_dcs(dcs_config(scope=scope, name='a', endpoint=server.endpoint, table='patroni',
                                 failover_time=9, access_key_id='ASIAEXPIREDEXAMPLE', secret_access_key=secret,
                                 session_token=token))
        started = time.monotonic()
        with pytest.raises(DCSError) as exc:
            dcs.get_cluster()
        assert time.monotonic() - started <= RETRY_TIMEOUT + 1.5
        message = str(exc.value)
        _one_clear_line(message, 'PermissionDenied', 'expired')
        assert dcs.touch_member({'conn_url': 'postgres://a'}) is False
        assert server.requests, 'the plugin never asked the server'
        sent = [{k.lower(): v for k, v in h.items()} for h, _ in server.requests]
        assert any(h.get('x-amz-security-token') == token for h in sent)  # it was really sent
        for text in [message, caplog.text]:
            assert secret not in text and token not in text
            assert 'Signature=' not in text
    finally:
        server.close()


# ---- a wrong region, an unreachable endpoint --------------------------------------------------------------------------

def test_implausible_region_is_rejected_at_start(scope, no_aws_environment):
    config = dcs_config(scope=scope, name='a', endpoint='', table='patroni', region='Europe (Paris)')
    del config['dynamodb']['endpoint_url']
    _one_clear_line(_construction_error(config), 'region')


@pytest.mark.parametrize('endpoint', ['http://no-such-host.invalid:8000', 'http://127.0.0.1:1'])
def test_unreachable_endpoint_or_unknown_host_fails_within_retry_timeout(scope, endpoint):
    dcs = get_dcs(dcs_config(scope=scope, name='a', endpoint=endpoint, table='patroni', failover_time=9))
    for call in (dcs.get_cluster, dcs.attempt_to_acquire_leader):
        started = time.monotonic()
        with pytest.raises(DCSError) as exc:
            call()
        assert time.monotonic() - started <= RETRY_TIMEOUT + 1.5
        _one_clear_line(str(exc.value), 'Unavailable')
    assert dcs.set_config_value('{}') is False


def test_wrong_region_for_a_regional_endpoint_fails_within_retry_timeout(scope, no_aws_environment):
    # No endpoint_url: https://dynamodb.xx-nowhere-1.amazonaws.com, which does not resolve (or is not reachable
    # from the test machine): an error inside retry_timeout, never a hang.
    dcs = get_dcs(dcs_config(scope=scope, name='a', endpoint='', table='patroni', region='xx-nowhere-1',
                             failover_time=9))
    started = time.monotonic()
    with pytest.raises(DCSError) as exc:
        dcs.get_cluster()
    assert time.monotonic() - started <= RETRY_TIMEOUT + 1.5
    # the region is the one configured, and the error names the regional endpoint it made of it
    assert dcs._core.region == 'xx-nowhere-1'
    assert dcs._core.endpoint == 'https://dynamodb.xx-nowhere-1.amazonaws.com'
    _one_clear_line(str(exc.value), 'dynamodb.xx-nowhere-1.amazonaws.com')
