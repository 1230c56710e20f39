"""``dynatroni._core`` against the C ABI it loads (python/src/capi.h, capi.cc; issue #20 part 2).

``_core.py`` is pure Python over ``libdynatroni_capi.so`` (ctypes): its functions and every public method and
property of its ``Dcs`` are names the C side dispatches, and the C side dispatches nothing that ``_core.py``
does not expose (``dynatroni_methods()`` lists them). Each Python method passes its own name: a method added on
one side only, or a typo in a name, fails here. The library exports the C ABI and nothing else, and a call
blocked in the C++ core does not hold the GIL.
"""
from __future__ import annotations

import ast
import http.server
import importlib.metadata
import inspect
import json
import re
import subprocess
import threading
from pathlib import Path

import dynatroni._core as core

CORE_PY = Path(core.__file__)


def _python_api():
    functions = {n for n, f in vars(core).items()
                 if not n.startswith("_") and inspect.isfunction(f) and f.__module__ == core.__name__}
    methods = {n for n in vars(core.Dcs) if not n.startswith("_")}
    return functions, methods


def test_python_api_and_c_dispatch_name_the_same_functions_and_methods():
    c = core._c_methods()
    functions, methods = _python_api()
    assert functions == set(c["functions"]), \
        f"only in _core.py: {functions - set(c['functions'])}; only in capi.cc: {set(c['functions']) - functions}"
    assert methods == set(c["dcs_methods"]), \
        f"only in _core.py: {methods - set(c['dcs_methods'])}; only in capi.cc: {set(c['dcs_methods']) - methods}"


def _called_names(node: ast.AST, callee: str):
    """The bytes constants passed first to `callee` (a name or an attribute) inside `node`."""
    for call in ast.walk(node):
        if isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Constant) and \
                isinstance(call.args[0].value, (bytes, str)):
            f = call.func
            if (isinstance(f, ast.Name) and f.id == callee) or (isinstance(f, ast.Attribute) and f.attr == callee):
                yield call.args[0].value


def test_every_python_entry_point_passes_its_own_name_to_the_c_side():
    tree = ast.parse(CORE_PY.read_text())
    checked = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            assert list(_called_names(node, "_call")) == [node.name.encode()], node.name
            checked.add(node.name)
        if isinstance(node, ast.ClassDef) and node.name == "Dcs":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                    assert list(_called_names(item, "_call")) == [item.name.encode()], item.name
                    checked.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    assert list(_called_names(item, "_property")) == [item.target.id], item.target.id
                    checked.add(item.target.id)
    functions, methods = _python_api()
    assert checked == functions | methods, (functions | methods) - checked


def test_the_library_exports_the_c_abi_and_nothing_else():
    header = (Path(__file__).resolve().parents[1] / "src" / "capi.h").read_text()
    declared = set(re.findall(r"^DYNATRONI_API [^(]*?\b(dynatroni_\w+)\(", header, re.M))
    assert len(declared) == 7, declared
    out = subprocess.run(["nm", "-D", "--defined-only", str(core.LIBRARY_PATH)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    exported = {line.split()[-1] for line in out.splitlines() if line.strip()}
    assert exported == declared, f"exported beyond capi.h: {exported - declared}; missing: {declared - exported}"


def test_the_wheel_ships_the_library_the_module_and_the_py_typed_marker():
    files = {str(f) for f in importlib.metadata.files("dynatroni") or []}
    assert {"dynatroni/_core.py", "dynatroni/libdynatroni_capi.so", "dynatroni/py.typed"} <= files, sorted(files)
    assert not any(f.endswith(".pyi") for f in files), sorted(files)
    assert core.LIBRARY_PATH.is_file()


def test_errors_carry_the_store_error_attributes_and_python_exception_types():
    try:
        core.parse_config({"zz_probe": "x"})
    except core.ConfigError as e:
        assert isinstance(e, ValueError) and "zz_probe" in str(e)
    else:
        raise AssertionError("no ConfigError")
    for bad in (lambda: core.partition_for("/service/", 7), lambda: core.parse_config({"region": 1})):
        try:
            bad()
        except TypeError:
            pass
        else:
            raise AssertionError("no TypeError")


class _HangingQuery(http.server.BaseHTTPRequestHandler):
    """A DynamoDB that has no table (DescribeTable: not found, so the Dcs still opens) and answers a Query only
    when the test lets it."""
    received = threading.Event()
    release = threading.Event()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith(".Query"):
            type(self).received.set()
            type(self).release.wait(60)
            body, status = {"Items": [], "Count": 0, "ScannedCount": 0}, 200
        else:
            body, status = {"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                            "message": "Requested resource not found"}, 400
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_a_call_waiting_in_the_core_does_not_hold_the_gil():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HangingQuery)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dcs = core.Dcs({"region": "us-east-1", "endpoint_url": f"http://127.0.0.1:{server.server_port}",
                        "access_key_id": "AKIDTEST", "secret_access_key": "secret"}, "pg", "node1")
        assert dcs.start_problem, "DescribeTable answered ResourceNotFound: the start check should say so"
        result = {}
        loader = threading.Thread(target=lambda: result.update(view=dcs.load_cluster("/service/pg/")))
        loader.start()
        # The server (a Python thread) receives the Query while load_cluster waits inside the core: with the GIL
        # held by that call, neither it nor this thread would run.
        assert _HangingQuery.received.wait(30), "the Query never reached the server"
        assert dcs.timing()[0] > 0 and dcs.lease("leader")["held"] is False  # other calls run meanwhile
        assert loader.is_alive()
        _HangingQuery.release.set()
        loader.join(60)
        assert not loader.is_alive() and result["view"]["items"] == [], result
    finally:
        _HangingQuery.release.set()
        server.shutdown()
