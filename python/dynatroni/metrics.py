"""Prometheus metrics of one Patroni node's DCS: the families, their rendering, and the opt-in listener.

The counters live in C++ where the DynamoDB calls happen (``dynamodb::ClientStats``, read through
``_core.Dcs.metrics()``); the lease state comes from ``_core.Dcs.lease``; the time of the last successful cluster
load from the plugin. This module is the one place that names the metrics and renders them in Prometheus' text
exposition format 0.0.4; docs/operations.md ("Metrics") lists them, and python/tests/test_e2e_metrics.py checks
that list against what ``/metrics`` serves.

``metrics_listen: host:port`` in the ``dynamodb:`` section (off by default) serves ``GET /metrics`` from a daemon
thread of the Patroni process (never in patronictl). A failed bind is logged once at ERROR and the DCS works on.
"""
from __future__ import annotations

import logging
import math
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .failure_log import LOGGER_NAME

logger = logging.getLogger(LOGGER_NAME)

CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

Labels = Dict[str, str]
Sample = Tuple[str, Labels, float]  # (name suffix such as '' or '_bucket', labels, value)


class Family:
    """One metric family: a name, a type (counter, gauge, histogram), a help text and its samples."""

    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name, self.kind, self.help = name, kind, help_text
        self.samples: List[Sample] = []

    def add(self, value: float, labels: Optional[Labels] = None, suffix: str = '') -> 'Family':
        self.samples.append((suffix, dict(labels or {}), value))
        return self

    def add_histogram(self, bounds: Sequence[float], counts: Sequence[int], total: float, count: int,
                      labels: Optional[Labels] = None) -> 'Family':
        """`counts`: one per bound plus one above the last, NOT cumulative (dynamodb::LatencyHistogram)."""
        if len(counts) != len(bounds) + 1:
            raise ValueError(f'{self.name}: {len(counts)} bucket counts for {len(bounds)} bounds')
        base = dict(labels or {})
        running = 0
        for bound, n in zip(list(bounds) + [math.inf], counts):
            running += n
            self.add(running, dict(base, le=format_value(bound)), '_bucket')
        self.add(total, base, '_sum')
        self.add(count, base, '_count')
        return self


def escape_label_value(value: str) -> str:
    """A label value as the text format wants it between double quotes: backslash, quote and newline escaped."""
    return value.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def escape_help(text: str) -> str:
    """A HELP text: backslash and newline escaped."""
    return text.replace('\\', '\\\\').replace('\n', '\\n')


def format_value(value: float) -> str:
    """A sample value (or an le bound): integers without a fraction, NaN, +Inf and -Inf spelled as Prometheus
    spells them, other floats in Python's shortest round-trip form."""
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return 'NaN'
    if math.isinf(value):
        return '+Inf' if value > 0 else '-Inf'
    if value.is_integer() and abs(value) < 2 ** 53:
        return str(int(value))
    return repr(value)


def render(families: Iterable[Family]) -> str:
    """The text exposition format 0.0.4: per family a HELP and a TYPE line, then its samples."""
    out: List[str] = []
    for f in families:
        out.append(f'# HELP {f.name} {escape_help(f.help)}')
        out.append(f'# TYPE {f.name} {f.kind}')
        for suffix, labels, value in f.samples:
            text = ','.join(f'{k}="{escape_label_value(str(v))}"' for k, v in labels.items())
            out.append(f'{f.name}{suffix}{{{text}}} {format_value(value)}' if text else
                       f'{f.name}{suffix} {format_value(value)}')
    return '\n'.join(out) + '\n'


RENEWAL_RESULTS = ('renewed', 'refused', 'failed')


