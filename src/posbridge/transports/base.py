"""The transport interface (after httpcore's network streams).

A transport is a connected byte stream to one terminal. It has four operations and knows
nothing of frames or messages:

* ``read(max_bytes, timeout)`` returns the bytes available (at least one), or ``b""`` when
  ``timeout`` passes with nothing to read; it raises ``TransportClosed`` when the peer is
  gone for good (EOF, unplugged device);
* ``write(data, timeout)`` sends all of ``data`` or raises; when the peer takes nothing
  for ``timeout`` seconds (a terminal that stopped reading, a full buffer) it raises
  ``TransportError`` rather than wait for ever: the stream is then broken (part of a frame
  may have gone) and the caller closes it;
* ``close()`` is idempotent and never raises;
* opening is a ``Connector``: an async callable that returns a new transport or raises
  ``TransportError`` with a message a person can act on.

Library errors (OSError, usb.core.USBError, serial.SerialException) are translated to
``TransportError`` at this boundary by ``map_errors`` so nothing above it handles them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol


class TransportError(Exception):
    """The link to the terminal failed; the message says how."""


class TransportClosed(TransportError):
    """The peer closed the link or went away."""


class Transport(Protocol):
    async def read(self, max_bytes: int, timeout: float | None) -> bytes: ...

    async def write(self, data: bytes, timeout: float | None = None) -> None: ...

    async def close(self) -> None: ...

    @property
    def description(self) -> str: ...


Connector = Callable[[], Awaitable[Transport]]


def write_timed_out(what: str, timeout: float | None) -> TransportError:
    """The error of a write that the peer did not take in time."""
    return TransportError(f"{what}: the terminal takes no data (nothing written for "
                          f"{timeout:g} s)")


class Inbox:
    """The read side of a transport whose bytes are handed to it (by the other end of an
    in-memory pipe, by a reader thread) rather than read from an asyncio stream: a buffer,
    an event, and the error that ends it. ``read`` keeps the Transport contract: the bytes
    there are (at most ``max_bytes``), ``b""`` after ``timeout`` with none, and once ended
    and drained, the ending error.

    ``capacity`` (bytes, None for no limit) bounds the buffer for a writer that waits with
    ``wait_room``: the in-memory pipe uses it to behave as a socket whose reader stopped."""

    def __init__(self, capacity: int | None = None) -> None:
        self._buffer = bytearray()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self.capacity = capacity
        self.error: TransportError | None = None

    @property
    def full(self) -> bool:
        return self.capacity is not None and len(self._buffer) >= self.capacity

    async def wait_room(self, timeout: float | None) -> bool:
        """Wait until the buffer is below capacity (or ended); False after ``timeout``."""
        while self.full and self.error is None:
            self._room.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._room.wait()
            except TimeoutError:
                return False
        return True

    def feed(self, data: bytes) -> None:
        self._buffer += data
        self._ready.set()

    def end(self, error: TransportError) -> None:
        """No more bytes will come; the first error given is the one ``read`` raises."""
        if self.error is None:
            self.error = error
        self._ready.set()
        self._room.set()

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        if not self._buffer and self.error is None:
            try:
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            except TimeoutError:
                return b""
        if self._buffer:
            data = bytes(self._buffer[:max_bytes])
            del self._buffer[:max_bytes]
            if not self._buffer and self.error is None:
                self._ready.clear()
            if not self.full:
                self._room.set()
            return data
        assert self.error is not None
        raise self.error


#: How one library exception becomes a transport error: a TransportError class (the message
#: is "what: exc"), or a function of (what, exc) for libraries whose errors differ by errno
#: rather than by class (pyusb, pyserial).
Translation = type[TransportError] | Callable[[str, BaseException], TransportError]


@contextlib.contextmanager
def map_errors(mapping: dict[type[BaseException], Translation], what: str) -> Iterator[None]:
    """Translate library exceptions to transport errors, naming what was being done."""
    try:
        yield
    except TransportError:
        raise
    except tuple(mapping) as exc:
        for from_type, to in mapping.items():
            if isinstance(exc, from_type):
                if isinstance(to, type):
                    raise to(f"{what}: {exc}") from exc
                raise to(what, exc) from exc
        raise  # pragma: no cover - the tuple above and the loop agree
