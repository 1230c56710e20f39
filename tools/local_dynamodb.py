#!/usr/bin/env python3
"""Start and stop local DynamoDB servers (moto in server mode, dynalite) on loopback.

Used by the C++ integration tests (via ctest), the Python tests, the demo and the
benchmarks. Every server is started on a free 127.0.0.1 port and stopped (with its
whole process group) when the context manager exits or the wrapped command ends.

    python -m tools.local_dynamodb run -- CMD ARGS...   # both servers, env exported
    python -m tools.local_dynamodb run --only moto -- CMD

CMD sees DYNATRONI_TEST_ENDPOINTS="moto=http://127.0.0.1:P1,dynalite=http://127.0.0.1:P2"
plus dummy AWS credentials and region (the local servers accept any signature).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDLOCALTEST",
    "AWS_SECRET_ACCESS_KEY": "local-test-secret",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# The local DynamoDB the cluster tests (python/tests/test_e2e_*.py, test_chaos_short.py and tools/chaos.py, through
# tools/cluster_harness.py's LocalDynamo) and the clock tests (through python/tests/plugin_harness.py's moto_ddb) run
# on: moto unless DYNATRONI_E2E_BACKEND names dynalite (`make test-e2e-dynalite`). Read here and nowhere else.
E2E_BACKEND_ENV = "DYNATRONI_E2E_BACKEND"
BACKENDS = ("moto", "dynalite")


def e2e_backend() -> str:
    """"moto" (the default) or "dynalite", from $DYNATRONI_E2E_BACKEND; anything else is an error, not moto."""
    kind = os.environ.get(E2E_BACKEND_ENV, "").strip() or "moto"
    if kind not in BACKENDS:
        raise SystemExit(f"{E2E_BACKEND_ENV}={kind!r}: choose moto or dynalite")
    return kind


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    endpoint: str
    proc: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def _dynalite_bin() -> str:
    local = REPO / "node_modules" / ".bin" / "dynalite"
    if local.exists():
        return str(local)
    found = shutil.which("dynalite")
    if not found:
        raise SystemExit("dynalite is not installed: run `make deps` (npm install in the repository)")
    return found


def _command(name: str, port: int) -> list[str]:
    if name == "moto":
        # Our wrapper serialises requests: moto alone is not atomic under concurrency.
        return [sys.executable, "-m", "tools.moto_server", "-H", "127.0.0.1", "-p", str(port)]
    if name == "dynalite":
        # In memory; the default 400 KB item limit, like the real service.
        return [_dynalite_bin(), "--host", "127.0.0.1", "--port", str(port), "--createTableMs", "50",
                "--deleteTableMs", "50", "--updateTableMs", "50"]
    raise SystemExit(f"unknown local DynamoDB server {name!r}: choose moto or dynalite")


def signed_headers(endpoint: str, operation: str, body: bytes | str) -> dict[str, str]:
    """The headers of a raw DynamoDB JSON-protocol request (POST `body` to `endpoint` + "/"), signed with SigV4 by
    botocore with TEST_ENV's credentials: Content-Type, X-Amz-Target, X-Amz-Date and Authorization.

    Every raw request a test or tool sends to a local DynamoDB (or through a proxy in front of one) takes its
    headers from here: moto 5.2 answers a DynamoDB request without an Authorization header with an HTML 500 page,
    and the real service refuses it, so an unsigned request tests neither. The Host header (signed as the
    endpoint's host:port) is left to the HTTP client, which sends the same value.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    data = body.encode("utf-8") if isinstance(body, str) else body
    request = AWSRequest(method="POST", url=endpoint.rstrip("/") + "/", data=data, headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"DynamoDB_20120810.{operation}",
    })
    creds = Credentials(TEST_ENV["AWS_ACCESS_KEY_ID"], TEST_ENV["AWS_SECRET_ACCESS_KEY"])
    SigV4Auth(creds, "dynamodb", TEST_ENV["AWS_REGION"]).add_auth(request)
    return {k: v for k, v in request.headers.items() if k.lower() != "host"}


def _ready(endpoint: str) -> bool:
    req = urllib.request.Request(endpoint + "/", data=b"{}", method="POST",
                                 headers=signed_headers(endpoint, "ListTables", b"{}"))
    try:
        with urllib.request.urlopen(req, timeout=1) as resp:
            return "TableNames" in json.loads(resp.read() or b"{}")
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False


def server_kind(endpoint: str) -> str:
    """Which server answers at `endpoint`, from its reply to `GET /`: dynalite's health check ("healthy:
    dynamodb.<region>.amazonaws.com"), or moto's (a Werkzeug server; our wrapper is moto's own server); "unknown"
    otherwise. The cluster harness checks it, so a run on DYNATRONI_E2E_BACKEND=dynalite shows dynalite answering."""
    try:
        with urllib.request.urlopen(endpoint.rstrip("/") + "/", timeout=5) as resp:
            body, server = resp.read(200), resp.headers.get("Server", "")
    except Exception:  # noqa: BLE001 - no answer is "unknown"
        return "unknown"
    if body.startswith(b"healthy: dynamodb."):
        return "dynalite"
    if server.startswith("Werkzeug/"):
        return "moto"
    return "unknown"


def start(name: str, log_dir: Path, port: int | None = None, timeout: float = 60.0) -> Server:
    port = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(_command(name, port), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(REPO))
    server = Server(name, f"http://127.0.0.1:{port}", proc, log_path)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} while starting; log: {log_path}\n"
                               + log_path.read_text(errors="replace")[-2000:])
        if _ready(server.endpoint):
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not answer on {server.endpoint} within {timeout:.0f}s; log: {log_path}")


@contextlib.contextmanager
def servers(names: list[str], log_dir: Path | None = None) -> Iterator[list[Server]]:
    log_dir = log_dir or Path(os.environ.get("DYNATRONI_LOG_DIR", REPO / "build" / "logs"))
    started: list[Server] = []
    try:
        for n in names:
            started.append(start(n, log_dir))
        yield started
    finally:
        for s in reversed(started):
            s.stop()


def endpoints_env(started: list[Server]) -> dict[str, str]:
    env = dict(TEST_ENV)
    env["DYNATRONI_TEST_ENDPOINTS"] = ",".join(f"{s.name}={s.endpoint}" for s in started)
    return env


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="start servers, run a command with their endpoints, stop them")
    run.add_argument("--only", choices=["moto", "dynalite"], action="append")
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("run needs a command after --")
    names = args.only or ["moto", "dynalite"]
    with servers(names) as started:
        env = dict(os.environ)
        env.update(endpoints_env(started))
        for s in started:
            print(f"local_dynamodb: {s.name} on {s.endpoint} (log {s.log_path})", file=sys.stderr, flush=True)
        proc = subprocess.run(command, env=env, check=False)
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
