"""The split-brain checker: did two PostgreSQL nodes acknowledge writes as primaries at the same time?

One checker for every cluster test: the harness's ``Sampler`` (tools/cluster_harness.py, used by the end-to-end
tests' ``assert_no_split_brain``) and the chaos run's ``Checker`` (tools/chaos.py) both turn what they saw into
``Ack`` records and call ``check``. Only *acknowledged* writes count (the INSERT's commit returned to the
client): a node that says ``pg_is_in_recovery() = false`` but cannot commit cannot diverge.

The rules (each returns ``Problem``s; ``check`` runs the ones asked for):

* ``too_few_acks`` (always): fewer than ``min_acks`` acknowledged writes. A history with no writes would pass
  every other rule, so it fails instead: the run proved nothing.
* ``same_timeline`` (always, for writes whose timeline is known): two nodes acknowledged writes on one timeline.
  A promotion always starts a new timeline, so two writers of one timeline are two primaries.
* ``timeline_order`` (always): a write on an older timeline *invoked after* another node acknowledged a write on
  a newer timeline: the old primary accepted a write after the new one was already acknowledging (real-time
  order contradicts timeline order). Overlapping [invoke, complete] windows alone are not flagged.
* ``close_acks`` (with ``window``): writes acknowledged by two different nodes less than ``window`` seconds
  apart (the sampler probes each node every ``window`` s, so a clean handover leaves a larger gap).
* ``alternation`` (with ``allowed_transitions``): the sequence of nodes whose writes were acknowledged, in
  completion order, changes node more often than the test planned role changes (A..A B..B is one; A B A is two).

Times are the caller's clock (e.g. ``time.monotonic()`` of the one harness process); they only need to be
comparable with each other. Tested with synthetic histories in python/tests/test_split_brain.py, and on a real
cluster whose leader's Patroni is frozen without a watchdog (python/tests/test_e2e_split_brain_control.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

# The default minimum of acknowledged writes in a checked history (a test may ask for more).
MIN_ACKS = 10


@dataclass(frozen=True)
class Ack:
    """One acknowledged write: the node that committed it, when the client sent it and when the commit
    returned, and the timeline it was written on (None when unknown)."""
    node: str
    t_invoke: float
    t_complete: float
    timeline: Optional[int] = None
    id: Any = None


@dataclass(frozen=True)
class Problem:
    rule: str
    t_start: float
    t_end: float
    message: str


def _by_completion(acks: Iterable[Ack]) -> List[Ack]:
    return sorted(acks, key=lambda a: (a.t_complete, a.t_invoke))


def too_few_acks(acks: Sequence[Ack], min_acks: int) -> List[Problem]:
    if len(acks) >= min_acks:
        return []
    t = acks[-1].t_complete if acks else 0.0
    return [Problem("too_few_acks", t, t, f"only {len(acks)} acknowledged writes (at least {min_acks} needed): "
                                          f"the history proves nothing")]


def same_timeline(acks: Sequence[Ack]) -> List[Problem]:
    by_tli: Dict[int, List[Ack]] = {}
    for a in acks:
        if a.timeline is not None:
            by_tli.setdefault(a.timeline, []).append(a)
    out = []
    for tli, ws in sorted(by_tli.items()):
        nodes = sorted({a.node for a in ws})
        if len(nodes) > 1:
            out.append(Problem("same_timeline", ws[0].t_complete, ws[-1].t_complete,
                               f"timeline {tli}: writes acknowledged by {nodes}"))
    return out


def timeline_order(acks: Sequence[Ack]) -> List[Problem]:
    first_on: Dict[int, Ack] = {}  # the first acknowledged write of each timeline
    for a in acks:
        if a.timeline is not None and a.timeline not in first_on:
            first_on[a.timeline] = a
    out = []
    for a in acks:
        if a.timeline is None:
            continue
        for tli, first in sorted(first_on.items()):
            if tli > a.timeline and first.node != a.node and a.t_invoke > first.t_complete:
                out.append(Problem(
                    "timeline_order", first.t_complete, a.t_complete,
                    f"{a.node} acknowledged a write on timeline {a.timeline} invoked "
                    f"{a.t_invoke - first.t_complete:.2f}s after {first.node} acknowledged one on timeline {tli}"))
                break
    return out


def close_acks(acks: Sequence[Ack], window: float) -> List[Problem]:
    out = []
    for a, b in zip(acks, acks[1:]):
        if a.node != b.node and b.t_complete - a.t_complete < window:
            out.append(Problem("close_acks", a.t_complete, b.t_complete,
                               f"writes acknowledged by {a.node} and {b.node} "
                               f"{1000 * (b.t_complete - a.t_complete):.0f} ms apart"))
    return out


def alternation(acks: Sequence[Ack], allowed_transitions: int) -> List[Problem]:
    seq = [a for i, a in enumerate(acks) if i == 0 or acks[i - 1].node != a.node]
    if len(seq) - 1 <= allowed_transitions:
        return []
    return [Problem("alternation", seq[1].t_complete, seq[-1].t_complete,
                    f"writers alternated {len(seq) - 1} times (allowed {allowed_transitions}): "
                    f"{' -> '.join(a.node for a in seq)}")]


def check(acks: Iterable[Ack], *, min_acks: int = MIN_ACKS, window: Optional[float] = None,
          allowed_transitions: Optional[int] = None) -> List[Problem]:
    """Every problem in `acks` (empty: no split-brain, and enough writes to say so), in time order."""
    ws = _by_completion(acks)
    problems = too_few_acks(ws, min_acks) + same_timeline(ws) + timeline_order(ws)
    if window is not None:
        problems += close_acks(ws, window)
    if allowed_transitions is not None:
        problems += alternation(ws, allowed_transitions)
    return sorted(problems, key=lambda p: (p.t_start, p.t_end))


def intervals(problems: Iterable[Problem], merge_gap: float = 1.0) -> List[List[Any]]:
    """Problems grouped into [t_start, t_end, first message] intervals; problems starting within `merge_gap`
    s of the previous interval's end join it."""
    out: List[List[Any]] = []
    for p in sorted(problems, key=lambda p: (p.t_start, p.t_end)):
        if out and p.t_start <= out[-1][1] + merge_gap:
            out[-1][1] = max(out[-1][1], p.t_end)
        else:
            out.append([p.t_start, p.t_end, p.message])
    return out
