#!/usr/bin/env python3
"""Per-key linearizability check of a DynamoDB history (the fault proxy's JSON-lines log).

Model: each item (table, partition, key) is a register holding the item's attributes (or *absent*), written
by conditional UpdateItem/PutItem/DeleteItem (the DCS writes ``version = version + 1`` conditioned on the
version or value it read) and read by GetItem and by Query (a Query of the partition is a read of every
checked key under its prefix: present with those attributes, or absent). The checker evaluates the real
``ConditionExpression`` and ``UpdateExpression`` of each request (the subset the DCS uses: SET with
``if_not_exists`` and ``+``/``-``, REMOVE, comparisons, ``attribute_(not_)exists``, AND/OR/NOT, parentheses).

Per operation, from the client's point of view (``outcome``):
* ``ok`` - took effect exactly once between invoke and complete; the returned item (ALL_NEW for writes, the
  item for reads) must equal the register's state then;
* ``condition-failed`` - took no effect; its condition was false on the state at some instant in its window
  and the returned ALL_OLD item equals that state;
* ``unknown`` (reply dropped, truncated, timed out, 5xx) - may or may not have taken effect, at any time after
  its invoke (its completion is treated as infinitely late);
* ``fail`` - definitely not applied (never forwarded, or a 4xx): left out.

Reads are linearizable only when they ask to be: a GetItem or Query whose request carried ``ConsistentRead:
true`` (the log's ``consistent`` field) is checked as above, and a stale one is a violation. An eventually
consistent read (``consistent`` false or missing: DynamoDB's default) may return an older version, so it is left
out of the search and checked only for what DynamoDB still promises: it returns a version the item really had
before the read completed (the initial state, a state an operation invoked before the read's completion
reported or produced), never one from the future or one no write made.

The search is Wing & Gong's, with Lowe's memoisation (as in Knossos' WGL and Porcupine): try to linearize a
pending call whose invocation precedes every unlinearized return, backtrack otherwise; cache (set of linearized
ops, state). Nondeterminism (unknown ops) is handled by the powerset construction: the state is the set of
register values the history so far allows. Keys are independent (P-compositionality), so each is checked alone.

    python -m tools.linearizability proxy.jsonl [--keys leader,sync,failover,config,initialize] [--json]

Exit code 0 when every checked key is linearizable, 1 when one is not (the report names the key and the
operations around where the search got stuck), 2 when the search hit its step limit.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

DEFAULT_KEYS = ("leader", "sync", "failover", "config", "initialize")
KEY_ATTRS = ("cluster_name", "key")
WRITE_OPS = ("UpdateItem", "PutItem", "DeleteItem")
ABSENT: Tuple = ()  # the register value of a missing item
ANY = ("<any>",)  # unknown initial value (history starts after the item existed)


class ExpressionError(ValueError):
    pass


# --------------------------------------------------------------------------------------- expressions
_TOKEN = re.compile(r"\s*(?:(<>|<=|>=|=|<|>|\(|\)|,|\+|-)|([#:]?[A-Za-z_][A-Za-z0-9_.\-]*))")


def _tokens(text: str) -> List[str]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot parse expression at {text[pos:pos + 20]!r} in {text!r}")
        out.append(m.group(1) or m.group(2))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, names: Dict[str, str], values: Dict[str, Any]) -> None:
        self.toks, self.i, self.names, self.values, self.text = _tokens(text), 0, names, values, text

    def peek(self) -> Optional[str]:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expect: Optional[str] = None) -> str:
        t = self.peek()
        if t is None or (expect is not None and t.upper() != expect.upper()):
            raise ExpressionError(f"expected {expect or 'a token'} at token {self.i} of {self.text!r}")
        self.i += 1
        return t

    def name(self, tok: str) -> str:
        if tok.startswith("#"):
            if tok not in self.names:
                raise ExpressionError(f"undefined attribute name {tok} in {self.text!r}")
            return self.names[tok]
        return tok

    # operands: path | :value | if_not_exists(path, operand) | operand (+|-) operand
    def operand(self):
        left = self.atom()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.atom()
            left = ("arith", op, left, right)
        return left

    def atom(self):
        t = self.take()
        if t.lower() == "if_not_exists":
            self.take("(")
            path = self.name(self.take())
            self.take(",")
            dflt = self.operand()
            self.take(")")
            return ("ine", path, dflt)
        if t.startswith(":"):
            if t not in self.values:
                raise ExpressionError(f"undefined value {t} in {self.text!r}")
            return ("val", self.values[t])
        if t == "(":
            inner = self.operand()
            self.take(")")
            return inner
        return ("path", self.name(t))

    # conditions
    def cond_or(self):
        left = self.cond_and()
        while (self.peek() or "").upper() == "OR":
            self.take()
            left = ("or", left, self.cond_and())
        return left

    def cond_and(self):
        left = self.cond_not()
        while (self.peek() or "").upper() == "AND":
            self.take()
            left = ("and", left, self.cond_not())
        return left

    def cond_not(self):
        if (self.peek() or "").upper() == "NOT":
            self.take()
            return ("not", self.cond_not())
        t = self.peek()
        if t == "(":
            save = self.i
            self.take()
            try:
                inner = self.cond_or()
                self.take(")")
                return inner
            except ExpressionError:
                self.i = save
        if t and t.lower() in ("attribute_exists", "attribute_not_exists"):
            self.take()
            self.take("(")
            path = self.name(self.take())
            self.take(")")
            return (t.lower(), path)
        left = self.operand()
        op = self.take()
        if op not in ("=", "<>", "<", "<=", ">", ">="):
            raise ExpressionError(f"unsupported comparison {op!r} in {self.text!r}")
        return ("cmp", op, left, self.operand())


def _eval_operand(node, item: Dict[str, Any]):
    kind = node[0]
    if kind == "val":
        return node[1]
    if kind == "path":
        return item.get(node[1])
    if kind == "ine":
        v = item.get(node[1])
        return v if v is not None else _eval_operand(node[2], item)
    if kind == "arith":
        a, b = _eval_operand(node[2], item), _eval_operand(node[3], item)
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            raise ExpressionError("arithmetic on a non-number")
        return a + b if node[1] == "+" else a - b
    raise ExpressionError(f"bad operand {node}")


def _eval_cond(node, item: Dict[str, Any]) -> bool:
    kind = node[0]
    if kind == "or":
        return _eval_cond(node[1], item) or _eval_cond(node[2], item)
    if kind == "and":
        return _eval_cond(node[1], item) and _eval_cond(node[2], item)
    if kind == "not":
        return not _eval_cond(node[1], item)
    if kind == "attribute_exists":
        return node[1] in item
    if kind == "attribute_not_exists":
        return node[1] not in item
    if kind == "cmp":
        a, b = _eval_operand(node[2], item), _eval_operand(node[3], item)
        if a is None or b is None:
            return False  # DynamoDB: a comparison with a missing attribute is false
        op = node[1]
        try:
            return {"=": a == b, "<>": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        except TypeError:
            return False
    raise ExpressionError(f"bad condition {node}")


def compile_condition(text: Optional[str], names: Dict[str, str], values: Dict[str, Any]):
    if not text:
        return None
    p = _Parser(text, names, values)
    tree = p.cond_or()
    if p.peek() is not None:
        raise ExpressionError(f"trailing tokens in condition {text!r}")
    return tree


def compile_update(text: str, names: Dict[str, str], values: Dict[str, Any]) -> List[Tuple]:
    """[(set, attr, operand) | (remove, attr)] for an UpdateExpression (SET and REMOVE clauses)."""
    p = _Parser(text, names, values)
    actions: List[Tuple] = []
    while p.peek() is not None:
        clause = p.take().upper()
        if clause not in ("SET", "REMOVE"):
            raise ExpressionError(f"unsupported update clause {clause} in {text!r}")
        while True:
            attr = p.name(p.take())
            if clause == "SET":
                p.take("=")
                actions.append(("set", attr, p.operand()))
            else:
                actions.append(("remove", attr))
            if p.peek() == ",":
                p.take()
                continue
            break
    return actions


# --------------------------------------------------------------------------------------- operations
@dataclass
class Op:
    id: int
    call: float
    ret: float  # math.inf for unknown outcomes
    kind: str  # read (strongly consistent) | eventual (eventually consistent read) | update | put | delete
    outcome: str  # ok | condition-failed | unknown
    item: Any = "-"  # expected state after (write ok) / at (read, condition-failed); "-" = not reported
    cond: Any = None
    update: Any = None
    put_item: Optional[Dict[str, Any]] = None
    rec: Dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        r = self.rec
        ret = "inf" if math.isinf(self.ret) else f"{self.ret:.3f}"
        what = r.get("op", self.kind)
        extra = ""
        if self.kind not in ("read", "eventual"):
            vals = {k: v for k, v in (r.get("values") or {}).items() if k not in (":zero", ":one", ":now")}
            extra = f" cond={r.get('condition', '')!r} values={vals}"
        shown = self.item if self.item == "-" else _short(self.item)
        return (f"#{r.get('seq', self.id)} {what} by {r.get('client', '?')} [{self.call:.3f}, {ret}] "
                f"{self.outcome}{extra} -> {shown}")


def _short(item: Any) -> Any:
    if not item:
        return "absent" if item in (None, ABSENT) else item
    d = dict(item) if not isinstance(item, dict) else item
    return {k: (v[:40] + "..." if isinstance(v, str) and len(v) > 43 else v) for k, v in d.items()
            if k in ("version", "value", "session", "term")}


def _freeze(item: Optional[Dict[str, Any]]) -> Tuple:
    if not item:
        return ABSENT
    return tuple(sorted((k, json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v)
                        for k, v in item.items() if k not in KEY_ATTRS))


def _thaw(state: Tuple) -> Dict[str, Any]:
    return dict(state)


def consistent_read(rec: Dict[str, Any]) -> bool:
    """True for a read that asked for strong consistency (ConsistentRead: true); DynamoDB's default is eventual."""
    return rec.get("consistent") is True