def families(core_metrics: Dict[str, Any], lease: Dict[str, Any], leader_term_seen: int,
             last_load_age: Optional[float], renewals: Dict[str, int]) -> List[Family]:
    """Every family, from `core_metrics` (``_core.Dcs.metrics()``), `lease` (``_core.Dcs.lease``), the term in
    the leader item of the last cluster load, the seconds since that load (None before the first) and the
    plugin's lease renewals by result (RENEWAL_RESULTS)."""
    m = core_metrics
    out: List[Family] = []
    f = Family('dynatroni_dynamodb_requests_total', 'counter',
               'DynamoDB requests sent (attempts, retries included), by operation.')
    for op, n in sorted(m['requests_by_operation'].items()):
        f.add(n, {'operation': op})
    out.append(f)
    f = Family('dynatroni_dynamodb_calls_total', 'counter',
               'DynamoDB operation calls (all attempts of one call count once), by operation and outcome '
               '(success, condition_failed, or the final error: unavailable, unknown_outcome, deadline_exceeded, '
               'permission_denied, not_found, invalid_argument, malformed_response, failed_precondition, internal).')
    for op, outcome, n in sorted(m['calls']):
        f.add(n, {'operation': op, 'outcome': outcome})
    out.append(f)
    f = Family('dynatroni_dynamodb_call_duration_seconds', 'histogram',
               'Duration of DynamoDB operation calls, every attempt and backoff included, by operation.')
    for op, (counts, total, count) in sorted(m['latency'].items()):
        f.add_histogram(m['latency_bucket_bounds'], counts, total, count, {'operation': op})
    out.append(f)
    out.append(Family('dynatroni_dynamodb_retries_total', 'counter',
                      'Backoff sleeps before a retry of a DynamoDB request.').add(m['retries']))
    out.append(Family('dynatroni_dynamodb_throttles_total', 'counter',
                      'Throttling answers from DynamoDB (ProvisionedThroughputExceeded, ThrottlingException, '
                      'RequestLimitExceeded, ...).').add(m['throttles']))
    out.append(Family('dynatroni_dynamodb_unknown_outcomes_total', 'counter',
                      'Write attempts whose outcome was unknown (no definitive answer).').add(m['unknown_outcomes']))
    f = Family('dynatroni_dynamodb_consumed_capacity_units_total', 'counter',
               'Capacity units DynamoDB reported as consumed (ConsumedCapacity in its answers), by operation.')
    for op, units in sorted(m['consumed_capacity'].items()):
        f.add(units, {'operation': op})
    out.append(f)
    f = Family('dynatroni_lease_renewals_total', 'counter',
               'Leader lease renewals (Patroni\'s update_leader) by result: renewed; refused (another node holds '
               'the lease: Patroni demotes); failed (DynamoDB did not answer definitively: Patroni demotes unless '
               'failsafe_mode keeps it).')
    for result in RENEWAL_RESULTS:
        f.add(renewals.get(result, 0), {'result': result})
    out.append(f)
    out.append(Family('dynatroni_lease_held', 'gauge',
                      '1 while this node holds the leader lease (before its holder bound), else 0.')
               .add(1 if lease['held'] else 0))
    out.append(Family('dynatroni_lease_remaining_seconds', 'gauge',
                      'Seconds until this node\'s holder bound of the leader lease (0 when not holding).')
               .add(float(lease['remaining']) if lease['held'] else 0.0))
    out.append(Family('dynatroni_lease_term', 'gauge',
                      'Term of the leader lease: this node\'s while it holds it, else the one in the leader item '
                      'of the last cluster load (0: none seen).')
               .add(max(int(lease['term']) if lease['held'] else 0, int(leader_term_seen))))
    f = Family('dynatroni_cluster_load_age_seconds', 'gauge',
               'Seconds since the last successful cluster load (absent before the first).')
    if last_load_age is not None:
        f.add(last_load_age)
    out.append(f)
    f = Family('dynatroni_credentials_expiry_timestamp_seconds', 'gauge',
               'Unix time at which the cached AWS credentials expire (absent for credentials that never expire).')
    if m['credential_expiry'] is not None:
        f.add(float(m['credential_expiry']))
    out.append(f)
    return out


# ---- the listener ---------------------------------------------------------------------------------------------

def split_listen(listen: str) -> Tuple[str, int]:
    """'host:port' or '[v6]:port' (validated by the C++ parser) as (host, port)."""
    host, _, port = listen.rpartition(':')
    return host.strip('[]'), int(port)


class _Handler(BaseHTTPRequestHandler):
    server: '_Server'

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.split('?', 1)[0] != '/metrics':
            self.send_error(404, 'only /metrics is served here')
            return
        try:
            body = self.server.source().encode('utf-8')
        except Exception as e:  # a broken collection must never take the DCS down
            logger.error('dynamodb: metrics_listen: cannot collect the metrics: %s', e)
            self.send_error(500, 'cannot collect the metrics')
            return
        self.send_response(200)
        self.send_header('Content-Type', CONTENT_TYPE)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        pass  # one line per scrape would flood Patroni's log


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    source: Callable[[], str]


_servers: Dict[str, _Server] = {}
_servers_lock = threading.Lock()


def serve(listen: str, source: Callable[[], str]) -> bool:
    """Serves `source()` as GET /metrics on `listen` from a daemon thread. A second call for the same address in
    this process (a DCS object made anew) points the running listener at the new `source`. When the address
    cannot be bound, logs one ERROR naming metrics_listen and returns False: the DCS works on without metrics."""
    with _servers_lock:
        running = _servers.get(listen)
        if running is not None:
            running.source = source
            return True
        host, port = split_listen(listen)
        try:
            cls = _Server
            if ':' in host:
                cls = type('_Server6', (_Server,), {'address_family': socket.AF_INET6})
            server = cls((host, port), _Handler)
        except (OSError, OverflowError) as e:
            logger.error('dynamodb: metrics_listen %s: cannot listen (%s); Prometheus metrics are not served, '
                         'the DCS works on: free the port or choose another metrics_listen', listen, e)
            return False
        server.source = source
        _servers[listen] = server
    threading.Thread(target=server.serve_forever, name=f'dynatroni-metrics {listen}', daemon=True).start()
    logger.info('dynamodb: serving Prometheus metrics on http://%s/metrics', listen)
    return True


def stop(listen: str) -> None:
    """Stops the listener on `listen` (tests)."""
    with _servers_lock:
        server = _servers.pop(listen, None)
    if server is not None:
        server.shutdown()
        server.server_close()


def monotonic_age(since: Optional[float]) -> Optional[float]:
    """Seconds from the monotonic instant `since` to now (None stays None)."""
    return None if since is None else max(0.0, time.monotonic() - since)
