"""In-memory transport: a connected pair of pipe ends, for tests and the in-process simulator.

Each direction is a byte buffer with an event; ``close()`` on either end closes both
directions, so the other end's ``read`` raises ``TransportClosed`` as a socket would. An
optional ``fault`` hook sees every write and returns the bytes to deliver instead (drop,
corrupt, duplicate): the in-process equivalent of pymodbus's null-modem pair.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .base import TransportClosed

Fault = Callable[[bytes], bytes]


class _Pipe:
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.ready = asyncio.Event()
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.ready.set()


class MemoryTransport:
    def __init__(self, rx: _Pipe, tx: _Pipe, description: str) -> None:
        self._rx = rx
        self._tx = tx
        self.description = description
        self.fault: Fault | None = None

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        rx = self._rx
        if not rx.buffer and not rx.closed:
            try:
                async with asyncio.timeout(timeout):
                    await rx.ready.wait()
            except TimeoutError:
                return b""
        if rx.buffer:
            data = bytes(rx.buffer[:max_bytes])
            del rx.buffer[:max_bytes]
            if not rx.buffer and not rx.closed:
                rx.ready.clear()
            return data
        raise TransportClosed(f"{self.description}: the other end closed")

    async def write(self, data: bytes) -> None:
        if self._tx.closed:
            raise TransportClosed(f"{self.description}: the other end closed")
        if self.fault is not None:
            data = self.fault(data)
        if data:
            self._tx.buffer += data
            self._tx.ready.set()

    async def close(self) -> None:
        self._rx.close()
        self._tx.close()

    @property
    def closed(self) -> bool:
        return self._tx.closed


def pipe_pair(name: str = "memory") -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected transports: what one writes, the other reads."""
    a_to_b, b_to_a = _Pipe(), _Pipe()
    return (
        MemoryTransport(rx=b_to_a, tx=a_to_b, description=f"{name} (host end)"),
        MemoryTransport(rx=a_to_b, tx=b_to_a, description=f"{name} (terminal end)"),
    )
