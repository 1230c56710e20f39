"""Requests signed by the extension are accepted by the local DynamoDB servers.

moto and dynalite do not verify signatures, so this is an end-to-end check of
the request shape (URL, headers, body) the C++ signer produces, and of the
`local_dynamodb` fixture that later Python tests build on.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

import dynatroni


def _call(endpoint: str, env: dict, operation: str, body: dict) -> tuple[int, dict]:
    signed = dynatroni.sign_dynamodb_request(
        endpoint, operation, json.dumps(body), env["AWS_REGION"], env["AWS_ACCESS_KEY_ID"],
        env["AWS_SECRET_ACCESS_KEY"], None, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    headers = {k: v for k, v in signed["headers"].items() if k.lower() != "host"}
    req = urllib.request.Request(signed["url"], data=signed["body"], method=signed["method"], headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.mark.parametrize("server", ["moto", "dynalite"])
def test_signed_requests_work_against_local_server(local_dynamodb, server):
    endpoint = local_dynamodb["endpoints"][server]
    env = local_dynamodb["env"]
    table = f"pytest_{server}_{int(time.time() * 1000)}"

    status, body = _call(endpoint, env, "CreateTable", {
        "TableName": table, "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "cluster_name", "KeyType": "HASH"},
                      {"AttributeName": "key", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "cluster_name", "AttributeType": "S"},
                                 {"AttributeName": "key", "AttributeType": "S"}]})
    assert status == 200, body
    for _ in range(100):
        status, body = _call(endpoint, env, "DescribeTable", {"TableName": table})
        assert status == 200, body
        if body["Table"]["TableStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    assert body["Table"]["TableStatus"] == "ACTIVE"

    status, body = _call(endpoint, env, "ListTables", {})
    assert status == 200 and table in body["TableNames"], body

    # A refused conditional write comes back as the service's error type.
    item = {"cluster_name": {"S": "c1"}, "key": {"S": "leader"}, "value": {"S": "ünïcødé 🐘"}}
    status, body = _call(endpoint, env, "PutItem", {"TableName": table, "Item": item,
                                                     "ConditionExpression": "attribute_not_exists(#k)",
                                                     "ExpressionAttributeNames": {"#k": "key"}})
    assert status == 200, body
    status, body = _call(endpoint, env, "PutItem", {"TableName": table, "Item": item,
                                                     "ConditionExpression": "attribute_not_exists(#k)",
                                                     "ExpressionAttributeNames": {"#k": "key"}})
    assert status == 400 and body["__type"].endswith("ConditionalCheckFailedException"), body
    status, body = _call(endpoint, env, "GetItem", {"TableName": table, "ConsistentRead": True,
                                                     "Key": {"cluster_name": {"S": "c1"}, "key": {"S": "leader"}}})
    assert status == 200 and body["Item"] == item, body

    status, body = _call(endpoint, env, "DeleteTable", {"TableName": table})
    assert status == 200, body


def test_server_kind_tells_moto_from_dynalite(local_dynamodb):
    """tools/local_dynamodb.py's server_kind, which the cluster harness checks so that a DYNATRONI_E2E_BACKEND run
    shows which server answered: each server is recognised as itself, and a port where nothing listens is neither."""
    from tools import local_dynamodb as servers_tool
    assert servers_tool.server_kind(local_dynamodb["endpoints"]["moto"]) == "moto"
    assert servers_tool.server_kind(local_dynamodb["endpoints"]["dynalite"]) == "dynalite"
    assert servers_tool.server_kind(f"http://127.0.0.1:{servers_tool.free_port()}") == "unknown"


def test_e2e_backend_defaults_to_moto_and_refuses_unknown_names(monkeypatch):
    from tools import local_dynamodb as servers_tool
    monkeypatch.delenv(servers_tool.E2E_BACKEND_ENV, raising=False)
    assert servers_tool.e2e_backend() == "moto"
    monkeypatch.setenv(servers_tool.E2E_BACKEND_ENV, "dynalite")
    assert servers_tool.e2e_backend() == "dynalite"
    monkeypatch.setenv(servers_tool.E2E_BACKEND_ENV, "dynamo")
    with pytest.raises(SystemExit, match="choose moto or dynalite"):
        servers_tool.e2e_backend()
