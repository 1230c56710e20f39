#!/usr/bin/env python3
"""The project's one proxy: an HTTP-level, fault-injecting proxy in front of a local DynamoDB (moto or dynalite).

With no rules it forwards, so it is also the plain proxy of the tests and the benchmarks; ``rtt_ms`` adds a network
round trip to every request (half on the way in, half on the way out), as a DynamoDB endpoint a few milliseconds
away would; ``set_mode`` cuts every listener off at the connection level (see *Modes* below).

tc netem and toxiproxy are not available on our machines, and the faults that matter to a DCS are HTTP-level
anyway: throttling and 5xx errors with DynamoDB's exact bodies, replies that never come, writes applied whose
reply is lost. The nodes talk plain http to the proxy; the proxy parses each request (``X-Amz-Target`` gives
the operation, the JSON body the table and the ``key`` of the item) and, per request, applies the first
matching *rule*.

Rules (a list of dicts, first match wins; every field but ``action`` optional)::

    {"action": "throttle",            # see ACTIONS
     "ops": ["UpdateItem"],           # operations (X-Amz-Target suffix); default all
     "keys": ["leader", "sync"],      # item keys (sort key `key`); "members/" prefix match with a trailing /
     "clients": ["node2"],            # listener names (one listener per node: cut one node off)
     "session_tokens": ["3f2a..."],   # requests signed with these session tokens (token_digest of each)
     "probability": 0.3,              # per matching request, drawn from the proxy's seeded RNG
     "skip": 0, "count": 5,           # ignore the first `skip` matches; inject at most `count` times
     "script": ["ok", "drop_reply"],  # instead of `action`: actions for successive matches (then "ok")
     "delay": 1.5,                    # seconds, for delay / delay_reply
     "hang": 3600,                    # seconds, for hang / hang_reply (cut short by clear / set_rules)
     "window": 3.0}                   # seconds: see below

ACTIONS: ``ok`` (forward), ``delay`` (wait, then forward), ``delay_reply`` (forward, wait, then reply),
``throttle`` (400 ProvisionedThroughputExceededException), ``throttling`` (400 ThrottlingException),
``error500`` (500 InternalServerError), ``error503`` (503 ServiceUnavailable), ``access_denied`` (400
AccessDeniedException naming the operation and table, as IAM denies it), ``expired_token`` (400
ExpiredTokenException), ``hang`` (never forward;
hold the connection, then reset it), ``hang_reply`` (forward, hold the reply, then reset), ``drop_reply``
(forward, then reset the connection instead of replying), ``drop_request`` (reset without forwarding),
``truncate`` (forward, send the headers and half the body, then close), ``check_date`` (a request whose
``X-Amz-Date`` is more than 5 minutes off the proxy's clock is refused as DynamoDB refuses it: 400
``InvalidSignatureException`` "Signature expired: ... is now earlier than ... (... - 5 min.)" or "Signature not yet
current: ... is still later than ... (... + 5 min.)"; any other request is forwarded), ``stale_read`` (an
eventually consistent GetItem or Query, i.e. ``ConsistentRead`` absent or false, is forwarded and then answered
with the *previous* version of each item instead of the current one, as DynamoDB may answer such a read shortly
after a write; a strongly consistent read is never served stale: the rule does not match it).

``window``: the rule injects only during ``window`` seconds from its first injection, and ``hang``/``delay``
(and their ``_reply`` forms) hold every request they take until that window ends, whenever it arrived (instead
of ``hang``/``delay`` seconds each): DynamoDB unreachable for a known time that starts with the first matching
request, e.g. the leader's renewal. The record of a held request has ``held_until`` (CLOCK_MONOTONIC).

The proxy's clock: every reply carries a ``Date`` header from the proxy's wall clock, which is the host's plus
``clock_offset`` seconds (``FaultProxy(clock_offset=...)``, ``set_clock_offset``, ``POST /clock``
``{"offset": s}``), so a test can put "DynamoDB's" clock an hour away from a client's; ``check_date`` compares
against it. A refused request's record has ``error: InvalidSignatureException``, ``outcome: fail``, the request's
``amz_date`` and the ``message``.

For ``stale_read`` the proxy remembers, per item (table, partition, key), the last two distinct versions it saw
in any reply (GetItem's item or its absence, Query's items, UpdateItem's ALL_NEW, a failed condition's ALL_OLD),
whatever the rules were then. An eventually consistent read is answered with the version before the latest
(absent when the item was last seen created; a Query then leaves it out); an item with no earlier version known
is served as DynamoDB returned it. The log record has ``stale: true`` when something stale was served, the
served items in ``item``/``items`` and DynamoDB's real answer in ``upstream``.

Every request is logged as one JSON line (``log_path``): seq, client, op, table, partition, key, condition,
expression values, ``token`` (``token_digest`` of the request's session token, when it has one),
``t_invoke``/``t_complete`` (CLOCK_MONOTONIC, system-wide, seconds; ``t_complete`` is
when the reply was handed to the client or the connection closed), the fault, the HTTP status the client got,
``outcome`` from the client's point of view (``ok``, ``condition-failed``, ``fail`` = definitely not applied,
``unknown`` = may or may not have applied), ``upstream`` (what DynamoDB actually answered, when forwarded) and
the items returned (``item`` for GetItem/UpdateItem, ``items`` for Query). tools/linearizability.py checks it.

Modes (``set_mode``, every listener at once, effective immediately; the rules are not consulted meanwhile):

* ``forward`` - requests are handled as above (the default).
* ``hang``    - requests are read but never forwarded, and replies not yet sent are held, as in a network
  partition (requests time out on the client side). Leaving ``hang`` resets the connections held meanwhile
  (their requests are long timed out on the client side, as after a partition heals). A held request's record
  has ``fault: hang`` and ``mode: hang``.
* ``refuse``  - the listening sockets are closed (a new connection gets ECONNREFUSED) and every open connection
  is reset, as when the server's host is down; ``forward`` listens again on the same ports.

Control API (loopback HTTP, JSON): ``GET /stats``, ``GET /rules``, ``POST /rules`` (body
``{"rules": [...], "seed": 7}``: replace), ``POST /rules/add`` (append one rule), ``POST /clear`` (no rules;
held connections are reset), ``POST /clock`` (``{"offset": seconds}``: the proxy's clock offset), ``POST /mode``
(``{"mode": "hang"}``).

    with FaultProxy("127.0.0.1", 8000, clients=["node1", "node2"], seed=1, log_path="proxy.jsonl") as fp:
        fp.url("node1"); fp.set_rules([{"action": "throttle", "ops": ["UpdateItem"], "probability": 0.5}])
        fp.set_mode("hang"); ...; fp.set_mode("forward")
    with FaultProxy("127.0.0.1", 8000, rtt_ms=4) as fp:    # a DynamoDB 4 ms away
        endpoint = fp.url()

    python -m tools.fault_proxy --upstream 127.0.0.1:8000 --clients node1,node2 --seed 1 --log proxy.jsonl
    python -m tools.fault_proxy --upstream 127.0.0.1:8000 --rtt-ms 4     # forward, 4 ms per round trip
"""
from __future__ import annotations

