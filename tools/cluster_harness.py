#!/usr/bin/env python3
"""A reusable harness for real Patroni + PostgreSQL clusters on Dynatroni (used by the demo, the end-to-end
tests and the benchmarks).

    from tools.cluster_harness import LocalDynamo, Cluster, create_table
    with LocalDynamo("moto") as ddb:
        create_table(ddb.endpoint, "patroni")
        with Cluster(3, endpoint=ddb.endpoint, failover_time=15) as c:
            c.start_all()
            leader = c.wait_healthy()
            c.crash(leader)
            ...

What it does, and the choices that matter:

* **Processes.** Each node is one Patroni process (``python -m dynatroni.patroni patroni.yml``) running as the
  ``postgres`` user (PostgreSQL refuses root), in its own session/process group. Patroni starts the postmaster
  in another session (a helper process calls ``setsid``), and every PostgreSQL child calls ``setsid`` again,
  so process groups do not reach the backends: ``crash`` SIGKILLs Patroni's group, the postmaster and every
  descendant of it (found via /proc), ``pause``/``resume`` SIGSTOP/SIGCONT the same set (postmaster first, so
  it forks nothing new). ``stop_all`` stops everything (SIGTERM to Patroni, SIGKILL after a timeout), then
  verifies via /proc that no process and no listening port of the cluster remains. ``close()`` (also
  ``__exit__``, atexit, and SIGINT/SIGTERM/SIGHUP after ``install_signal_handlers()``) calls it and deletes
  the base directory (kept with ``DYNATRONI_KEEP=1`` or when the ``with`` block raised).
* **Where.** ``base_dir`` defaults to a fresh ``dynatroni-e2e-*`` directory (0755) under
  ``$DYNATRONI_E2E_BASE``, else /dev/shm (tmpfs), else /tmp; see ``default_base_parent``.
* **Patroni versions.** ``patroni="4.1"`` runs ``$DYNATRONI_E2E_PYTHON``, else this interpreter (a
  virtualenv with Patroni 4.1 and our wheel installed). ``patroni="3.0.2"`` runs Debian's ``/usr/bin/python3`` (Debian's ``patroni`` package) with
  ``PYTHONPATH`` set to a directory holding only our ``dynatroni`` package: ``$DYNATRONI_DEBIAN_SITE`` if set
  (e.g. made by ``pip install --no-deps --target DIR dist/dynatroni-*.whl``), else a copy of the package
  installed in the 4.1 virtualenv (the same files a ``pip install --target`` of the wheel produces).
* **Permissions.** The ``postgres`` user must be able to execute the interpreter: a virtualenv made from a
  Python under /root (pyenv) is not executable by ``postgres``; make it from ``/usr/bin/python3`` instead
  (``/usr/bin/python3 -m venv .venv-e2e``). The harness checks this first and says so.
* **DynamoDB.** ``endpoint`` is what the nodes use (e.g. a ``fault_proxy.FaultProxy`` listener in front of moto,
  whose ``hang`` mode cuts them off); ``ctl_endpoint`` (default: the same) is what ``patronictl`` and the harness's own boto3 reads use.
* **etcd baseline.** ``Cluster(..., dcs="etcd3", etcd_hosts=LocalEtcd().start().hosts)`` runs plain Patroni on its
  etcd3 backend instead (same PostgreSQL and timing; the benchmarks compare the two); ``LocalEtcd`` is a
  throwaway single-member etcd from Debian's ``etcd-server`` on loopback ports.
* **Timing.** ``failover_time`` goes into the ``dynamodb:`` section (the dial) and, as the docs ask, the same
  ``ttl``/``loop_wait``/``retry_timeout`` go into ``bootstrap.dcs``.
* **Lease beliefs.** ``lease_log=True`` sets ``DYNATRONI_LEASE_LOG`` for every node's Patroni: its plugin
  appends what it believes about the lease to ``lease_log_path(node)`` (tools/lease_beliefs.py checks them).
* **Watchdog.** ``watchdog=True`` configures Patroni's ``testing`` watchdog driver (a FIFO per node) with
  ``mode: required``, and a harness thread plays the watchdog: if the leader stops kicking it for the
  timeout (``failover_time - 3`` s), it SIGKILLs that node's PostgreSQL, as a hardware watchdog's reset would.
"""
from __future__ import annotations

import atexit
import contextlib
import copy
import json
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, TypeVar

REPO = Path(__file__).resolve().parent.parent

from tools import local_dynamodb  # noqa: E402
from tools import split_brain as split_brain_checker  # noqa: E402

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
DEBIAN_PYTHON = "/usr/bin/python3"
REGION = "us-east-1"
ACCESS_KEY = "AKIDLOCALTEST"  # dummy: the local servers accept any signature
SECRET_KEY = "local-test-secret"
SUPERUSER = ("postgres", "postgres")
REPLICATION = ("replicator", "replicator")
PROBE_TABLE = "harness_probe"
# The timeline a primary is writing on (from its current WAL file name; pg_control_checkpoint() lags until the
# next checkpoint).
TIMELINE_SQL = "('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"



def fresh_reader_limit(ttl: float) -> float:
    """Seconds after a member's last write from which a new process (patronictl list) leaves it out: 2 ttl +
    kMemberClockAllowance (dcs/member_expiry.h; docs/design.md, "A new process's view of the members")."""
    import re
    m = re.search(r"kMemberClockAllowance\s*=\s*std::chrono::seconds\((\d+)\)",
                  (REPO / "dcs/member_expiry.h").read_text())
    if not m:
        raise RuntimeError("dcs/member_expiry.h: kMemberClockAllowance = std::chrono::seconds(N) not found")
    return 2 * ttl + int(m.group(1))


T = TypeVar("T")
_T0 = time.monotonic()
_registry: List[Any] = []
_registry_lock = threading.Lock()


# ------------------------------------------------------------------------------------------- printing
_print_lock = threading.Lock()


def say(msg: str) -> None:
    """Print one progress line, prefixed by the seconds since the harness was imported."""
    with _print_lock:
        print(f"[{time.monotonic() - _T0:7.1f}s] {msg}", flush=True)


class FatalWait(RuntimeError):
    """Raised by a wait_for predicate to stop waiting at once (e.g. a process died)."""


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.1,
             quiet: bool = False, progress_every: float = 2.0) -> T:
    """Call ``predicate`` every ``interval`` s until it returns something truthy; return that value.

    Prints what it waits for and the elapsed time (every ``progress_every`` s, and at the end). Exceptions
    from the predicate count as "not yet" (the last one is shown on timeout). Raises TimeoutError.
    """
    start = time.monotonic()
    next_progress = start + progress_every
    last_error: Optional[BaseException] = None
    if not quiet:
        say(f"waiting for {what} (up to {timeout:.0f}s)")
    while True:
        try:
            value = predicate()
            if value:
                if not quiet:
                    say(f"  ... {what}: done after {time.monotonic() - start:.1f}s")
                return value
        except FatalWait:
            raise
        except Exception as e:  # noqa: BLE001 - predicate failures mean "not yet"
            last_error = e
        now = time.monotonic()
        if now - start > timeout:
            detail = f"; last error: {type(last_error).__name__}: {last_error}" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        if not quiet and now >= next_progress:
            say(f"  ... still waiting for {what}: {now - start:.1f}s")
            next_progress += progress_every
        time.sleep(interval)


