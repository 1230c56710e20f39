"""docs/iam.md's node policy on a real cluster, with moto enforcing IAM (issue 23).

The policy is read from docs/iam.md itself (the JSON block under ``<!-- policy: node -->``), with the replacements the
page asks for (Region, table, partition list). moto runs with IAM enforcement (``POST /moto-api/reset-auth`` after
the setup) behind tools/moto_server.py, which makes a DynamoDB request's IAM resource its table's ARN as AWS does
(moto ignores ``Condition``, so ``dynamodb:LeadingKeys`` is not checked here). Two Patroni 4.1 + PostgreSQL 15 nodes,
failover_time 9, sign with an IAM user's keys that carry the policy:

1. the full policy: the cluster bootstraps, one node leads, the other streams from it, and no call is denied;
2. the same policy minus ``dynamodb:UpdateItem`` (IAM updated under the running cluster): the leader's next lease
   renewal is denied, it demotes before its holder bound (so before any replica may take over), no node promotes
   for two TTLs, and ``dynatroni doctor`` names the denied action.

About 45 s. Run as root.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest

REPO = Path(__file__).resolve().parents[2]

from tools import cluster_harness as h  # noqa: E402

FAILOVER_TIME = 9.0
TABLE = "patroni-iam"
NODE_USER = "patroni-node"


def node_policy(region: str, table: str, scope: str, without: tuple = ()) -> Dict[str, Any]:
    """docs/iam.md's node policy, with its Region, table and partition list replaced as the page says."""
    text = (REPO / "docs" / "iam.md").read_text()
    m = re.search(r"<!-- policy: node -->\s*```json\n(.*?)\n```", text, re.S)
    assert m, "docs/iam.md: no ```json block under <!-- policy: node -->"
    policy = json.loads(m.group(1))
    statements = policy["Statement"]
    assert {a for s in statements for a in s["Action"]} >= {"dynamodb:UpdateItem", "dynamodb:Query"}
    for s in statements:
        assert s["Resource"] == "arn:aws:dynamodb:eu-west-1:123456789012:table/patroni", s["Resource"]
        s["Resource"] = f"arn:aws:dynamodb:{region}:123456789012:table/{table}"
        keys = s.get("Condition", {}).get("ForAllValues:StringEquals", {}).get("dynamodb:LeadingKeys")
        if keys is not None:
            assert keys == ["batman", "dynatroni-doctor-probe"], keys
            keys[0] = scope
        s["Action"] = [a for a in s["Action"] if a not in without]
    policy["Statement"] = [s for s in statements if s["Action"]]
    return policy


def _reset_auth(endpoint: str, count: str) -> None:
    """moto's INITIAL_NO_AUTH_ACTION_COUNT: "0" enforces IAM on every request from now on, "inf" never."""
    req = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(),
                                 headers={"Content-Type": "text/plain"})  # a form body would reach moto empty
    urllib.request.urlopen(req, timeout=5).read()


def _iam(endpoint: str, keys: Dict[str, str]):
    import boto3
    return boto3.client("iam", endpoint_url=endpoint, region_name=h.REGION, **keys)


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    if h.e2e_backend() != "moto":
        pytest.skip(f"moto-only: IAM enforcement (moto's IAM API and POST /moto-api/reset-auth); "
                    f"{h.e2e_backend()} has neither and accepts any signature")
    assert os.geteuid() == 0, "the end-to-end tests run PostgreSQL as the postgres user: run them as root"
    with h.LocalDynamo("moto", log_dir=tmp_path_factory.mktemp("moto")) as d:
        yield d
        # leave moto as the next user finds a fresh one: no enforcement (it is stopped anyway)
        _reset_auth(d.endpoint, "inf")


