"""The split-brain checker (tools/split_brain.py) and its three users, on synthetic histories: the harness's
Sampler (end-to-end tests), `assert_no_split_brain` (test_e2e_cluster.py) and the chaos run's Checker. Each
must flag two primaries acknowledging writes at once (A/B overlap), an old primary coming back (A -> B -> A)
and a history without enough acknowledged writes, and pass a clean failover. A real frozen leader is the
positive control in test_e2e_split_brain_control.py."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Dict, List, Optional, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]

from tools import chaos  # noqa: E402
from tools import cluster_harness as h  # noqa: E402
from tools import split_brain  # noqa: E402
from test_e2e_cluster import assert_no_split_brain  # noqa: E402

History = List[Tuple[str, float, Optional[int]]]  # (node, time the commit returned, timeline)


def writes(node: str, t0: float, t1: float, tli: Optional[int], offset: float = 0.0) -> History:
    """One acknowledged write every 100 ms in [t0, t1)."""
    n = int(round((t1 - t0) / 0.1))
    return [(node, round(t0 + offset + 0.1 * i, 3), tli) for i in range(n)]


# A leader crash handled correctly: A on timeline 1, nothing for ttl, B on timeline 2.
GOOD = writes("A", 0, 3, 1) + writes("B", 18, 21, 2)
# Two primaries: A keeps acknowledging on timeline 1 while B acknowledges on timeline 2.
OVERLAP = writes("A", 0, 6, 1) + writes("B", 3, 6, 2, offset=0.05)
# The old primary comes back: A on timeline 1, B on 2, then A on 1 again.
ABA = writes("A", 0, 3, 1) + writes("B", 18, 21, 2) + writes("A", 25, 28, 1)


def acks(history: History) -> List[split_brain.Ack]:
    return [split_brain.Ack(node, t - 0.01, t, tli, i) for i, (node, t, tli) in enumerate(history)]


def rules(problems: List[split_brain.Problem]) -> set:
    return {p.rule for p in problems}


# ---- the three users: each returns the problem messages it reports (empty: passed)
def via_sampler(history: History) -> List[str]:
    sampler = h.Sampler(SimpleNamespace(nodes=[]), interval=0.1)  # no threads: samples injected
    sampler.samples = [h.Sample(node, t - 0.01, t, True, True, timeline=tli) for node, t, tli in history]
    return [p.message for p in sampler.split_brain(allowed_transitions=1)]


def via_assert(history: History) -> List[str]:
    sampler = h.Sampler(SimpleNamespace(nodes=[]), interval=0.1)
    sampler.samples = [h.Sample(node, t - 0.01, t, True, True, timeline=tli) for node, t, tli in history]
    try:
        assert_no_split_brain(sampler, allowed_transitions=1)
    except AssertionError as e:
        return [str(e)]
    return []


def via_chaos(history: History) -> List[str]:
    checker = chaos.Checker(SimpleNamespace(nodes=[]))
    checker.writes = [chaos.Write(i, node, t - 0.01, t, "ok", tli) for i, (node, t, tli) in enumerate(history)]
    # writes that did not commit never count
    checker.writes += [chaos.Write(10_000 + i, "C", t - 0.01, t, "fail", 1) for i, (_, t, _) in enumerate(history)]
    return checker.split_brain(-1e9, 1e9)["examples"]


USERS: Dict[str, Callable[[History], List[str]]] = {"sampler": via_sampler, "assert_no_split_brain": via_assert,
                                                    "chaos": via_chaos}


@pytest.mark.parametrize("user", USERS)
def test_clean_failover_passes(user):
    assert USERS[user](GOOD) == []


@pytest.mark.parametrize("user", USERS)
def test_two_primaries_at_once_are_flagged(user):
    found = USERS[user](OVERLAP)
    assert found and any("timeline 1" in m for m in found), found


@pytest.mark.parametrize("user", USERS)
def test_old_primary_coming_back_is_flagged(user):
    found = USERS[user](ABA)
    assert found and any("timeline 1" in m and "timeline 2" in m for m in found), found


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("history", [[], writes("A", 0, 0.5, 1)], ids=["no_writes", "five_writes"])
def test_too_few_acknowledged_writes_fail(user, history):
    found = USERS[user](history)
    assert found and "acknowledged writes" in found[0] and "needed" in found[0], found


# ---- the rules one by one
def test_overlap_is_caught_by_timeline_order_close_acks_and_alternation():
    assert rules(split_brain.check(acks(OVERLAP), window=0.1, allowed_transitions=1)) == \
        {"timeline_order", "close_acks", "alternation"}
    assert rules(split_brain.check(acks(OVERLAP))) == {"timeline_order"}


def test_aba_is_caught_by_timeline_order_and_alternation():
    assert rules(split_brain.check(acks(ABA), window=0.1, allowed_transitions=1)) == {"timeline_order", "alternation"}


def test_two_writers_on_one_timeline():
    history = writes("A", 0, 3, 1) + writes("B", 18, 21, 1)
    assert rules(split_brain.check(acks(history), window=0.1, allowed_transitions=1)) == {"same_timeline"}


def test_timeline_order_needs_the_invoke_after_the_newer_ack():
    # A's last write was sent before B's first acknowledgement and returned after it: windows overlap, no proof
    history = [("A", 1.0, 1), ("B", 1.5, 2)] + writes("B", 2, 4, 2)
    a_late = split_brain.Ack("A", 1.4, 1.6, 1)
    found = split_brain.check(acks(history) + [a_late])
    assert "timeline_order" not in rules(found), found
    a_after = split_brain.Ack("A", 1.55, 1.6, 1)
    assert "timeline_order" in rules(split_brain.check(acks(history) + [a_after]))


def test_double_failover_back_to_the_first_node_is_legal_but_counts_transitions():
    history = writes("A", 0, 3, 1) + writes("B", 18, 21, 2) + writes("A", 40, 43, 3)
    assert split_brain.check(acks(history)) == []
    assert rules(split_brain.check(acks(history), allowed_transitions=1)) == {"alternation"}
    assert split_brain.check(acks(history), allowed_transitions=2) == []


def test_acks_without_timelines_are_still_checked_for_alternation_and_closeness():
    history = [(n, t, None) for n, t, _ in ABA]
    assert rules(split_brain.check(acks(history), window=0.1, allowed_transitions=1)) == {"alternation"}
    history = [(n, t, None) for n, t, _ in OVERLAP]
    assert rules(split_brain.check(acks(history), window=0.1)) == {"close_acks"}


def test_handover_just_outside_the_window_is_not_close():
    history = writes("A", 0, 3, 1) + writes("B", 3.15, 5, 2)
    assert split_brain.check(acks(history), window=0.1, allowed_transitions=1) == []
    history = writes("A", 0, 3, 1) + writes("B", 2.95, 5, 2)
    assert rules(split_brain.check(acks(history), window=0.1)) == {"close_acks"}


def test_intervals_merge_nearby_problems():
    ps = [split_brain.Problem("x", 1, 2, "first"), split_brain.Problem("x", 2.5, 3, "second"),
          split_brain.Problem("x", 10, 11, "third")]
    assert split_brain.intervals(ps) == [[1, 3, "first"], [10, 11, "third"]]


def test_reliability_md_states_the_checkers_minimum_and_its_tests():
    """docs/reliability.md's claims about the chaos run's split-brain check match the code (kept here, beside
    the checker's tests)."""
    doc = " ".join((REPO / "docs" / "reliability.md").read_text().split())
    assert f"a fault window with fewer than {chaos.MIN_ACKS} acknowledged writes counts as one" in doc
    for path in ("tools/split_brain.py", "python/tests/test_split_brain.py",
                 "python/tests/test_e2e_split_brain_control.py"):
        assert path in doc and (REPO / path).is_file(), path
