#!/usr/bin/env python3
"""The loops of bench/client_bench.cc with boto3: GetItem, PutItem, conditional UpdateItem and Query (16 items)
on the same table, keys and item sizes. CPU is getrusage(RUSAGE_SELF) user+sys of this process (the server is
another process); peak RSS is VmHWM. Prints one JSON object.

    boto3_bench.py --endpoint http://127.0.0.1:PORT --table bench_client --ops 2000
    boto3_bench.py --offline --ops 5000    # a botocore `before-send` hook answers: serialize + sign + parse only
    boto3_bench.py --offline --ops 1000 --idle-us 3000   # the same, sleeping 3 ms before each operation
"""
from __future__ import annotations

import argparse
import json
import resource
import time

KEYS = 16
VALUE_BYTES = 200
PARTITION = "bench"


def key(i: int) -> dict:
    return {"cluster_name": {"S": PARTITION}, "key": {"S": f"k{i % KEYS}"}}


def full_item(i: int) -> dict:
    return {**key(i), "value": {"S": "v" * VALUE_BYTES}, "version": {"N": str(i)}}


def loops(client, table: str):
    def get(i):
        client.get_item(TableName=table, Key=key(i), ConsistentRead=True)

    def put(i):
        client.put_item(TableName=table, Item=full_item(i))

    def update(i):
        client.update_item(TableName=table, Key=key(i), UpdateExpression="SET #v = :v, #n = :n",
                           ConditionExpression="attribute_exists(#k)",
                           ExpressionAttributeNames={"#v": "value", "#n": "version", "#k": "key"},
                           ExpressionAttributeValues={":v": {"S": "u" * VALUE_BYTES}, ":n": {"N": str(i)}},
                           ReturnValuesOnConditionCheckFailure="ALL_OLD")

    def query(_i):
        items = client.query(TableName=table, ConsistentRead=True, KeyConditionExpression="#p = :p",
                             ExpressionAttributeNames={"#p": "cluster_name"},
                             ExpressionAttributeValues={":p": {"S": PARTITION}})["Items"]
        assert len(items) == KEYS, len(items)
    return {"GetItem": get, "PutItem": put, "UpdateItem": update, "Query": query}


class _Raw:
    """The `raw` of a canned botocore AWSResponse."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_kw):
        yield self.body


def install_canned_answers(client) -> None:
    """Answer every request from a `before-send` hook, as client_bench's CannedTransport does."""
    from botocore.awsrequest import AWSResponse
    items = [full_item(i) for i in range(KEYS)]
    bodies = {"GetItem": json.dumps({"Item": full_item(3)}).encode(),
              "Query": json.dumps({"Items": items, "Count": KEYS, "ScannedCount": KEYS}).encode()}

    def answer(request, **_kw):
        target = request.headers.get("X-Amz-Target", b"")
        op = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
        return AWSResponse(request.url, 200, {"content-type": "application/x-amz-json-1.0"},
                           _Raw(bodies.get(op, b"{}")))
    client.meta.events.register("before-send.dynamodb", answer)


def peak_rss_kb() -> int:
    """VmHWM of this process (ru_maxrss would keep a parent's high-water mark across fork + exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def now():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, time.monotonic()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", default="")
    ap.add_argument("--offline", action="store_true")
    ap.add_argument("--table", default="bench_client")
    ap.add_argument("--ops", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--idle-us", type=int, default=0,
                    help="sleep this long before each measured operation (caches go cold as in a round trip)")
    args = ap.parse_args()
    if args.offline == bool(args.endpoint):
        ap.error("give exactly one of --endpoint and --offline")
    import boto3
    from botocore.config import Config
    client = boto3.client("dynamodb", endpoint_url=args.endpoint or "http://127.0.0.1:1", region_name="us-east-1",
                          aws_access_key_id="AKIDLOCALTEST", aws_secret_access_key="local-test-secret",
                          config=Config(retries={"max_attempts": 3}))
    if args.offline:
        install_canned_answers(client)
    rss_start = peak_rss_kb()
    out = {"client": "boto3", "mode": "offline" if args.offline else "loopback", "ops": args.ops,
           "operations": {}}
    for name, op in loops(client, args.table).items():
        for i in range(args.warmup):
            op(i)
        c0, w0 = now()
        idle = args.idle_us / 1e6
        for i in range(args.ops):
            if idle:
                time.sleep(idle)
            op(i)
        c1, w1 = now()
        out["operations"][name] = {"cpu_us_per_op": (c1 - c0) * 1e6 / args.ops,
                                   "wall_us_per_op": (w1 - w0) * 1e6 / args.ops, "errors": 0}
    out["rss_at_start_kb"] = rss_start
    out["peak_rss_kb"] = peak_rss_kb()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
