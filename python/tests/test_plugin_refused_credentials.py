"""Credentials that expire or are revoked mid-lease (issue 23): AWS's ExpiredTokenException makes the client drop the
cached credentials, fetch new ones and send the refused request once more, so the primary's lease renewal succeeds
within retry_timeout instead of failing until the cache's own refresh (up to an hour later for a one-hour role
session revoked early).

The plugin is built by Patroni's ``get_dcs``; its only credential source is an ECS-style container endpoint that the
test rotates (tools/fault_proxy.py sits in front of moto). The proxy refuses every request signed with the old
session token with DynamoDB's ExpiredTokenException (rule field ``session_tokens``), as AWS does once a token has
expired or its role session was revoked.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List

import pytest
from patroni.dcs import get_dcs
from patroni.exceptions import DCSError

from tools import fault_proxy
from dynatroni.failure_log import LOGGER_NAME
from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)

# Recognisable secrets: none may appear in any line.
OLD = {'AccessKeyId': 'ASIAOLDKEYID7EXAMPLE', 'SecretAccessKey': 'oLd/SeCrEt+KeY/nEvEr/LoGgEd/0123456789AB',
       'Token': 'OldSessionToken//NeverLogged+IQoJb3JpZ2luX2VjEXAMPLE'}
NEW = {'AccessKeyId': 'ASIANEWKEYID7EXAMPLE', 'SecretAccessKey': 'nEw/SeCrEt+KeY/nEvEr/LoGgEd/0123456789AB',
       'Token': 'NewSessionToken//NeverLogged+IQoJb3JpZ2luX2VjEXAMPLE'}
AUTH_TOKEN = 'ContainerAuthToken-NeverLogged-0123456789'
SECRETS = [c[k] for c in (OLD, NEW) for k in ('AccessKeyId', 'SecretAccessKey', 'Token')] + [AUTH_TOKEN, 'Signature=']


class RotatingCredentials:
    """An ECS-style container credential endpoint serving `current` (valid for an hour from each answer)."""

    def __init__(self, current: Dict[str, str]) -> None:
        self.current = current
        self.answers = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.answers += 1
                expiry = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 3600))
                data = json.dumps(dict(outer.current, Expiration=expiry)).encode()
                self.send_response(200)
                self.send_header('content-type', 'application/json')
                self.send_header('content-length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}/v2/credentials/task'
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def credentials(monkeypatch, tmp_path):
    """The container link is the only link of the credential chain that applies (no keys anywhere else)."""
    for k in list(os.environ):
        if k.startswith('AWS_'):
            monkeypatch.delenv(k)
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE', str(tmp_path / 'none'))
    monkeypatch.setenv('AWS_CONFIG_FILE', str(tmp_path / 'none'))
    monkeypatch.setenv('AWS_EC2_METADATA_DISABLED', 'true')
    monkeypatch.setenv('AWS_CONTAINER_AUTHORIZATION_TOKEN', AUTH_TOKEN)
    server = RotatingCredentials(OLD)
    monkeypatch.setenv('AWS_CONTAINER_CREDENTIALS_FULL_URI', server.url)
    yield server
    server.close()


@pytest.fixture
def proxy(moto_ddb, tmp_path):
    port = int(moto_ddb.endpoint.rsplit(':', 1)[1])
    with fault_proxy.FaultProxy('127.0.0.1', port, seed=23, log_path=str(tmp_path / 'proxy.jsonl')) as p:
        yield p


def _lines(caplog) -> List[str]:
    return [f'{r.levelname}: {r.getMessage()}' for r in caplog.records if r.name == LOGGER_NAME]


def _records(proxy) -> List[Dict[str, Any]]:
    deadline = time.monotonic() + 5  # a record lands just after its reply
    while True:
        records = [r for r in fault_proxy.read_log(proxy.log_path) if 'seq' in r]
        if len(records) >= proxy.requests or time.monotonic() > deadline:
            return records
        time.sleep(0.02)


def _keyless_dcs(scope: str, endpoint: str, table: str):
    config = dcs_config(scope=scope, name='a', endpoint=endpoint, table=table, failover_time=9)
    for k in ('access_key_id', 'secret_access_key'):
        del config['dynamodb'][k]
    return get_dcs(config)


def test_a_renewal_refused_for_an_expired_token_is_sent_again_with_new_credentials(moto_ddb, scope, proxy,
                                                                                   credentials, caplog):
    caplog.set_level(logging.INFO)
    a = _keyless_dcs(scope, proxy.url(), moto_ddb.table)
    a.touch_member({'conn_url': 'postgres://a:5432/postgres', 'api_url': 'http://a:8008/patroni', 'role': 'primary'})
    a.get_cluster()
    assert compat_acquire(a), 'the lease was not acquired'
    cluster = a.get_cluster()
    assert cluster.leader is not None and cluster.leader.name == 'a'
    answers = credentials.answers

    # The role session ends early: the endpoint now hands out new credentials, and AWS refuses the old token.
    credentials.current = NEW
    proxy.set_rules([{'action': 'expired_token', 'session_tokens': [fault_proxy.token_digest(OLD['Token'])]}])
    caplog.clear()
    # The primary's next renewal, within its retry_timeout (3 s at failover_time 9): True, not a DCSError.
    assert compat_update_leader(a, cluster, None) is True

    records = _records(proxy)
    renewals = [r for r in records if r['op'] == 'UpdateItem' and r['key'] == 'leader' and r['seq'] > 0]
    refused = [r for r in renewals if r['fault'] == 'expired_token']
    assert len(refused) == 1 and refused[0]['token'] == fault_proxy.token_digest(OLD['Token']), renewals
    after = [r for r in renewals if r['seq'] > refused[0]['seq']]
    assert after and after[0]['outcome'] == 'ok' and after[0]['token'] == fault_proxy.token_digest(NEW['Token'])
    assert credentials.answers == answers + 1, 'the new credentials were fetched once'

    a.get_cluster()  # later calls go out with the new credentials at once
    assert not [r for r in _records(proxy) if r['seq'] > after[0]['seq'] and r['fault'] != 'ok']
    lines = _lines(caplog)
    refusal = [line for line in lines if 'refused the credentials' in line]
    assert len(refusal) == 1, lines
    assert refusal[0].startswith('WARNING: dynamodb: AWS refused the credentials in use (ExpiredTokenException for '
                                 'ASIA****MPLE (container)'), refusal[0]
    assert not [line for line in lines if ' failed: ' in line], lines
    text = '\n'.join(lines)
    for secret in SECRETS:
        assert secret not in text
    print(refusal[0])


def test_a_source_that_serves_the_refused_credentials_again_fails_the_call_once(moto_ddb, scope, proxy, credentials,
                                                                                caplog):
    """The endpoint has not rotated yet: the refused request is not sent again with the same credentials, and the
    call fails with DynamoDB's error (Patroni demotes a primary on it)."""
    caplog.set_level(logging.INFO)
    a = _keyless_dcs(scope, proxy.url(), moto_ddb.table)
    a.get_cluster()
    proxy.set_rules([{'action': 'expired_token', 'session_tokens': [fault_proxy.token_digest(OLD['Token'])]}])
    caplog.clear()
    with pytest.raises(DCSError):
        a.get_cluster()
    queries = [r for r in _records(proxy) if r['op'] == 'Query' and r['fault'] == 'expired_token']
    assert len(queries) == 1, queries
    failures = [line for line in _lines(caplog) if ' failed: ' in line]
    assert len(failures) == 1 and 'ExpiredTokenException' in failures[0] and '1 attempt in' in failures[0], failures