def _doctor(config_path: Path, env: Dict[str, str]) -> str:
    cli = h.dynatroni_cli()
    assert cli, "the dynatroni command is not installed (make python-install)"
    p = subprocess.run([cli, "doctor", "-c", str(config_path)], env=env, capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr


def _log_time(line: str) -> datetime.datetime:
    return datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


def test_the_documented_node_policy_runs_a_cluster_and_without_update_item_the_leader_demotes(moto, monkeypatch):
    scope = f"iam-{uuid.uuid4().hex[:8]}"
    h.create_table(moto.endpoint, TABLE)
    dummy = {"aws_access_key_id": h.ACCESS_KEY, "aws_secret_access_key": h.SECRET_KEY}
    iam = _iam(moto.endpoint, dummy)
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    admin_key = iam.create_access_key(UserName="admin")["AccessKey"]
    iam.create_user(UserName=NODE_USER)
    full = node_policy(h.REGION, TABLE, scope)
    iam.put_user_policy(UserName=NODE_USER, PolicyName="node", PolicyDocument=json.dumps(full))
    node_key = iam.create_access_key(UserName=NODE_USER)["AccessKey"]
    # From now on moto checks every request against the signer's IAM policies.
    _reset_auth(moto.endpoint, "0")
    admin = _iam(moto.endpoint, {"aws_access_key_id": admin_key["AccessKeyId"],
                                 "aws_secret_access_key": admin_key["SecretAccessKey"]})
    with pytest.raises(Exception, match="InvalidClientTokenId|not authorized|AccessDenied"):
        _iam(moto.endpoint, dummy).list_users()  # enforcement is on

    # The nodes (and the harness's own reads) sign with the node user's keys, from the environment.
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", node_key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", node_key["SecretAccessKey"])
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    doctor_env = {k: v for k, v in os.environ.items() if k.startswith("AWS_") or k in ("PATH", "HOME")}

    c = h.Cluster(2, endpoint=moto.endpoint, scope=scope, failover_time=FAILOVER_TIME, table=TABLE,
                  credentials="environment")
    with c:
        # 1. The full policy: bootstrap, a leader, a streaming replica, nothing denied.
        c.start_all()
        leader = c.wait_healthy(120)
        for n in c.nodes:
            text = n.log_path.read_text(errors="replace")
            assert "AccessDenied" not in text and "not authorized" not in text, c.log_tail(n)
        report = _doctor(c.node(leader).config_path, doctor_env)
        assert re.search(r"PASS\s+permission\s+dynamodb:UpdateItem allowed", report), report

        # 2. The policy without UpdateItem, under the running cluster.
        log = c.node(leader).log_path
        start = len(log.read_text(errors="replace"))
        admin.put_user_policy(UserName=NODE_USER, PolicyName="node",
                              PolicyDocument=json.dumps(node_policy(h.REGION, TABLE, scope,
                                                                    without=("dynamodb:UpdateItem",))))
        h.wait_for(lambda: not c.is_primary(leader), 6 * FAILOVER_TIME, f"{leader} to demote")
        text = log.read_text(errors="replace")[start:]
        denied = [line for line in text.splitlines()
                  if "ERROR: dynamodb: lease renewal failed: UpdateItem 'leader'" in line]
        assert denied and "AccessDenied" in denied[0] and "dynamodb:UpdateItem" in denied[0], text[-3000:]
        assert "Patroni demotes this primary now; still holding until " in denied[0], denied[0]
        demoting = [line for line in text.splitlines() if "Demoting self" in line]
        assert demoting, text[-3000:]
        # It demoted before its holder bound, the end of its lease by its own clock (<= last renewal + ttl).
        bound = denied[0].rsplit("still holding until ", 1)[1][:8]
        bound_at = datetime.datetime.combine(_log_time(denied[0]).date(),
                                             datetime.time.fromisoformat(bound))
        assert _log_time(demoting[0]) <= bound_at, (demoting[0], bound)

        # No node promotes: without UpdateItem no one can take the lease (two TTLs of watching).
        end = time.monotonic() + 2 * FAILOVER_TIME
        seen: List[str] = []
        while time.monotonic() < end:
            seen += c.primaries()
            time.sleep(0.5)
        assert not seen, f"a node promoted without dynamodb:UpdateItem: {seen}"

        report = _doctor(c.node(leader).config_path, doctor_env)
        assert re.search(r"FAIL\s+permission\s+dynamodb:UpdateItem denied", report), report
        assert re.search(r"PASS\s+permission\s+dynamodb:Query allowed", report), report
        print(denied[0])
        print(next(line for line in report.splitlines() if "dynamodb:UpdateItem denied" in line))
