"""Prometheus metrics (issue #21 part 2): the text format of python/dynatroni/metrics.py, checked by hand and by
Prometheus' own `promtool check metrics`, and the plugin's opt-in `metrics_listen` listener on a local moto:
served in the Patroni process, never by patronictl, and a port that cannot be bound costs the metrics only.

The 3-node cluster scraped by a real Prometheus is python/tests/test_e2e_metrics.py.
"""
from __future__ import annotations

import logging
import os
import math
import re
import socket
import subprocess
import urllib.error
import urllib.request

import pytest

from dynatroni import metrics
from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)


# ---- the text format -------------------------------------------------------------------------------------------

def test_label_values_and_help_are_escaped():
    assert metrics.escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
    assert metrics.escape_help('x\\y\nz "q"') == 'x\\\\y\\nz "q"'  # quotes stay in HELP
    f = metrics.Family('t_total', 'counter', 'line one\nline two').add(3, {'operation': 'Get"It\\em\n'})
    assert metrics.render([f]) == ('# HELP t_total line one\\nline two\n'
                                   '# TYPE t_total counter\n'
                                   't_total{operation="Get\\"It\\\\em\\n"} 3\n')


def test_values_are_spelled_as_prometheus_spells_them():
    assert [metrics.format_value(v) for v in (0, 7, 2.0, 0.25, math.inf, -math.inf, True)] == \
        ['0', '7', '2', '0.25', '+Inf', '-Inf', '1']
    assert metrics.format_value(math.nan) == 'NaN'
    assert metrics.format_value(1e-05) == '1e-05'


def test_a_histogram_has_cumulative_buckets_ending_in_inf_then_sum_and_count():
    f = metrics.Family('t_seconds', 'histogram', 'h').add_histogram([0.1, 1], [2, 0, 3], 9.5, 5, {'operation': 'Q'})
    assert metrics.render([f]).splitlines()[2:] == [
        't_seconds_bucket{operation="Q",le="0.1"} 2',
        't_seconds_bucket{operation="Q",le="1"} 2',
        't_seconds_bucket{operation="Q",le="+Inf"} 5',
        't_seconds_sum{operation="Q"} 9.5',
        't_seconds_count{operation="Q"} 5',
    ]
    with pytest.raises(ValueError):
        metrics.Family('t_seconds', 'histogram', 'h').add_histogram([0.1, 1], [1, 2], 1.0, 3)


