"""Fixtures and helpers for the Patroni plugin tests (test_plugin_*.py).

The plugin is always built the way Patroni builds it: ``dynatroni.patroni_loader.install()`` and then
Patroni's own ``patroni.dcs.get_dcs(config)``. Works with Patroni 4.1 (PyPI) and Debian's Patroni 3.0.2: the
few calls whose signature changed between them go through the ``compat_*`` helpers below.

Fixtures (import them into a test module with ``from plugin_harness import *``):
  ddb        one local DynamoDB server (parametrized: moto, dynalite) with a table created by boto3
  make_dcs   factory: make_dcs(name, scope=..., failover_time=..., citus_group=...) -> DynamoDB instance
  scope      a scope name unique to the test
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional

import boto3
import pytest
from botocore.config import Config as BotoConfig

REPO = Path(__file__).resolve().parents[2]

from dynatroni import patroni_loader  # noqa: E402

patroni_loader.install()

from patroni.dcs import get_dcs  # noqa: E402
from patroni.version import __version__ as PATRONI_VERSION  # noqa: E402

PATRONI_MAJOR = int(PATRONI_VERSION.split('.')[0])
# Patroni >= 3.0.3 renamed index -> version; >= 4.0 passes the cluster to update_leader.
HAS_VERSION_FIELDS = 'version' in __import__('patroni.dcs', fromlist=['Member']).Member._fields

REGION = 'us-east-1'
ACCESS_KEY = 'x'
SECRET_KEY = 'y'

__all__ = ['ddb', 'moto_ddb', 'make_dcs', 'make_dcs_moto', 'scope', 'Ddb', 'boto_client', 'create_table', 'query_partition', 'get_raw_item',
           'compat_update_leader', 'compat_delete_leader', 'compat_acquire', 'compat_write_sync_state', 'ver',
           'modify_ver', 'last_lsn_of', 'slots_of', 'free_port', 'dcs_config', 'PATRONI_VERSION', 'PATRONI_MAJOR',
           'REGION', 'ACCESS_KEY', 'SECRET_KEY', 'unique_name', 'OutageProxy', 'ExpiredTokenServer']


def unique_name(prefix: str) -> str:
    return f'{prefix}-{uuid.uuid4().hex[:10]}'


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def boto_client(endpoint: str):
    return boto3.client('dynamodb', endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY,
                        config=BotoConfig(retries={'max_attempts': 2}, connect_timeout=5, read_timeout=10))


def create_table(endpoint: str, table: str) -> None:
    client = boto_client(endpoint)
    client.create_table(
        TableName=table, BillingMode='PAY_PER_REQUEST',
        KeySchema=[{'AttributeName': 'cluster_name', 'KeyType': 'HASH'},
                   {'AttributeName': 'key', 'KeyType': 'RANGE'}],
        AttributeDefinitions=[{'AttributeName': 'cluster_name', 'AttributeType': 'S'},
                              {'AttributeName': 'key', 'AttributeType': 'S'}])
    deadline = time.monotonic() + 30
    while client.describe_table(TableName=table)['Table']['TableStatus'] != 'ACTIVE':
        assert time.monotonic() < deadline, f'table {table} did not become ACTIVE'
        time.sleep(0.05)


def query_partition(endpoint: str, table: str, partition: str) -> Dict[str, Dict[str, Any]]:
    """All items of a partition (strongly consistent), keyed by sort key, as plain Python values."""
    client = boto_client(endpoint)
    out: Dict[str, Dict[str, Any]] = {}
    kwargs: Dict[str, Any] = dict(TableName=table, ConsistentRead=True,
                                  KeyConditionExpression='cluster_name = :p',
                                  ExpressionAttributeValues={':p': {'S': partition}})
    while True:
        page = client.query(**kwargs)
        for item in page['Items']:
            out[item['key']['S']] = _plain(item)
        if 'LastEvaluatedKey' not in page:
            return out
        kwargs['ExclusiveStartKey'] = page['LastEvaluatedKey']


def get_raw_item(endpoint: str, table: str, partition: str, key: str) -> Optional[Dict[str, Any]]:
    item = boto_client(endpoint).get_item(TableName=table, ConsistentRead=True,
                                          Key={'cluster_name': {'S': partition}, 'key': {'S': key}}).get('Item')
    return _plain(item) if item else None


def _plain(item: Dict[str, Any]) -> Dict[str, Any]:
    out = {}
    for k, v in item.items():
        (t, x), = v.items()
        out[k] = int(x) if t == 'N' else x
    return out


def dcs_config(*, scope: str, name: str, endpoint: str, table: str, failover_time: Optional[float] = None,
               citus_group: Optional[int] = None, ctl: bool = False, **extra: Any) -> Dict[str, Any]:
    section: Dict[str, Any] = {'table_name': table, 'endpoint_url': endpoint, 'region': REGION,
                               'access_key_id': ACCESS_KEY, 'secret_access_key': SECRET_KEY}
    if failover_time is not None:
        section['failover_time'] = failover_time
    section.update(extra)
    config: Dict[str, Any] = {'scope': scope, 'name': name, 'ttl': 30, 'loop_wait': 10, 'retry_timeout': 10,
                              'dynamodb': section}
    if citus_group is not None:
        config['citus'] = {'group': citus_group, 'database': 'citus'}
    if ctl:
        config['patronictl'] = True
    return config


@dataclasses.dataclass
class Ddb:
    """One local DynamoDB server with a table for the test session."""
    server: str
    endpoint: str
    table: str

    def items(self, partition: str) -> Dict[str, Dict[str, Any]]:
        return query_partition(self.endpoint, self.table, partition)

    def item(self, partition: str, key: str) -> Optional[Dict[str, Any]]:
        return get_raw_item(self.endpoint, self.table, partition, key)

    def put_raw(self, partition: str, key: str, **attrs: Any) -> None:
        item = {'cluster_name': {'S': partition}, 'key': {'S': key}}
        for k, v in attrs.items():
            item[k] = {'N': str(v)} if isinstance(v, int) else {'S': v}
        boto_client(self.endpoint).put_item(TableName=self.table, Item=item)


@pytest.fixture(scope='session', params=['moto', 'dynalite'])
def ddb(request, local_dynamodb) -> Ddb:
    server = request.param
    endpoint = local_dynamodb['endpoints'][server]
    table = unique_name(f'plugin_{server}')
    create_table(endpoint, table)
    return Ddb(server, endpoint, table)


@pytest.fixture
def scope(request) -> str:
    return unique_name(request.node.originalname.replace('test_', '')[:30])


@pytest.fixture(scope='session')
def moto_ddb(local_dynamodb) -> Ddb:
    """One server only, for the few tests whose subject does not depend on the server (timing, real Patroni): moto,
    or dynalite with DYNATRONI_E2E_BACKEND=dynalite (tools/local_dynamodb.py's e2e_backend; make test-e2e-dynalite)."""
    from tools import local_dynamodb as servers_tool
    kind = servers_tool.e2e_backend()
    endpoint = local_dynamodb['endpoints'][kind]
    table = unique_name('plugin_moto_only')
    create_table(endpoint, table)
    return Ddb(kind, endpoint, table)


def _factory(ddb: Ddb, scope: str):
    def make(name: str, *, scope_name: Optional[str] = None, endpoint: Optional[str] = None, **kwargs: Any):
        config = dcs_config(scope=scope_name or scope, name=name, endpoint=endpoint or ddb.endpoint,
                            table=ddb.table, **kwargs)
        dcs = get_dcs(config)
        assert type(dcs).__name__ == 'DynamoDB' and type(dcs).__module__ == 'dynatroni.dynamodb', type(dcs)
        return dcs
    return make


@pytest.fixture
def make_dcs(ddb: Ddb, scope: str):
    """make_dcs(name, scope_name=<test scope>, failover_time=None, citus_group=None, ctl=False, **section)."""
    return _factory(ddb, scope)


@pytest.fixture
def make_dcs_moto(moto_ddb: Ddb, scope: str):
    """make_dcs on the moto-only table."""
    return _factory(moto_ddb, scope)


# ---- calls whose signature differs between Patroni 3.0.2 and 4.1 -----------------------------------------------

def compat_update_leader(dcs, cluster, last_lsn: Optional[int], slots=None, failsafe=None) -> bool:
    """The public update_leader wrapper, called as that Patroni version's ha.py calls it."""
    if PATRONI_MAJOR >= 4:
        return dcs.update_leader(cluster, last_lsn, slots, failsafe)
    return dcs.update_leader(last_lsn, slots, failsafe)


def compat_delete_leader(dcs, cluster, last_lsn: Optional[int] = None) -> bool:
    import inspect
    if 'leader' in inspect.signature(dcs.delete_leader).parameters:  # Patroni >= 3.2
        return dcs.delete_leader(cluster.leader, last_lsn)
    return dcs.delete_leader(last_lsn)


def compat_acquire(dcs) -> bool:
    """acquire_leader_lock (Patroni >= 4.1) or attempt_to_acquire_leader (what older ha.py calls)."""
    if hasattr(dcs, 'acquire_leader_lock'):
        return dcs.acquire_leader_lock()
    return dcs.attempt_to_acquire_leader()


def compat_write_sync_state(dcs, leader: str, sync_standby: List[str], version) -> Any:
    if PATRONI_MAJOR >= 4:
        return dcs.write_sync_state(leader, sync_standby, 0, version=version)
    if HAS_VERSION_FIELDS:
        return dcs.write_sync_state(leader, sync_standby, version=version)
    return dcs.write_sync_state(leader, sync_standby, index=version)


def ver(obj) -> Any:
    """version (>= 3.0.3) or index (3.0.2) of a Member/Leader/ClusterConfig/SyncState/Failover/TimelineHistory."""
    # (3.0.2's Member also has a `version` property: the Patroni version from its data.)
    return obj.version if HAS_VERSION_FIELDS else obj.index


def modify_ver(config) -> Any:
    return config.modify_version if HAS_VERSION_FIELDS else config.modify_index


def last_lsn_of(cluster) -> int:
    return cluster.status.last_lsn if hasattr(cluster, 'status') else cluster.last_lsn


def slots_of(cluster) -> Any:
    return cluster.status.slots if hasattr(cluster, 'status') else cluster.slots


class OutageProxy:
    """A TCP proxy in front of a local DynamoDB that can simulate an outage.

    mode 'forward' passes bytes both ways; 'blackhole' keeps every connection open (new and existing, so the
    client's keep-alive connections too) but drops all bytes, so requests time out like an unreachable region.
    silence_existing() makes only the connections open now drop all bytes, as a keep-alive connection whose
    path died silently (NAT timeout, failed-over network interface); new connections still forward.
    """

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit('//', 1)[1].rsplit(':', 1)
        self._upstream = (host, int(port))
        self.mode = 'forward'
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(('127.0.0.1', 0))
        self._sock.listen(64)
        self.endpoint = f'http://127.0.0.1:{self._sock.getsockname()[1]}'
        self._closed = False
        self._conns: List[socket.socket] = []
        self._silenced: set = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            upstream = None
            with contextlib.suppress(OSError):
                upstream = socket.create_connection(self._upstream, timeout=5)
                upstream.settimeout(None)
            with self._lock:
                self._conns += [c for c in (client, upstream) if c is not None]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            if upstream is not None:
                threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: Optional[socket.socket]) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.mode == 'forward' and dst is not None and src not in self._silenced:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for c in (src, dst):
                if c is not None:
                    with contextlib.suppress(OSError):
                        c.shutdown(socket.SHUT_RDWR)

    def silence_existing(self) -> int:
        """Drops every byte of the connections open now, in both directions; returns how many there were."""
        with self._lock:
            self._silenced.update(self._conns)
            return len(self._conns)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.close()
        with self._lock:
            for c in self._conns:
                with contextlib.suppress(OSError):
                    c.close()


class ExpiredTokenServer:
    """Answers every request as DynamoDB does for an expired session token; records what it was sent."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get('content-length', 0)))
                outer.requests.append((dict(self.headers), body))
                payload = json.dumps({'__type': 'com.amazon.coral.service#ExpiredTokenException',
                                      'message': 'The security token included in the request is expired'}).encode()
                self.send_response(400)
                self.send_header('content-type', 'application/x-amz-json-1.0')
                self.send_header('content-length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.endpoint = f'http://127.0.0.1:{self.server.server_address[1]}'
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
