"""Dynatroni's C++ core (SigV4 signing, DynamoDB client) for Python."""

from collections.abc import Mapping


def sign_dynamodb_request(endpoint: str, operation: str, body: str, region: str, access_key_id: str, secret_access_key: str, session_token: str | None, amz_date: str) -> dict:
    """
    Signs a DynamoDB JSON-protocol request (POST /, x-amz-json-1.0) with SigV4 at the fixed
    time amz_date ('YYYYMMDDTHHMMSSZ', UTC). Returns {'method', 'url', 'headers', 'body'}.
    session_token None (or '') means long-term keys. Raises ValueError on invalid input.
    The GIL is released while signing.
    """

class StoreError(Exception):
    """DynamoDB could not be reached, or a call's outcome is unknown (str(): the core's Status)."""

    code: str
    message: str
    aws_error: str
    http_status: int
    operation: str | None
    attempts: int | None
    elapsed: float | None
    request_id: str | None

class ConfigError(ValueError):
    pass

def partition_for(namespace: str, scope: str) -> str:
    """
    The DynamoDB partition (cluster_name) for a Patroni namespace and scope.
    """

def parse_config(section: Mapping[str, str]) -> dict:
    """
    Validate a `dynamodb:` section (strings) layered with PATRONI_DYNAMODB_* variables.
    """

class Dcs:
    def __init__(self, section: Mapping[str, str], partition: str, name: str) -> None: ...

    @property
    def table_name(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def endpoint(self) -> str: ...

    @property
    def credential_source(self) -> str: ...

    @property
    def start_problem(self) -> str: ...

    @property
    def credential_refresh_error(self) -> str: ...

    @property
    def credential_refusals(self) -> tuple[int, str]: ...

    @property
    def session(self) -> str: ...

    @property
    def failover_time(self) -> float | None: ...

    def set_timing(self, arg0: float, arg1: float, arg2: float, /) -> None: ...

    def timing(self) -> tuple[float, float, float, float]: ...

    def load_cluster(self, arg: str, /) -> dict: ...

    def acquire_leader(self, arg: str, /) -> bool: ...

    def take_leader(self, arg: str, /) -> bool: ...

    def renew_leader(self, arg0: str, arg1: int | None) -> bool: ...

    def release_leader(self, leader_key: str, version: int | None = None) -> bool: ...

    def lease(self, arg: str, /) -> dict: ...

    def set_value(self, arg0: str, arg1: str, arg2: int | None) -> int | None: ...

    def initialize(self, arg0: str, arg1: str, arg2: bool, /) -> bool: ...

    def delete_key(self, arg0: str, arg1: int | None) -> bool: ...

    def touch_member(self, arg0: str, arg1: str, /) -> bool: ...

    def delete_cluster(self) -> None: ...

    def plan_watch(self, leader_key: str, leader_version: int | None, remaining: float | None = None) -> tuple[str, float, str]: ...

    def poll_leader(self, arg0: str, arg1: int | None) -> bool: ...

    def poll_failover(self, arg: str, /) -> bool: ...

    def metrics(self) -> dict: ...

    @property
    def metrics_listen(self) -> str: ...

    def stats(self) -> dict: ...
