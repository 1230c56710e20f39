#!/usr/bin/env python3
"""moto in server mode, with every request applied under one lock.

moto's in-memory DynamoDB backend does not make a conditional write atomic with respect to
concurrent requests (two threads can both pass `attribute_not_exists` on the same item; seen here
with plain boto3 as well). Real DynamoDB serialises writes per item, and the lease tests depend on
that, so we serve moto's own WSGI application (as `moto_server` does) behind a global lock; only request
handling is serialised, the server stays threaded.

Werkzeug's development server answers every request with `Connection: close`, so each client request paid a
TCP connect and close that DynamoDB (and dynalite) do not charge. KeepAliveHandler keeps HTTP/1.1 connections
open, as DynamoDB does: it reads each request body completely before handing it to the application, so the next
request on the connection is never consumed by werkzeug's post-response drain.

IAM: with IAM enforcement on (``INITIAL_NO_AUTH_ACTION_COUNT``, or ``POST /moto-api/reset-auth``), moto checks each
DynamoDB action against the caller's IAM policies but matches the policies' ``Resource`` against ``*``, so a policy
naming a table (docs/iam.md's) would never allow anything. Here a DynamoDB request's resource is its table's ARN
(``arn:aws:dynamodb:<region>:<account>:table/<name>``), as in AWS. moto still ignores a statement's ``Condition``
(``dynamodb:LeadingKeys`` included).

    python -m tools.moto_server -H 127.0.0.1 -p 5000
"""
import argparse
import io
import os
import signal
import sys
import threading

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, run_simple


class KeepAliveHandler(WSGIRequestHandler):
    """Werkzeug's request handler with HTTP/1.1 keep-alive (a fixed-length request body is read up front)."""

    protocol_version = "HTTP/1.1"
    # werkzeug writes the head and the body separately: without TCP_NODELAY the body of a kept-alive
    # connection waits for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length")
        try:
            size = int(length) if length is not None else 0
        except ValueError:
            size = -1
        if self.close_connection or self.headers.get("Transfer-Encoding") or size < 0:
            self.close_connection = True  # werkzeug's own behaviour: answer, then close
            return super().run_wsgi()
        # http.server has already answered "Expect: 100-continue"; werkzeug would answer it twice.
        del self.headers["Expect"]
        body = self.rfile.read(size) if size else b""
        if len(body) != size:  # the client went away mid-body
            self.close_connection = True
        socket_rfile = self.rfile
        # The application and werkzeug's drain after the response see only this request's body.
        self.rfile = io.BytesIO(body)
        try:
            return super().run_wsgi()
        finally:
            self.rfile = socket_rfile

    def send_header(self, keyword: str, value: str) -> None:
        # werkzeug always adds "Connection: close"; drop it unless the connection must close anyway.
        if keyword.lower() == "connection" and value.lower() == "close" and not self.close_connection:
            return
        super().send_header(keyword, value)


def _dynamodb_table_arn(handler) -> str:
    """The IAM resource of a DynamoDB request (moto's DynamoHandler has parsed its JSON body into ``body``)."""
    body = handler.body if isinstance(handler.body, dict) else {}
    table = body.get("TableName")
    if not table and isinstance(body.get("RequestItems"), dict) and body["RequestItems"]:
        table = next(iter(body["RequestItems"]))  # BatchWriteItem / BatchGetItem
    if not table and isinstance(body.get("TransactItems"), list) and body["TransactItems"]:
        table = next(iter(body["TransactItems"][0].values()), {}).get("TableName")
    if not table:
        return "*"  # ListTables and the like
    return f"arn:aws:dynamodb:{handler.region}:{handler.current_account}:table/{table}"


def main() -> None:
    from moto.dynamodb.responses import DynamoHandler
    DynamoHandler._determine_resource = _dynamodb_table_arn  # see the module docstring (IAM)

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-H", "--host", default="127.0.0.1")
    ap.add_argument("-p", "--port", type=int, default=5000)
    args = ap.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(args.host, args.port, serialised, threaded=True, request_handler=KeepAliveHandler)


if __name__ == "__main__":
    main()
