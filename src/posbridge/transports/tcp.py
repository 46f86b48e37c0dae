"""TCP transport: the link over a socket (the simulator, or a terminal on the network)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

from .base import Translation, TransportClosed, TransportError, map_errors, write_timed_out

CLOSE_TIMEOUT = 1.0  # seconds a close waits for buffered bytes to go before it resets

_ERRORS: dict[type[BaseException], Translation] = {
    ConnectionError: TransportClosed,
    OSError: TransportError,
}


class TcpTransport:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        peer = writer.get_extra_info("peername")
        self.description = f"tcp://{peer[0]}:{peer[1]}" if peer else "tcp"
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Frames are small and latency matters more than throughput.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        with map_errors(_ERRORS, f"reading from {self.description}"):
            try:
                async with asyncio.timeout(timeout):
                    data = await self._reader.read(max_bytes)
            except TimeoutError:
                return b""
        if not data:
            raise TransportClosed(f"{self.description} closed the connection")
        return data

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        what = f"writing to {self.description}"
        with map_errors(_ERRORS, what):
            self._writer.write(data)
            # drain() waits for ever when the peer stops reading (its receive window and our
            # send buffer fill): the deadline bounds it.
            try:
                async with asyncio.timeout(timeout):
                    await self._writer.drain()
            except TimeoutError:
                raise write_timed_out(what, timeout) from None

    async def close(self) -> None:
        if self._writer.is_closing():
            return
        self._writer.close()
        with contextlib.suppress(OSError):
            try:
                # A graceful close first sends what is still buffered; to a peer that stopped
                # reading that never ends, so the connection is then reset instead.
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self._writer.wait_closed()
            except TimeoutError:
                self._writer.transport.abort()


def parse_tcp_url(url: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` -> (host, port); ValueError with a readable message otherwise."""
    if not url.startswith("tcp://"):
        raise ValueError(f"{url!r} is not a tcp://HOST:PORT address")
    rest = url[len("tcp://") :].rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"{url!r} is not a tcp://HOST:PORT address (for example tcp://127.0.0.1:9100)"
        )
    return host.strip("[]"), int(port)


def tcp_connector(
    host: str, port: int, connect_timeout: float = 2.0
) -> Callable[[], Awaitable[TcpTransport]]:
    """A Connector that opens a new TCP connection each time it is called."""

    async def connect() -> TcpTransport:
        with map_errors(_ERRORS, f"connecting to tcp://{host}:{port}"):
            try:
                async with asyncio.timeout(connect_timeout):
                    reader, writer = await asyncio.open_connection(host, port)
            except TimeoutError:
                raise TransportError(
                    f"connecting to tcp://{host}:{port}: no answer within {connect_timeout:g} s"
                ) from None
        return TcpTransport(reader, writer)

    return connect
