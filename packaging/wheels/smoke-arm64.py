"""Run by packaging/wheels/build-arm64.sh with the Python of a venv of bullseye's arm64 Python 3.9 under
qemu-aarch64-static, into which pip installed the aarch64 wheel (issue #20 part 2; docs/install.md, "Portable
wheels", arm64): the ctypes load of libdynatroni_capi.so, two calls that need no server, and, when
DYNATRONI_SMOKE_ENDPOINT names a local DynamoDB with the table DYNATRONI_SMOKE_TABLE in it, two members of one
cluster racing for the leader key."""
import os
import platform
import time

import dynatroni._core as core

print(f"python {platform.python_version()} on {platform.machine()}; dynatroni._core {core.__version__} "
      f"from {core.LIBRARY_PATH.name}")
print("partition_for('service', 'scope'):", repr(core.partition_for("service", "scope")))
config = core.parse_config({"table_name": "patroni-dcs", "region": "eu-west-1", "endpoint_url": "http://127.0.0.1:9",
                            "access_key_id": "AKIDEXAMPLE", "secret_access_key": "secret"})
print("parse_config:", {k: config[k] for k in sorted(config) if k in ("table_name", "region", "endpoint_url")})
try:
    core.parse_config({"table_name": "t", "region": "eu-west-1"})
    raise SystemExit("parse_config took a 1-character table name")
except core.ConfigError as e:
    print("parse_config refuses table_name 't':", str(e).split(";")[0])

endpoint = os.environ.get("DYNATRONI_SMOKE_ENDPOINT")
if endpoint:
    section = {"table_name": os.environ["DYNATRONI_SMOKE_TABLE"], "region": "us-east-1", "endpoint_url": endpoint,
               "access_key_id": "AKIDEXAMPLE", "secret_access_key": "secret"}
    scope = f"arm64-{os.getpid()}"
    partition = core.partition_for("service", scope)
    t = time.monotonic()
    a = core.Dcs(section, partition, "node1")
    b = core.Dcs(section, partition, "node2")
    assert not a.start_problem, a.start_problem
    view = a.load_cluster("")  # the sort-key prefix: "" is the whole partition
    assert view["items"] == [], view
    got_a = a.acquire_leader("leader")
    got_b = b.acquire_leader("leader")
    keys = sorted(i["key"] for i in b.load_cluster("")["items"])
    print(f"against {endpoint}: empty cluster loaded; node1 acquire_leader -> {got_a}, node2 acquire_leader -> "
          f"{got_b}; keys now {keys}; lease held by node1: {a.lease('leader')['held']} "
          f"({time.monotonic() - t:.2f} s)")
    assert got_a and not got_b and keys == ["leader"], (got_a, got_b, keys)
print("smoke: ok")
