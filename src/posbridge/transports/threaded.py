"""A transport over a blocking library (pyusb, pyserial), kept off the event loop.

A dedicated reader thread calls the library's blocking read with a short timeout and hands
what arrives to the loop; writes and closing run in a worker thread (``asyncio.to_thread``),
so the event loop that serves the API never waits on a device. A write has a deadline: the
worker gives the library call what is left of it (pyserial's write timeout, pyusb's
transfer timeout), and the caller stops waiting when it passes. The first read failure is
kept and raised by every later ``read`` and ``write``: a vanished device puts the link down
at once, without waiting for a heartbeat to be missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .base import Inbox, TransportClosed, TransportError, write_timed_out

log = logging.getLogger("posbridge.transports")

CLOSE_WAIT = 5.0  # seconds; how long close() waits for the reader thread's last read
DEFAULT_WRITE_TIMEOUT = 2.0  # seconds; a write given no timeout


class ThreadedTransport:
    """Subclasses give the three blocking operations; they raise TransportError only."""

    description = "device"

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._inbox = Inbox()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._reader, daemon=True,
                                        name=f"posbridge reader {self.description}")

    # -- the blocking operations --------------------------------------------------------

    def read_blocking(self) -> bytes:
        """Wait a short while for bytes; b"" when none came."""
        raise NotImplementedError

    def write_blocking(self, data: bytes, deadline: float) -> None:
        """Write all of ``data`` before ``deadline`` (time.monotonic()) or raise
        TransportError (``write_timed_out`` when the device took too long)."""
        raise NotImplementedError

    def close_blocking(self) -> None:
        """Release the device; never raises."""
        raise NotImplementedError

    # -- Transport ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        return await self._inbox.read(max_bytes, timeout)

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        if self._inbox.error is not None:
            raise self._inbox.error
        if timeout is None:
            timeout = DEFAULT_WRITE_TIMEOUT
        deadline = time.monotonic() + timeout
        try:
            # The worker keeps to the deadline itself; this bounds the wait should a library
            # call overrun it (the worker then ends on its own, and the link is closed).
            async with asyncio.timeout(timeout + 0.5):
                await asyncio.to_thread(self._write_locked, data, deadline, timeout)
        except TimeoutError:
            raise write_timed_out(f"writing to {self.description}", timeout) from None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._inbox.end(TransportClosed(f"{self.description}: closed"))
        await asyncio.to_thread(self._close_locked)

    # -- threads --------------------------------------------------------------------------

    def _write_locked(self, data: bytes, deadline: float, timeout: float) -> None:
        # An earlier write still running (a device taking nothing) counts against this one.
        if not self._write_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise write_timed_out(f"writing to {self.description}", timeout)
        try:
            self.write_blocking(data, deadline)
        finally:
            self._write_lock.release()

    def _close_locked(self) -> None:
        if self._thread.is_alive():
            self._thread.join(CLOSE_WAIT)
            if self._thread.is_alive():
                # A library call that ignores its timeout: leak the device rather than
                # free what the thread still uses, and rather than hang the bridge.
                log.warning("%s: reader thread still busy after %g s; not releasing the "
                            "device", self.description, CLOSE_WAIT)
                return
        with self._write_lock:
            self.close_blocking()

    def _reader(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.read_blocking()
            except TransportError as exc:
                self._post(self._inbox.end, exc)
                return
            except Exception as exc:  # never let the thread die silently
                log.exception("%s: reader failed", self.description)
                self._post(self._inbox.end, TransportError(f"{self.description}: {exc!r}"))
                return
            if data:
                self._post(self._inbox.feed, data)

    def _post(self, callback: Callable[[Any], None], arg: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(callback, arg)

