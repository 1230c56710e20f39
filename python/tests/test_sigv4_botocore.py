"""Our SigV4 signer (dynatroni._core, C++) against botocore's SigV4Auth.

Each case signs the same DynamoDB JSON-protocol request at the same fixed time
with both and requires identical headers: Authorization (so the canonical
request, string to sign, signing key and signature agree), X-Amz-Date,
X-Amz-Security-Token, host and the signed-header list.
"""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from unittest import mock

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import dynatroni

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = ("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+example+session+token/"
         "with+slashes=and=equals==")


@dataclass(frozen=True)
class Case:
    id: str
    endpoint: str
    operation: str
    body: str
    region: str
    amz_date: str
    session_token: str | None = None
    access_key_id: str = AKID
    secret: str = SECRET


def _json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


CASES = [
    Case("getitem-http-port", "http://127.0.0.1:8000", "GetItem",
         _json({"TableName": "dynatroni", "Key": {"cluster_name": {"S": "pg1"}, "key": {"S": "leader"}},
                "ConsistentRead": True}),
         "us-east-1", "20240229T235959Z"),
    Case("putitem-unicode-https-token", "https://dynamodb.eu-west-1.amazonaws.com", "PutItem",
         _json({"TableName": "dynatroni",
                "Item": {"cluster_name": {"S": "prod-ünïcødé"}, "key": {"S": "members/ñode-1"},
                         "value": {"S": "日本語 ✓ 🐘 \"quoted\" \\ back\nslash\ttab"},
                         "version": {"N": "42"}},
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": "key"}}),
         "eu-west-1", "20150830T123600Z", session_token=TOKEN),
    Case("updateitem-https-custom-port-token", "https://localhost:8443", "UpdateItem",
         _json({"TableName": "t", "Key": {"cluster_name": {"S": "c"}, "key": {"S": "leader"}},
                "UpdateExpression": "SET #v = #v + :one, renew_at = :now",
                "ConditionExpression": "#v = :expected",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":expected": {"N": "7"},
                                              ":now": {"N": "1700000000.123"}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),
         "eu-central-1", "20231231T000000Z", session_token="short-token"),
    Case("query-http-no-port", "http://localhost", "Query",
         _json({"TableName": "dynatroni", "KeyConditionExpression": "cluster_name = :c",
                "ExpressionAttributeValues": {":c": {"S": "pg1"}}, "ConsistentRead": True}),
         "us-west-2", "20260101T120000Z"),
    Case("describetable-https-no-port", "https://dynamodb.ap-southeast-2.amazonaws.com", "DescribeTable",
         _json({"TableName": "dynatroni"}), "ap-southeast-2", "20200101T000001Z", session_token=TOKEN),
    Case("listtables-empty-object", "http://127.0.0.1:59999", "ListTables", "{}",
         "us-east-1", "20191108T093000Z"),
    Case("batchwrite-large-body", "https://dynamodb.us-east-1.amazonaws.com", "BatchWriteItem",
         _json({"RequestItems": {"dynatroni": [
             {"PutRequest": {"Item": {"cluster_name": {"S": "pg"}, "key": {"S": f"members/m{i:03d}"},
                                      "value": {"S": "x" * 500 + "é"}}}} for i in range(25)]}}),
         "us-east-1", "20240615T081510Z", session_token=TOKEN),
    Case("transact-pretty-body-whitespace", "http://127.0.0.1:8000", "TransactWriteItems",
         json.dumps({"TransactItems": [{"ConditionCheck": {
             "TableName": "t", "Key": {"cluster_name": {"S": "c"}, "key": {"S": "leader"}},
             "ConditionExpression": "attribute_exists(cluster_name)"}}]}, indent=2) + "\n",
         "sa-east-1", "20250704T235959Z", access_key_id="ASIAZZZZEXAMPLE0000",
         secret="secret with spaces/+==", session_token=TOKEN),
    Case("default-https-port-is-dropped", "https://dynamodb.us-east-2.amazonaws.com:443", "GetItem",
         _json({"TableName": "x", "Key": {"k": {"S": "v"}}}), "us-east-2", "20240101T000000Z"),
]


def _sign_with_botocore(case: Case):
    url = case.endpoint + "/"
    request = AWSRequest(
        method="POST", url=url, data=case.body.encode("utf-8"),
        headers={"Content-Type": "application/x-amz-json-1.0",
                 "X-Amz-Target": f"DynamoDB_20120810.{case.operation}"})
    creds = Credentials(case.access_key_id, case.secret, case.session_token)
    fixed = datetime.datetime.strptime(case.amz_date, "%Y%m%dT%H%M%SZ")
    # botocore reads the clock through botocore.auth.get_current_datetime; pin it.
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=fixed):
        auth = SigV4Auth(creds, "dynamodb", case.region)
        auth.add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    # botocore leaves Host to the HTTP client; this is the value it signed.
    headers["host"] = auth.headers_to_sign(request)["host"]
    return url, headers


def _sign_with_dynatroni(case: Case):
    signed = dynatroni.sign_dynamodb_request(
        case.endpoint, case.operation, case.body, case.region, case.access_key_id, case.secret,
        case.session_token, case.amz_date)
    return signed


def _signed_headers(authorization: str) -> str:
    for part in authorization.split(", "):
        if part.startswith("SignedHeaders="):
            return part[len("SignedHeaders="):]
    raise AssertionError(f"no SignedHeaders in {authorization!r}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_signature_matches_botocore(case: Case):
    boto_url, boto = _sign_with_botocore(case)
    signed = _sign_with_dynatroni(case)
    ours = {k.lower(): v for k, v in signed["headers"].items()}
    assert len(ours) == len(signed["headers"]), "duplicate header names in our signed request"

    assert signed["method"] == "POST"
    assert signed["url"] == boto_url
    assert signed["body"] == case.body.encode("utf-8")

    assert ours["authorization"] == boto["authorization"]
    assert ours["x-amz-date"] == boto["x-amz-date"] == case.amz_date
    assert ours["host"] == boto["host"]
    assert _signed_headers(ours["authorization"]) == _signed_headers(boto["authorization"])
    if case.session_token:
        assert ours["x-amz-security-token"] == boto["x-amz-security-token"] == case.session_token
        assert "x-amz-security-token" in _signed_headers(ours["authorization"]).split(";")
    else:
        assert "x-amz-security-token" not in ours
        assert "x-amz-security-token" not in boto
    assert ours["content-type"] == "application/x-amz-json-1.0"
    assert ours["x-amz-target"] == f"DynamoDB_20120810.{case.operation}"
    # The whole header set is the same: nothing extra is sent or signed.
    assert ours == boto


def test_credential_scope_uses_date_region_and_service():
    case = CASES[1]
    signed = _sign_with_dynatroni(case)
    auth = signed["headers"].get("authorization") or signed["headers"]["Authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={AKID}/20150830/eu-west-1/dynamodb/aws4_request, ")


def test_signature_changes_with_every_input():
    base = CASES[0]
    reference = _sign_with_dynatroni(base)["headers"]
    variants = [
        Case(**{**base.__dict__, "body": base.body.replace("pg1", "pg2")}),
        Case(**{**base.__dict__, "operation": "PutItem"}),
        Case(**{**base.__dict__, "region": "us-east-2"}),
        Case(**{**base.__dict__, "amz_date": "20240229T235958Z"}),
        Case(**{**base.__dict__, "secret": SECRET + "x"}),
        Case(**{**base.__dict__, "endpoint": "http://127.0.0.1:8001"}),
        Case(**{**base.__dict__, "session_token": "tok"}),
    ]
    lower = {k.lower(): v for k, v in reference.items()}
    for v in variants:
        got = {k.lower(): x for k, x in _sign_with_dynatroni(v)["headers"].items()}
        assert got["authorization"] != lower["authorization"], v


@pytest.mark.parametrize("amz_date", [
    "", "2015-08-30T12:36:00Z", "20150830T123600", "20150830 123600Z", "20151330T123600Z",
    "20150230T123600Z", "20150830T243600Z", "20150830T126000Z", "2015083OT123600Z", "x" * 1000,
])
def test_bad_amz_date_raises_value_error(amz_date):
    with pytest.raises(ValueError, match="amz_date"):
        dynatroni.sign_dynamodb_request("http://127.0.0.1:8000", "GetItem", "{}", "us-east-1", AKID, SECRET,
                                        None, amz_date)


@pytest.mark.parametrize("endpoint", ["", "ftp://example.com", "127.0.0.1:8000", "http://"])
def test_bad_endpoint_raises_value_error(endpoint):
    with pytest.raises(ValueError) as excinfo:
        dynatroni.sign_dynamodb_request(endpoint, "GetItem", "{}", "us-east-1", AKID, SECRET, None,
                                        "20150830T123600Z")
    # The message explains the problem but never echoes the secret.
    assert str(excinfo.value)
    assert SECRET not in str(excinfo.value)


def test_empty_secret_raises_value_error_without_leaking():
    with pytest.raises(ValueError) as excinfo:
        dynatroni.sign_dynamodb_request("http://127.0.0.1:8000", "GetItem", "{}", "us-east-1", AKID, "",
                                        TOKEN, "20150830T123600Z")
    assert TOKEN not in str(excinfo.value)
