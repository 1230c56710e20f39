#!/usr/bin/env python3
"""A loopback TCP proxy that adds a fixed delay to every chunk in each direction, so a request/response round
trip takes `rtt_ms` longer, as a real DynamoDB endpoint a few milliseconds away would (tc netem is not
available here). Byte order is kept; the delay does not stack up for back-to-back chunks.

    with DelayProxy("127.0.0.1", 8000, rtt_ms=4) as p:   # nodes use p.url instead of the server's
        ...
    python -m bench.delay_proxy --upstream 127.0.0.1:8000 --rtt-ms 4
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time


class DelayProxy:
    def __init__(self, upstream_host: str, upstream_port: int, rtt_ms: float, listen_port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay = rtt_ms / 2000.0  # seconds, each way
        self.rtt_ms = rtt_ms
        self.port = listen_port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="delay-proxy", daemon=True)
        self._server = None
        self._writers: set = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "DelayProxy":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> "DelayProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                                 return_exceptions=True)
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if data is None:
                    with contextlib.suppress(OSError):
                        dst.write_eof()
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                dst.write(data)
                await dst.drain()
        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await src.read(65536)
                await queue.put((time.monotonic() + self.delay, data or None))
                if not data:
                    break
            await sender
        finally:
            sender.cancel()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="HOST:PORT")
    ap.add_argument("--rtt-ms", type=float, default=4.0)
    ap.add_argument("--listen-port", type=int, default=0)
    args = ap.parse_args()
    host, _, port = args.upstream.rpartition(":")
    with DelayProxy(host or "127.0.0.1", int(port), args.rtt_ms, args.listen_port) as p:
        print(f"delay_proxy: {p.url} -> {args.upstream} (+{args.rtt_ms:g} ms per round trip; Ctrl-C stops)",
              flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
