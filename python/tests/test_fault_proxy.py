"""The fault-injecting proxy (tools/fault_proxy.py) against a real moto server: each fault does what it says,
DynamoDB's error bodies are exact, the RNG is seeded, rules switch at run time over the control API, and every
request is logged with its outcome as the client saw it and as DynamoDB answered it."""
from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

from tools import fault_proxy as fp  # noqa: E402
from tools import local_dynamodb  # noqa: E402

TABLE = "proxytest"


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = local_dynamodb.start("moto", tmp_path_factory.mktemp("moto"))
    try:
        c = _client(server.endpoint)
        c.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                       KeySchema=[{"AttributeName": "cluster_name", "KeyType": "HASH"},
                                  {"AttributeName": "key", "KeyType": "RANGE"}],
                       AttributeDefinitions=[{"AttributeName": "cluster_name", "AttributeType": "S"},
                                             {"AttributeName": "key", "AttributeType": "S"}])
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxy(moto, tmp_path):
    port = int(moto.endpoint.rsplit(":", 1)[1])
    with fp.FaultProxy("127.0.0.1", port, clients=["a", "b"], seed=7, log_path=str(tmp_path / "p.jsonl")) as p:
        yield p


def _client(endpoint: str, read_timeout: float = 5):
    import boto3
    from botocore.config import Config
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKID",
                        aws_secret_access_key="secret",
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=2,
                                      read_timeout=read_timeout))


def _part() -> str:
    return f"c-{uuid.uuid4().hex[:8]}"


