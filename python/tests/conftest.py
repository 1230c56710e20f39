"""Shared pytest fixtures for Dynatroni's Python tests.

Tests that need a DynamoDB use the `local_dynamodb` fixture: moto (server mode)
and dynalite started on loopback ports by tools/local_dynamodb.py for the test
session and stopped afterwards. A server that cannot start fails the tests that
use it (never a silent skip).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

from tools import local_dynamodb as servers_tool  # the repository root is on sys.path (pyproject.toml)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def local_dynamodb(tmp_path_factory: pytest.TempPathFactory):
    """{"moto": "http://127.0.0.1:P1", "dynalite": "http://127.0.0.1:P2"} plus the test credentials.

    Uses the servers named by DYNATRONI_TEST_ENDPOINTS when that is set, else starts both.

    Yields a dict with "endpoints" (name -> URL) and "env" (the dummy AWS
    variables the servers accept).
    """
    given = os.environ.get("DYNATRONI_TEST_ENDPOINTS")
    if given:  # servers already started by `tools/local_dynamodb.py run -- ...` (e.g. for Debian's Python)
        endpoints = dict(part.split("=", 1) for part in given.split(",") if part)
        assert {"moto", "dynalite"} <= endpoints.keys(), f"DYNATRONI_TEST_ENDPOINTS lacks a server: {given}"
        yield {"endpoints": endpoints, "env": dict(servers_tool.TEST_ENV)}
        return
    log_dir = tmp_path_factory.mktemp("local-dynamodb-logs")
    with servers_tool.servers(["moto", "dynalite"], log_dir=log_dir) as started:
        yield {
            "endpoints": {s.name: s.endpoint for s in started},
            "env": dict(servers_tool.TEST_ENV),
        }


@pytest.fixture(scope="module")
def ddb(request, tmp_path_factory):
    """The end-to-end cluster tests' DynamoDB: tools/cluster_harness.py's LocalDynamo (the backend of
    DYNATRONI_E2E_BACKEND) for the test module, with the module's ``TABLE`` created.

    The plugin tests have their own ``ddb`` (plugin_harness.py: moto and dynalite, per session); their
    ``from plugin_harness import *`` puts it in the module, where it takes the place of this one."""
    from tools import cluster_harness as h

    assert os.geteuid() == 0, "the end-to-end tests run PostgreSQL as the postgres user: run them as root"
    with h.LocalDynamo(h.e2e_backend(), log_dir=tmp_path_factory.mktemp(h.e2e_backend())) as d:
        h.create_table(d.endpoint, request.module.TABLE)
        yield d
