"""Dynatroni's C++ core (SigV4 signing, DynamoDB client) for Python.

The core is the shared library ``libdynatroni_capi.so`` beside this file, a C ABI (python/src/capi.h) loaded
with ctypes: no CPython API, so one wheel serves every Python 3 (docs/install.md). Arguments go to it as one
JSON array and results come back as JSON; this module gives them the Python shape callers use (tuples, dicts,
``None`` for unknown). ctypes releases the GIL for the length of every call into the library, so Patroni's
other threads run while a call waits on DynamoDB. Thread-safe: the core is.
"""
from __future__ import annotations

import ctypes
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

_LIBRARY_NAME = "libdynatroni_capi.so"
#: The shared library this module loads (it exists only in an installed package).
LIBRARY_PATH = Path(__file__).with_name(_LIBRARY_NAME)

try:
    _lib = ctypes.CDLL(str(LIBRARY_PATH))
except OSError as e:  # the source tree, or a broken install: the same error a missing extension gave
    raise ImportError(f"dynatroni._core: cannot load the C++ core {LIBRARY_PATH}: {e}") from None

_lib.dynatroni_version.restype = ctypes.c_char_p
_lib.dynatroni_version.argtypes = []
_lib.dynatroni_methods.restype = ctypes.c_char_p
_lib.dynatroni_methods.argtypes = []
_lib.dynatroni_call.restype = ctypes.c_int
_lib.dynatroni_call.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
_lib.dynatroni_dcs_open.restype = ctypes.c_int
_lib.dynatroni_dcs_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                    ctypes.POINTER(ctypes.c_void_p)]
_lib.dynatroni_dcs_call.restype = ctypes.c_int
_lib.dynatroni_dcs_call.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                    ctypes.POINTER(ctypes.c_void_p)]
_lib.dynatroni_dcs_close.restype = None
_lib.dynatroni_dcs_close.argtypes = [ctypes.c_void_p]
_lib.dynatroni_free.restype = None
_lib.dynatroni_free.argtypes = [ctypes.c_void_p]

__version__: str = _lib.dynatroni_version().decode()

# python/src/capi.h's status codes.
_OK, _STORE_ERROR, _CONFIG_ERROR, _VALUE_ERROR, _TYPE_ERROR = 0, 1, 2, 3, 4


class StoreError(Exception):
    """DynamoDB could not be reached, or a call's outcome is unknown (str(): the core's Status)."""

    code: str
    message: str
    aws_error: str
    http_status: int
    operation: Optional[str]
    attempts: Optional[int]
    elapsed: Optional[float]
    request_id: Optional[str]


class ConfigError(ValueError):
    pass


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_decode = json.JSONDecoder().decode


def _args(args: Any) -> bytes:
    return _encode(args).encode() if args else b"[]"


def _result(rc: int, out: ctypes.c_void_p) -> Any:
    """The JSON the core wrote to `out` (freed here), or the exception status `rc` names."""
    if not out.value:
        raise MemoryError("dynatroni._core: the C++ core returned no result")
    try:
        value = _decode(ctypes.string_at(out.value).decode())
    finally:
        _lib.dynatroni_free(out)
    if rc == _OK:
        return value
    if rc == _STORE_ERROR:
        e = StoreError(value["str"])
        for name in ("code", "message", "aws_error", "http_status", "operation", "attempts", "elapsed",
                     "request_id"):
            setattr(e, name, value[name])
        raise e
    raise {_CONFIG_ERROR: ConfigError, _VALUE_ERROR: ValueError, _TYPE_ERROR: TypeError}.get(
        rc, RuntimeError)(value["message"])


def _call(function: bytes, *args: Any) -> Any:
    out = ctypes.c_void_p()
    rc = _lib.dynatroni_call(function, _args(args), ctypes.byref(out))
    return _result(rc, out)


def sign_dynamodb_request(endpoint: str, operation: str, body: str, region: str, access_key_id: str,
                          secret_access_key: str, session_token: Optional[str], amz_date: str) -> dict:
    """
    Signs a DynamoDB JSON-protocol request (POST /, x-amz-json-1.0) with SigV4 at the fixed
    time amz_date ('YYYYMMDDTHHMMSSZ', UTC). Returns {'method', 'url', 'headers', 'body'}.
    session_token None (or '') means long-term keys. Raises ValueError on invalid input.
    The GIL is released while signing.
    """
    signed = _call(b"sign_dynamodb_request", endpoint, operation, body, region, access_key_id, secret_access_key,
                   session_token, amz_date)
    signed["body"] = signed["body"].encode()
    return signed


def partition_for(namespace: str, scope: str) -> str:
    """
    The DynamoDB partition (cluster_name) for a Patroni namespace and scope.
    """
    return _call(b"partition_for", namespace, scope)


def parse_config(section: Mapping[str, str]) -> dict:
    """
    Validate a `dynamodb:` section (strings) layered with PATRONI_DYNAMODB_* variables.
    """
    return _call(b"parse_config", _mapping(section))


def _mapping(section: Mapping[str, str]) -> Dict[str, str]:
    if not isinstance(section, Mapping):
        raise TypeError(f"section must be a mapping of str to str, not {type(section).__name__}")
    return dict(section)


