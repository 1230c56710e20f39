#!/usr/bin/env python3
"""The lease-belief checker: did two nodes ever believe they held the leader lease at the same time?

The proxy log's linearizability check (tools/linearizability.py) tests the store: a node that believes it
renewed when it did not, or a contender that takes over too early, still leaves a linearizable DynamoDB
history. This checker tests Dynatroni itself, from what each node believed: the records the plugin's debug
hook writes with ``DYNATRONI_LEASE_LOG`` set (python/dynatroni/lease_log.py; one JSON line per acquire, take,
renew and release call, with the core's holder bound right after it, in CLOCK_BOOTTIME seconds shared by every
process on the machine).

A record's belief interval: from its call's return (for a release: from nothing, the node gave the lease up
when it sent the call) to its holder bound, cut short by the same process's next record (which states the
belief anew: a refused renewal ends it, a successful one extends it). Rules:

* ``overlap``: belief intervals of two different nodes on one leader key overlap in time.
* ``too_few_beliefs``: fewer than ``min_held`` records that said "held" (nothing was checked), or fewer than
  ``min_holders`` distinct nodes that ever held the lease (a run meant to fail over did not).

    python -m tools.lease_beliefs FILE.jsonl ...   # prints the problems; exit code 1 when there are any
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from tools.split_brain import Problem  # the checkers' one problem record (rule, t_start, t_end, message)


@dataclass(frozen=True)
class Record:
    node: str
    pid: int
    key: str
    op: str  # acquire | take | renew | release
    t_call: float
    t_return: float
    result: str  # ok | refused | error
    held: bool
    bound: Optional[float]


@dataclass(frozen=True)
class Belief:
    node: str
    pid: int
    key: str
    start: float
    end: float
    op: str  # the call whose record started it


FIELDS = ("node", "pid", "key", "op", "t_call", "t_return", "result", "held", "bound")


def read(paths: Iterable[Path]) -> List[Record]:
    """Every record in the files (missing files count as empty); a malformed line raises ValueError naming
    the file and line."""
    out = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                out.append(Record(**{k: d[k] for k in FIELDS}))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{i}: not a lease record ({type(e).__name__}: {e}); "
                                 f"expected JSON with {', '.join(FIELDS)}") from None
    return out


def beliefs(records: Iterable[Record]) -> List[Belief]:
    """The belief intervals of every process (see the module docstring), sorted by start."""
    by_proc: Dict[Tuple[str, int, str], List[Record]] = {}
    for r in records:
        by_proc.setdefault((r.node, r.pid, r.key), []).append(r)
    out = []
    for (node, pid, key), rs in by_proc.items():
        rs.sort(key=lambda r: (r.t_call, r.t_return))
        for i, r in enumerate(rs):
            if r.op == "release" or not r.held or r.bound is None:
                continue
            end = r.bound
            if i + 1 < len(rs):
                nxt = rs[i + 1]
                end = min(end, nxt.t_call if nxt.op == "release" else nxt.t_return)
            if end > r.t_return:
                out.append(Belief(node, pid, key, r.t_return, end, r.op))
    return sorted(out, key=lambda b: (b.start, b.end))


def overlaps(bs: List[Belief]) -> List[Problem]:
    out = []
    for i, a in enumerate(bs):
        for b in bs[i + 1:]:
            if b.start >= a.end:
                break  # sorted by start: no later belief starts before a ends
            if b.key == a.key and b.node != a.node:
                out.append(Problem("overlap", b.start, min(a.end, b.end),
                                   f"{a.node} believed it held {a.key!r} until {a.end:.3f} ({a.op} returned at "
                                   f"{a.start:.3f}) but {b.node}'s {b.op} returned at {b.start:.3f} believing it "
                                   f"held it until {b.end:.3f}: {min(a.end, b.end) - b.start:.3f}s together"))
    return out


def check(records: Iterable[Record], *, min_held: int = 1, min_holders: int = 1) -> List[Problem]:
    """Every problem (empty: no two nodes' beliefs overlapped, and enough was believed to say so)."""
    records = list(records)
    problems = overlaps(beliefs(records))
    held = [r for r in records if r.held]
    holders = sorted({r.node for r in held})
    if len(held) < min_held or len(holders) < min_holders:
        problems.append(Problem("too_few_beliefs", 0.0, 0.0,
                                f"{len(held)} lease records said held (at least {min_held} needed), by "
                                f"{len(holders)} node(s) {holders} (at least {min_holders} needed): "
                                f"the history proves nothing"))
    return problems


def summary(records: Iterable[Record]) -> Dict[str, object]:
    """Counts for reports: records, held records and holders per node."""
    records = list(records)
    nodes = sorted({r.node for r in records})
    return {"records": len(records), "held": sum(r.held for r in records),
            "by_node": {n: {"records": sum(r.node == n for r in records),
                            "held": sum(r.node == n and r.held for r in records),
                            "refused": sum(r.node == n and r.result == "refused" for r in records),
                            "errors": sum(r.node == n and r.result == "error" for r in records)} for n in nodes}}


def main(argv: Optional[List[str]] = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        print("usage: lease_beliefs.py FILE.jsonl ... (the plugin's DYNATRONI_LEASE_LOG files)", file=sys.stderr)
        return 2
    records = read(paths)
    problems = check(records)
    print(json.dumps(summary(records)))
    for p in problems:
        print(f"{p.rule}: {p.message}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