def ops_for_key(records: Iterable[Dict[str, Any]], table: str, partition: str, key: str) -> List[Op]:
    ops: List[Op] = []
    for r in records:
        if r.get("table") != table or r.get("partition") != partition:
            continue
        outcome = r.get("outcome")
        if outcome not in ("ok", "condition-failed", "unknown"):
            continue
        op = r.get("op")
        call = float(r["t_invoke"])
        ret = math.inf if outcome == "unknown" else float(r["t_complete"])
        names, values = r.get("names") or {}, r.get("values") or {}
        if op == "GetItem" and r.get("key") == key:
            if outcome != "ok":
                continue
            read = "read" if consistent_read(r) else "eventual"
            ops.append(Op(len(ops), call, ret, read, "ok", _freeze(r.get("item")), rec=r))
        elif op == "Query" and outcome == "ok":
            prefix = (r.get("key") or "*")[:-1]
            if not key.startswith(prefix):
                continue
            found = [i for i in r.get("items") or [] if i.get("key") == key]
            read = "read" if consistent_read(r) else "eventual"
            if found:
                ops.append(Op(len(ops), call, ret, read, "ok", _freeze(found[0]), rec=r))
            elif not r.get("more"):
                ops.append(Op(len(ops), call, ret, read, "ok", ABSENT, rec=r))
        elif op in WRITE_OPS and r.get("key") == key:
            cond = compile_condition(r.get("condition"), names, values)
            kind = {"UpdateItem": "update", "PutItem": "put", "DeleteItem": "delete"}[op]
            upd = compile_update(r.get("update") or "", names, values) if kind == "update" else None
            item: Any = "-"
            if "item" in r and outcome == "ok" and kind == "update" and r["item"] is not None:
                item = _freeze(r["item"])  # ALL_NEW
            elif "item" in r and outcome == "condition-failed":
                item = _freeze(r["item"])  # ALL_OLD
            elif outcome == "condition-failed" and (r.get("values") or {}):
                item = "-"
            ops.append(Op(len(ops), call, ret, kind, outcome, item, cond, upd, r.get("put_item"), rec=r))
        elif op == "BatchWriteItem" and key in (r.get("batch_keys") or []):
            ops.append(Op(len(ops), call, ret, "delete", outcome, rec=r))
    return ops


