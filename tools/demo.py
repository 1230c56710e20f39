#!/usr/bin/env python3
"""`make demo`: a three-node Patroni + PostgreSQL cluster on Dynatroni, then a leader crash, timed.

Environment:
  FAILOVER_TIME=15        the Dynatroni dial (ttl = F, loop_wait = retry_timeout = F/3), seconds, >= 9
  DYNAMODB=moto           local DynamoDB to start: moto (default) or dynalite
  DYNAMODB_ENDPOINT=URL   use an existing endpoint instead (e.g. https://dynamodb.eu-west-1.amazonaws.com);
                          credentials then come from the usual AWS variables / profile, region from AWS_REGION
  DYNAMODB_TABLE=patroni  table name (created if missing)
  PATRONI_VERSION=4.1     4.1 (the virtualenv's Patroni) or 3.0.2 (Debian's package)
  DYNATRONI_KEEP=1        keep the data directories and logs (printed at the end)

Installs nothing (make does). Needs: PostgreSQL 15 binaries (/usr/lib/postgresql/15/bin), the postgres user,
root (to run Patroni and PostgreSQL as postgres) and a Python with Patroni 4.1 and dynatroni installed, readable
by postgres. Ctrl-C at any time stops everything it started.
"""
from __future__ import annotations

import os
import sys
import time

from tools import cluster_harness as h


def step(n: int, text: str) -> None:
    h.say(f"== step {n}: {text}")


