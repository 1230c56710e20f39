"""$DYNATRONI_STATS_FILE: the plugin writes its client's per-operation request counters there (benchmarks)."""
from __future__ import annotations

import json

from plugin_harness import *  # noqa: F401,F403  (fixtures and helpers)


def test_stats_file_counts_requests_by_operation(make_dcs_moto, tmp_path, monkeypatch):
    path = tmp_path / 'stats.json'
    monkeypatch.setenv('DYNATRONI_STATS_FILE', str(path))
    dcs = make_dcs_moto('node1', failover_time=15)
    dcs.get_cluster()
    first = json.loads(path.read_text())
    assert first['requests_by_operation'].get('Query', 0) >= 1
    dcs.touch_member({'conn_url': 'postgres://127.0.0.1:5432/postgres', 'api_url': 'http://127.0.0.1:8008/patroni'})
    dcs.get_cluster()
    second = json.loads(path.read_text())
    assert second['requests_by_operation']['Query'] == first['requests_by_operation']['Query'] + 1
    assert second['requests_by_operation'].get('UpdateItem', 0) + second['requests_by_operation'].get('PutItem', 0) \
        > first['requests_by_operation'].get('UpdateItem', 0) + first['requests_by_operation'].get('PutItem', 0)
    assert not list(tmp_path.glob('*.tmp'))


def test_no_stats_file_without_the_variable(make_dcs_moto, tmp_path, monkeypatch):
    monkeypatch.delenv('DYNATRONI_STATS_FILE', raising=False)
    monkeypatch.chdir(tmp_path)
    make_dcs_moto('node1', failover_time=15).get_cluster()
    assert list(tmp_path.iterdir()) == []