def _update(client, part: str, key: str, value: str, expect_version=None):
    kw = {}
    if expect_version is not None:
        kw = dict(ConditionExpression="#ver = :expver", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    values = {":zero": {"N": "0"}, ":one": {"N": "1"}, ":val": {"S": value}}
    if expect_version is not None:
        values[":expver"] = {"N": str(expect_version)}
    return client.update_item(
        TableName=TABLE, Key={"cluster_name": {"S": part}, "key": {"S": key}},
        UpdateExpression="SET #ver = if_not_exists(#ver, :zero) + :one, #val = :val",
        ExpressionAttributeNames={"#ver": "version", "#val": "value"}, ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW", **kw)


def _get(client, part: str, key: str):
    return client.get_item(TableName=TABLE, Key={"cluster_name": {"S": part}, "key": {"S": key}},
                           ConsistentRead=True).get("Item")


def _send(url: str, target: str, body: dict) -> http.client.HTTPResponse:
    """A raw, signed DynamoDB request (local_dynamodb.signed_headers); the response is not read yet."""
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    data = json.dumps(body)
    conn.request("POST", "/", data, local_dynamodb.signed_headers(url, target, data))
    return conn.getresponse()


def _raw(url: str, target: str, body: dict):
    resp = _send(url, target, body)
    return resp, resp.read()


def _log(p: fp.FaultProxy):
    """The proxy's log once every request it has taken is in it (a record is written after the reply is sent,
    so a client can see its answer a moment before the record lands)."""
    deadline = time.monotonic() + 5
    while True:
        records = fp.read_log(p.log_path)
        with p._lock:  # noqa: SLF001
            taken = p._seq  # noqa: SLF001
        if len([r for r in records if "seq" in r]) >= taken or time.monotonic() > deadline:
            return records
        time.sleep(0.02)


def test_forwards_and_logs_every_request(proxy):
    c, part = _client(proxy.url("a")), _part()
    _update(c, part, "leader", "node1")
    assert _get(c, part, "leader")["value"]["S"] == "node1"
    with pytest.raises(c.exceptions.ConditionalCheckFailedException):
        _update(c, part, "leader", "node2", expect_version=5)
    c.query(TableName=TABLE, KeyConditionExpression="cluster_name = :pk",
            ExpressionAttributeValues={":pk": {"S": part}}, ConsistentRead=True)
    recs = _log(proxy)
    assert [r["op"] for r in recs] == ["UpdateItem", "GetItem", "UpdateItem", "Query"]
    w, g, cf, q = recs
    assert (w["client"], w["table"], w["partition"], w["key"]) == ("a", TABLE, part, "leader")
    assert w["outcome"] == "ok" and w["item"]["version"] == 1 and w["item"]["value"] == "node1"
    assert w["values"][":val"] == "node1" and "if_not_exists" in w["update"]
    assert w["t_invoke"] <= w["t_complete"]
    assert g["outcome"] == "ok" and g["item"]["value"] == "node1"
    assert cf["outcome"] == "condition-failed" and cf["item"]["version"] == 1 and cf["condition"] == "#ver = :expver"
    assert q["outcome"] == "ok" and [i["key"] for i in q["items"]] == ["leader"] and q["key"] == "*"
    assert all(r["fault"] == "ok" for r in recs)


@pytest.mark.parametrize("action,status,code", [
    ("throttle", 400, "ProvisionedThroughputExceededException"),
    ("throttling", 400, "ThrottlingException"),
    ("error500", 500, "InternalServerError"),
    ("error503", 503, "ServiceUnavailable"),
    ("access_denied", 400, "AccessDeniedException"),
    ("expired_token", 400, "ExpiredTokenException"),
])
def test_error_replies_have_dynamodbs_exact_shape(proxy, action, status, code):
    proxy.set_rules([{"action": action, "ops": ["GetItem"]}])
    resp, body = _raw(proxy.url("a"), "GetItem", {"TableName": TABLE, "Key": {
        "cluster_name": {"S": "x"}, "key": {"S": "leader"}}})
    assert resp.status == status
    assert resp.getheader("Content-Type") == "application/x-amz-json-1.0"
    rid = resp.getheader("x-amzn-RequestId")
    assert rid and len(rid) == 52 and rid.isalnum() and rid.upper() == rid
    assert int(resp.getheader("x-amz-crc32")) == zlib.crc32(body)
    doc = json.loads(body)
    assert set(doc) == {"__type", "message"} and doc["__type"].endswith("#" + code) and doc["message"]
    assert doc == json.loads(fp.error_body(action, "GetItem", TABLE))
    # botocore (the reference SDK) decodes it to the same error code
    c = _client(proxy.url("a"))
    with pytest.raises(Exception) as e:
        _get(c, "x", "leader")
    assert e.value.response["Error"]["Code"] == code
    assert _log(proxy)[-1]["outcome"] == "fail" and _log(proxy)[-1]["error"] == code


def test_drop_reply_applies_the_write_and_logs_unknown(proxy, moto):
    c, direct, part = _client(proxy.url("a")), _client(moto.endpoint), _part()
    proxy.set_rules([{"action": "drop_reply", "ops": ["UpdateItem"], "keys": ["leader"]}])
    with pytest.raises(Exception) as e:
        _update(c, part, "leader", "node1")
    assert "Connection" in type(e.value).__name__ or "connection" in str(e.value).lower()
    assert _get(direct, part, "leader")["version"]["N"] == "1"  # the write applied
    time.sleep(0.2)  # the record is written after the connection is reset
    rec = _log(proxy)[-1]
    assert rec["fault"] == "drop_reply" and rec["outcome"] == "unknown"
    assert rec["upstream"]["outcome"] == "ok" and rec["upstream"]["item"]["version"] == 1
    _update(c, part, "sync", "x")  # other keys pass
    assert _log(proxy)[-1]["outcome"] == "ok"


def test_hang_outlasts_the_client_timeout_and_is_released_by_clear(proxy, moto):
    c, direct, part = _client(proxy.url("a"), read_timeout=1), _client(moto.endpoint), _part()
    proxy.set_rules([{"action": "hang", "ops": ["UpdateItem"]}])
    t0 = time.monotonic()
    with pytest.raises(Exception) as e:
        _update(c, part, "leader", "node1")
    assert 0.9 <= time.monotonic() - t0 < 4, type(e.value)
    assert "timeout" in (type(e.value).__name__ + str(e.value)).lower()
    assert _get(direct, part, "leader") is None  # hang = never forwarded
    proxy.clear()
    time.sleep(0.3)
    rec = _log(proxy)[-1]
    assert rec["fault"] == "hang" and rec["outcome"] == "fail"
    _update(c, part, "leader", "node1")  # after clear: forwarded again


def test_hang_reply_applies_then_holds(proxy, moto):
    c, direct, part = _client(proxy.url("a"), read_timeout=1), _client(moto.endpoint), _part()
    proxy.set_rules([{"action": "hang_reply", "ops": ["UpdateItem"], "hang": 30}])
    with pytest.raises(Exception):
        _update(c, part, "leader", "node1")
    assert _get(direct, part, "leader")["value"]["S"] == "node1"
    proxy.clear()
    time.sleep(0.3)
    assert _log(proxy)[-1]["outcome"] == "unknown"


def test_truncated_body_is_shorter_than_content_length(proxy):
    proxy.set_rules([{"action": "truncate", "ops": ["GetItem"]}])
    resp = _send(proxy.url("a"), "GetItem", {"TableName": TABLE, "Key": {"cluster_name": {"S": "x"},
                                                                         "key": {"S": "leader"}}})
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    assert int(resp.getheader("Content-Length")) > 0
    rec = _log(proxy)[-1]
    assert rec["fault"] == "truncate" and rec["outcome"] == "unknown" and rec["upstream"]["outcome"] == "ok"


def test_delay_is_applied_before_forwarding(proxy):
    c = _client(proxy.url("a"))
    proxy.set_rules([{"action": "delay", "delay": 0.5, "ops": ["GetItem"]}])
    t0 = time.monotonic()
    _get(c, "x", "leader")
    assert time.monotonic() - t0 >= 0.5
    rec = _log(proxy)[-1]
    assert rec["t_complete"] - rec["t_invoke"] >= 0.5 and rec["outcome"] == "ok"


def _fault_sequence(proxy, seed: int, n: int = 40):
    proxy.set_rules([{"action": "throttle", "ops": ["GetItem"], "probability": 0.5}], seed=seed)
    out = []
    for _ in range(n):
        resp, _ = _raw(proxy.url("a"), "GetItem", {"TableName": TABLE, "Key": {
            "cluster_name": {"S": "x"}, "key": {"S": "leader"}}})
        out.append(resp.status)
    return out


def test_probability_is_seeded_and_reproducible(proxy):
    a = _fault_sequence(proxy, 11)
    b = _fault_sequence(proxy, 11)
    c = _fault_sequence(proxy, 12)
    assert a == b
    assert a != c
    assert 8 <= a.count(400) <= 32 and set(a) == {200, 400}


def test_script_skip_count_and_key_filters(proxy):
    proxy.set_rules([{"script": ["ok", "error500", "throttle"], "keys": ["leader"]},
                     {"action": "error503", "keys": ["members/"], "skip": 1, "count": 1}])
    got = [_raw(proxy.url("a"), "GetItem", {"TableName": TABLE, "Key": {
        "cluster_name": {"S": "x"}, "key": {"S": k}}})[0].status
        for k in ["leader", "sync", "leader", "leader", "leader", "members/n1", "members/n2", "members/n3"]]
    assert got == [200, 200, 500, 400, 200, 200, 503, 200]
    rules = proxy.rules()
    assert rules[0]["injected"] == 3 and rules[1]["injected"] == 1


def test_rules_per_client_cut_one_node_off(proxy):
    proxy.set_rules([{"action": "drop_request", "clients": ["b"]}])
    _get(_client(proxy.url("a")), "x", "leader")
    with pytest.raises(Exception):
        _get(_client(proxy.url("b")), "x", "leader")
    deadline = time.monotonic() + 3  # the record is written after the connection is reset
    while len(_log(proxy)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [r["client"] for r in _log(proxy)][-2:] == ["a", "b"]
    assert _log(proxy)[-1]["outcome"] == "fail"


def _client_with_token(endpoint: str, token: str):
    import boto3
    from botocore.config import Config
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="ASIAKEY",
                        aws_secret_access_key="secret", aws_session_token=token,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def test_session_tokens_match_requests_signed_with_those_tokens_only(proxy):
    old, new = "OldSessionToken//0123", "NewSessionToken//4567"
    proxy.set_rules([{"action": "expired_token", "session_tokens": [fp.token_digest(old)]}])
    part = _part()
    with pytest.raises(Exception, match="ExpiredTokenException"):
        _get(_client_with_token(proxy.url("a"), old), part, "leader")
    assert _get(_client_with_token(proxy.url("a"), new), part, "leader") is None
    assert _get(_client(proxy.url("a")), part, "leader") is None  # no token at all
    recs = _log(proxy)[-3:]
    assert [(r["fault"], r.get("token")) for r in recs] == [
        ("expired_token", fp.token_digest(old)), ("ok", fp.token_digest(new)), ("ok", None)]
    text = open(proxy.log_path).read()
    assert old not in text and new not in text  # the log names a token by its digest only


def test_control_api_sets_rules_and_reports_stats(proxy):
    ctl = fp.ControlClient(proxy.control_url)
    ctl.set_rules([{"action": "throttle", "ops": ["GetItem"]}], seed=3)
    assert _raw(proxy.url("a"), "GetItem", {"TableName": TABLE})[0].status == 400
    ctl.add_rule({"action": "error500", "ops": ["PutItem"]})
    stats = ctl.stats()
    assert stats["seed"] == 3 and stats["by_fault"]["throttle"] >= 1 and len(stats["rules"]) == 2
    ctl.clear()
    assert _raw(proxy.url("a"), "GetItem", {"TableName": TABLE, "Key": {
        "cluster_name": {"S": "x"}, "key": {"S": "leader"}}})[0].status == 200
    with pytest.raises(Exception) as e:
        ctl.set_rules([{"action": "explode"}])
    assert e.value.code == 400
    with pytest.raises(ValueError, match="unknown rule field"):
        proxy.set_rules([{"action": "ok", "probabilty": 0.5}])


def test_concurrent_cas_under_faults_gives_a_linearizable_history(proxy, moto):
    """Four clients race compare-and-set increments on one key through the proxy while it drops replies,
    throttles and fails requests; the log checks out as linearizable, and a log edited to show a stale read
    does not."""
    import threading
    from tools import linearizability as lin
    part = _part()
    _update(_client(proxy.url("a")), part, "leader", "init")  # logged: the history starts empty
    proxy.set_rules([{"action": "drop_reply", "ops": ["UpdateItem"], "probability": 0.15},
                     {"action": "throttle", "probability": 0.1},
                     {"action": "error500", "ops": ["UpdateItem"], "probability": 0.1}], seed=5)

    def worker(name: str) -> None:
        c = _client(proxy.url("a" if name in ("w1", "w2") else "b"))
        for _ in range(15):
            try:
                cur = _get(c, part, "leader")
                _update(c, part, "leader", name, expect_version=int(cur["version"]["N"]))
            except Exception:  # noqa: BLE001 - faults and lost races
                pass
    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recs = [r for r in _log(proxy) if r.get("partition") == part]
    res = lin.check_records(recs, keys=["leader"])
    k = res["keys"][f"{TABLE}/{part}/leader"]
    assert res["ok"] is True, res
    assert k["unknown"] >= 1 and k["condition_failed"] >= 1 and k["writes"] >= 30, k
    # tamper: the last successful read now shows the first version
    reads = [r for r in recs if r["op"] == "GetItem" and r["outcome"] == "ok" and r.get("item")]
    first = next(r for r in recs if r["op"] == "UpdateItem" and r["outcome"] == "ok")
    assert reads[-1]["item"]["version"] > first["item"]["version"] + 1
    reads[-1]["item"] = dict(first["item"])
    assert lin.check_records(recs, keys=["leader"])["ok"] is False


def _query(client, part: str, consistent):
    kw = {} if consistent is None else {"ConsistentRead": consistent}
    return client.query(TableName=TABLE, KeyConditionExpression="cluster_name = :pk",
                        ExpressionAttributeValues={":pk": {"S": part}}, **kw)["Items"]


def _get_read(client, part: str, key: str, consistent):
    """GetItem with ConsistentRead true, false, or left out (None: DynamoDB's default, eventually consistent)."""
    kw = {} if consistent is None else {"ConsistentRead": consistent}
    return client.get_item(TableName=TABLE, Key={"cluster_name": {"S": part}, "key": {"S": key}}, **kw).get("Item")


def test_stale_read_serves_the_previous_version_to_eventually_consistent_reads_only(proxy):
    """`stale_read` answers an eventually consistent GetItem/Query (ConsistentRead false or left out) with the
    version of the item before the one the proxy saw last; a strongly consistent read always gets the current
    item. botocore decodes the stale replies (their x-amz-crc32 is recomputed), and the checker accepts the stale
    eventually consistent reads but flags the same reads once they claim to be consistent."""
    from tools import linearizability as lin
    c, part = _client(proxy.url("a")), _part()
    proxy.set_rules([{"action": "stale_read"}])
    for v in ("v1", "v2", "v3"):
        _update(c, part, "leader", v)  # ALL_NEW replies: the proxy sees versions 1, 2, 3

    def versions(items):
        return [int(i["version"]["N"]) for i in items]

    for _ in range(3):  # consistent reads: never stale, however often they are repeated
        assert _get_read(c, part, "leader", True)["value"]["S"] == "v3"
        assert versions(_query(c, part, True)) == [3]
    for consistent in (False, None):  # eventually consistent: the previous version
        got = _get_read(c, part, "leader", consistent)
        assert (got["value"]["S"], got["version"]["N"]) == ("v2", "2"), consistent
        assert versions(_query(c, part, consistent)) == [2], consistent
    # An item created after the proxy first saw it absent: the eventually consistent read misses it.
    assert _get_read(c, part, "sync", True) is None
    _update(c, part, "sync", "s1")
    assert _get_read(c, part, "sync", False) is None
    assert _get_read(c, part, "sync", True)["value"]["S"] == "s1"
    # A write after the last read: the eventually consistent read sees the version the proxy saw last.
    _update(c, part, "leader", "v4")
    assert _get_read(c, part, "leader", False)["value"]["S"] == "v3"

    recs = [r for r in _log(proxy) if r.get("partition") == part]
    reads = [r for r in recs if r["op"] in ("GetItem", "Query")]
    consistent_reads = [r for r in reads if r.get("consistent") is True]
    eventual_reads = [r for r in reads if not r.get("consistent")]
    assert len(consistent_reads) == 8 and len(eventual_reads) == 6
    assert all(r["fault"] == "ok" and "stale" not in r for r in consistent_reads)
    assert all(r["fault"] == "stale_read" and r["stale"] is True for r in eventual_reads)
    g = next(r for r in eventual_reads if r["op"] == "GetItem" and r["key"] == "leader")
    assert g["item"]["version"] == 2 and g["upstream"]["item"]["version"] == 3  # served vs DynamoDB's answer
    assert "consistent" not in eventual_reads[2] and eventual_reads[0]["consistent"] is False
    assert proxy.stats()["by_fault"]["stale_read"] == 6

    # The checker: stale eventually consistent reads are allowed, the same reads marked consistent are not.
    res = lin.check_records(recs, keys=["leader", "sync"])
    assert res["ok"] is True, res
    assert res["keys"][f"{TABLE}/{part}/leader"]["eventual_reads"] == 5
    for r in eventual_reads:
        r["consistent"] = True
    tampered = lin.check_records(recs, keys=["leader", "sync"])
    assert tampered["ok"] is False
    assert tampered["keys"][f"{TABLE}/{part}/leader"]["linearizable"] is False
    assert tampered["keys"][f"{TABLE}/{part}/sync"]["linearizable"] is False


def test_stale_read_in_a_script_leaves_consistent_reads_and_writes_alone(proxy):
    c, part = _client(proxy.url("a")), _part()
    _update(c, part, "leader", "v1")
    _update(c, part, "leader", "v2")
    proxy.set_rules([{"script": ["stale_read"] * 3, "keys": ["leader"]}])
    _update(c, part, "leader", "v3")  # a write: forwarded as it is
    assert _get_read(c, part, "leader", True)["value"]["S"] == "v3"  # consistent: never stale
    assert _get_read(c, part, "leader", False)["value"]["S"] == "v2"  # the third step: stale
    assert _get_read(c, part, "leader", False)["value"]["S"] == "v3"  # script done: forwarded
    assert [r["fault"] for r in _log(proxy)[-4:]] == ["ok", "ok", "stale_read", "ok"]


def test_window_holds_every_matching_request_until_one_instant_then_lets_them_through(proxy):
    """`window`: DynamoDB unreachable for a known time from the first matching request; a request arriving
    later in the window is held only until the same end; after it the rule no longer matches."""
    proxy.set_rules([{"action": "hang", "ops": ["GetItem"], "window": 1.0}])
    c = _client(proxy.url("a"), read_timeout=3)
    t0 = time.monotonic()
    with pytest.raises(Exception):
        _get(c, "x", "leader")  # held until the window ends, then reset
    time.sleep(0.3)
    first = _log(proxy)[-1]
    assert first["fault"] == "hang" and first["outcome"] == "fail"
    assert first["held_until"] <= t0 + 1.0 + 0.5 and first["t_complete"] >= first["held_until"]
    _get(c, "x", "leader")  # the window is over: forwarded
    rec = _log(proxy)[-1]
    assert rec["fault"] == "ok" and rec["outcome"] == "ok"
    assert proxy.rules()[0]["injected"] == 1


def test_window_delay_releases_a_later_request_at_the_same_end(proxy):
    proxy.set_rules([{"action": "delay", "ops": ["GetItem"], "window": 1.5}])
    c = _client(proxy.url("a"))
    threading.Thread(target=_get, args=(c, "x", "a"), daemon=True).start()
    time.sleep(0.7)
    _get(_client(proxy.url("b")), "x", "b")  # arrives 0.7 s into the window
    recs = [r for r in _log(proxy) if r.get("op") == "GetItem"]
    assert len(recs) == 2 and all(r["fault"] == "delay" and r["outcome"] == "ok" for r in recs)
    assert recs[0]["held_until"] == recs[1]["held_until"]


def _signed_at(url: str, target: str, body: dict, epoch: float) -> http.client.HTTPResponse:
    """A request whose X-Amz-Date says `epoch` (the signature itself is not checked by the proxy or moto)."""
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    data = json.dumps(body)
    headers = dict(local_dynamodb.signed_headers(url, target, data), **{"X-Amz-Date": fp.amz_date(epoch)})
    conn.request("POST", "/", data, headers)
    return conn.getresponse()


@pytest.mark.parametrize("client_offset,words", [(-3600, "Signature expired"), (3600, "Signature not yet current")])
def test_check_date_refuses_a_request_dated_over_5_minutes_off_as_dynamodb_does(proxy, client_offset, words):
    proxy.set_rules([{"action": "check_date"}])
    key = {"TableName": TABLE, "Key": {"cluster_name": {"S": "x"}, "key": {"S": "leader"}}}
    now = time.time()
    resp = _signed_at(proxy.url("a"), "GetItem", key, now + client_offset)
    body = json.loads(resp.read())
    assert resp.status == 400
    assert body["__type"] == "com.amazon.coral.service#InvalidSignatureException"
    assert resp.getheader("x-amzn-ErrorType").startswith("InvalidSignatureException:")
    assert len(resp.getheader("x-amzn-RequestId")) == 52
    assert body["message"].startswith(f"{words}: {fp.amz_date(now + client_offset)} is ")
    assert body["message"].endswith(" - 5 min.)" if client_offset < 0 else " + 5 min.)")
    # the server's time is in the Date header (RFC 7231), for the client's skew correction
    from email.utils import parsedate_to_datetime
    assert abs(parsedate_to_datetime(resp.getheader("Date")).timestamp() - now) < 5
    rec = _log(proxy)[-1]
    assert rec["fault"] == "check_date" and rec["error"] == "InvalidSignatureException" and rec["outcome"] == "fail"
    # within 5 minutes: forwarded
    resp = _signed_at(proxy.url("a"), "GetItem", key, now + 240 * (1 if client_offset > 0 else -1))
    resp.read()
    assert resp.status == 200 and _log(proxy)[-1]["outcome"] == "ok"


def test_clock_offset_moves_the_proxys_date_and_what_check_date_accepts(proxy):
    proxy.set_rules([{"action": "check_date"}])
    proxy.set_clock_offset(-3600)  # "DynamoDB" an hour behind this host
    key = {"TableName": TABLE, "Key": {"cluster_name": {"S": "x"}, "key": {"S": "leader"}}}
    resp = _signed_at(proxy.url("a"), "GetItem", key, time.time())
    body = json.loads(resp.read())
    assert resp.status == 400 and body["message"].startswith("Signature not yet current:")
    from email.utils import parsedate_to_datetime
    assert abs(parsedate_to_datetime(resp.getheader("Date")).timestamp() - (time.time() - 3600)) < 5
    resp = _signed_at(proxy.url("a"), "GetItem", key, time.time() - 3600)
    resp.read()
    assert resp.status == 200
    assert abs(parsedate_to_datetime(resp.getheader("Date")).timestamp() - (time.time() - 3600)) < 5
    assert fp.ControlClient(proxy.control_url).set_clock_offset(0)["clock_offset"] == 0


def test_hang_mode_holds_requests_and_replies_until_forward_resets_them(proxy):
    """set_mode("hang") cuts every listener off as a partition does (tools/tcp_proxy.py's hang, now here): a
    request times out on the client side; leaving the mode resets the held connection and the next request
    is forwarded."""
    c, part = _client(proxy.url("a"), read_timeout=1), _part()
    _update(c, part, "leader", "node1")
    proxy.set_mode("hang")
    try:
        held = _send(proxy.url("b"), "DynamoDB_20120810.GetItem",
                     {"TableName": TABLE, "Key": {"cluster_name": {"S": part}, "key": {"S": "leader"}}})
        pytest.fail(f"answered while hanging: {held.status}")
    except (TimeoutError, OSError):
        pass
    finally:
        proxy.set_mode("forward")
    assert _get(c, part, "leader")["value"]["S"] == "node1"
    recs = _log(proxy)
    hung = [r for r in recs if r.get("mode") == "hang"]
    assert [(r["op"], r["fault"], r["outcome"], r["client"]) for r in hung] == [("GetItem", "hang", "fail", "b")]
    # The request taken last (by seq: records are written when a request ends, and the held one may end after it)
    last = max((r for r in recs if "seq" in r), key=lambda r: r["seq"])
    assert last["op"] == "GetItem" and last["outcome"] == "ok" and "mode" not in last, last


def test_refuse_mode_closes_the_listeners_and_forward_reopens_them_on_the_same_ports(proxy):
    import socket
    ports = (proxy.port("a"), proxy.port("b"))
    proxy.set_mode("refuse")
    try:
        for port in ports:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        proxy.set_mode("forward")
    assert (proxy.port("a"), proxy.port("b")) == ports
    c, part = _client(proxy.url("a")), _part()
    _update(c, part, "leader", "node1")
    assert _get(c, part, "leader")["value"]["S"] == "node1"


def test_rtt_ms_adds_a_round_trip_to_every_request(moto):
    """FaultProxy(rtt_ms=...) is what the benchmarks put between a client and its DynamoDB (bench/delay_proxy.py
    before): every request takes at least that much longer, half on the way in and half on the way out."""
    port = int(moto.endpoint.rsplit(":", 1)[1])
    with fp.FaultProxy("127.0.0.1", port, rtt_ms=150) as p:
        c, part = _client(p.url()), _part()
        _update(c, part, "leader", "node1")
        t0 = time.monotonic()
        assert _get(c, part, "leader")["value"]["S"] == "node1"
        assert time.monotonic() - t0 >= 0.15
        assert p.stats()["rtt_ms"] == 150