def _apply(op: Op, state: Tuple) -> Tuple:
    if op.kind == "delete":
        return ABSENT
    if op.kind == "put":
        return _freeze(op.put_item or {})
    item = _thaw(state)
    new = dict(item)
    for a in op.update or []:
        if a[0] == "set":
            new[a[1]] = _eval_operand(a[2], item)  # DynamoDB evaluates every operand on the old item
        else:
            new.pop(a[1], None)
    return _freeze(new)


def step(state: Tuple, op: Op) -> List[Tuple]:
    """Possible states after `op` from `state` (empty: not allowed here)."""
    if state == ANY:  # unknown initial value: anything consistent with what the op reports
        if op.kind == "read":
            return [op.item]
        if op.outcome == "ok":
            return [op.item] if op.item != "-" else [ANY]
        if op.outcome == "condition-failed":
            return [op.item] if op.item != "-" else [ANY]
        return [ANY]
    if op.kind == "read":
        return [state] if op.item == state else []
    ok_cond = op.cond is None or _eval_cond(op.cond, _thaw(state))
    if op.outcome == "ok":
        if not ok_cond:
            return []
        new = _apply(op, state)
        if op.item != "-" and op.item != new:
            return []
        return [new]
    if op.outcome == "condition-failed":
        if ok_cond:
            return []
        if op.item != "-" and op.item != state:
            return []
        return [state]
    # unknown: took effect or not
    return [state, _apply(op, state)] if ok_cond else [state]


