"""The extension's type stub: python/dynatroni/_core.pyi, committed, is what nanobind's stubgen makes of the
installed ``dynatroni._core`` (regenerate it with ``make stubs`` after changing a binding in python/src/), and the
wheel ships it with the ``py.typed`` marker (PEP 561), so type checkers see the extension's API (issue #22)."""
from __future__ import annotations

import ast
import difflib
import importlib.metadata
import subprocess
import sys
from pathlib import Path


def test_committed_stub_is_what_stubgen_makes_of_the_extension(repo_root: Path, tmp_path: Path):
    fresh = tmp_path / "_core.pyi"
    patterns = repo_root / "python" / "src" / "stub_patterns.txt"
    subprocess.run([sys.executable, "-m", "nanobind.stubgen", "-q", "-p", str(patterns), "-m", "dynatroni._core",
                    "-o", str(fresh)], check=True, timeout=120)
    committed = (repo_root / "python" / "dynatroni" / "_core.pyi").read_text()
    diff = "".join(difflib.unified_diff(committed.splitlines(True), fresh.read_text().splitlines(True),
                                        "python/dynatroni/_core.pyi (committed)", "stubgen"))
    assert not diff, f"the committed stub differs from the extension: run `make stubs`\n{diff}"


def test_the_wheel_ships_the_stub_and_the_py_typed_marker(repo_root: Path):
    files = {str(f): f for f in importlib.metadata.files("dynatroni") or []}
    assert "dynatroni/_core.pyi" in files and "dynatroni/py.typed" in files, sorted(files)
    installed = Path(files["dynatroni/_core.pyi"].locate())
    assert installed.read_text() == (repo_root / "python" / "dynatroni" / "_core.pyi").read_text()
    names = {n.name for n in ast.parse(installed.read_text()).body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    assert {"Dcs", "StoreError", "ConfigError", "partition_for", "sign_dynamodb_request"} <= names, names
