"""In-memory transport: a connected pair of pipe ends, for tests and the in-process simulator.

Each direction is an ``Inbox`` (a byte buffer with an event); ``close()`` on either end
closes both directions, so the other end's ``read`` raises ``TransportClosed`` as a socket would. An
optional ``fault`` hook sees every write and returns the bytes to deliver instead (drop,
corrupt, duplicate): the in-process equivalent of pymodbus's null-modem pair. An optional
``capacity`` bounds each direction as a socket's buffers do: a write to an end whose reader
stopped reading waits for room, and fails after its timeout.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import Inbox, TransportClosed, write_timed_out

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

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        if self._tx.error is None and not await self._tx.wait_room(timeout):
            raise write_timed_out(f"writing to {self.description}", timeout)
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


def pipe_pair(name: str = "memory", capacity: int | None = None
              ) -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected transports: what one writes, the other reads (each direction holding
    at most about ``capacity`` unread bytes when given)."""
    a_to_b, b_to_a = Inbox(capacity), Inbox(capacity)
    host = MemoryTransport(rx=b_to_a, tx=a_to_b, description=f"{name} (host end)")
    terminal = MemoryTransport(rx=a_to_b, tx=b_to_a, description=f"{name} (terminal end)")
    host.peer, terminal.peer = terminal, host
    return host, terminal
