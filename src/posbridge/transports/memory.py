"""In-memory transport: a connected pair of pipe ends, for tests and the in-process simulator.

Each direction is an ``Inbox`` (a byte buffer with an event); ``close()`` on either end
closes both directions, so the other end's ``read`` raises ``TransportClosed`` as a socket would. An
optional ``fault`` hook sees every write and returns the bytes to deliver instead (drop,
corrupt, duplicate): the in-process equivalent of pymodbus's null-modem pair.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import Inbox, TransportClosed

Fault = Callable[[bytes], bytes]


class MemoryTransport:
    def __init__(self, rx: Inbox, tx: Inbox, description: str) -> None:
        self._rx = rx
        self._tx = tx
        self.description = description
        self.peer: MemoryTransport | None = None
        self.fault: Fault | None = None

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        return await self._rx.read(max_bytes, timeout)

    async def write(self, data: bytes) -> None:
        if self._tx.error is not None:
            raise TransportClosed(f"{self.description}: the other end closed")
        if self.fault is not None:
            data = self.fault(data)
        if data:
            self._tx.feed(data)

    async def close(self) -> None:
        # Each end, reading, learns that the other end closed (this one included, as a
        # socket closed under its own reader).
        self._rx.end(TransportClosed(f"{self.description}: the other end closed"))
        assert self.peer is not None
        self._tx.end(TransportClosed(f"{self.peer.description}: the other end closed"))

    @property
    def closed(self) -> bool:
        return self._tx.error is not None


def pipe_pair(name: str = "memory") -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected transports: what one writes, the other reads."""
    a_to_b, b_to_a = Inbox(), Inbox()
    host = MemoryTransport(rx=b_to_a, tx=a_to_b, description=f"{name} (host end)")
    terminal = MemoryTransport(rx=a_to_b, tx=b_to_a, description=f"{name} (terminal end)")
    host.peer, terminal.peer = terminal, host
    return host, terminal
