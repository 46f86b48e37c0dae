"""Ctrl+C and a service manager's stop, on every platform.

``loop.add_signal_handler`` exists only on Unix event loops: Windows' loops (Proactor and
Selector alike) raise NotImplementedError, and so does any loop outside the main thread
(RuntimeError). There the handler is installed with ``signal.signal`` instead, and it only
schedules the stop on the loop with ``call_soon_threadsafe``: a Python signal handler runs
between bytecodes of the main thread and must not touch the loop's state itself.

``posbridge serve`` needs none of this: uvicorn installs its own handlers with
``signal.signal`` on every platform (SIGINT, SIGTERM and, on Windows, SIGBREAK: Ctrl+Break,
and what a service wrapper such as WinSW may send). ``posbridge simulator`` uses this.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType


def stop_signals() -> tuple[int, ...]:
    """SIGINT (Ctrl+C), SIGTERM (kill, systemd, launchd) and SIGBREAK where it exists."""
    extra = (signal.SIGBREAK,) if hasattr(signal, "SIGBREAK") else ()
    return (signal.SIGINT, signal.SIGTERM, *extra)


@contextlib.contextmanager
def stop_on_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> Iterator[
        list[str]]:
    """Call ``stop`` on ``loop`` at Ctrl+C or a stop signal while the block runs; then put
    the previous handlers back. Yields how each signal was installed (for the log and the
    tests): ``"loop"`` or ``"signal.signal"``."""
    installed: list[str] = []
    via_loop: list[int] = []
    previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(stop)

    for sig in stop_signals():
        try:
            loop.add_signal_handler(sig, stop)
            via_loop.append(sig)
            installed.append("loop")
        # Windows' loops (NotImplementedError); not the main thread (ValueError, RuntimeError)
        except (NotImplementedError, RuntimeError, ValueError):
            try:
                previous[sig] = signal.signal(sig, handler)
                installed.append("signal.signal")
            except ValueError:  # not the main thread either: the caller stops it
                installed.append("none")
    try:
        yield installed
    finally:
        for sig in via_loop:
            loop.remove_signal_handler(sig)
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