import argparse
import calendar
import contextlib
import hashlib
import http.client
import json
import random
import socket
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

ACTIONS = ("ok", "delay", "delay_reply", "throttle", "throttling", "error500", "error503", "access_denied",
           "expired_token", "hang", "hang_reply", "drop_reply", "drop_request", "truncate", "stale_read",
           "check_date")
RULE_FIELDS = {"action", "ops", "keys", "clients", "tables", "session_tokens", "probability", "skip", "count",
               "script", "delay", "hang", "window", "name"}
HOLDING = ("hang", "hang_reply", "delay", "delay_reply")
MODES = ("forward", "refuse", "hang")
# How far a request's X-Amz-Date may be from DynamoDB's clock (SigV4), in seconds.
MAX_SIGNATURE_SKEW = 300
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
READ_OPS = {"GetItem", "Query"}


def token_digest(session_token: Optional[str]) -> Optional[str]:
    """What the rules (``session_tokens``) and the log (``token``) name a request's ``X-Amz-Security-Token`` by: the
    first 16 hex digits of its SHA-256, never the token itself. None when the request carries none."""
    return hashlib.sha256(session_token.encode()).hexdigest()[:16] if session_token else None


def eventually_consistent(info: Dict[str, Any]) -> bool:
    """A GetItem or Query without ``ConsistentRead: true`` (DynamoDB's default is an eventually consistent read)."""
    return info.get("op") in READ_OPS and not info.get("consistent")

