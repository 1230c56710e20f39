"""The claims docs/design.md ("The demotion allowance, measured") and docs/operations.md ("Watchdog") make about
Patroni and about our own numbers, checked against Patroni's installed sources and the measurement's results:

* on a DCS error Patroni demotes with ``demote('offline')`` = fast stop, on a refused renewal with
  ``demote('immediate-nolock')`` = immediate stop (Patroni 4.1 in this venv, and Debian's 3.0.2 when installed);
* the watchdog is kicked only after a successful ``update_leader`` and fires ``ttl - safety_margin`` seconds
  later (default safety_margin 5, -1 meaning ttl/2);
* every demotion measured by bench/demotion.py (bench/results/demotion-*.json) fits inside kDemoteAllowance
  (read from dcs/*.h), and design.md quotes that constant;
* the minimum ``safety_margin`` table in operations.md follows its own formula.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEBIAN_PATRONI = Path("/usr/lib/python3/dist-packages/patroni")


def _allowance_seconds() -> float:
    text = "".join(p.read_text() for p in sorted((REPO / "dcs").glob("*.h")))
    m = re.search(r"kDemoteAllowance\s*=\s*std::chrono::(seconds|milliseconds)\((\d+)\)", text)
    assert m, "kDemoteAllowance not found in dcs/*.h"
    return int(m.group(2)) / (1000 if m.group(1) == "milliseconds" else 1)


def _check_demote_modes(ha_source: str) -> None:
    modes = dict(re.findall(r"'([a-z-]+)':\s*dict\(stop='(\w+)'", ha_source))
    assert modes.get("offline") == "fast", modes
    assert modes.get("immediate-nolock") == "immediate", modes
    # a DCS error on a primary -> offline; a failed leader-lock update -> immediate-nolock
    dcs_error = ha_source[ha_source.index("def _handle_dcs_error"):]
    dcs_error = dcs_error[:dcs_error.index("\n    def ")]
    assert "'offline'" in dcs_error, dcs_error
    lock = ha_source[ha_source.index("logger.error('failed to update leader lock')"):][:600]
    assert "self.demote('immediate-nolock')" in lock, lock


def _installed_ha_source() -> str:
    # read, not imported: importing patroni.ha on its own trips a circular import inside Patroni 4.1
    import patroni
    return (Path(patroni.__file__).parent / "ha.py").read_text()


def test_patroni_41_demotes_fast_on_dcs_error_and_immediate_on_refused_renewal():
    import patroni.version
    assert patroni.version.__version__.startswith("4."), patroni.version.__version__
    _check_demote_modes(_installed_ha_source())


@pytest.mark.skipif(not (DEBIAN_PATRONI / "ha.py").exists(), reason="Debian's patroni package is not installed")
def test_debian_patroni_302_demotes_the_same_way():
    _check_demote_modes((DEBIAN_PATRONI / "ha.py").read_text())


def test_watchdog_fires_ttl_minus_safety_margin_after_a_successful_renewal():
    from patroni.watchdog.base import WatchdogConfig
    base = {"ttl": 30, "loop_wait": 10}
    assert WatchdogConfig(dict(base, watchdog={"mode": "required"})).timeout == 25  # default safety_margin 5
    assert WatchdogConfig(dict(base, watchdog={"mode": "required", "safety_margin": 8})).timeout == 22
    assert WatchdogConfig(dict(base, watchdog={"mode": "required", "safety_margin": -1})).timeout == 15
    ha = _installed_ha_source()
    update_lock = ha[ha.index("    def update_lock("):]
    update_lock = update_lock[:update_lock.index("\n    def ", 10)]
    assert re.search(r"if ret:\s*\n\s*self\.watchdog\.keepalive\(\)", update_lock), update_lock
    if (DEBIAN_PATRONI / "watchdog" / "base.py").exists():
        wd = (DEBIAN_PATRONI / "watchdog" / "base.py").read_text()
        assert "get('safety_margin', 5)" in wd and "return self.ttl - self.safety_margin" in wd


def test_measured_demotions_fit_inside_the_allowance_and_design_md_quotes_it():
    allowance = _allowance_seconds()
    results = sorted((REPO / "bench" / "results").glob("demotion-*.json"))
    assert results, "no bench/results/demotion-*.json (run bench/demotion.py)"
    seen = set()
    for path in results:
        data = json.loads(path.read_text())
        for run in data["runs"]:
            assert "d_refused" in run, (path.name, run)
            assert run["d_refused"] < allowance, (path.name, run)
            seen.add((data["patroni"], run["case"]))
    assert {(v, c) for v in ("4.1", "3.0.2") for c in ("fast", "fast-hang", "immediate", "fast-heavy")} <= seen
    design = (REPO / "docs" / "design.md").read_text()
    assert f"kDemoteAllowance = {allowance:g} s" in design


def test_operations_md_safety_margin_table_follows_its_formula():
    allowance = _allowance_seconds()
    text = (REPO / "docs" / "operations.md").read_text()
    rows = re.findall(r"^\| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", text, re.M)
    assert len(rows) >= 4, "the safety_margin table in operations.md was not found"
    for f, ttl_p, minimum, recommended, timeout in (tuple(map(int, r)) for r in rows):
        assert ttl_p == max(20, f)
        assert minimum == ttl_p - f + math.ceil(allowance + 2 * 0.001 * f)
        assert recommended == max(minimum, 5)
        assert timeout == ttl_p - recommended and timeout > f / 3  # Patroni needs timeout > loop_wait