def main() -> int:
    failover_time = float(os.environ.get("FAILOVER_TIME", "15") or 15)
    kind = os.environ.get("DYNAMODB", "moto") or "moto"
    endpoint = os.environ.get("DYNAMODB_ENDPOINT", "")
    table = os.environ.get("DYNAMODB_TABLE", "patroni") or "patroni"
    version = os.environ.get("PATRONI_VERSION", "4.1") or "4.1"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or h.REGION
    static = not endpoint  # local servers take dummy keys; a real endpoint gets the caller's credentials
    if failover_time < 9:
        print(f"demo: FAILOVER_TIME must be at least 9 seconds; got {failover_time:g}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("demo: run as root (Patroni and PostgreSQL are started as the postgres user)", file=sys.stderr)
        return 2
    h.install_signal_handlers()
    started = time.monotonic()
    h.say(f"Dynatroni demo: 3 Patroni {version} nodes on DynamoDB, failover_time {failover_time:g}s "
          f"(ttl {failover_time:g}s, loop_wait = retry_timeout = {failover_time / 3:g}s)")
    try:
        step(1, "start DynamoDB" if not endpoint else f"use DynamoDB at {endpoint}")
        with h.LocalDynamo(kind, endpoint or None) as ddb:
            step(2, f"create the table {table!r}")
            h.create_table(ddb.endpoint, table, region, static)
            scope = f"demo-{time.strftime('%H%M%S')}"
            with h.Cluster(3, endpoint=ddb.endpoint, scope=scope, failover_time=failover_time, patroni=version,
                           table=table, region=region, credentials="static" if static else "environment") as c:
                return run(c, failover_time)
    except KeyboardInterrupt:
        h.say("interrupted: everything started was stopped")
        return 130
    finally:
        h.say(f"demo finished after {time.monotonic() - started:.0f}s; no processes or ports left behind")


def run(c: h.Cluster, failover_time: float) -> int:
    step(3, f"start 3 Patroni nodes (scope {c.scope!r}, data under {c.base_dir})")
    c.start_all()
    step(4, "wait for a leader and two streaming replicas")
    leader = c.wait_healthy(240)
    replicas = c.streaming_replicas(leader)
    h.say(f"leader: {leader}; pg_stat_replication on {leader} shows {len(replicas)} streaming: "
          f"{', '.join(replicas)}")
    item = c.leader_item() or {}
    h.say(f"DynamoDB leader item: value={item.get('value')} version={item.get('version')} term={item.get('term')}")
    step(5, "patronictl list")
    print(c.patronictl("list").stdout, flush=True)

    step(6, f"write a row through the leader ({leader}) and read it on a replica")
    c.query(leader, "create table if not exists demo(id serial primary key, msg text, at timestamptz default now())")
    msg = f"hello from {leader} at {time.strftime('%H:%M:%S')}"
    c.query(leader, "insert into demo(msg) values (%s)", (msg,))
    h.say(f"inserted {msg!r} on {leader}")
    replica = replicas[0]
    rows = h.wait_for(lambda: c.query(replica, "select msg from demo where msg = %s", (msg,)), 30,
                      f"the row on replica {replica}")
    h.say(f"read on {replica} (pg_is_in_recovery = {not c.is_primary(replica)}): {rows[0][0]!r}")

    step(7, f"crash the leader {leader}: kill -9 of its Patroni and its postmaster")
    others = [n.name for n in c.nodes if n.name != leader]
    t0 = time.monotonic()
    c.crash(leader)
    h.say(f"crashed; now trying an INSERT on {' and '.join(others)} every 100 ms until one commits")
    new_primary = None
    next_report = t0 + 2
    while new_primary is None:
        for name in others:
            if _insert(c, name):
                new_primary = name
                break
        now = time.monotonic()
        if new_primary is None:
            if now - t0 > failover_time * 4 + 60:
                h.say(f"no new primary after {now - t0:.0f}s: giving up")
                for name in others:
                    print(f"--- last lines of {name}'s log:\n{c.log_tail(name, 30)}", flush=True)
                return 1
            if now >= next_report:
                h.say(f"  ... no new primary yet: {now - t0:.1f}s since the crash")
                next_report += 2
            time.sleep(0.1)
    elapsed = time.monotonic() - t0
    h.say(f"FAILOVER TIME: {elapsed:.1f}s from the crash of {leader} until {new_primary} committed a write "
          f"(failover_time {failover_time:g}s)")
    item = c.leader_item() or {}
    h.say(f"DynamoDB leader item: value={item.get('value')} version={item.get('version')} term={item.get('term')}")

    step(8, "show the cluster again")
    remaining = [n for n in others if n != new_primary]
    try:
        h.wait_for(lambda: all(r in c.streaming_replicas(new_primary) for r in remaining), 60,
                   f"{', '.join(remaining)} to stream from {new_primary}")
    except TimeoutError as e:
        h.say(str(e))
    # A new process leaves a member out once its item is 2 ttl + 10 s old (docs/design.md, "A new process's view
    # of the members"); the crashed leader's last write was before the crash.
    limit = h.fresh_reader_limit(failover_time)
    wait = t0 + limit - time.monotonic()
    if wait > 0:
        h.say(f"waiting {wait:.0f}s more: a new process (patronictl) leaves out a member whose item is "
              f"{limit:g}s old (2 ttl + {limit - 2 * failover_time:g}s), so {leader} disappears from the list {limit:g}s after the crash")
        time.sleep(wait)
    listing = c.patronictl("list").stdout
    print(listing, flush=True)
    if f" {leader} " in listing:
        h.say(f"UNEXPECTED: patronictl still lists the crashed {leader}")
        return 1
    h.say("roles per PostgreSQL (pg_is_in_recovery): " + ", ".join(
        f"{n}={'down' if p is None else 'primary' if p else 'replica'}" for n, p in c.roles().items()))

    step(9, "stop everything")
    c.stop_all()
    c.patronictl("remove", c.scope, input=f"{c.scope}\nYes I am aware\n", check=False)
    h.say(f"removed the cluster's items from DynamoDB (partition {c.partition!r}: "
          f"{len(c.partition_items())} items left)")
    return 0


def _insert(c: h.Cluster, name: str) -> bool:
    try:
        c.query(name, "insert into demo(msg) values ('written after the failover')", statement_timeout_ms=2000)
        return True
    except Exception:  # noqa: BLE001 - a replica refuses, a crashed node does not answer
        return False


if __name__ == "__main__":
    sys.exit(main())
