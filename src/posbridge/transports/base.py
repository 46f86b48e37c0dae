"""The transport interface (after httpcore's network streams).

A transport is a connected byte stream to one terminal. It has four operations and knows
nothing of frames or messages:

* ``read(max_bytes, timeout)`` returns the bytes available (at least one), or ``b""`` when
  ``timeout`` passes with nothing to read; it raises ``TransportClosed`` when the peer is
  gone for good (EOF, unplugged device);
* ``write(data)`` sends all of ``data`` or raises;
* ``close()`` is idempotent and never raises;
* opening is a ``Connector``: an async callable that returns a new transport or raises
  ``TransportError`` with a message a person can act on.

Library errors (OSError, usb.core.USBError, serial.SerialException) are translated to
``TransportError`` at this boundary by ``map_errors`` so nothing above it handles them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol


class TransportError(Exception):
    """The link to the terminal failed; the message says how."""


class TransportClosed(TransportError):
    """The peer closed the link or went away."""


class Transport(Protocol):
    async def read(self, max_bytes: int, timeout: float | None) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...

    @property
    def description(self) -> str: ...


Connector = Callable[[], Awaitable[Transport]]


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
