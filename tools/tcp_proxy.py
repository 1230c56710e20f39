#!/usr/bin/env python3
"""A tiny TCP proxy on loopback that can be switched to make its upstream unreachable.

Used by the end-to-end tests to cut a Patroni cluster off from its DynamoDB (moto) without root, tc or
iptables: the cluster's ``endpoint_url`` points at the proxy, the proxy forwards to the real server.

Modes (``TcpProxy.set_mode``, thread-safe, effective immediately):

* ``forward`` - bytes flow both ways (the default).
* ``refuse``  - the listening socket is closed (a new connection gets ECONNREFUSED) and every open
  connection is reset, as when the server's host is down.
* ``hang``    - connections are accepted but nothing is forwarded, and open connections stop
  forwarding, as in a network partition (requests time out on the client side).

Leaving ``hang`` or ``refuse`` resets the connections held meanwhile (their requests are long timed out on
the client side, as after a partition heals) and forwards new ones.

    with TcpProxy("127.0.0.1", 8000) as proxy:       # upstream host, port
        url = proxy.url                               # http://127.0.0.1:<listen port>
        proxy.set_mode("hang"); ...; proxy.set_mode("forward")

    python -m tools.tcp_proxy --upstream 127.0.0.1:8000 [--listen-port P]   # forward until Ctrl-C
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import threading
from typing import Optional, Set

MODES = ("forward", "refuse", "hang")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close a connection with a TCP RST (SO_LINGER 0) rather than a FIN."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    """Forwards ``listen_host:listen_port`` to ``upstream_host:upstream_port`` from a background thread."""

    def __init__(self, upstream_host: str, upstream_port: int, listen_host: str = "127.0.0.1",
                 listen_port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listen_host = listen_host
        self.port = listen_port
        self.mode = "forward"
        self.connections_total = 0
        self._loop = asyncio.new_event_loop()
        self._server: Optional[asyncio.base_events.Server] = None
        self._conns: Set[asyncio.StreamWriter] = set()
        self._held: Set[asyncio.StreamWriter] = set()  # connections accepted or frozen while not forwarding
        self._flowing = asyncio.Event()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._started = False

    # ---- public API (any thread) -------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.listen_host}:{self.port}"

    def start(self) -> "TcpProxy":
        self._thread.start()
        self._started = True
        self._call(self._listen())
        return self

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"tcp_proxy: mode must be one of {', '.join(MODES)}; got {mode!r}")
        self._call(self._set_mode(mode))

    def close(self) -> None:
        if not self._started:
            return
        self._started = False
        with contextlib.suppress(Exception):
            self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            self._loop.close()

    def __enter__(self) -> "TcpProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- event loop side ---------------------------------------------------------------------
    def _call(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _listen(self) -> None:
        self._flowing.set() if self.mode == "forward" else self._flowing.clear()
        self._server = await asyncio.start_server(self._handle, self.listen_host, self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _set_mode(self, mode: str) -> None:
        old, self.mode = self.mode, mode
        if mode == old:
            return
        if mode == "forward":
            for w in list(self._held):  # stale requests from the outage: reset, as after a partition
                _reset(w)
            self._held.clear()
            self._flowing.set()
            if self._server is None:
                await self._listen()
        elif mode == "hang":
            self._flowing.clear()
            self._held.update(self._conns)
            if self._server is None:
                await self._listen()
        else:  # refuse
            self._flowing.clear()
            if self._server is not None:
                self._server.close()
                self._server = None
            for w in list(self._conns):
                _reset(w)
            self._held.clear()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._conns):
            _reset(w)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_total += 1
        self._conns.add(writer)
        up_writer = None
        try:
            if self.mode == "refuse":
                _reset(writer)
                return
            if self.mode == "hang":
                self._held.add(writer)
                await self._flowing.wait()
                return  # the held connection was reset when forwarding resumed
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                _reset(writer)
                return
            await asyncio.gather(self._pump(reader, up_writer, writer), self._pump(up_reader, writer, writer),
                                 return_exceptions=True)
        finally:
            self._conns.discard(writer)
            self._held.discard(writer)
            if up_writer is not None:
                up_writer.transport.abort()
            writer.transport.abort()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    client: asyncio.StreamWriter) -> None:
        while True:
            data = await src.read(65536)
            if not data:
                with contextlib.suppress(OSError):
                    if dst.can_write_eof():
                        dst.write_eof()
                return
            if not self._flowing.is_set():  # frozen by `hang`: hold the bytes, never deliver them
                await self._flowing.wait()
                if client not in self._conns or client.transport.is_closing():
                    return
            dst.write(data)
            await dst.drain()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="HOST:PORT to forward to")
    ap.add_argument("--listen-port", type=int, default=0)
    args = ap.parse_args()
    host, _, port = args.upstream.rpartition(":")
    with TcpProxy(host or "127.0.0.1", int(port), listen_port=args.listen_port) as proxy:
        print(f"tcp_proxy: {proxy.url} -> {args.upstream} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