def _sample_core_metrics():
    return {
        'requests_by_operation': {'Query': 12, 'UpdateItem': 4},
        'calls': [('Query', 'success', 10), ('UpdateItem', 'condition_failed', 1), ('Query', 'unavailable', 1)],
        'latency_bucket_bounds': [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60],
        'latency': {'Query': ([3, 4, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 61.2, 11)},
        'retries': 2, 'throttles': 1, 'unknown_outcomes': 0,
        'consumed_capacity': {'Query': 5.5},
        'credential_expiry': 1_900_000_000.0,
    }


def test_promtool_accepts_the_rendering_of_every_family():
    text = metrics.render(metrics.families(_sample_core_metrics(), {'held': True, 'remaining': 12.5, 'term': 4}, 3,
                                           0.8, {'renewed': 5, 'failed': 1}))
    run = subprocess.run(['promtool', 'check', 'metrics'], input=text, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == '' and run.stderr.strip() == '', run.stdout + run.stderr  # no lint remarks
    assert 'dynatroni_lease_term 4\n' in text and 'dynatroni_lease_held 1\n' in text
    assert 'dynatroni_dynamodb_call_duration_seconds_bucket{operation="Query",le="+Inf"} 11\n' in text
    assert 'dynatroni_dynamodb_call_duration_seconds_bucket{operation="Query",le="0.025"} 9\n' in text
    assert 'dynatroni_lease_renewals_total{result="refused"} 0\n' in text
    assert 'dynatroni_lease_renewals_total{result="failed"} 1\n' in text


def test_a_follower_reports_the_term_it_saw_and_absent_gauges_have_no_sample():
    core = dict(_sample_core_metrics(), credential_expiry=None)
    text = metrics.render(metrics.families(core, {'held': False, 'remaining': 0.0, 'term': 0}, 7, None,
                                           {}))
    assert 'dynatroni_lease_held 0\n' in text and 'dynatroni_lease_term 7\n' in text
    assert 'dynatroni_lease_remaining_seconds 0\n' in text
    assert not re.search(r'^dynatroni_cluster_load_age_seconds ', text, re.M)
    assert not re.search(r'^dynatroni_credentials_expiry_timestamp_seconds ', text, re.M)
    assert '# TYPE dynatroni_cluster_load_age_seconds gauge' in text  # the family is still declared


# ---- the listener in the plugin --------------------------------------------------------------------------------

def _scrape(port: int) -> str:
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=5) as r:
        assert r.headers['Content-Type'] == metrics.CONTENT_TYPE
        return r.read().decode()


def _value(text: str, series: str) -> float:
    m = re.search(r'^' + re.escape(series) + r' (\S+)$', text, re.M)
    assert m, f'{series} not in:\n{text}'
    return float(m.group(1))


def test_the_plugin_serves_its_metrics_on_metrics_listen(make_dcs_moto):
    port = free_port()
    listen = f'127.0.0.1:{port}'
    try:
        dcs = make_dcs_moto('node1', failover_time=15, metrics_listen=listen)
        before = _scrape(port)
        assert _value(before, 'dynatroni_lease_held') == 0
        assert not re.search(r'^dynatroni_cluster_load_age_seconds ', before, re.M)  # no load yet
        cluster = dcs.get_cluster()
        assert compat_acquire(dcs)
        cluster = dcs.get_cluster()
        text = _scrape(port)
        assert _value(text, 'dynatroni_lease_held') == 1
        assert 0 < _value(text, 'dynatroni_lease_remaining_seconds') <= 15
        assert _value(text, 'dynatroni_lease_term') == dcs._core.lease(dcs._leader_key)['term'] >= 1
        assert 0 <= _value(text, 'dynatroni_cluster_load_age_seconds') < 5
        assert _value(text, 'dynatroni_dynamodb_calls_total{operation="Query",outcome="success"}') == 2
        assert _value(text, 'dynatroni_dynamodb_call_duration_seconds_count{operation="Query"}') == 2
        assert _value(text, 'dynatroni_dynamodb_requests_total{operation="Query"}') >= 2
        assert _value(text, 'dynatroni_dynamodb_throttles_total') == 0
        # moto answers ReturnConsumedCapacity too (1 unit per Query page, as it counts)
        assert _value(text, 'dynatroni_dynamodb_consumed_capacity_units_total{operation="Query"}') > 0
        assert cluster.leader is not None and cluster.leader.name == 'node1'
        assert compat_update_leader(dcs, cluster, None)
        text = _scrape(port)
        assert _value(text, 'dynatroni_lease_renewals_total{result="renewed"}') == 1
        assert _value(text, 'dynatroni_lease_renewals_total{result="failed"}') == 0
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f'http://127.0.0.1:{port}/other', timeout=5)
        assert e.value.code == 404
    finally:
        metrics.stop(listen)


def test_patronictl_never_listens(make_dcs_moto):
    port = free_port()
    dcs = make_dcs_moto('ctl', failover_time=15, ctl=True, metrics_listen=f'127.0.0.1:{port}')
    dcs.get_cluster()
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', port), timeout=2).close()


def test_a_port_in_use_costs_the_metrics_only(make_dcs_moto, caplog, repo_root):
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        listen = f'127.0.0.1:{taken.getsockname()[1]}'
        with caplog.at_level(logging.INFO, logger='patroni.dcs.dynamodb'):
            dcs = make_dcs_moto('node1', failover_time=15, metrics_listen=listen)
            assert dcs.get_cluster() is not None  # the DCS works on
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1, errors
        # The line docs/operations.md quotes, but for the port.
        assert errors[0] == (f'dynamodb: metrics_listen {listen}: cannot listen ([Errno 98] Address already in use); '
                             'Prometheus metrics are not served, the DCS works on: free the port or choose another '
                             'metrics_listen')
        docs = (repo_root / 'docs' / 'operations.md').read_text()
        assert '    ERROR: ' + errors[0].replace(listen, '127.0.0.1:9547') + '\n' in docs