# ------------------------------------------------------------------------------------------- cleanup
def _register(obj: Any) -> None:
    with _registry_lock:
        _registry.append(obj)


def _unregister(obj: Any) -> None:
    with _registry_lock:
        with contextlib.suppress(ValueError):
            _registry.remove(obj)


def close_everything() -> None:
    """Close every Cluster/LocalDynamo/proxy still open (newest first). Safe to call twice."""
    while True:
        with _registry_lock:
            if not _registry:
                return
            obj = _registry.pop()
        with contextlib.suppress(Exception):
            obj.close()


atexit.register(close_everything)


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt, and make sure SIGINT is one (a shell's background job
    starts with SIGINT ignored), so that `with` blocks clean up. Main thread only."""
    def handler(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


# ------------------------------------------------------------------------------------------- DynamoDB
def e2e_backend() -> str:
    """The local DynamoDB the cluster tests run on: moto, or dynalite with DYNATRONI_E2E_BACKEND=dynalite."""
    return local_dynamodb.e2e_backend()


class LocalDynamo:
    """A local DynamoDB (moto or dynalite via tools/local_dynamodb.py) or an external endpoint."""

    def __init__(self, kind: str = "moto", endpoint: Optional[str] = None, log_dir: Optional[Path] = None) -> None:
        if kind not in ("moto", "dynalite"):
            raise ValueError(f"LocalDynamo: kind must be moto or dynalite; got {kind!r}")
        self.kind = kind if not endpoint else "external"
        self.endpoint = endpoint or ""
        self._own_log_dir = log_dir is None
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="dynatroni-ddb-"))
        self._server: Optional[local_dynamodb.Server] = None

    def start(self) -> "LocalDynamo":
        if self.kind == "external":
            say(f"using the DynamoDB endpoint {self.endpoint}")
            return self
        say(f"starting a local DynamoDB ({self.kind}) on loopback")
        self._server = local_dynamodb.start(self.kind, self.log_dir)
        self.endpoint = self._server.endpoint
        _register(self)
        answering = local_dynamodb.server_kind(self.endpoint)
        say(f"  {self.kind} listens on {self.endpoint} (log {self._server.log_path}); GET / answered by {answering}")
        if answering != self.kind:
            self.close()
            raise RuntimeError(f"LocalDynamo: asked for {self.kind}, but {answering} answers at {self.endpoint}")
        return self

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1].split("/")[0])

    def close(self) -> None:
        if self._server is not None:
            say(f"stopping {self.kind} ({self.endpoint})")
            self._server.stop()
            self._server = None
            if self._own_log_dir and os.environ.get("DYNATRONI_KEEP", "") in ("", "0"):
                shutil.rmtree(self.log_dir, ignore_errors=True)
        _unregister(self)

    def __enter__(self) -> "LocalDynamo":
        return self.start() if self._server is None and self.kind != "external" else self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalEtcd:
    """A throwaway single-member etcd (Debian's `etcd-server`, /usr/bin/etcd) on loopback ports, with its data
    directory in a temporary directory removed on close(); for Patroni's etcd3 backend (`Cluster(dcs="etcd3",
    etcd_hosts=etcd.hosts)`), the baseline the benchmarks compare with."""

    def __init__(self, binary: str = "/usr/bin/etcd") -> None:
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="dynatroni-etcd-", dir=default_base_parent()))
        self.client_port = free_port()
        self.peer_port = free_port([self.client_port])
        self.proc: Optional[subprocess.Popen] = None

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self, timeout: float = 30) -> "LocalEtcd":
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError(f"{self.binary} not found: install Debian's etcd-server package (make deps)")
        client, peer = f"http://127.0.0.1:{self.client_port}", f"http://127.0.0.1:{self.peer_port}"
        cmd = [self.binary, "--name", "bench", "--data-dir", str(self.dir / "data"),
               "--listen-client-urls", client, "--advertise-client-urls", client,
               "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
               "--initial-cluster", f"bench={peer}", "--initial-cluster-state", "new"]
        say(f"starting etcd on {client}")
        log = open(self.dir / "etcd.log", "wb")  # noqa: SIM115 - handed to the process
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env={**os.environ, "ETCD_UNSUPPORTED_ARCH": ""})
        log.close()
        _register(self)

        def healthy() -> bool:
            import urllib.request
            if not _running(self.proc):
                raise FatalWait(f"etcd exited: {(self.dir / 'etcd.log').read_text(errors='replace')[-1500:]}")
            with urllib.request.urlopen(f"{client}/health", timeout=2) as r:
                return json.loads(r.read()).get("health") == "true"
        wait_for(healthy, timeout, "etcd to be healthy", quiet=True)
        return self

    def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        _unregister(self)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "LocalEtcd":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def boto_client(endpoint: str, region: str = REGION, static: bool = True):
    """A boto3 DynamoDB client: dummy keys for the local servers, or (static=False) the AWS credential chain."""
    import boto3
    from botocore.config import Config as BotoConfig
    keys = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY} if static else {}
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region, **keys,
                        config=BotoConfig(retries={"max_attempts": 3}, connect_timeout=3, read_timeout=10))


def dynatroni_cli() -> Optional[str]:
    """The `dynatroni` binary: $DYNATRONI_CLI, beside the 4.1 interpreter (pip installs it there), build/cli."""
    candidates = [os.environ.get("DYNATRONI_CLI", ""), str(Path(patroni_python("4.1")).parent / "dynatroni"),
                  str(Path(sys.executable).parent / "dynatroni"), str(REPO / "build" / "cli" / "dynatroni"),
                  shutil.which("dynatroni") or ""]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def create_table(endpoint: str, name: str = "patroni", region: str = REGION, static: bool = True) -> None:
    """Create the Dynatroni table (idempotent): with `dynatroni table create` when the CLI exists, else boto3.

    static=True uses the dummy keys the local servers accept; False the caller's AWS credential chain.
    """
    cli = dynatroni_cli()
    if cli:
        cmd = [cli, "table", "create", "--table", name, "--endpoint-url", endpoint, "--region", region,
               "--wait-timeout", "60"]
        say(f"creating table {name!r}: {' '.join(Path(cmd[0]).name if i == 0 else a for i, a in enumerate(cmd))}")
        env = dict(os.environ)
        if static:
            env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
            for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
                env.pop(k, None)
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=90)
        for line in (p.stdout + p.stderr).strip().splitlines():
            print(f"    {line}", flush=True)
        if p.returncode != 0:
            raise RuntimeError(f"`dynatroni table create` failed with exit code {p.returncode}")
        return
    say(f"creating table {name!r} with boto3 (the dynatroni CLI was not found)")
    client = boto_client(endpoint, region, static)
    try:
        client.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "cluster_name", "KeyType": "HASH"},
                       {"AttributeName": "key", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "cluster_name", "AttributeType": "S"},
                                  {"AttributeName": "key", "AttributeType": "S"}])
    except client.exceptions.ResourceInUseException:
        pass
    wait_for(lambda: client.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE", 60,
             f"table {name} to become ACTIVE", quiet=True)


def _plain(item: Dict[str, Any]) -> Dict[str, Any]:
    out = {}
    for k, v in item.items():
        (t, x), = v.items()
        out[k] = int(x) if t == "N" else x
    return out


# ------------------------------------------------------------------------------------------- processes
def patroni_python(version: str) -> str:
    """The interpreter that runs Patroni `version` ("4.1" or "3.0.2")."""
    if version == "3.0.2":
        return DEBIAN_PYTHON
    if version != "4.1":
        raise ValueError(f"patroni must be '4.1' or '3.0.2'; got {version!r}")
    return os.environ.get("DYNATRONI_E2E_PYTHON") or sys.executable


def _proc_stats() -> Iterable[tuple]:
    """(pid, fields) of every live (non-zombie) process, fields from /proc/PID/stat after the command name:
    fields[0] = state, [1] = ppid, [2] = pgrp, [3] = session."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                raw = f.read().decode(errors="replace")
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2:].split()
        if len(fields) > 3 and fields[0] != "Z":
            yield int(d), fields


def _pids_in_session(sid: int) -> List[int]:
    return [pid for pid, fields in _proc_stats() if int(fields[3]) == sid or int(fields[2]) == sid]


def _pids_mentioning(text: str) -> List[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            out.append(int(d))
    return out


def _listening_ports() -> set:
    ports = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(path) as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if len(parts) > 3 and parts[3] == "0A":  # LISTEN
                    ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def free_port(avoid: Iterable[int] = ()) -> int:
    avoid = set(avoid)
    while True:
        port = local_dynamodb.free_port()
        if port not in avoid:
            return port


def _signal_group(pgid: Optional[int], sig: int) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def _running(proc: Optional[subprocess.Popen]) -> bool:
    """True while `proc` has not exited. Does not reap it (waitid WNOWAIT), so its pid stays reserved."""
    if proc is None or proc.returncode is not None:
        return False
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
    except ChildProcessError:
        return False


def _descendants(root: int) -> List[int]:
    """`root` and all its descendants (by parent pid), from /proc. PostgreSQL's children each call setsid(),
    so signalling the postmaster's process group does not reach its backends: signal these pids instead."""
    children: Dict[int, List[int]] = {}
    for pid, fields in _proc_stats():
        children.setdefault(int(fields[1]), []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _signal_pids(pids: Iterable[int], sig: int) -> None:
    for p in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, sig)


def _pgid(pid: Optional[int]) -> Optional[int]:
    """The process group of `pid` (Patroni starts the postmaster in a new session made by a helper process,
    so the postmaster's group id is not its own pid)."""
    if not pid:
        return None
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
        return raw[raw.rfind(")") + 2:].split()[0] != "Z"
    except OSError:
        return False


# ------------------------------------------------------------------------------------------- watchdog
class WatchdogMonitor:
    """Plays the hardware watchdog for Patroni's `testing` driver (a FIFO): SIGKILLs PostgreSQL on expiry.

    Patroni writes ``Ctimeout=N\\n`` when it arms the watchdog, ``1`` on every keepalive and ``V`` when it
    disarms it. If armed and not kicked for N seconds, ``on_fire`` runs (once per arming).
    """

    def __init__(self, path: Path, on_fire: Callable[[], None], name: str, uid: int = -1, gid: int = -1) -> None:
        self.path, self.on_fire, self.name = path, on_fire, name
        self.timeout: Optional[float] = None
        self.armed = False
        self.last_kick = 0.0
        self.fired: List[float] = []
        self.kicks = 0
        if path.exists():
            path.unlink()
        os.mkfifo(path, 0o600)
        if uid >= 0:
            os.chown(path, uid, gid)
        self._rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self._wfd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # keeps the FIFO open: no EOF spin
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._buf = b""
        self._thread = threading.Thread(target=self._run, name=f"watchdog-{name}", daemon=True)
        self._thread.start()

    def reset(self) -> None:
        """Disarm (the node's 'machine' was reset or crashed)."""
        with self._lock:
            self.armed = False

    def _run(self) -> None:
        while not self._stop.is_set():
            r, _, _ = select.select([self._rfd], [], [], 0.05)
            now = time.monotonic()
            if r:
                with contextlib.suppress(BlockingIOError):
                    self._buf += os.read(self._rfd, 4096)
                self._parse(now)
            fire = False
            with self._lock:
                if self.armed and self.timeout and now - self.last_kick > self.timeout:
                    self.armed = False
                    self.fired.append(now)
                    fire = True
            if fire:
                say(f"watchdog of {self.name}: not kicked for {self.timeout:.0f}s: firing (SIGKILL PostgreSQL)")
                with contextlib.suppress(Exception):
                    self.on_fire()

    def _parse(self, now: float) -> None:
        with self._lock:
            while self._buf:
                c = self._buf[:1]
                if c == b"C":
                    nl = self._buf.find(b"\n")
                    if nl < 0:
                        return
                    line = self._buf[1:nl].decode(errors="replace")
                    self._buf = self._buf[nl + 1:]
                    if line.startswith("timeout="):
                        self.timeout = float(line.split("=", 1)[1])
                        self.armed, self.last_kick = True, now
                    continue
                self._buf = self._buf[1:]
                if c == b"V":
                    self.armed = False
                elif c == b"1":
                    self.armed, self.last_kick = True, now
                    self.kicks += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._rfd, self._wfd):
            with contextlib.suppress(OSError):
                os.close(fd)


# ------------------------------------------------------------------------------------------- nodes
@dataclass
class Node:
    name: str
    index: int
    dir: Path
    pg_port: int
    api_port: int
    proc: Optional[subprocess.Popen] = None
    log_file: Any = None
    watchdog: Optional[WatchdogMonitor] = None
    paused: bool = False

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def config_path(self) -> Path:
        return self.dir / "patroni.yml"

    @property
    def log_path(self) -> Path:
        return self.dir / "patroni.log"

    @property
    def patroni_pid(self) -> Optional[int]:
        """Patroni's pid while it runs (never reaps it: an unreaped pid cannot be reused)."""
        return self.proc.pid if _running(self.proc) else None

    def postmaster_pid(self) -> Optional[int]:
        """The running postmaster's pid from postmaster.pid (None when absent or stale)."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        if not _alive(pid):
            return None
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return None
        if not exe.startswith(str(PG_BIN)) and "postgres" not in exe:
            return None
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if str(self.data_dir).encode() not in f.read():
                    return None  # a recycled pid
        except OSError:
            return None
        return pid


def default_base_parent() -> str:
    """Where clusters keep their data: $DYNATRONI_E2E_BASE, else /dev/shm when it is a writable tmpfs with
    2 GB free (nothing here needs durability, and unlinking thousands of files on a disk mounted with
    `discard` takes seconds per cluster), else the system temp dir (/tmp)."""
    env = os.environ.get("DYNATRONI_E2E_BASE")
    if env:
        return env
    shm = "/dev/shm"
    with contextlib.suppress(OSError):
        st = os.statvfs(shm)
        if os.access(shm, os.W_OK) and st.f_bavail * st.f_frsize > 2 << 30:
            return shm
    return tempfile.gettempdir()


def _deep_merge(base: Dict[str, Any], extra: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _dial(failover_time: float) -> tuple:
    ttl = int(failover_time)
    third = max(1, int(failover_time / 3))
    return ttl, third, third


class Cluster:
    """N Patroni nodes (node1..nodeN) on loopback ports, sharing one DynamoDB partition (the scope)."""

    def __init__(self, n_nodes: int = 3, *, endpoint: str, scope: Optional[str] = None,
                 failover_time: float = 15, patroni: str = "4.1", table: str = "patroni",
                 ctl_endpoint: Optional[str] = None, base_dir: Optional[Path] = None,
                 dynamic: Optional[Dict[str, Any]] = None, parameters: Optional[Dict[str, Any]] = None,
                 watchdog: bool = False, keep: Optional[bool] = None, verbose: bool = True,
                 region: str = REGION, credentials: str = "static",
                 node_endpoints: Optional[Dict[str, str]] = None,
                 node_env: Optional[Dict[str, Dict[str, str]]] = None,
                 dcs: str = "dynamodb", etcd_hosts: str = "", pythonpath: Optional[str] = None,
                 lease_log: bool = False) -> None:
        if credentials not in ("static", "environment"):
            raise ValueError("credentials must be 'static' (dummy keys for local servers) or 'environment'")
        self.n_nodes, self.endpoint, self.failover_time, self.version = n_nodes, endpoint, failover_time, patroni
        self.region, self.credentials = region, credentials
        self.ctl_endpoint = ctl_endpoint or endpoint
        self.scope = scope or f"demo-{os.getpid()}-{int(time.time()) % 100000}"
        self.table = table
        self.dynamic = dynamic or {}
        self.parameters = parameters or {}
        self.use_watchdog = watchdog
        # dcs="etcd3": plain Patroni (`python -m patroni`) on Patroni's etcd3 backend at etcd_hosts (host:port,...),
        # e.g. a LocalEtcd; the baseline of the benchmarks. endpoint is then unused.
        if dcs not in ("dynamodb", "etcd3") or (dcs == "etcd3" and not etcd_hosts):
            raise ValueError(f"dcs must be 'dynamodb' or 'etcd3' (with etcd_hosts); got {dcs!r}")
        self.dcs, self.etcd_hosts = dcs, etcd_hosts
        # per node name: its own DynamoDB endpoint (e.g. a fault-proxy listener) and extra environment for its
        # Patroni (e.g. LD_PRELOAD=libfaketime; mutable: takes effect at the next start())
        self.node_endpoints: Dict[str, str] = dict(node_endpoints or {})
        self.node_env: Dict[str, Dict[str, str]] = {k: dict(v) for k, v in (node_env or {}).items()}
        # lease_log: every node's plugin appends its lease beliefs to lease_log_path(node) (DYNATRONI_LEASE_LOG,
        # python/dynatroni/lease_log.py; checked by tools/lease_beliefs.py)
        self.lease_log = lease_log
        self.keep = keep if keep is not None else os.environ.get("DYNATRONI_KEEP", "") not in ("", "0")
        self.verbose = verbose
        self.python = patroni_python(patroni)
        self.base_dir = Path(base_dir) if base_dir else Path(tempfile.mkdtemp(prefix="dynatroni-e2e-",
                                                                               dir=default_base_parent()))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base_dir, 0o755)
        self._as_root = os.geteuid() == 0
        pw = pwd.getpwnam("postgres") if self._as_root else pwd.getpwuid(os.geteuid())
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        try:
            # pythonpath: a directory put first on PYTHONPATH of Patroni, patronictl and the checks (e.g. a
            # dynatroni package other than the installed one); default none (3.0.2: a copy of the installed one)
            self.pythonpath = pythonpath or (self._debian_site() if patroni == "3.0.2" else None)
            self._check_runnable()
        except BaseException:
            if not base_dir:
                shutil.rmtree(self.base_dir, ignore_errors=True)
            raise
        used: List[int] = []
        self.nodes: List[Node] = []
        for i in range(1, n_nodes + 1):
            pg, api = free_port(used), 0
            used.append(pg)
            api = free_port(used)
            used.append(api)
            node = Node(f"node{i}", i, self.base_dir / f"node{i}", pg, api)
            node.dir.mkdir(exist_ok=True)
            os.chown(node.dir, self.uid, self.gid)
            os.chmod(node.dir, 0o700)
            self.nodes.append(node)
        self._closed = False
        self._write_configs()
        _register(self)

    # ---- setup -----------------------------------------------------------------------------
    def _log(self, msg: str) -> None:
        if self.verbose:
            say(msg)

    def _debian_site(self) -> str:
        site = os.environ.get("DYNATRONI_DEBIAN_SITE")
        if site:
            return site
        py41 = patroni_python("4.1")
        p = subprocess.run([py41, "-c", "import dynatroni, os; print(os.path.dirname(dynatroni.__file__))"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"cannot find an installed dynatroni package for {py41} to give Debian's Patroni "
                               f"3.0.2 (set DYNATRONI_DEBIAN_SITE=DIR made by `pip install --no-deps --target DIR "
                               f"<wheel>`): {p.stderr.strip()[-500:]}")
        src = Path(p.stdout.strip())
        dst = self.base_dir / "site-debian" / "dynatroni"
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        for root, dirs, files in os.walk(dst.parent):
            for n in dirs + files:
                os.chmod(os.path.join(root, n), 0o755)
        os.chmod(dst.parent, 0o755)
        return str(dst.parent)

    def _env(self) -> Dict[str, str]:
        env = {"PATH": f"{PG_BIN}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        if self.credentials == "environment":  # real AWS: hand the caller's credential variables on
            env.update({k: v for k, v in os.environ.items() if k.startswith("AWS_")})
        return env

    def _check_runnable(self) -> None:
        cmd = [self.python, "-c", "import patroni.version as v, dynatroni.dynamodb; print(v.__version__)"]
        try:
            p = subprocess.run(cmd, env=dict(self._env(), HOME=str(self.base_dir)), capture_output=True,
                               text=True, timeout=60, cwd=str(self.base_dir), **self._user_kwargs())
        except OSError as e:
            p = subprocess.CompletedProcess(cmd, 126, "", str(e))
        if p.returncode != 0:
            who = "the postgres user" if self._as_root else "this user"
            raise RuntimeError(
                f"{who} cannot run Patroni {self.version} with the plugin via {self.python}: "
                f"{(p.stderr or p.stdout).strip()[-600:]}\n(is the interpreter readable by postgres? a venv made "
                f"from a Python under /root is not: make it with /usr/bin/python3 -m venv)")
        got = p.stdout.strip()
        if not got.startswith(self.version.split(".")[0] + "."):
            raise RuntimeError(f"{self.python} runs Patroni {got}, not {self.version}")
        self.patroni_version = got

    def _user_kwargs(self) -> Dict[str, Any]:
        if not self._as_root:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def bootstrap_dcs(self) -> Dict[str, Any]:
        ttl, loop_wait, retry_timeout = _dial(self.failover_time)
        dcs = {
            "ttl": ttl, "loop_wait": loop_wait, "retry_timeout": retry_timeout,
            "maximum_lag_on_failover": 1048576,
            "postgresql": {
                "use_pg_rewind": True, "use_slots": True,
                "remove_data_directory_on_rewind_failure": True,
                "remove_data_directory_on_diverged_timelines": True,
                "parameters": {
                    "shared_buffers": "16MB", "max_connections": 25, "max_wal_senders": 6,  # Patroni rejects max_connections < 25
                    "max_replication_slots": 6, "max_worker_processes": 4, "wal_keep_size": "16MB",
                    "wal_log_hints": "on", "hot_standby": "on", "fsync": "off",
                    "checkpoint_timeout": "5min", "max_wal_size": "64MB", "min_wal_size": "4MB",
                    "autovacuum": "off", "wal_receiver_status_interval": "1s",
                    # in the data directory, not /dev/shm: a SIGKILLed postmaster leaks POSIX segments
                    "dynamic_shared_memory_type": "mmap",
                    "wal_sender_timeout": "10s", "wal_receiver_timeout": "10s",
                },
            },
        }
        return _deep_merge(dcs, self.dynamic)

    def dynamodb_section(self, endpoint: Optional[str] = None) -> Dict[str, Any]:
        section = {"table_name": self.table, "endpoint_url": endpoint or self.endpoint, "region": self.region,
                   "failover_time": self.failover_time}
        if self.credentials == "static":
            section.update(access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)
        return section

    def node_config(self, node: Node) -> Dict[str, Any]:
        params = {"unix_socket_directories": str(node.dir), "log_line_prefix": "%m [%p] %q%u@%d ",
                  "log_min_messages": "warning", "log_connections": "off"}
        params.update(self.parameters)
        cfg: Dict[str, Any] = {
            "scope": self.scope, "namespace": "/service/", "name": node.name,
            "log": {"level": "INFO"},
            "restapi": {"listen": f"127.0.0.1:{node.api_port}", "connect_address": f"127.0.0.1:{node.api_port}"},
            "dynamodb": self.dynamodb_section(self.node_endpoints.get(node.name)),
            "bootstrap": {"dcs": self.bootstrap_dcs(),
                          "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, {"wal-segsize": "1"}, "no-sync"]},
            "postgresql": {
                "listen": f"127.0.0.1:{node.pg_port}", "connect_address": f"127.0.0.1:{node.pg_port}",
                "data_dir": str(node.data_dir), "bin_dir": str(PG_BIN), "pgpass": str(node.dir / "pgpass"),
                "authentication": {
                    "superuser": {"username": SUPERUSER[0], "password": SUPERUSER[1]},
                    "replication": {"username": REPLICATION[0], "password": REPLICATION[1]},
                },
                "parameters": params,
                "pg_hba": ["local all all trust",
                           f"host replication {REPLICATION[0]} 127.0.0.1/32 trust",
                           "host all all 127.0.0.1/32 trust"],
                "basebackup": [{"checkpoint": "fast"}],
            },
            "tags": {},
        }
        if self.dcs == "etcd3":
            del cfg["dynamodb"]
            cfg["etcd3"] = {"hosts": self.etcd_hosts}
        if self.use_watchdog:
            ttl_patroni = max(20, _dial(self.failover_time)[0])  # Patroni raises ttl < 20 to 20
            target = max(3, int(self.failover_time) - 3)
            cfg["watchdog"] = {"mode": "required", "driver": "testing", "device": str(node.dir / "watchdog"),
                               "safety_margin": ttl_patroni - target}
        else:
            cfg["watchdog"] = {"mode": "off"}
        return cfg

    def _write_configs(self) -> None:
        import yaml
        for node in self.nodes:
            node.config_path.write_text(yaml.safe_dump(self.node_config(node), sort_keys=False))
            os.chown(node.config_path, self.uid, self.gid)
            os.chmod(node.config_path, 0o600)
        ctl = self.node_config(self.nodes[0])
        if self.dcs == "dynamodb":
            ctl["dynamodb"] = self.dynamodb_section(self.ctl_endpoint)
        ctl.pop("name", None)
        (self.base_dir / "patronictl.yml").write_text(yaml.safe_dump(ctl, sort_keys=False))

    def node(self, name_or_node: Any) -> Node:
        if isinstance(name_or_node, Node):
            return name_or_node
        if isinstance(name_or_node, int):
            return self.nodes[name_or_node]
        for n in self.nodes:
            if n.name == name_or_node:
                return n
        raise KeyError(f"no node {name_or_node!r} (have {', '.join(n.name for n in self.nodes)})")

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self, node: Any) -> None:
        n = self.node(node)
        if n.patroni_pid:
            raise RuntimeError(f"{n.name}: Patroni already running (pid {n.patroni_pid})")
        if self.use_watchdog:
            if n.watchdog is None:
                n.watchdog = WatchdogMonitor(n.dir / "watchdog", lambda n=n: self._kill_postgres(n), n.name,
                                             self.uid, self.gid)
            n.watchdog.reset()
        if n.log_file is not None:
            n.log_file.close()
        n.log_file = open(n.log_path, "ab")  # noqa: SIM115 - closed in stop()
        os.chown(n.log_path, self.uid, self.gid)
        env = dict(self._env(), HOME=str(n.dir), USER="postgres", LOGNAME="postgres")
        env.update(self.node_env.get(n.name, {}))
        if self.lease_log:
            env["DYNATRONI_LEASE_LOG"] = str(self.lease_log_path(n))
        cmd = [self.python, "-m", "dynatroni.patroni" if self.dcs == "dynamodb" else "patroni", str(n.config_path)]
        n.proc = subprocess.Popen(cmd, cwd=str(n.dir), env=env, stdin=subprocess.DEVNULL, stdout=n.log_file,
                                  stderr=subprocess.STDOUT, start_new_session=True, **self._user_kwargs())
        n.paused = False
        self._log(f"started {n.name} (Patroni {self.patroni_version}, pid {n.proc.pid}, PostgreSQL on "
                  f"127.0.0.1:{n.pg_port}, REST API on 127.0.0.1:{n.api_port}, log {n.log_path})")

    def lease_log_path(self, node: Any) -> Path:
        """Where the node's plugin appends its lease beliefs when the cluster runs with lease_log=True."""
        return self.node(node).dir / "lease.jsonl"

    def start_all(self, nodes: Optional[Iterable[Any]] = None) -> None:
        for n in (nodes if nodes is not None else self.nodes):
            self.start(n)

    def stop(self, node: Any, timeout: float = 60) -> None:
        """Graceful stop: SIGTERM to Patroni (which stops PostgreSQL); SIGKILL everything after `timeout`."""
        n = self.node(node)
        if n.paused:
            self.resume(n)
        pid = n.patroni_pid
        if pid:
            self._log(f"stopping {n.name} (SIGTERM to Patroni pid {pid})")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _running(n.proc) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _running(n.proc):
                self._log(f"{n.name}: Patroni did not stop within {timeout:.0f}s: SIGKILL")
        self._kill_node(n)

    def stop_nodes(self, nodes: Iterable[Any], timeout: float = 60) -> None:
        threads = [threading.Thread(target=self.stop, args=(n, timeout)) for n in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _kill_postgres(self, n: Node) -> None:
        pm = n.postmaster_pid()
        if pm:
            self._wait_gone(self._kill_postmaster(pm), 10)

    @staticmethod
    def _kill_postmaster(pm: int) -> List[int]:
        """SIGKILL the postmaster, every process it forked and its process group (Patroni's helper that
        started it); returns the pids to wait for."""
        _signal_pids([pm], signal.SIGSTOP)  # no new children from here on
        pids = _descendants(pm)
        pg = _pgid(pm)
        if pg:
            pids += _pids_in_session(pg)
            _signal_group(pg, signal.SIGKILL)
        _signal_pids(pids, signal.SIGKILL)
        return pids

    def _kill_node(self, n: Node) -> None:
        """SIGKILL Patroni's process group and every PostgreSQL process of the node; wait until gone."""
        pm = n.postmaster_pid()
        pids: List[int] = []
        if n.proc is not None and n.proc.returncode is None:
            # Not reaped yet, so its pid (= its process group id) cannot belong to anyone else.
            pids += _pids_in_session(n.proc.pid)
            _signal_group(n.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                n.proc.wait(10)
        if pm:
            pids += self._kill_postmaster(pm)
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGCONT)  # stopped processes die on SIGKILL too, but be sure
                os.kill(p, signal.SIGKILL)
        self._wait_gone(pids + ([pm] if pm else []), 10)
        n.paused = False
        if n.watchdog:
            n.watchdog.reset()

    @staticmethod
    def _wait_gone(pids: List[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)

    def crash(self, node: Any) -> None:
        """kill -9 of the node's Patroni and its postmaster, and of every PostgreSQL process (a dead machine)."""
        n = self.node(node)
        pm, pid = n.postmaster_pid(), n.patroni_pid
        self._log(f"crashing {n.name}: kill -9 of Patroni (pid {pid}) and the postmaster (pid {pm})")
        self._kill_node(n)

    def pause(self, node: Any, patroni_only: bool = False) -> None:
        """SIGSTOP of the node's Patroni, its postmaster and every PostgreSQL backend (a frozen machine); with
        `patroni_only`, of Patroni's process group alone: PostgreSQL keeps running (a hung Patroni)."""
        n = self.node(node)
        pm, pid = n.postmaster_pid(), n.patroni_pid
        if patroni_only:
            self._log(f"pausing {n.name}'s Patroni: SIGSTOP to its process group (pid {pid}); PostgreSQL runs on")
            _signal_group(pid, signal.SIGSTOP)
            n.paused = True
            return
        self._log(f"pausing {n.name}: SIGSTOP to Patroni (pid {pid}) and PostgreSQL (postmaster {pm})")
        _signal_group(pid, signal.SIGSTOP)
        if pm:
            _signal_pids([pm], signal.SIGSTOP)  # first, so that it forks nothing new
            _signal_pids(_descendants(pm), signal.SIGSTOP)
            _signal_group(_pgid(pm), signal.SIGSTOP)
        n.paused = True

    def resume(self, node: Any) -> None:
        n = self.node(node)
        pm, pid = n.postmaster_pid(), n.patroni_pid
        self._log(f"resuming {n.name}: SIGCONT to Patroni (pid {pid}) and PostgreSQL (postmaster {pm})")
        _signal_group(pid, signal.SIGCONT)
        if pm:
            _signal_group(_pgid(pm), signal.SIGCONT)
            _signal_pids(_descendants(pm), signal.SIGCONT)
        n.paused = False

    def stop_all(self, timeout: float = 60) -> None:
        """Stop every node (gracefully, then SIGKILL), and verify no process or listening port is left."""
        running = [n for n in self.nodes if n.patroni_pid or n.postmaster_pid()]
        if running:
            self._log(f"stopping {', '.join(n.name for n in running)}")
            self.stop_nodes(running, timeout)
        for n in self.nodes:
            self._kill_node(n)
            if n.log_file is not None:
                n.log_file.close()
                n.log_file = None
        leftovers = self.leftovers()
        if leftovers:
            for p in leftovers["pids"]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
            self._wait_gone(leftovers["pids"], 5)
            leftovers = self.leftovers()
        if leftovers:
            raise RuntimeError(f"processes or ports left after stop_all: {leftovers}")

    def leftovers(self) -> Dict[str, List[int]]:
        pids = set(_pids_mentioning(str(self.base_dir)))
        for n in self.nodes:
            if _running(n.proc):
                pids.update(_pids_in_session(n.proc.pid))
            pm = n.postmaster_pid()
            if pm:
                pids.update(_descendants(pm))
                pids.update(_pids_in_session(_pgid(pm) or pm))
        pids.discard(os.getpid())
        ports = sorted(_listening_ports() & {p for n in self.nodes for p in (n.pg_port, n.api_port)})
        out: Dict[str, List[int]] = {}
        if pids:
            out["pids"] = sorted(pids)
        if ports:
            out["ports"] = ports
        return out

    def _release_sysv_segments(self) -> None:
        """A SIGKILLed postmaster leaves its (tiny) SysV segment behind; a restart would reuse and remove it,
        but a node crashed and never restarted would leak it: remove unattached ones named in postmaster.pid."""
        for n in self.nodes:
            try:
                lines = (n.data_dir / "postmaster.pid").read_text().splitlines()
                shmid = int(lines[6].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if n.postmaster_pid():
                continue
            with contextlib.suppress(OSError):
                for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]:
                    f = line.split()
                    # key shmid perms size cpid lpid nattch uid ...
                    if len(f) > 7 and int(f[1]) == shmid and int(f[6]) == 0 and int(f[7]) == self.uid:
                        subprocess.run(["ipcrm", "-m", str(shmid)], capture_output=True, check=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.stop_all()
            self._release_sysv_segments()
            self._log(f"all nodes of {self.scope} stopped; no process or port of theirs is left")
        finally:
            for n in self.nodes:
                if n.watchdog:
                    n.watchdog.close()
            _unregister(self)
            if not self.keep:
                shutil.rmtree(self.base_dir, ignore_errors=True)
            else:
                self._log(f"kept {self.base_dir} (DYNATRONI_KEEP)")

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        if exc_type is not None and not issubclass(exc_type, KeyboardInterrupt) and not self.keep:
            self.keep = True  # keep the logs of a failed run
            for n in self.nodes:
                say(f"--- last lines of {n.log_path}:\n{self.log_tail(n, 25)}")
        self.close()

    # ---- PostgreSQL --------------------------------------------------------------------------
    def connect(self, node: Any, connect_timeout: int = 2, statement_timeout_ms: Optional[int] = None):
        import psycopg
        n = self.node(node)
        options = f"-c statement_timeout={statement_timeout_ms}" if statement_timeout_ms else ""
        return psycopg.connect(host="127.0.0.1", port=n.pg_port, user=SUPERUSER[0], password=SUPERUSER[1],
                               dbname="postgres", connect_timeout=connect_timeout, autocommit=True,
                               options=options, application_name="harness")

    def query(self, node: Any, sql: str, params: Any = None, statement_timeout_ms: Optional[int] = 5000) -> List[tuple]:
        """Run SQL directly against the node's PostgreSQL (autocommit); the rows, or [] for no result set."""
        with self.connect(node, statement_timeout_ms=statement_timeout_ms) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def is_primary(self, node: Any) -> Optional[bool]:
        """True/False from pg_is_in_recovery(); None when PostgreSQL does not answer."""
        try:
            return not self.query(node, "select pg_is_in_recovery()")[0][0]
        except Exception:  # noqa: BLE001
            return None

    def roles(self) -> Dict[str, Optional[bool]]:
        """{node name: is_primary(node)} for every node."""
        return {n.name: self.is_primary(n) for n in self.nodes}

    def primaries(self) -> List[str]:
        return [name for name, p in self.roles().items() if p]

    def try_write(self, node: Any, table: str = PROBE_TABLE, note: str = "") -> bool:
        """One INSERT; True when it committed (the node is a primary that accepts writes)."""
        try:
            self.query(node, f"insert into {table}(node, note) values (%s, %s)", (self.node(node).name, note),
                       statement_timeout_ms=2000)
            return True
        except Exception:  # noqa: BLE001
            return False

    def ensure_probe_table(self, leader: Any, table: str = PROBE_TABLE) -> None:
        self.query(leader, f"create table if not exists {table}(id bigserial primary key, node text, "
                           f"note text, at timestamptz default clock_timestamp())")

    def streaming_replicas(self, leader: Any) -> List[str]:
        """application_names of the replicas streaming from `leader` (pg_stat_replication, state streaming)."""
        rows = self.query(leader, "select application_name from pg_stat_replication where state = 'streaming'")
        return sorted(r[0] for r in rows)

    def wal_lsn(self, node: Any) -> int:
        row = self.query(node, "select case when pg_is_in_recovery() then pg_last_wal_replay_lsn() "
                               "else pg_current_wal_lsn() end - '0/0'::pg_lsn")[0]
        return int(row[0])

    # ---- DynamoDB and patronictl --------------------------------------------------------------
    def boto(self):
        return boto_client(self.ctl_endpoint, self.region, self.credentials == "static")

    @property
    def partition(self) -> str:
        return self.scope  # default namespace '/service/' -> the scope itself

    def leader_item(self) -> Optional[Dict[str, Any]]:
        """The DynamoDB leader item (consistent read), attribute values as plain Python, or None."""
        item = self.boto().get_item(
            TableName=self.table, ConsistentRead=True,
            Key={"cluster_name": {"S": self.partition}, "key": {"S": "leader"}}).get("Item")
        return _plain(item) if item else None

    def leader_name(self) -> Optional[str]:
        item = self.leader_item()
        return item.get("value") if item else None

    def partition_items(self) -> Dict[str, Dict[str, Any]]:
        client = self.boto()
        out: Dict[str, Dict[str, Any]] = {}
        kwargs: Dict[str, Any] = dict(TableName=self.table, ConsistentRead=True,
                                      KeyConditionExpression="cluster_name = :p",
                                      ExpressionAttributeValues={":p": {"S": self.partition}})
        while True:
            page = client.query(**kwargs)
            for it in page["Items"]:
                out[it["key"]["S"]] = _plain(it)
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def patronictl(self, *args: str, input: Optional[str] = None, check: bool = True,
                   timeout: float = 90) -> subprocess.CompletedProcess:
        """Run patronictl (same Patroni version as the nodes) with the cluster's ctl config."""
        cmd = [self.python, "-m", "dynatroni.patronictl", "-c", str(self.base_dir / "patronictl.yml"), *args]
        env = dict(self._env(), HOME=str(self.base_dir))
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=env,
                           cwd=str(self.base_dir))
        if check and p.returncode != 0:
            raise RuntimeError(f"patronictl {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    def rest(self, node: Any, path: str = "patroni", timeout: float = 3) -> Dict[str, Any]:
        """GET the node's Patroni REST API endpoint (default /patroni); the decoded JSON (also on 503)."""
        import urllib.error
        import urllib.request
        url = f"http://127.0.0.1:{self.node(node).api_port}/{path.lstrip('/')}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:  # e.g. /primary on a replica: 503 with the same JSON
            return json.loads(e.read() or b"{}")

    def edit_config(self, settings: Dict[str, Any], timeout: float = 60) -> None:
        """`patronictl edit-config --force -s key=value ...` (dotted keys allowed), then wait until every running
        node's Patroni has loaded it (its REST /config, i.e. the cluster its HA loop last read, shows it)."""
        args = []
        for k, v in settings.items():
            args += ["-s", f"{k}={str(v).lower() if isinstance(v, bool) else v}"]
        self.patronictl("edit-config", "--force", *args)

        def seen(node: Node) -> bool:
            cfg = self.rest(node, "config")
            for k, v in settings.items():
                cur: Any = cfg
                for part in k.split("."):
                    cur = cur.get(part) if isinstance(cur, dict) else None
                want = str(v).lower() if isinstance(v, bool) else str(v)
                if (str(cur).lower() if isinstance(cur, bool) else str(cur)) != want and not (cur is None and v is False):
                    return False
            return True
        for n in self.nodes:
            if n.patroni_pid and not n.paused:
                wait_for(lambda n=n: seen(n), timeout, f"{n.name} to load {settings}", quiet=not self.verbose)

    def members(self) -> List[Dict[str, Any]]:
        """`patronictl list -f json`, one dict per member."""
        return json.loads(self.patronictl("list", "-f", "json").stdout or "[]")

    # ---- composite waits ---------------------------------------------------------------------
    def healthy_leader(self, nodes: Optional[Iterable[Any]] = None) -> Optional[str]:
        """The leader's name if exactly one of `nodes` is primary and all others stream from it, else None."""
        names = [self.node(n).name for n in (nodes if nodes is not None else self.nodes)]
        self.check_running(names)
        prim = [nm for nm in names if self.is_primary(nm)]
        if len(prim) != 1:
            return None
        others = sorted(nm for nm in names if nm != prim[0])
        if [nm for nm in self.streaming_replicas(prim[0]) if nm in others] != others:
            return None
        return prim[0]

    def check_running(self, nodes: Optional[Iterable[Any]] = None) -> None:
        """Raise (with the log's tail) if the Patroni of any of `nodes` has exited."""
        for name in (nodes if nodes is not None else self.nodes):
            n = self.node(name)
            if n.proc is not None and not n.paused and not _running(n.proc):
                raise FatalWait(f"Patroni of {n.name} exited; last lines of {n.log_path}:\n"
                                   f"{self.log_tail(n, 30)}")

    def wait_healthy(self, timeout: float = 120, nodes: Optional[Iterable[Any]] = None,
                     what: Optional[str] = None) -> str:
        """Wait for one primary and every other node (of `nodes`) streaming from it; returns the leader."""
        nodes = list(nodes) if nodes is not None else list(self.nodes)
        what = what or f"a leader and {len(nodes) - 1} streaming replicas"
        leader = wait_for(lambda: self.healthy_leader(nodes), timeout, what)
        self.ensure_probe_table(leader)
        return leader

    def wait_primary(self, timeout: float, candidates: Optional[Iterable[Any]] = None,
                     what: str = "a primary that accepts writes") -> str:
        """Wait until one of `candidates` (default all nodes) commits a write; returns its name."""
        names = [self.node(n).name for n in (candidates if candidates is not None else self.nodes)]

        def check() -> Optional[str]:
            for nm in names:
                if self.is_primary(nm) and self.try_write(nm, note="wait_primary"):
                    return nm
            return None
        return wait_for(check, timeout, what)

    def log_tail(self, node: Any, lines: int = 40) -> str:
        try:
            return "\n".join(self.node(node).log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# ------------------------------------------------------------------------------------------- sampler
@dataclass
class Sample:
    node: str
    t_start: float  # monotonic, before the probe
    t_end: float  # monotonic, when the answer (or error) came back
    primary: Optional[bool]  # pg_is_in_recovery() = false; None when the node did not answer
    wrote: bool  # an INSERT committed on this node in this probe
    error: str = ""
    timeline: Optional[int] = None  # the timeline that INSERT was written on


class Sampler:
    """One thread per node probing every `interval` s: ``select pg_is_in_recovery()`` and, when it says
    primary, one INSERT into ``harness_probe`` (autocommit). Persistent connection per node, re-made after
    any error (connect_timeout 2 s); a probe blocked on a frozen node just skips ticks.

    Each committed INSERT returns the timeline it was written on. ``split_brain()`` runs the split-brain
    checker (tools/split_brain.py) on the acknowledged writes: at least ``min_acks`` of them, no two nodes
    on one timeline, no write on an older timeline invoked after another node acknowledged one on a newer
    timeline, no two acknowledged writes on different nodes within `interval` of each other, and the nodes
    that acknowledged writes never alternate (A, B, A) more than ``allowed_transitions`` times. An
    acknowledged write is the only thing that matters to a client: a node that answers
    pg_is_in_recovery() = false but cannot commit is not a second primary.
    """

    def __init__(self, cluster: Cluster, interval: float = 0.1) -> None:
        self.cluster, self.interval = cluster, interval
        self.samples: List[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), name=f"sampler-{n.name}", daemon=True)
                         for n in cluster.nodes]

    def __enter__(self) -> "Sampler":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)

    def _run(self, node: Node) -> None:
        conn = None
        next_tick = time.monotonic()
        while not self._stop.is_set():
            t0 = time.monotonic()
            primary: Optional[bool] = None
            wrote, err, tli = False, "", None
            try:
                if conn is None:
                    conn = self.cluster.connect(node, statement_timeout_ms=2000)
                primary = not conn.execute("select pg_is_in_recovery()").fetchone()[0]
                if primary:
                    try:
                        tli = conn.execute(f"insert into {PROBE_TABLE}(node, note) values (%s, 'sampler') "
                                           f"returning {TIMELINE_SQL}", (node.name,)).fetchone()[0]
                        wrote = True
                    except Exception as e:  # noqa: BLE001
                        err = f"write: {type(e).__name__}: {str(e).strip()[:120]}"
                        if conn.closed or conn.broken:
                            conn = None
            except Exception as e:  # noqa: BLE001
                err = f"{type(e).__name__}: {str(e).strip()[:120]}"
                with contextlib.suppress(Exception):
                    if conn is not None:
                        conn.close()
                conn = None
            with self._lock:
                self.samples.append(Sample(node.name, t0, time.monotonic(), primary, wrote, err, tli))
            next_tick += self.interval
            now = time.monotonic()
            if next_tick < now:
                next_tick = now
            self._stop.wait(next_tick - now)
        with contextlib.suppress(Exception):
            if conn is not None:
                conn.close()

    def wait_writes(self, node: str, count: int, timeout: float) -> None:
        """Waits until `node` has acknowledged at least `count` writes since the sampler started, so that a
        history handed to the split-brain checker covers both sides of a transition; raises on timeout."""
        wait_for(lambda: sum(s.node == node for s in self.writes()) >= count, timeout,
                 f"{count} acknowledged writes on {node}")

    def writes(self) -> List[Sample]:
        with self._lock:
            return sorted((s for s in self.samples if s.wrote), key=lambda s: s.t_end)

    def split_brain(self, allowed_transitions: int = 1,
                    min_acks: int = split_brain_checker.MIN_ACKS) -> List[split_brain_checker.Problem]:
        """The split-brain checker's problems (empty when none); see the class docstring."""
        acks = [split_brain_checker.Ack(w.node, w.t_start, w.t_end, w.timeline) for w in self.writes()]
        return split_brain_checker.check(acks, min_acks=min_acks, window=self.interval,
                                         allowed_transitions=allowed_transitions)

    def summary(self) -> str:
        with self._lock:
            by: Dict[str, List[Sample]] = {}
            for s in self.samples:
                by.setdefault(s.node, []).append(s)
        parts = []
        for name, ss in sorted(by.items()):
            parts.append(f"{name}: {len(ss)} probes, {sum(s.wrote for s in ss)} writes, "
                         f"{sum(s.primary is None for s in ss)} unanswered")
        return "; ".join(parts)
