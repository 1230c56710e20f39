"""TLS verification is on unless the endpoint is plain http (issue 8, "Security").

A TLS-terminating proxy in front of moto presents a self-signed certificate made at test time with the openssl
command. Without ca_bundle the plugin must refuse it (a clear error, nothing written); with ca_bundle naming that
certificate it must work; a certificate for another host name must be refused even with the ca_bundle.
"""
from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
import time

import pytest
from patroni.dcs import get_dcs
from patroni.exceptions import DCSError

from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)

RETRY_TIMEOUT = 3.0  # failover_time 9


def _make_cert(tmp_path, name, san):
    key, cert = tmp_path / f'{name}.key', tmp_path / f'{name}.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', str(key), '-out',
                    str(cert), '-days', '1', '-subj', f'/CN={name}', '-addext', f'subjectAltName={san}'],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class TlsProxy:
    """Accepts TLS on 127.0.0.1 with the given certificate and forwards plain bytes to `upstream`."""

    def __init__(self, upstream: str, cert, key):
        host, port = upstream.rsplit('//', 1)[1].rsplit(':', 1)
        self._upstream = (host, int(port))
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(str(cert), str(key))
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(('127.0.0.1', 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self.handshakes_failed = 0
        self.forwarded = 0  # request bytes that reached DynamoDB (only after the client accepted the certificate)
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closed:
            try:
                raw, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw):
        try:
            conn = self._ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshakes_failed += 1
            raw.close()
            return
        up = socket.create_connection(self._upstream, timeout=10)

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    if src is conn:
                        self.forwarded += len(data)
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pump, args=(up, conn), daemon=True).start()
        pump(conn, up)

    def close(self):
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.close()


@pytest.fixture
def tls_moto(moto_ddb, tmp_path):
    cert, key = _make_cert(tmp_path, 'localhost-test', 'IP:127.0.0.1,DNS:localhost')
    proxy = TlsProxy(moto_ddb.endpoint, cert, key)
    yield proxy, cert
    proxy.close()


def _dcs(scope, endpoint, table, **extra):
    return get_dcs(dcs_config(scope=scope, name='a', endpoint=endpoint, table=table, failover_time=9, **extra))


def test_self_signed_certificate_is_refused_without_ca_bundle(tls_moto, moto_ddb, scope):
    proxy, _ = tls_moto
    dcs = _dcs(scope, f'https://127.0.0.1:{proxy.port}', moto_ddb.table)
    started = time.monotonic()
    with pytest.raises(DCSError) as exc:
        dcs.get_cluster()
    assert time.monotonic() - started <= RETRY_TIMEOUT + 1.5
    message = str(exc.value)
    assert 'certificate' in message, message
    assert '\n' not in message and ('TLS' in message or 'certificate' in message or 'SSL' in message), message
    assert dcs.touch_member({'conn_url': 'postgres://a'}) is False
    assert proxy.forwarded == 0 and proxy.handshakes_failed >= 1
    assert moto_ddb.items(scope) == {}


def test_self_signed_certificate_is_accepted_with_it_as_ca_bundle(tls_moto, moto_ddb, scope):
    proxy, cert = tls_moto
    dcs = _dcs(scope, f'https://127.0.0.1:{proxy.port}', moto_ddb.table, ca_bundle=str(cert))
    assert dcs.get_cluster().leader is None
    assert dcs.touch_member({'conn_url': 'postgres://a'}) is True
    assert compat_acquire(dcs) is True
    assert moto_ddb.item(scope, 'leader')['value'] == 'a'
    assert proxy.forwarded > 0


def test_certificate_for_another_host_is_refused_even_with_ca_bundle(moto_ddb, scope, tmp_path):
    cert, key = _make_cert(tmp_path, 'elsewhere', 'DNS:dynamodb.elsewhere.example')
    proxy = TlsProxy(moto_ddb.endpoint, cert, key)
    try:
        dcs = _dcs(scope, f'https://127.0.0.1:{proxy.port}', moto_ddb.table, ca_bundle=str(cert))
        with pytest.raises(DCSError) as exc:
            dcs.get_cluster()
        assert 'host name' in str(exc.value) or 'subject name' in str(exc.value), str(exc.value)
        assert dcs.touch_member({'conn_url': 'postgres://a'}) is False
        assert proxy.forwarded == 0
        assert moto_ddb.items(scope) == {}
    finally:
        proxy.close()


def test_plain_http_endpoint_needs_no_tls(moto_ddb, scope):
    dcs = _dcs(scope, moto_ddb.endpoint, moto_ddb.table)
    assert dcs._core.endpoint.startswith('http://')
    assert dcs.get_cluster().leader is None
