"""Serve the simulated terminal over a file descriptor: the far end of a pty (or any tty),
so the bridge's serial transport is tested against a real tty with pyserial.

A pty master reports EIO while no one has the other end open; the terminal then waits and
serves again, as a terminal on a serial cable outlives the PC closing its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from ..transports import TransportClosed
from ..transports.base import write_timed_out
from .server import TerminalServer

_IDLE = 0.05  # seconds between looks at a line nobody has open


class FdTransport:
    """The Transport interface over a non-blocking file descriptor (POSIX only)."""

    def __init__(self, fd: int, description: str = "pty") -> None:
        self.fd = fd
        self.description = description
        self._closed = False
        os.set_blocking(fd, False)

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise TransportClosed(f"{self.description}: closed")
            try:
                data = os.read(self.fd, max_bytes)
            except BlockingIOError:
                data = None
            except OSError as exc:
                raise TransportClosed(f"{self.description}: {exc.strerror}") from None
            if data == b"":
                raise TransportClosed(f"{self.description}: the other end closed")
            if data:
                return data
            ready = loop.create_future()
            loop.add_reader(self.fd, ready.set_result, None)
            try:
                async with asyncio.timeout(timeout):
                    await ready
            except TimeoutError:
                return b""
            finally:
                loop.remove_reader(self.fd)

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        view = memoryview(data)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while view:
            if self._closed:
                raise TransportClosed(f"{self.description}: closed")
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                if deadline is not None and loop.time() >= deadline:
                    raise write_timed_out(f"writing to {self.description}", timeout) from None
                await asyncio.sleep(0.001)
            except OSError as exc:
                raise TransportClosed(f"{self.description}: {exc.strerror}") from None

    async def close(self) -> None:
        self._closed = True  # the fd belongs to whoever gave it; they close it


async def serve_fd(server: TerminalServer, fd: int, description: str = "pty") -> None:
    """Serve the terminal over ``fd`` until cancelled, again after each session ends."""
    while True:
        await server.serve(FdTransport(fd, description))
        with contextlib.suppress(OSError):
            os.read(fd, 65536)  # drop what an old session left
        await asyncio.sleep(_IDLE)


def open_pty() -> tuple[int, str]:
    """A new pty: (the master fd the simulator serves, the path a serial port opens)."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    # Keep raw bytes: no echo, no line discipline, on the side the simulator reads.
    import termios
    import tty

    tty.setraw(slave, termios.TCSANOW)
    os.close(slave)
    return master, path


__all__ = ["FdTransport", "open_pty", "serve_fd"]