# --------------------------------------------------------------------------------------- WGL search
class _Entry:
    __slots__ = ("op", "is_call", "match", "prev", "next", "time")

    def __init__(self, op: Optional[Op], is_call: bool, t: float) -> None:
        self.op, self.is_call, self.time = op, is_call, t
        self.match: Optional["_Entry"] = None
        self.prev: Optional["_Entry"] = None
        self.next: Optional["_Entry"] = None


@dataclass
class Result:
    ok: Optional[bool]  # None: step limit reached
    ops: int
    steps: int
    detail: str = ""
    stuck: List[str] = field(default_factory=list)


def check_ops(ops: List[Op], initial: Tuple = ABSENT, max_steps: int = 5_000_000) -> Result:
    """Wing & Gong over the writes and the strongly consistent reads (eventually consistent reads are left out:
    check_eventual_reads)."""
    ops = [o for o in ops if o.kind != "eventual"]
    if not ops:
        return Result(True, 0, 0)
    events: List[_Entry] = []
    for op in ops:
        c, r = _Entry(op, True, op.call), _Entry(op, False, op.ret)
        c.match = r
        events += [c, r]
    # calls before returns at equal times: touching intervals count as concurrent (the lenient choice)
    events.sort(key=lambda e: (e.time, 0 if e.is_call else 1, e.op.id))
    head = _Entry(None, False, -math.inf)
    prev = head
    for e in events:
        prev.next, e.prev = e, prev
        prev = e

    def lift(e: _Entry) -> None:
        e.prev.next = e.next
        if e.next:
            e.next.prev = e.prev
        m = e.match
        m.prev.next = m.next
        if m.next:
            m.next.prev = m.prev

    def unlift(e: _Entry) -> None:
        m = e.match
        m.prev.next = m
        if m.next:
            m.next.prev = m
        e.prev.next = e
        if e.next:
            e.next.prev = e

    state: FrozenSet[Tuple] = frozenset([initial])
    linearized = 0
    cache = set()
    calls: List[Tuple[_Entry, FrozenSet[Tuple]]] = []
    entry = head.next
    steps = 0
    best, best_stuck = -1, None
    while head.next is not None:
        steps += 1
        if steps > max_steps:
            return Result(None, len(ops), steps, f"step limit {max_steps} reached")
        if entry.is_call:
            new = frozenset(s for st in state for s in step(st, entry.op))
            if new:
                lin = linearized | (1 << entry.op.id)
                k = (lin, new)
                if k not in cache:
                    cache.add(k)
                    calls.append((entry, state))
                    state, linearized = new, lin
                    lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if len(calls) > best:
                best, best_stuck = len(calls), (entry.op, state)
            if not calls:
                op, st = best_stuck
                return Result(False, len(ops), steps,
                              f"no linearization: at most {best} of {len(ops)} operations linearize; "
                              f"stuck before the return of {op.describe()} with possible states "
                              f"{[_short(_thaw(s)) if s not in (ABSENT, ANY) else s for s in list(st)[:3]]}",
                              _around(ops, op))
            entry, state = calls.pop()
            linearized &= ~(1 << entry.op.id)
            unlift(entry)
            entry = entry.next
    return Result(True, len(ops), steps)


