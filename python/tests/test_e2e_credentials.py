"""Credentials revoked mid-lease on a real cluster (issue 23): the primary keeps its lease.

One Patroni 4.1 + PostgreSQL 15 node on moto behind tools/fault_proxy.py, failover_time 9 (retry_timeout 3 s). Its
only credential source is an ECS-style container endpoint the test serves and rotates. Once the node leads, the role
session "ends early": the endpoint hands out new credentials and the proxy answers every request signed with the old
session token with DynamoDB's ExpiredTokenException, as AWS does. The plugin's client drops the refused credentials,
fetches the new ones and sends the refused request again, so the lease keeps being renewed (with the new token) and
PostgreSQL stays primary; the plugin logs the refusal once. Before the fix the cached credentials were resent until
the cache's own refresh (5 minutes before they expire), every renewal failed and Patroni demoted the primary within
retry_timeout. About 25 s. Run as root.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parents[2]

from tools import cluster_harness as h  # noqa: E402
from tools import fault_proxy  # noqa: E402

FAILOVER_TIME = 9.0
TABLE = "patroni"
OLD = {"AccessKeyId": "ASIAOLDKEYID7EXAMPLE", "SecretAccessKey": "oLd/SeCrEt+KeY/nEvEr/LoGgEd/0123456789AB",
       "Token": "OldSessionToken//NeverLogged+IQoJb3JpZ2luX2VjEXAMPLE"}
NEW = {"AccessKeyId": "ASIANEWKEYID7EXAMPLE", "SecretAccessKey": "nEw/SeCrEt+KeY/nEvEr/LoGgEd/0123456789AB",
       "Token": "NewSessionToken//NeverLogged+IQoJb3JpZ2luX2VjEXAMPLE"}
AUTH_TOKEN = "ContainerAuthToken-NeverLogged-0123456789"


class RotatingCredentials:
    """An ECS-style container credential endpoint serving `current` (valid for an hour from each answer)."""

    def __init__(self, current: Dict[str, str]) -> None:
        self.current = current
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
                data = json.dumps(dict(outer.current, Expiration=expiry)).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/credentials/task"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _renewals(log_path: str) -> List[Dict[str, Any]]:
    return [r for r in fault_proxy.read_log(log_path) if r.get("op") == "UpdateItem" and r.get("key") == "leader"]


def test_primary_keeps_the_lease_when_its_session_token_is_revoked(ddb, tmp_path, monkeypatch):
    # The node's only credentials come from the container endpoint (the harness hands the AWS_* variables on).
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    endpoint = RotatingCredentials(OLD)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    log_path = str(tmp_path / "proxy.jsonl")
    port = int(ddb.endpoint.rsplit(":", 1)[1])
    old, new = fault_proxy.token_digest(OLD["Token"]), fault_proxy.token_digest(NEW["Token"])
    try:
        with fault_proxy.FaultProxy("127.0.0.1", port, seed=23, log_path=log_path) as proxy:
            c = h.Cluster(1, endpoint=ddb.endpoint, node_endpoints={"node1": proxy.url()},
                          scope=f"creds-{uuid.uuid4().hex[:8]}", failover_time=FAILOVER_TIME, table=TABLE,
                          credentials="environment")
            with c:
                c.start_all()
                leader = c.wait_healthy(120)
                h.wait_for(lambda: any(r.get("token") == old and r.get("outcome") == "ok" for r in _renewals(log_path)),
                           30, "the leader lease written with the first credentials")

                endpoint.current = NEW  # the role session ends early: AWS refuses the old token from now on
                proxy.set_rules([{"action": "expired_token", "session_tokens": [old]}])
                rotated = time.monotonic()
                log = c.node(leader).log_path
                start = len(log.read_text(errors="replace"))

                def settled() -> str:
                    if "demoting self" in log.read_text(errors="replace")[start:].lower():
                        return "demoted"
                    renewed = [r for r in _renewals(log_path) if r["t_invoke"] > rotated and r.get("token") == new
                               and r.get("outcome") == "ok"]
                    return "renewed" if len(renewed) >= 3 else ""
                # Three loop_waits (3 s each) of renewals with the new token, or a demotion.
                outcome = h.wait_for(settled, 10 * FAILOVER_TIME, "three lease renewals with the new token")
                text = log.read_text(errors="replace")[start:]
                assert outcome == "renewed", text[-3000:]
                assert c.is_primary(leader) and c.try_write(leader, note="after the rotation")
                refused = [r for r in fault_proxy.read_log(log_path) if r.get("fault") == "expired_token"]
                assert refused and all(r["token"] == old for r in refused)
                refusal = [line for line in text.splitlines() if "AWS refused the credentials in use" in line]
                assert len(refusal) == 1 and "ExpiredTokenException for ASIA****MPLE (container)" in refusal[0], \
                    refusal
                assert " failed: " not in text, text[-3000:]  # the refused request was sent again and worked
                for secret in (OLD["SecretAccessKey"], OLD["Token"], NEW["SecretAccessKey"], NEW["Token"],
                               OLD["AccessKeyId"], NEW["AccessKeyId"], AUTH_TOKEN, "Signature="):
                    assert secret not in text
                print(refusal[0])
    finally:
        endpoint.close()
