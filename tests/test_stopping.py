"""posbridge.stopping: a stop signal reaches the loop whether or not the loop can take signal
handlers itself (Unix loops can; Windows' loops cannot), and the previous handlers come back."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from posbridge.stopping import stop_on_signals, stop_signals


class NoSignalsLoop(asyncio.SelectorEventLoop):
    """Like Windows' loops: no add_signal_handler."""

    def add_signal_handler(self, sig: int, callback: object, *args: object) -> None:
        raise NotImplementedError

    def remove_signal_handler(self, sig: int) -> bool:
        raise NotImplementedError


@pytest.mark.parametrize(("factory", "how"), [
    (asyncio.SelectorEventLoop, "loop"), (NoSignalsLoop, "signal.signal")])
def test_a_stop_signal_stops_and_the_old_handlers_return(factory: type, how: str) -> None:
    before = {sig: signal.getsignal(sig) for sig in stop_signals()}

    async def main() -> list[str]:
        stopped = asyncio.Event()
        with stop_on_signals(asyncio.get_running_loop(), stopped.set) as installed:
            os.kill(os.getpid(), signal.SIGTERM)
            async with asyncio.timeout(5):
                await stopped.wait()
        return installed

    loop = factory()
    try:
        installed = loop.run_until_complete(main())
    finally:
        loop.close()
    assert set(installed) == {how}
    assert {sig: signal.getsignal(sig) for sig in stop_signals()} == before