def check_eventual_reads(ops: List[Op], initial: Tuple = ABSENT) -> List[str]:
    """The eventually consistent reads among `ops` that returned a version the item cannot have had before the read
    completed (described); empty when every one is explained. A version is explained by the initial state or by an
    operation invoked before the read's completion that reported or produced it: the ALL_NEW of an ok write, the
    ALL_OLD of a refused one, DynamoDB's real answer to a write whose reply was lost (the proxy's ``upstream``), a
    PutItem's item, a delete's absence, a strongly consistent read. Lenient where the history cannot tell: with an
    unknown initial state, or once a write whose resulting state was never reported (no ALL_NEW) had been invoked,
    an unexplained version is accepted."""
    if initial == ANY:
        return []
    first_seen: Dict[Tuple, float] = {initial: -math.inf}
    unreported: List[float] = []  # invocation times of writes whose resulting state nobody reported

    def seen(state: Tuple, t: float) -> None:
        if t < first_seen.get(state, math.inf):
            first_seen[state] = t

    for o in ops:
        if o.kind == "eventual":
            continue
        if o.kind == "read":
            seen(o.item, o.call)
            continue
        if o.outcome == "condition-failed":
            if o.item != "-":
                seen(o.item, o.call)
            continue
        if o.kind == "put":
            seen(_freeze(o.put_item or {}), o.call)
        elif o.kind == "delete":
            seen(ABSENT, o.call)
        elif o.item != "-":
            seen(o.item, o.call)
        else:
            up = o.rec.get("upstream") or {}
            if up.get("outcome") == "ok" and up.get("item") is not None:
                seen(_freeze(up["item"]), o.call)
            else:
                unreported.append(o.call)
    bad = []
    for o in ops:
        if o.kind != "eventual":
            continue
        if first_seen.get(o.item, math.inf) < o.ret:
            continue
        if any(t < o.ret for t in unreported):
            continue
        when = "only later" if o.item in first_seen else "never"
        bad.append(f"eventually consistent read returned a version the item had {when} "
                   f"(not before the read completed): {o.describe()}")
    return bad


def _around(ops: List[Op], op: Op, n: int = 6) -> List[str]:
    near = sorted(ops, key=lambda o: abs(o.call - op.call))[:2 * n]
    return [o.describe() for o in sorted(near, key=lambda o: o.call)]


# --------------------------------------------------------------------------------------- driver
def check_records(records: List[Dict[str, Any]], keys: Iterable[str] = DEFAULT_KEYS,
                  initial_unknown: bool = False, max_steps: int = 5_000_000) -> Dict[str, Any]:
    """{"ok": bool|None, "keys": {"table/partition/key": {...}}} for every checked key in the history."""
    records = [r for r in records if "event" not in r]
    keys = list(keys)
    scopes = sorted({(r.get("table"), r.get("partition")) for r in records
                     if r.get("table") and r.get("partition") is not None})
    out: Dict[str, Any] = {"ok": True, "keys": {}}
    for table, partition in scopes:
        for key in keys:
            ops = ops_for_key(records, table, partition, key)
            if not ops:
                continue
            initial = ANY if initial_unknown else ABSENT
            res = check_ops(ops, initial, max_steps)
            eventual_bad = check_eventual_reads(ops, initial)
            if eventual_bad and res.ok is not False:
                res = Result(False, res.ops, res.steps, eventual_bad[0], eventual_bad[1:6])
            writes = [o for o in ops if o.kind not in ("read", "eventual")]
            entry = {"linearizable": res.ok, "ops": len(ops), "writes": len(writes),
                     "unknown": sum(o.outcome == "unknown" for o in ops),
                     "condition_failed": sum(o.outcome == "condition-failed" for o in ops),
                     "eventual_reads": sum(o.kind == "eventual" for o in ops),
                     "steps": res.steps}
            if res.detail:
                entry["detail"] = res.detail
                entry["around"] = res.stuck
            out["keys"][f"{table}/{partition}/{key}"] = entry
            if res.ok is False:
                out["ok"] = False
            elif res.ok is None and out["ok"] is not False:
                out["ok"] = None
    return out


def check_file(path: str, **kw: Any) -> Dict[str, Any]:
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return check_records(records, **kw)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", help="the fault proxy's JSON-lines log")
    ap.add_argument("--keys", default=",".join(DEFAULT_KEYS))
    ap.add_argument("--initial-unknown", action="store_true",
                    help="the items may have existed before the log starts")
    ap.add_argument("--max-steps", type=int, default=5_000_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = check_file(args.log, keys=args.keys.split(","), initial_unknown=args.initial_unknown,
                     max_steps=args.max_steps)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for k, v in res["keys"].items():
            verdict = {True: "linearizable", False: "NOT LINEARIZABLE", None: "UNDECIDED"}[v["linearizable"]]
            print(f"{k}: {verdict} ({v['ops']} ops, {v['writes']} writes, {v['unknown']} unknown, "
                  f"{v['condition_failed']} condition-failed, {v['steps']} search steps; "
                  f"{v['eventual_reads']} eventually consistent reads, not linearizable by design)")
            if v.get("detail"):
                print("  " + v["detail"])
                for line in v.get("around", []):
                    print("    " + line)
        print("verdict:", {True: "linearizable", False: "NOT linearizable", None: "undecided"}[res["ok"]])
    return {True: 0, False: 1, None: 2}[res["ok"]]


if __name__ == "__main__":
    sys.exit(main())
