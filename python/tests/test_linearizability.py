"""tools/linearizability.py on hand-made histories: it accepts linearizable ones (including writes whose reply
was lost) and rejects each kind of violation a DCS store could show (stale read, lost write, two winners of
one compare-and-set, a condition-failed reply that lies, a write that skipped a version)."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

from tools import linearizability as lin  # noqa: E402

UPDATE = "SET #ver = if_not_exists(#ver, :zero) + :one, #upd = :now, #val = :val"
NAMES = {"#ver": "version", "#val": "value", "#upd": "updated_at"}
_seq = [0]


def _rec(op: str, t0: float, t1: float, outcome: str, key: str = "leader", **kw):
    _seq[0] += 1
    r = {"seq": _seq[0], "client": kw.pop("client", "n1"), "op": op, "table": "t", "partition": "p", "key": key,
         "t_invoke": t0, "t_complete": t1, "outcome": outcome}
    r.update(kw)
    return r


def write(t0, t1, value, outcome="ok", expect_version=None, absent=False, new_version=None, old=None,
          key="leader", client="n1"):
    """An UpdateItem setting value (version+1), conditioned on the version (or on absence)."""
    values = {":zero": 0, ":one": 1, ":now": 1000, ":val": value}
    kw = {"update": UPDATE, "names": dict(NAMES), "values": values}
    if absent:
        kw["condition"] = "attribute_not_exists(#val)"
    elif expect_version is not None:
        kw["condition"] = "#ver = :expver"
        values[":expver"] = expect_version
    if outcome == "ok" and new_version is not None:
        kw["item"] = item(key, new_version, value)
    if outcome == "condition-failed" and old is not None:
        kw["item"] = old
    return _rec("UpdateItem", t0, t1, outcome, key=key, client=client, **kw)


def item(key, version, value):
    return {"cluster_name": "p", "key": key, "version": version, "value": value, "updated_at": 1000}


def get(t0, t1, version=None, value=None, key="leader", consistent=True):
    """A GetItem; `consistent` as the proxy logs it (True / False / None: ConsistentRead left out)."""
    kw = {} if consistent is None else {"consistent": consistent}
    return _rec("GetItem", t0, t1, "ok", key=key, item=item(key, version, value) if version else None, **kw)


def query(t0, t1, items, prefix="*", consistent=True):
    kw = {} if consistent is None else {"consistent": consistent}
    return _rec("Query", t0, t1, "ok", key=prefix, items=items, **kw)


def verdict(records, **kw):
    return lin.check_records(records, **kw)


def test_sequential_history_is_linearizable():
    h = [write(0, 1, "n1", absent=True, new_version=1), get(2, 3, 1, "n1"),
         write(4, 5, "n1", expect_version=1, new_version=2), query(6, 7, [item("leader", 2, "n1")]),
         write(8, 9, "n2", expect_version=1, outcome="condition-failed", old=item("leader", 2, "n1"))]
    res = verdict(h)
    assert res["ok"] is True, res
    assert res["keys"]["t/p/leader"]["ops"] == 5 and res["keys"]["t/p/leader"]["condition_failed"] == 1


def test_concurrent_read_may_see_either_value():
    h = [write(0, 1, "n1", absent=True, new_version=1),
         write(2, 6, "n1", expect_version=1, new_version=2),
         get(3, 4, 1, "n1"), get(3.5, 5, 2, "n1"), get(7, 8, 2, "n1")]
    assert verdict(h)["ok"] is True


def test_stale_read_after_a_completed_write_is_rejected():
    h = [write(0, 1, "n1", absent=True, new_version=1),
         write(2, 3, "n1", expect_version=1, new_version=2),
         get(4, 5, 1, "n1")]
    res = verdict(h)
    assert res["ok"] is False
    assert "no linearization" in res["keys"]["t/p/leader"]["detail"]


def test_eventually_consistent_reads_may_be_stale_but_consistent_ones_may_not():
    """A GetItem or Query without ConsistentRead: true may see an older version (DynamoDB's eventual consistency;
    the proxy's stale_read): not a violation. The same stale answer to a strongly consistent read is one. The old
    checker treated every read as linearizable and rejected the first history."""
    writes = [write(0, 1, "n1", absent=True, new_version=1), write(2, 3, "n1", expect_version=1, new_version=2)]
    for consistent in (False, None):  # ConsistentRead false, or left out (DynamoDB's default)
        h = writes + [get(4, 5, 1, "n1", consistent=consistent),
                      query(6, 7, [item("leader", 1, "n1")], consistent=consistent),
                      get(8, 9, 2, "n1"), get(10, 11, 1, "n1", consistent=consistent)]
        res = verdict(h)
        assert res["ok"] is True, (consistent, res)
        assert res["keys"]["t/p/leader"]["eventual_reads"] == 3 and res["keys"]["t/p/leader"]["ops"] == 6
    for stale in (get(4, 5, 1, "n1", consistent=True), query(4, 5, [item("leader", 1, "n1")], consistent=True)):
        res = verdict(writes + [stale])
        assert res["ok"] is False, stale
        assert "no linearization" in res["keys"]["t/p/leader"]["detail"]
    # an item just created: the eventually consistent read may still miss it, the consistent one may not
    assert verdict(writes[:1] + [get(2, 3, consistent=False)])["ok"] is True
    assert verdict(writes[:1] + [get(2, 3, consistent=True)])["ok"] is False


def test_eventually_consistent_reads_still_never_see_the_future_or_an_invented_version():
    writes = [write(0, 1, "n1", absent=True, new_version=1), write(4, 5, "n2", expect_version=1, new_version=2)]
    future = verdict(writes + [get(2, 3, 2, "n2", consistent=False)])
    assert future["ok"] is False
    assert "only later" in future["keys"]["t/p/leader"]["detail"]
    invented = verdict(writes + [get(6, 7, 7, "nobody", consistent=False)])
    assert invented["ok"] is False
    assert "never" in invented["keys"]["t/p/leader"]["detail"]
    # a write whose reply was lost: the version DynamoDB really wrote (the proxy's upstream) explains the read
    lost = write(6, 7, "n3", outcome="unknown", expect_version=2)
    lost["upstream"] = {"outcome": "ok", "item": item("leader", 3, "n3")}
    assert verdict(writes + [lost, get(8, 9, 3, "n3", consistent=False)])["ok"] is True
    # an unknown initial state: nothing to hold an eventually consistent read to
    assert verdict([get(0, 1, 5, "x", consistent=False)], initial_unknown=True)["ok"] is True


def test_read_of_the_future_is_rejected():
    h = [write(0, 1, "n1", absent=True, new_version=1), get(2, 3, 2, "n2"),
         write(4, 5, "n2", expect_version=1, new_version=2)]
    assert verdict(h)["ok"] is False


def test_two_winners_of_one_compare_and_set_are_rejected():
    """Split brain at the store: two nodes both 'acquire' over version 1."""
    h = [write(0, 1, "n1", absent=True, new_version=1),
         write(2, 4, "n2", expect_version=1, client="n2"),
         write(2.5, 4.5, "n3", expect_version=1, client="n3")]
    assert verdict(h)["ok"] is False
    # the same race where one of them was refused is fine
    h[2] = write(2.5, 4.5, "n3", expect_version=1, client="n3", outcome="condition-failed")
    assert verdict(h)["ok"] is True


def test_lost_acknowledged_write_is_rejected():
    h = [write(0, 1, "n1", absent=True, new_version=1),
         write(2, 3, "n2", expect_version=1, new_version=2),
         query(4, 5, [item("leader", 1, "n1")])]
    assert verdict(h)["ok"] is False


def test_write_reply_dropped_may_have_applied():
    # the dropped write applied: a later read shows it, and a retry is refused with ALL_OLD showing it
    h = [write(0, 1, "n1", absent=True, new_version=1),
         write(2, 3, "n2", expect_version=1, outcome="unknown", client="n2"),
         write(3.5, 4, "n2", expect_version=1, outcome="condition-failed", old=item("leader", 2, "n2"),
               client="n2"),
         get(5, 6, 2, "n2")]
    assert verdict(h)["ok"] is True
    # ... or it did not apply: reads keep showing version 1
    h2 = [write(0, 1, "n1", absent=True, new_version=1),
          write(2, 3, "n2", expect_version=1, outcome="unknown", client="n2"),
          get(5, 6, 1, "n1"), write(7, 8, "n1", expect_version=1, new_version=2)]
    assert verdict(h2)["ok"] is True
    # ... but not both: once seen applied, it cannot be unseen
    h3 = h2[:2] + [get(4, 4.5, 2, "n2"), get(5, 6, 1, "n1")]
    assert verdict(h3)["ok"] is False


def test_unknown_write_cannot_take_effect_before_its_invocation():
    h = [write(0, 1, "n1", absent=True, new_version=1), get(2, 3, 2, "n2"),
         write(4, 5, "n2", expect_version=1, outcome="unknown")]
    assert verdict(h)["ok"] is False


def test_condition_failed_must_be_justified_by_the_state():
    # refused although the version matched
    h = [write(0, 1, "n1", absent=True, new_version=1),
         write(2, 3, "n2", expect_version=1, outcome="condition-failed")]
    assert verdict(h)["ok"] is False
    # refused with an ALL_OLD item that never existed
    h = [write(0, 1, "n1", absent=True, new_version=1),
         write(2, 3, "n2", expect_version=7, outcome="condition-failed", old=item("leader", 9, "zz"))]
    assert verdict(h)["ok"] is False


def test_ok_write_must_return_the_next_version():
    h = [write(0, 1, "n1", absent=True, new_version=1), write(2, 3, "n1", expect_version=1, new_version=3)]
    assert verdict(h)["ok"] is False
    h = [write(0, 1, "n1", absent=True, new_version=1), write(2, 3, "n2", absent=True, new_version=2)]
    assert verdict(h)["ok"] is False, "attribute_not_exists on an existing item cannot succeed"


def test_query_absence_is_a_read_of_absent_and_keys_are_independent():
    h = [write(0, 1, "n1", absent=True, new_version=1, key="sync"),
         query(2, 3, [item("sync", 1, "n1")]),  # no leader item: leader absent
         write(4, 5, "n1", absent=True, new_version=1), query(6, 7, [item("sync", 1, "n1")])]
    res = verdict(h)
    assert res["ok"] is False
    assert res["keys"]["t/p/sync"]["linearizable"] is True
    assert res["keys"]["t/p/leader"]["linearizable"] is False


def test_initial_unknown_accepts_a_history_that_starts_mid_life():
    h = [get(0, 1, 5, "n1"), write(2, 3, "n1", expect_version=5, new_version=6), get(4, 5, 6, "n1")]
    assert verdict(h)["ok"] is False  # from an empty table, version 5 cannot be read first
    assert verdict(h, initial_unknown=True)["ok"] is True


def test_tombstone_remove_and_value_conditions():
    rel = _rec("UpdateItem", 2, 3, "ok", update="SET #ver = if_not_exists(#ver, :zero) + :one REMOVE #val, #ses",
               names={"#ver": "version", "#val": "value", "#ses": "session"},
               values={":zero": 0, ":one": 1, ":expval": "n1"}, condition="#val = :expval",
               item={"cluster_name": "p", "key": "leader", "version": 2, "updated_at": 1000})
    h = [write(0, 1, "n1", absent=True, new_version=1), rel,
         write(4, 5, "n2", absent=True, new_version=3, client="n2"),
         get(6, 7, 3, "n2")]
    assert verdict(h)["ok"] is True
    h[2] = write(4, 5, "n2", absent=True, new_version=2, client="n2")
    assert verdict(h)["ok"] is False


def test_many_overlapping_operations_are_checked_quickly():
    h = [write(0, 1, "n0", absent=True, new_version=1)]
    t = 2.0
    for v in range(1, 300):
        h.append(write(t, t + 1.5, f"n{v}", expect_version=v, new_version=v + 1))
        h.append(write(t + 0.1, t + 1.4, "x", expect_version=v, outcome="condition-failed", client="n9"))
        h.append(get(t + 0.2, t + 1.6, v, f"n{v - 1}" if v > 1 else "n0"))
        h.append(write(t + 0.3, t + 1.2, "y", expect_version=v, outcome="unknown", client="n8")
                 if v % 10 == 0 else get(t + 0.3, t + 1.7, v + 1, f"n{v}"))
        t += 1.0
    res = verdict(h, max_steps=2_000_000)
    assert res["ok"] is True, res
    assert res["keys"]["t/p/leader"]["steps"] < 2_000_000


@pytest.mark.parametrize("expr", ["SET a = :x,", "SET a == :x", "FROB a"])
def test_unparseable_update_expression_is_an_error(expr):
    with pytest.raises(lin.ExpressionError):
        lin.compile_update(expr, {}, {":x": 1})
