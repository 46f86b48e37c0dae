"""Serial transport: the link over a serial port (pyserial): a USB CDC-ACM terminal
(/dev/ttyACM0, COM3), an RS-232 cable, or a pty in the tests.

pyserial blocks, so reads run in a reader thread and writes in worker threads
(``threaded.py``). A port that goes away (the cable is pulled) ends the reader with an error
and the link goes down at once; the terminal client opens the port again every second or
so until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from .base import Translation, TransportClosed, TransportError, map_errors, write_timed_out
from .threaded import ThreadedTransport

DEFAULT_BAUD = 115200
READ_POLL = 0.1  # seconds the reader thread waits per read; bounds close()
WRITE_TIMEOUT = 2.0


def parse_serial_spec(spec: str) -> tuple[str, int]:
    """``serial:PORT[?baud=N]`` -> (port, baud); ValueError with a readable message."""
    if not spec.startswith("serial:"):
        raise ValueError(f"{spec!r} is not serial:PORT (for example serial:/dev/ttyACM0)")
    port, _, query = spec[len("serial:") :].partition("?")
    if not port:
        raise ValueError(f"{spec!r} names no port (serial:/dev/ttyACM0, serial:COM3)")
    baud = DEFAULT_BAUD
    try:
        options = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ValueError(f"{spec!r}: options are ?baud=N") from None
    for key, value in options:
        if key != "baud":
            raise ValueError(f"{spec!r}: unknown option {key!r}; the option is baud")
        if not value.isascii() or not value.isdigit() or not 50 <= int(value) <= 4_000_000:
            raise ValueError(f"{spec!r}: baud is a number of bits per second (115200)")
        baud = int(value)
    return port, baud


def _advice(code: int | None) -> str:
    if code == errno.ENOENT:
        return " ('posbridge devices' lists the serial ports there are)"
    if code in (errno.EACCES, errno.EPERM):
        if sys.platform.startswith("linux"):
            return (" On Linux, add your user to the dialout group ('sudo usermod -aG dialout "
                    "$USER', then log in again).")
        return " Another program may have the port open."
    if code == errno.EBUSY:
        return " Another program has the port open."
    return ""


def _translate_open(what: str, exc: BaseException) -> TransportError:
    code = getattr(exc, "errno", None)
    error = TransportClosed if code == errno.ENOENT else TransportError
    return error(f"{what}: {exc}.{_advice(code)}")


def _errors(what: str, *, opening: bool = False) -> contextlib.AbstractContextManager[None]:
    import serial

    mapping: dict[type[BaseException], Translation] = {
        # Once open, any failure means the port is gone (unplugged, closed by the peer).
        serial.SerialException: _translate_open if opening else TransportClosed,
        OSError: _translate_open if opening else TransportClosed,
    }
    return map_errors(mapping, what)


class SerialTransport(ThreadedTransport):
    def __init__(self, port: Any, name: str) -> None:
        self.description = name
        self._port = port
        super().__init__()

    def read_blocking(self) -> bytes:
        port = self._port
        with _errors(f"reading from {self.description}"):
            data: bytes = port.read(max(1, port.in_waiting))
        return data

    def write_blocking(self, data: bytes, deadline: float) -> None:
        import serial

        what = f"writing to {self.description}"
        port = self._port
        timeout = max(0.001, deadline - time.monotonic())
        with _errors(what):
            # Setting it reconfigures the port (tcsetattr): only when it changes by more
            # than a rounding, which for the link's fixed write timeout is once.
            if port.write_timeout is None or abs(port.write_timeout - timeout) > 0.05:
                port.write_timeout = timeout
            try:
                # No flush(): it is tcdrain(), which has no timeout and would hold this
                # thread (and close()) for ever on a terminal that stopped reading; write()
                # has queued the bytes with the kernel, which sends them.
                port.write(data)
            except serial.SerialTimeoutException:
                raise write_timed_out(what, round(timeout, 1)) from None

    def close_blocking(self) -> None:
        with contextlib.suppress(Exception):
            self._port.close()


def open_port(port: str, baud: int) -> Any:
    import serial

    with _errors(f"opening serial:{port}", opening=True):
        return serial.Serial(port, baud, timeout=READ_POLL, write_timeout=WRITE_TIMEOUT,
                             exclusive=True if sys.platform != "win32" else None)


def serial_connector(port: str, baud: int = DEFAULT_BAUD
                     ) -> Callable[[], Awaitable[SerialTransport]]:
    """A Connector that opens the port each time it is called."""

    async def connect() -> SerialTransport:
        handle = await asyncio.to_thread(open_port, port, baud)
        transport = SerialTransport(handle, f"serial:{port}")
        transport.start()
        return transport

    return connect
