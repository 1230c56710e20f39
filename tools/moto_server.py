#!/usr/bin/env python3
"""moto in server mode, with every request applied under one lock.

moto's in-memory DynamoDB backend does not make a conditional write atomic with respect to
concurrent requests (two threads can both pass `attribute_not_exists` on the same item; seen here
with plain boto3 as well). Real DynamoDB serialises writes per item, and the lease tests depend on
that, so we serve moto's own WSGI application (as `moto_server` does) behind a global lock. Keep-alive
and the threaded server stay as they are; only request handling is serialised.

    python tools/moto_server.py -H 127.0.0.1 -p 5000
"""
import argparse
import os
import signal
import sys
import threading

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
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
    run_simple(args.host, args.port, serialised, threaded=True)


if __name__ == "__main__":
    main()