# DynamoDB's error replies (HTTP status, __type, message), as the service sends them.
ERRORS: Dict[str, Tuple[int, str, str]] = {
    "throttle": (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                 "The level of configured provisioned throughput for the table was exceeded. "
                 "Consider increasing your provisioning level with the UpdateTable API."),
    "throttling": (400, "com.amazon.coral.availability#ThrottlingException",
                   "Rate of requests exceeds the allowed throughput."),
    "error500": (500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error"),
    "error503": (503, "com.amazonaws.dynamodb.v20120810#ServiceUnavailable",
                 "The service is currently unavailable or busy."),
    "access_denied": (400, "com.amazon.coral.service#AccessDeniedException",
                      "User: arn:aws:sts::123456789012:assumed-role/patroni-node/i-0123456789abcdef0 is not "
                      "authorized to perform: dynamodb:{op} on resource: "
                      "arn:aws:dynamodb:us-east-1:123456789012:table/{table} because no identity-based policy "
                      "allows the dynamodb:{op} action"),
    "expired_token": (400, "com.amazon.coral.service#ExpiredTokenException",
                      "The security token included in the request is expired"),
}


def error_body(action: str, op: str = "GetItem", table: str = "") -> bytes:
    """DynamoDB's error document for ``action``; the access-denied message names the operation and table."""
    _, typ, msg = ERRORS[action]
    return json.dumps({"__type": typ, "message": msg.format(op=op, table=table)}, separators=(",", ":")).encode()


def amz_date(epoch: float) -> str:
    """SigV4's basic ISO 8601 form (20150830T123600Z)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def signature_time_error(request_date: Optional[str], now: float) -> Optional[str]:
    """DynamoDB's message refusing a request signed at ``request_date`` (X-Amz-Date) when its clock reads ``now``
    (epoch seconds), or None when the date is within 5 minutes (or absent or unreadable: not judged here)."""
    try:
        sent = calendar.timegm(time.strptime(request_date or "", "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return None
    now_s = int(now)
    if sent < now_s - MAX_SIGNATURE_SKEW:
        return (f"Signature expired: {request_date} is now earlier than {amz_date(now_s - MAX_SIGNATURE_SKEW)} "
                f"({amz_date(now_s)} - 5 min.)")
    if sent > now_s + MAX_SIGNATURE_SKEW:
        return (f"Signature not yet current: {request_date} is still later than "
                f"{amz_date(now_s + MAX_SIGNATURE_SKEW)} ({amz_date(now_s)} + 5 min.)")
    return None


INVALID_SIGNATURE = "com.amazon.coral.service#InvalidSignatureException"


def _request_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(rng.choice(alphabet) for _ in range(52))


def _plain_value(v: Any) -> Any:
    """A DynamoDB AttributeValue ({"S": "x"}) as plain JSON (numbers as int when integral)."""
    if not isinstance(v, dict) or len(v) != 1:
        return v
    (t, x), = v.items()
    if t == "N":
        try:
            return int(x)
        except ValueError:
            return float(x)
    if t == "NULL":
        return None
    return x


def plain_item(item: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if item is None:
        return None
    return {k: _plain_value(v) for k, v in item.items()}


def parse_request(target: str, body: bytes) -> Dict[str, Any]:
    """What the log and the rules need from a DynamoDB JSON request (never raises)."""
    op = target.rsplit(".", 1)[-1] if target else ""
    out: Dict[str, Any] = {"op": op, "table": None, "partition": None, "key": None}
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        out["bad_json"] = True
        return out
    if not isinstance(req, dict):
        return out
    out["table"] = req.get("TableName")
    key = req.get("Key")
    if isinstance(key, dict):
        out["partition"] = _plain_value(key.get("cluster_name"))
        out["key"] = _plain_value(key.get("key"))
    elif op == "PutItem" and isinstance(req.get("Item"), dict):
        out["partition"] = _plain_value(req["Item"].get("cluster_name"))
        out["key"] = _plain_value(req["Item"].get("key"))
        out["put_item"] = plain_item(req["Item"])
    elif op == "Query":
        values = req.get("ExpressionAttributeValues") or {}
        out["partition"] = _plain_value(values.get(":pk"))
        prefix = values.get(":prefix")
        out["key"] = f"{_plain_value(prefix)}*" if prefix else "*"
    elif op == "BatchWriteItem":
        for table, reqs in (req.get("RequestItems") or {}).items():
            out["table"] = table
            keys = []
            for r in reqs:
                k = (r.get("DeleteRequest") or {}).get("Key") or (r.get("PutRequest") or {}).get("Item") or {}
                out["partition"] = _plain_value(k.get("cluster_name"))
                keys.append(_plain_value(k.get("key")))
            out["batch_keys"] = keys
    for field, name in (("ConditionExpression", "condition"), ("UpdateExpression", "update"),
                        ("KeyConditionExpression", "key_condition")):
        if req.get(field):
            out[name] = req[field]
    if req.get("ExpressionAttributeNames"):
        out["names"] = req["ExpressionAttributeNames"]
    if req.get("ExpressionAttributeValues"):
        out["values"] = {k: _plain_value(v) for k, v in req["ExpressionAttributeValues"].items()}
    if "ConsistentRead" in req:
        out["consistent"] = bool(req["ConsistentRead"])
    return out


def parse_response(op: str, status: int, body: bytes) -> Dict[str, Any]:
    """Outcome of a forwarded request as DynamoDB answered it, and the items it returned."""
    out: Dict[str, Any] = {"status": status}
    try:
        resp = json.loads(body or b"{}")
    except ValueError:
        resp = {}
        out["bad_json"] = True
    if not isinstance(resp, dict):
        resp = {}
    if status == 200:
        out["outcome"] = "ok"
        if op == "GetItem":
            out["item"] = plain_item(resp.get("Item"))
        elif op in ("UpdateItem", "PutItem", "DeleteItem"):
            out["item"] = plain_item(resp.get("Attributes"))
        elif op == "Query":
            out["items"] = [plain_item(i) for i in resp.get("Items", [])]
            if "LastEvaluatedKey" in resp:
                out["more"] = True
        return out
    typ = str(resp.get("__type", "")).rsplit("#", 1)[-1]
    out["error"] = typ
    if typ == "ConditionalCheckFailedException":
        out["outcome"] = "condition-failed"
        if "Item" in resp:
            out["item"] = plain_item(resp.get("Item"))
    elif status >= 500:
        out["outcome"] = "unknown"
    else:
        out["outcome"] = "fail"  # a 4xx other than a failed condition: not applied
    return out


def _key_matches(patterns: List[str], key: Optional[str], batch: Optional[List[str]] = None) -> bool:
    keys = [key] if key is not None else []
    keys += batch or []
    for k in keys:
        if k is None:
            continue
        for p in patterns:
            if p == k or (p.endswith("/") and k.startswith(p)) or (k.endswith("*") and p.startswith(k[:-1])):
                return True
    return False


class Rule:
    def __init__(self, spec: Dict[str, Any]) -> None:
        unknown = set(spec) - RULE_FIELDS
        if unknown:
            raise ValueError(f"fault_proxy: unknown rule field(s) {sorted(unknown)}; known: {sorted(RULE_FIELDS)}")
        self.spec = dict(spec)
        self.script = list(spec.get("script") or [])
        self.action = spec.get("action", "ok" if self.script else None)
        for a in self.script + [self.action]:
            if a not in ACTIONS:
                raise ValueError(f"fault_proxy: action must be one of {', '.join(ACTIONS)}; got {a!r}")
        self.probability = float(spec.get("probability", 1.0))
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"fault_proxy: probability must be in [0, 1]; got {self.probability}")
        self.skip = int(spec.get("skip", 0))
        self.count = spec.get("count")
        self.window = float(spec["window"]) if spec.get("window") is not None else None
        self.window_end: Optional[float] = None  # CLOCK_MONOTONIC, set at the first injection
        self.matched = 0
        self.injected = 0

    def matches(self, info: Dict[str, Any], client: str) -> bool:
        s = self.spec
        if s.get("ops") and info["op"] not in s["ops"]:
            return False
        if s.get("clients") and client not in s["clients"]:
            return False
        if s.get("tables") and info.get("table") not in s["tables"]:
            return False
        if s.get("session_tokens") and info.get("token") not in s["session_tokens"]:
            return False
        if s.get("keys") and not _key_matches(list(s["keys"]), info.get("key"), info.get("batch_keys")):
            return False
        if self.action == "stale_read" and not self.script and not eventually_consistent(info):
            return False  # only an eventually consistent read may be stale
        return True

    def decide(self, rng: random.Random) -> Optional[str]:
        """The action for one matching request, or None to fall through to the next rule."""
        self.matched += 1
        if self.matched <= self.skip:
            return None
        if self.count is not None and self.injected >= int(self.count):
            return None
        if self.window_end is not None and time.monotonic() >= self.window_end:
            return None
        if self.script:
            i = self.matched - self.skip - 1
            if i >= len(self.script):
                return None
            action = self.script[i]
        else:
            if self.probability < 1.0 and rng.random() >= self.probability:
                return None
            action = self.action
        self.injected += 1
        if self.window is not None and self.window_end is None:
            self.window_end = time.monotonic() + self.window
        return action

    def to_json(self) -> Dict[str, Any]:
        return dict(self.spec, matched=self.matched, injected=self.injected)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class FaultProxy:
    """One listener per client name, all forwarding to one upstream; one control listener. Thread-safe."""

    def __init__(self, upstream_host: str, upstream_port: int, clients: Optional[List[str]] = None,
                 seed: int = 1, log_path: Optional[str] = None, listen_host: str = "127.0.0.1",
                 upstream_timeout: float = 60.0, clock_offset: float = 0.0, rtt_ms: float = 0.0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.rtt_ms = float(rtt_ms)  # added to every request's round trip, half each way
        self.mode = "forward"
        self._unhang = threading.Event()  # set when the mode leaves "hang": the requests it held are reset
        self.clock_offset = float(clock_offset)  # the proxy's wall clock = the host's + this (seconds)
        self.listen_host = listen_host
        self.clients = list(clients or ["default"])
        self.upstream_timeout = upstream_timeout
        self.log_path = log_path
        self._lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._log_file = open(log_path, "a", buffering=1) if log_path else None  # noqa: SIM115
        self.seed = seed
        self._rng = random.Random(seed)
        self._rules: List[Rule] = []
        self._release = threading.Event()  # set to reset every held connection
        self._seq = 0
        self.counts: Dict[str, int] = {}
        self.requests = 0
        self._servers: Dict[str, _Server] = {}
        self._ports: Dict[str, int] = {}
        self._control: Optional[_Server] = None
        self._threads: List[threading.Thread] = []
        self._open_socks: set = set()
        # (table, partition, key) -> [older, latest] DynamoDB-JSON items seen in replies (None = absent)
        self._seen: Dict[Tuple[Any, Any, Any], List[Optional[Dict[str, Any]]]] = {}

    # ---- public API ----------------------------------------------------------------------------------
    def start(self) -> "FaultProxy":
        self._listen()
        self._control = _Server((self.listen_host, 0), self._control_class())
        self._serve("control", self._control)
        return self

    def port(self, client: Optional[str] = None) -> int:
        return self._ports[client or self.clients[0]]

    def url(self, client: Optional[str] = None) -> str:
        return f"http://{self.listen_host}:{self.port(client)}"

    @property
    def control_url(self) -> str:
        assert self._control is not None
        return f"http://{self.listen_host}:{self._control.server_address[1]}"

    def set_rules(self, rules: List[Dict[str, Any]], seed: Optional[int] = None) -> None:
        parsed = [Rule(r) for r in rules]
        with self._lock:
            old = self._release
            self._release = threading.Event()
            self._rules = parsed
            if seed is not None:
                self.seed = seed
                self._rng = random.Random(seed)
        old.set()  # requests held by the previous rules are reset now
        self.log_event("rules", rules=rules, seed=seed)

    def add_rule(self, rule: Dict[str, Any]) -> None:
        r = Rule(rule)
        with self._lock:
            self._rules.append(r)
        self.log_event("add_rule", rule=rule)

    def clear(self) -> None:
        self.set_rules([])

    def wall_now(self) -> float:
        """The proxy's wall clock (epoch seconds): what its Date headers and ``check_date`` use."""
        return time.time() + self.clock_offset

    def set_clock_offset(self, seconds: float) -> None:
        self.clock_offset = float(seconds)
        self.log_event("clock", offset=self.clock_offset)

    def set_mode(self, mode: str) -> None:
        """``forward``, ``hang`` or ``refuse`` (see the module's docstring), for every listener."""
        if mode not in MODES:
            raise ValueError(f"fault_proxy: mode must be one of {', '.join(MODES)}; got {mode!r}")
        with self._lock:
            old, self.mode = self.mode, mode
            if old == mode:
                return
            unhang = self._unhang
            if mode == "hang":
                self._unhang = threading.Event()
        if old == "hang":
            unhang.set()  # the requests held meanwhile are reset now
        if mode == "refuse":
            self._unlisten()
            with self._lock:
                socks = list(self._open_socks)
            for s in socks:
                _reset_socket(s)
        elif old == "refuse":
            self._listen()
        self.log_event("mode", mode=mode)

    def rules(self) -> List[Dict[str, Any]]:
        with self._lock:
            return [r.to_json() for r in self._rules]

    def stats(self) -> Dict[str, Any]:
        with self._lock:
            return {"requests": self.requests, "by_fault": dict(self.counts), "seed": self.seed,
                    "clock_offset": self.clock_offset, "mode": self.mode, "rtt_ms": self.rtt_ms,
                    "rules": [r.to_json() for r in self._rules],
                    "listeners": {n: self.url(n) for n in self.clients}}

    def log_event(self, event: str, **fields: Any) -> None:
        self._write_log(dict(event=event, t=time.monotonic(), **fields))

    def close(self) -> None:
        with self._lock:
            self._rules = []
            self._release.set()
            self._unhang.set()
        for srv in list(self._servers.values()) + ([self._control] if self._control else []):
            srv.shutdown()
            srv.server_close()
        with self._lock:
            socks = list(self._open_socks)
        for s in socks:
            _reset_socket(s)
        for t in self._threads:
            t.join(timeout=5)
        self._servers.clear()
        self._control = None
        if self._log_file:
            with self._log_lock:
                self._log_file.close()
                self._log_file = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals ------------------------------------------------------------------------------------
    def _serve(self, name: str, srv: _Server) -> None:
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                             name=f"fault-proxy-{name}", daemon=True)
        t.start()
        self._threads.append(t)

    def _listen(self) -> None:
        """One listener per client, on the ports they had before (a new one each at the start)."""
        for name in self.clients:
            srv = _Server((self.listen_host, self._ports.get(name, 0)), self._handler_class(name))
            self._servers[name] = srv
            self._ports[name] = srv.server_address[1]
            self._serve(name, srv)

    def _unlisten(self) -> None:
        for srv in list(self._servers.values()):
            srv.shutdown()
            srv.server_close()
        self._servers.clear()

    def _one_way(self) -> None:
        """Half of ``rtt_ms``: a request's way in, or its reply's way out."""
        if self.rtt_ms > 0:
            time.sleep(self.rtt_ms / 2000.0)

    def _hanging(self) -> Optional[threading.Event]:
        """While the mode is ``hang``: the event set when it ends."""
        with self._lock:
            return self._unhang if self.mode == "hang" else None

    def _write_log(self, record: Dict[str, Any]) -> None:
        if not self._log_file:
            return
        line = json.dumps(record, separators=(",", ":"), default=str)
        with self._log_lock:
            if self._log_file:
                self._log_file.write(line + "\n")

    def _decide(self, info: Dict[str, Any], client: str) -> Tuple[str, Dict[str, Any], threading.Event, int]:
        with self._lock:
            self._seq += 1
            self.requests += 1
            seq = self._seq
            if self.mode == "hang":  # held until the mode changes, then reset; the rules are not consulted
                self.counts["hang"] = self.counts.get("hang", 0) + 1
                return "hang", {"mode": "hang", "request_id": ""}, self._unhang, seq
            action, params, hold_until = "ok", {}, None
            for r in self._rules:
                if r.matches(info, client):
                    a = r.decide(self._rng)
                    if a == "stale_read" and not eventually_consistent(info):
                        a = "ok"  # a script's stale_read step met a strongly consistent read or a write
                    if a is not None:
                        action, params = a, r.spec
                        if a in HOLDING:
                            hold_until = r.window_end
                        break
            self.counts[action] = self.counts.get(action, 0) + 1
            req_id = _request_id(self._rng) if action in ERRORS or action == "check_date" else ""
            params = dict(params, request_id=req_id)
            if hold_until is not None:
                params["hold_until"] = hold_until
            return action, params, self._release, seq

    def _remember(self, table: Any, partition: Any, key: Any, item: Optional[Dict[str, Any]]) -> None:
        """Notes one version of an item seen in a reply (None: absent); keeps the last two distinct ones."""
        if key is None:
            return
        with self._lock:
            versions = self._seen.setdefault((table, partition, key), [])
            if versions and versions[-1] == item:
                return
            versions.append(item)
            del versions[:-2]

    def _previous(self, table: Any, partition: Any, key: Any) -> Tuple[bool, Optional[Dict[str, Any]]]:
        """(known, the version before the latest one seen) of an item."""
        with self._lock:
            versions = self._seen.get((table, partition, key)) or []
            return (True, versions[0]) if len(versions) == 2 else (False, None)

    def _learn(self, info: Dict[str, Any], status: int, data: bytes) -> None:
        """Remembers the item versions a forwarded reply shows (for stale_read)."""
        try:
            resp = json.loads(data or b"{}")
        except ValueError:
            return
        if not isinstance(resp, dict):
            return
        op, table, part = info["op"], info.get("table"), info.get("partition")
        if status == 200 and op == "GetItem":
            self._remember(table, part, info.get("key"), resp.get("Item"))
        elif status == 200 and op == "Query":
            for it in resp.get("Items") or []:
                self._remember(table, part, _plain_value(it.get("key")), it)
        elif status == 200 and op == "UpdateItem" and isinstance(resp.get("Attributes"), dict):
            self._remember(table, part, info.get("key"), resp["Attributes"])  # ALL_NEW (what the DCS asks for)
        elif status == 400 and str(resp.get("__type", "")).endswith("#ConditionalCheckFailedException"):
            if isinstance(resp.get("Item"), dict):
                self._remember(table, part, info.get("key"), resp["Item"])  # ALL_OLD

    def _stale_body(self, info: Dict[str, Any], data: bytes) -> Optional[bytes]:
        """The reply to an eventually consistent read with each item replaced by its previous version (None when
        nothing earlier is known, so the real reply stands)."""
        resp = json.loads(data or b"{}")
        table, part = info.get("table"), info.get("partition")
        if info["op"] == "GetItem":
            known, prev = self._previous(table, part, info.get("key"))
            if not known:
                return None
            out = {k: v for k, v in resp.items() if k != "Item"}
            if prev is not None:
                out["Item"] = prev
            return json.dumps(out, separators=(",", ":")).encode()
        items, changed = [], False
        for it in resp.get("Items") or []:
            known, prev = self._previous(table, part, _plain_value(it.get("key")))
            if not known:
                items.append(it)
                continue
            changed = True
            if prev is not None:
                items.append(prev)
        if not changed:
            return None
        out = dict(resp, Items=items, Count=len(items))
        return json.dumps(out, separators=(",", ":")).encode()

    def _forward(self, method: str, path: str, headers: List[Tuple[str, str]], body: bytes
                 ) -> Tuple[int, str, List[Tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=self.upstream_timeout)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                if k.lower() in ("connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                 "content-length"):
                    continue
                conn.putheader(k, v)
            conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Connection", "close")
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()

    def _handler_class(self, client: str):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY: a reply is two writes (headers, body); with Nagle's algorithm the body waited for the
            # client's delayed ACK, ~40 ms more per request than DynamoDB (or rtt_ms) takes
            disable_nagle_algorithm = True
            server_version = "Server"
            sys_version = ""

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def date_time_string(self, timestamp: Optional[float] = None) -> str:  # the Date header
                return super().date_time_string(proxy.wall_now() if timestamp is None else timestamp)

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy._open_socks.add(self.connection)

            def finish(self) -> None:
                with contextlib.suppress(Exception):
                    super().finish()
                with proxy._lock:
                    proxy._open_socks.discard(self.connection)

            def do_POST(self) -> None:  # noqa: N802
                self._proxy("POST")

            def do_GET(self) -> None:  # noqa: N802
                self._proxy("GET")

            def _proxy(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                t_invoke = time.monotonic()
                info = parse_request(self.headers.get("X-Amz-Target", ""), body)
                token = token_digest(self.headers.get("X-Amz-Security-Token"))
                if token:
                    info["token"] = token
                proxy._one_way()
                action, params, release, seq = proxy._decide(info, client)
                rec: Dict[str, Any] = dict(seq=seq, client=client, t_invoke=t_invoke, fault=action, **info)
                if params.get("mode"):
                    rec["mode"] = params["mode"]
                try:
                    self._act(method, body, info, action, params, release, rec)
                finally:
                    rec["t_complete"] = time.monotonic()
                    proxy._write_log(rec)

            def _act(self, method: str, body: bytes, info: Dict[str, Any], action: str, params: Dict[str, Any],
                     release: threading.Event, rec: Dict[str, Any]) -> None:
                if action in ERRORS:
                    status = ERRORS[action][0]
                    self._reply(status, [("Content-Type", "application/x-amz-json-1.0"),
                                         ("x-amzn-RequestId", params["request_id"])],
                                error_body(action, str(info.get("op")), str(info.get("table"))))
                    rec.update(status=status, outcome="fail", error=ERRORS[action][1].rsplit("#", 1)[-1])
                    return
                if action == "drop_request":
                    rec.update(outcome="fail", status=None)
                    self._reset()
                    return
                if action == "check_date":
                    message = signature_time_error(self.headers.get("X-Amz-Date"), proxy.wall_now())
                    if message is not None:
                        data = json.dumps({"__type": INVALID_SIGNATURE, "message": message},
                                          separators=(",", ":")).encode()
                        self._reply(400, [("Content-Type", "application/x-amz-json-1.0"),
                                          ("x-amzn-RequestId", params["request_id"]),
                                          ("x-amzn-ErrorType", "InvalidSignatureException:"
                                           "http://internal.amazon.com/coral/com.amazon.coral.service/")], data)
                        rec.update(status=400, outcome="fail", error="InvalidSignatureException",
                                   amz_date=self.headers.get("X-Amz-Date"), message=message)
                        return
                if action == "hang" and params.get("mode"):
                    release.wait()
                    rec.update(outcome="fail", status=None)
                    self._reset()
                    return
                if action == "hang":
                    _hold(release, params, "hang", 3600, rec)
                    rec.update(outcome="fail", status=None)
                    self._reset()
                    return
                if action == "delay":
                    _hold(release, params, "delay", 1.0, rec)
                headers = list(self.headers.items())
                try:
                    status, reason, resp_headers, data = proxy._forward(method, self.path, headers, body)
                except OSError as e:
                    # the upstream is down or timed out: the request may have reached it
                    rec.update(outcome="unknown", status=None, upstream={"error": f"{type(e).__name__}: {e}"})
                    self._reset()
                    return
                up = parse_response(info["op"], status, data)
                rec["upstream"] = up
                stale_data = None
                if action == "stale_read" and status == 200:
                    with contextlib.suppress(ValueError, TypeError, AttributeError):
                        # this reply is remembered first: an item that changed since the proxy last saw it is
                        # served the version seen last, an unchanged one the version before
                        proxy._learn(info, status, data)
                        stale_data = proxy._stale_body(info, data)
                else:
                    proxy._learn(info, status, data)
                if action == "stale_read":
                    rec["stale"] = stale_data is not None
                hanging = proxy._hanging()
                if hanging is not None or proxy.mode == "refuse":  # cut off while the request was upstream
                    if hanging is not None:
                        rec["mode"] = "hang"
                        hanging.wait()
                    rec.update(outcome="unknown", status=None)
                    self._reset()
                    return
                if action == "delay_reply":
                    _hold(release, params, "delay", 1.0, rec)
                if action == "hang_reply":
                    _hold(release, params, "hang", 3600, rec)
                    rec.update(outcome="unknown", status=None)
                    self._reset()
                    return
                if action == "drop_reply":
                    rec.update(outcome="unknown", status=None)
                    self._reset()
                    return
                keep = [(k, v) for k, v in resp_headers
                        if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length",
                                             "server", "date")]
                if action == "truncate":
                    cut = data[: max(0, len(data) // 2)]
                    proxy._one_way()
                    self.send_response(status, reason)
                    for k, v in keep:
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    with contextlib.suppress(OSError):
                        self.wfile.write(cut)
                        self.wfile.flush()
                    rec.update(outcome="unknown", status=status)
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                served = up
                if stale_data is not None:
                    data = stale_data
                    keep = [(k, v) for k, v in keep if k.lower() != "x-amz-crc32"]  # recomputed by _reply
                    served = parse_response(info["op"], status, data)
                self._reply(status, keep, data, reason)
                rec.update(status=status, outcome=served["outcome"])
                for k in ("item", "items", "error", "more"):
                    if k in served:
                        rec[k] = served[k]

            def _reply(self, status: int, headers: List[Tuple[str, str]], data: bytes,
                       reason: Optional[str] = None) -> None:
                proxy._one_way()
                self.send_response(status, reason)
                have = {k.lower() for k, _ in headers}
                for k, v in headers:
                    self.send_header(k, v)
                if "x-amz-crc32" not in have:
                    self.send_header("x-amz-crc32", str(zlib.crc32(data) & 0xFFFFFFFF))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(data)
                    self.wfile.flush()

            def _reset(self) -> None:
                self.close_connection = True
                _reset_socket(self.connection)

        return Handler

    def _control_class(self):
        proxy = self

        class Control(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, obj: Any) -> None:
                data = json.dumps(obj, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/stats":
                    self._send(200, proxy.stats())
                elif self.path == "/rules":
                    self._send(200, proxy.rules())
                else:
                    self._send(404, {"error": f"no such endpoint {self.path}; try /stats or /rules"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    if self.path == "/rules":
                        proxy.set_rules(body.get("rules", []), body.get("seed"))
                    elif self.path == "/rules/add":
                        proxy.add_rule(body)
                    elif self.path == "/clear":
                        proxy.clear()
                    elif self.path == "/clock":
                        proxy.set_clock_offset(float(body.get("offset", 0.0)))
                    elif self.path == "/mode":
                        proxy.set_mode(str(body.get("mode")))
                    else:
                        self._send(404, {"error": f"no such endpoint {self.path}; "
                                                  "try /rules, /rules/add, /clear, /clock, /mode"})
                        return
                except (ValueError, TypeError, AttributeError) as e:
                    self._send(400, {"error": str(e)})
                    return
                self._send(200, proxy.stats())

        return Control


def _hold(release: threading.Event, params: Dict[str, Any], field: str, default: float,
          rec: Dict[str, Any]) -> None:
    """Holds a request for its rule's `field` seconds, or until its window ends; `release` cuts it short."""
    if "hold_until" in params:
        rec["held_until"] = params["hold_until"]
        release.wait(max(0.0, params["hold_until"] - time.monotonic()))
    else:
        release.wait(float(params.get(field, default)))


def _reset_socket(sock: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0): the client sees 'connection reset', not a clean EOF."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class ControlClient:
    """Talks to a FaultProxy's control API (e.g. one started from the command line)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        import urllib.request
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def set_rules(self, rules: List[Dict[str, Any]], seed: Optional[int] = None) -> Any:
        return self._call("POST", "/rules", {"rules": rules, **({"seed": seed} if seed is not None else {})})

    def add_rule(self, rule: Dict[str, Any]) -> Any:
        return self._call("POST", "/rules/add", rule)

    def clear(self) -> Any:
        return self._call("POST", "/clear", {})

    def stats(self) -> Any:
        return self._call("GET", "/stats")

    def set_clock_offset(self, seconds: float) -> Any:
        return self._call("POST", "/clock", {"offset": seconds})

    def set_mode(self, mode: str) -> Any:
        return self._call("POST", "/mode", {"mode": mode})


def read_log(path: str) -> List[Dict[str, Any]]:
    """The request records of a proxy log (control events left out)."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rec = json.loads(line)
                if "event" not in rec:
                    out.append(rec)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the DynamoDB to forward to")
    ap.add_argument("--clients", default="default", help="comma-separated listener names (one port each)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log", help="JSON-lines log of every request")
    ap.add_argument("--rules", help="JSON file with the initial rules")
    ap.add_argument("--clock-offset", type=float, default=0.0,
                    help="seconds added to this host's clock for Date headers and check_date")
    ap.add_argument("--rtt-ms", type=float, default=0.0, help="milliseconds added to every request's round trip")
    args = ap.parse_args()
    host, _, port = args.upstream.rpartition(":")
    with FaultProxy(host or "127.0.0.1", int(port), args.clients.split(","), args.seed, args.log,
                    clock_offset=args.clock_offset, rtt_ms=args.rtt_ms) as fp:
        if args.rules:
            with open(args.rules) as f:
                fp.set_rules(json.load(f))
        for n in fp.clients:
            print(f"fault_proxy: {n}: {fp.url(n)} -> {args.upstream}", flush=True)
        if fp.rtt_ms:
            print(f"fault_proxy: +{fp.rtt_ms:g} ms per round trip", flush=True)
        print(f"fault_proxy: control API {fp.control_url} (GET /stats, POST /rules, POST /clear, POST /mode)",
              flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