def test_the_docs_list_exactly_the_families_the_endpoint_serves(make_dcs_moto, repo_root):
    """docs/operations.md "Metrics": every metric its table lists is one the endpoint serves, and vice versa."""
    port = free_port()
    listen = f'127.0.0.1:{port}'
    try:
        dcs = make_dcs_moto('node1', failover_time=15, metrics_listen=listen)
        dcs.get_cluster()
        scraped = _scrape(port)
        served = set(re.findall(r'^# TYPE (\S+) (\S+)$', scraped, re.M))
    finally:
        metrics.stop(listen)
    run = subprocess.run(['promtool', 'check', 'metrics'], input=scraped, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and not (run.stdout + run.stderr).strip(), run.stdout + run.stderr
    text = (repo_root / 'docs' / 'operations.md').read_text()
    section = text[text.index('\n## Metrics\n'):]
    listed = set(re.findall(r'^\| `(dynatroni_\w+)` \| (\w+) \|', section, re.M))
    assert listed == served, f'only in the docs: {listed - served}; only served: {served - listed}'


def test_the_docs_quote_the_example_scrape_config_and_rules(repo_root):
    docs = (repo_root / 'docs' / 'operations.md').read_text()
    for name in ('prometheus.yml', 'alerts.yml'):
        content = (repo_root / 'examples' / 'prometheus' / name).read_text()
        assert f'```yaml\n{content}```' in docs, f'docs/operations.md does not quote examples/prometheus/{name}'


def _promtool(repo_root, *args: str) -> str:
    run = subprocess.run(['promtool', *args], cwd=repo_root / 'examples' / 'prometheus', capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_promtool_accepts_the_example_config_and_rules(repo_root):
    assert 'SUCCESS' in _promtool(repo_root, 'check', 'config', 'prometheus.yml')
    assert '3 rules found' in _promtool(repo_root, 'check', 'rules', 'alerts.yml')


def test_each_alert_fires_on_a_sick_node_and_not_on_a_healthy_one(repo_root):
    """examples/prometheus/alerts_test.yml: for each alert, a healthy series that must stay silent and a sick one
    that must fire (promtool fails on any alert not expected, and on any expected one missing)."""
    tests = (repo_root / 'examples' / 'prometheus' / 'alerts_test.yml').read_text()
    for alert in ('DynatroniLeaseRenewalsFailing', 'DynatroniThrottling', 'DynatroniCredentialsExpiring'):
        assert tests.count(f'alertname: {alert}\n') == 2, alert  # once silent, once firing
    assert 'SUCCESS' in _promtool(repo_root, 'test', 'rules', 'alerts_test.yml')


def test_the_credentials_expiry_is_the_one_the_provider_gave(moto_ddb, scope, monkeypatch, tmp_path):
    """Temporary credentials from an ECS-style container endpoint (the only link of the chain that applies) with
    an Expiration an hour ahead: the gauge is that instant."""
    import json as json_
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from patroni.dcs import get_dcs

    expiry = int(time.time()) + 3600
    creds = {'AccessKeyId': 'ASIAFAKEKEYID7EXAMPLE', 'SecretAccessKey': 'fAkE/SeCrEt+KeY/0123456789AB',
             'Token': 'FakeSessionToken+EXAMPLE', 'Expiration': time.strftime('%Y-%m-%dT%H:%M:%SZ',
                                                                             time.gmtime(expiry))}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            data = json_.dumps(creds).encode()
            self.send_response(200)
            self.send_header('content-type', 'application/json')
            self.send_header('content-length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for k in list(os.environ):
        if k.startswith('AWS_'):
            monkeypatch.delenv(k)
    monkeypatch.setenv('AWS_SHARED_CREDENTIALS_FILE', str(tmp_path / 'none'))
    monkeypatch.setenv('AWS_CONFIG_FILE', str(tmp_path / 'none'))
    monkeypatch.setenv('AWS_EC2_METADATA_DISABLED', 'true')
    monkeypatch.setenv('AWS_CONTAINER_CREDENTIALS_FULL_URI',
                       f'http://127.0.0.1:{server.server_address[1]}/v2/credentials/abc')
    port = free_port()
    listen = f'127.0.0.1:{port}'
    try:
        config = dcs_config(scope=scope, name='a', endpoint=moto_ddb.endpoint, table=moto_ddb.table, failover_time=9,
                            metrics_listen=listen)
        for k in ('access_key_id', 'secret_access_key'):
            del config['dynamodb'][k]
        get_dcs(config).get_cluster()
        assert _value(_scrape(port), 'dynatroni_credentials_expiry_timestamp_seconds') == expiry
    finally:
        metrics.stop(listen)
        server.shutdown()
        server.server_close()
