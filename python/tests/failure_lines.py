"""The plugin's log line for each DynamoDB failure the docs list: one shared list of expected shapes.

python/tests/test_plugin_failure_log.py produces each failure (fault proxy, a wrong table, a DNS name that does not
resolve, a credential endpoint that says no) and asserts the line matches; python/tests/test_docs.py asserts that
docs/operations.md's "What the log says" table has one row per entry whose quoted line matches the same shape.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Optional

# A DynamoDB request id as the service (and tools/fault_proxy.py) sends it; moto sends 52 characters too.
REQUEST_ID = r'[A-Za-z0-9-]{20,}'
CLOCK = r'\d\d:\d\d:\d\d UTC'


@dataclasses.dataclass(frozen=True)
class Failure:
    name: str               # the row's first cell in docs/operations.md
    level: str              # WARNING or ERROR
    what: str               # what failed, as the line says it
    operation: str          # DynamoDB operation
    key: str                # regex: the item key
    error: str              # DynamoDB's error code, or the core's status code when DynamoDB never answered
    http: Optional[int]     # HTTP status, None when there was no answer
    attempts: str           # regex for the attempt count
    request_id: str         # regex: REQUEST_ID or 'none'
    message: str            # regex the message must contain
    next_step: str          # regex: what happens next

    def pattern(self) -> re.Pattern:
        http = rf' \(HTTP {self.http}\)' if self.http else ''
        return re.compile(
            rf'{self.level}: dynamodb: {re.escape(self.what)} failed: {self.operation} \'{self.key}\' in '
            rf'\'[^\']+\': {self.error}{http}: .*{self.message}.*; (?:{self.attempts}) attempts? in \d+\.\d\d s, '
            rf'request id (?:{self.request_id}); {self.next_step}$')

    def match(self, line: str) -> Optional[re.Match]:
        return self.pattern().search(line)


FAILURES = [
    Failure('throttling', 'ERROR', 'lease renewal', 'UpdateItem', 'leader', 'ThrottlingException', 400, r'[2-8]',
            REQUEST_ID, r'Rate of requests exceeds the allowed throughput',
            rf'lease not renewed; Patroni demotes this primary now; still holding until {CLOCK}'),
    Failure('5xx', 'WARNING', 'cluster load', 'Query', r'\(all keys\)', 'InternalServerError', 500, r'[2-8]',
            REQUEST_ID, r'Internal server error', r'cluster not loaded; Patroni retries in its next cycle'),
    Failure('timeout', 'WARNING', 'cluster load', 'Query', r'\(all keys\)', 'Unavailable', None, r'[1-8]', 'none',
            r'[Tt]imed? ?out', r'cluster not loaded; Patroni retries in its next cycle'),
    Failure('access denied', 'WARNING', 'member update', 'UpdateItem', 'members/[^\']+', 'AccessDeniedException',
            400, '1', REQUEST_ID, r'is not authorized to perform: dynamodb:UpdateItem',
            r'member item not refreshed; Patroni retries in its next cycle'),
    Failure('expired token', 'WARNING', 'cluster load', 'Query', r'\(all keys\)', 'ExpiredTokenException', 400, '1',
            REQUEST_ID, r'The security token included in the request is expired',
            r'cluster not loaded; Patroni retries in its next cycle'),
    Failure('wrong table', 'WARNING', 'cluster load', 'Query', r'\(all keys\)', 'ResourceNotFoundException', 400,
            '1', REQUEST_ID, r'[Rr]equested resource not found|[Nn]on-existent table|not found',
            r'cluster not loaded; Patroni retries in its next cycle'),
    Failure('DNS failure', 'WARNING', 'cluster load', 'Query', r'\(all keys\)', 'Unavailable', None, r'[2-8]', 'none',
            r'[Rr]esolve', r'cluster not loaded; Patroni retries in its next cycle'),
    Failure('credentials refused', 'WARNING', 'cluster load', 'Query', r'\(all keys\)', 'PermissionDenied', None, '1',
            'none', r'cannot get AWS credentials from provider "default-chain": container: .*HTTP 403',
            r'cluster not loaded; Patroni retries in its next cycle'),
]

# A background refresh of temporary credentials that failed (the cache keeps serving the old ones meanwhile).
CREDENTIAL_REFRESH = re.compile(
    r'WARNING: dynamodb: credential refresh failed: provider "default-chain": [A-Za-z]+: container: .+; '
    r'the cached credentials are used until they expire$')
# The per-minute summary of further failures of one kind.
SUMMARY = re.compile(r'(WARNING|ERROR): dynamodb: \d+ more failures? of .+: [A-Za-z]+ in the last \d+ s; latest: '
                     r'.+ failed: ')

BY_NAME = {f.name: f for f in FAILURES}