def _property(method: str) -> Any:
    name = method.encode()
    return property(lambda self: self._call(name), doc=f"The core's ``{method}``.")


class Dcs:
    """dcs::Dcs of the C++ core for one Patroni member (python/src/capi.cc): the lease, the cluster's keys and
    the watch timing. Raises StoreError when DynamoDB cannot be reached or an outcome is unknown, ConfigError
    (at construction) for a bad ``dynamodb:`` section."""

    __slots__ = ("_handle",)

    def __init__(self, section: Mapping[str, str], partition: str, name: str) -> None:
        self._handle: Optional[ctypes.c_void_p] = None
        handle, out = ctypes.c_void_p(), ctypes.c_void_p()
        rc = _lib.dynatroni_dcs_open(_args([_mapping(section), partition, name]), ctypes.byref(handle),
                                     ctypes.byref(out))
        if rc != _OK:
            _result(rc, out)
        self._handle = handle

    def __del__(self) -> None:
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None and _lib is not None:
            _lib.dynatroni_dcs_close(handle)

    def _call(self, method: bytes, *args: Any) -> Any:
        out = ctypes.c_void_p()
        rc = _lib.dynatroni_dcs_call(self._handle, method, _args(args), ctypes.byref(out))
        return _result(rc, out)

    table_name: str = _property("table_name")
    region: str = _property("region")
    endpoint: str = _property("endpoint")
    credential_source: str = _property("credential_source")
    start_problem: str = _property("start_problem")
    credential_refresh_error: str = _property("credential_refresh_error")
    session: str = _property("session")
    failover_time: Optional[float] = _property("failover_time")
    metrics_listen: str = _property("metrics_listen")

    @property
    def credential_refusals(self) -> Tuple[int, str]:
        count, last = self._call(b"credential_refusals")
        return count, last

    def set_timing(self, ttl: float, loop_wait: float, retry_timeout: float, /) -> None:
        self._call(b"set_timing", ttl, loop_wait, retry_timeout)

    def timing(self) -> Tuple[float, float, float, float]:
        ttl, loop_wait, retry_timeout, margin = self._call(b"timing")
        return ttl, loop_wait, retry_timeout, margin

    def load_cluster(self, prefix: str, /) -> dict:
        return self._call(b"load_cluster", prefix)

    def acquire_leader(self, leader_key: str, /) -> bool:
        return self._call(b"acquire_leader", leader_key)

    def take_leader(self, leader_key: str, /) -> bool:
        return self._call(b"take_leader", leader_key)

    def renew_leader(self, leader_key: str, version: Optional[int]) -> bool:
        return self._call(b"renew_leader", leader_key, _int(version))

    def release_leader(self, leader_key: str, version: Optional[int] = None) -> bool:
        return self._call(b"release_leader", leader_key, _int(version))

    def lease(self, leader_key: str, /) -> dict:
        return self._call(b"lease", leader_key)

    def set_value(self, key: str, value: str, version: Optional[int]) -> Optional[int]:
        return self._call(b"set_value", key, value, _int(version))

    def initialize(self, key: str, value: str, create_new: bool, /) -> bool:
        return self._call(b"initialize", key, value, create_new)

    def delete_key(self, key: str, version: Optional[int]) -> bool:
        return self._call(b"delete_key", key, _int(version))

    def touch_member(self, key: str, data: str, /) -> bool:
        return self._call(b"touch_member", key, data)

    def delete_cluster(self) -> None:
        self._call(b"delete_cluster")

    def plan_watch(self, leader_key: str, leader_version: Optional[int],
                   remaining: Optional[float] = None) -> Tuple[str, float, str]:
        if remaining is not None and not isinstance(remaining, (int, float)):
            raise TypeError(f"remaining must be a float or None, not {type(remaining).__name__}")
        if remaining is not None and not -1e300 < remaining < 1e300:  # inf and NaN: unknown, as None is
            remaining = None
        action, wait, reason = self._call(b"plan_watch", leader_key, _int(leader_version), remaining)
        return action, wait, reason

    def poll_leader(self, leader_key: str, version: Optional[int]) -> bool:
        return self._call(b"poll_leader", leader_key, _int(version))

    def poll_failover(self, leader_key: str, /) -> bool:
        return self._call(b"poll_failover", leader_key)

    def metrics(self) -> dict:
        m = self._call(b"metrics")
        m["calls"] = [tuple(c) for c in m["calls"]]
        m["latency"] = {op: tuple(h) for op, h in m["latency"].items()}
        return m

    def stats(self) -> dict:
        return self._call(b"stats")


def _int(v: Optional[int]) -> Optional[int]:
    """An optional int argument: a bool or a float is refused as the core would (JSON cannot tell them apart)."""
    if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
        raise TypeError(f"expected an int or None, not {type(v).__name__}")
    return v


def _c_methods() -> Dict[str, List[str]]:
    """The names the C ABI dispatches (python/tests/test_core_api.py compares them with this module's API)."""
    return json.loads(_lib.dynatroni_methods())
