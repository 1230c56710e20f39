"""The installed package: version from VERSION, the CLI script, and wheel contents."""
from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import sysconfig
from pathlib import Path

import dynatroni
import dynatroni._core


def test_version_comes_from_version_file(repo_root: Path):
    expected = (repo_root / "VERSION").read_text().strip()
    assert dynatroni.__version__ == expected
    assert dynatroni._core.__version__ == expected
    assert importlib.metadata.version("dynatroni") == expected


def test_package_is_installed_not_imported_from_source(repo_root: Path):
    # The C++ core's library only exists in the installed package, so this guards
    # against tests silently importing python/dynatroni from the checkout.
    assert dynatroni._core.LIBRARY_PATH.parent == Path(dynatroni.__file__).parent
    assert repo_root / "python" not in Path(dynatroni.__file__).parents


def test_cli_is_installed_as_a_script():
    scripts = Path(sysconfig.get_path("scripts"))
    cli = scripts / "dynatroni"
    assert cli.is_file(), f"{cli} missing: pip install . must install the C++ CLI"
    out = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == f"dynatroni {dynatroni.__version__}"


def test_wheel_contains_only_our_package():
    files = importlib.metadata.files("dynatroni")
    assert files, "no RECORD for the dynatroni distribution"
    tops = set()
    for f in files:
        parts = Path(str(f)).parts
        if parts[0].endswith(".dist-info"):
            continue
        if parts[0] == "..":  # scripts, recorded relative to site-packages: the C++ CLI and the entry points
            assert Path(str(f)).name in ("dynatroni", "patroni-dynamodb", "patronictl-dynamodb"), f
            continue
        tops.add(parts[0])
        if parts[0] == "patroni":  # the one module Patroni's DCS discovery lists (docs/install.md), and its bytecode
            assert parts[:3] == ("patroni", "dcs", "dynamodb.py") or \
                (parts[:3] == ("patroni", "dcs", "__pycache__") and parts[3].startswith("dynamodb.")), f
    assert tops == {"dynatroni", "patroni", "dynatroni-patroni.pth"}, tops
    names = {Path(str(f)).name for f in files}
    assert "__init__.py" in names
    assert {"_core.py", "libdynatroni_capi.so"} <= names, names


def test_one_wheel_for_every_python_3():
    # No CPython API in the wheel (the core is a C ABI loaded with ctypes): tagged py3-none-<platform>.
    tags = [line.split(":", 1)[1].strip() for line in
            (importlib.metadata.distribution("dynatroni").read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]
    assert tags == [f"py3-none-{sysconfig.get_platform().replace('-', '_').replace('.', '_')}"], tags
    binaries = [str(f) for f in importlib.metadata.files("dynatroni") or []
                if str(f).endswith((".so", ".pyd", ".pyi"))]
    assert binaries == ["dynatroni/libdynatroni_capi.so"], binaries


def test_core_runs_in_this_interpreter():
    assert sys.modules["dynatroni._core"] is dynatroni._core
    assert callable(dynatroni.sign_dynamodb_request)
