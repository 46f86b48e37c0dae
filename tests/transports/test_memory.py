"""The in-memory pipe pair: both directions, close semantics, the fault hook, split reads."""

from __future__ import annotations

import asyncio

import pytest

from posbridge.transports import Transport, TransportClosed, TransportError
from posbridge.transports.memory import pipe_pair
from rig import run


def test_is_a_transport() -> None:
    host, terminal = pipe_pair("sim")
    ends: tuple[Transport, Transport] = (host, terminal)
    assert [t.description for t in ends] == ["sim (host end)", "sim (terminal end)"]
    assert issubclass(TransportClosed, TransportError)


def test_bytes_flow_both_ways() -> None:
    async def main() -> None:
        host, terminal = pipe_pair()
        await host.write(b"to terminal")
        await terminal.write(b"to host")
        assert await terminal.read(100, 1.0) == b"to terminal"
        assert await host.read(100, 1.0) == b"to host"
        # Writes queue up in order and come out as one stream.
        await host.write(b"ab")
        await host.write(b"cd")
        assert await terminal.read(100, 1.0) == b"abcd"
        await host.close()

    run(main(), timeout=5)


def test_read_waits_for_a_later_write() -> None:
    async def main() -> None:
        host, terminal = pipe_pair()
        reading = asyncio.create_task(terminal.read(100, None))
        await asyncio.sleep(0.01)
        assert not reading.done()
        await host.write(b"late")
        assert await reading == b"late"
        await host.close()

    run(main(), timeout=5)


def test_read_timeout_returns_empty() -> None:
    async def main() -> None:
        host, terminal = pipe_pair()
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert await terminal.read(100, 0.05) == b""
        assert loop.time() - start >= 0.04
        assert await terminal.read(100, 0) == b""
        # Nothing was lost or broken by the timeouts.
        await host.write(b"x")
        assert await terminal.read(100, 0) == b"x"
        await host.close()

    run(main(), timeout=5)


def test_read_max_bytes_splits() -> None:
    async def main() -> None:
        host, terminal = pipe_pair()
        await host.write(b"abcdefg")
        assert await terminal.read(3, 0) == b"abc"
        assert await terminal.read(3, 0) == b"def"
        assert await terminal.read(3, 0) == b"g"
        assert await terminal.read(3, 0.01) == b""
        await host.close()

    run(main(), timeout=5)


@pytest.mark.parametrize("closer", ["host", "terminal"])
def test_close_on_either_end_closes_the_other(closer: str) -> None:
    async def main() -> None:
        host, terminal = pipe_pair()
        closing, other = (host, terminal) if closer == "host" else (terminal, host)
        waiting = asyncio.create_task(other.read(100, None))
        await asyncio.sleep(0.01)
        await closing.close()
        with pytest.raises(TransportClosed, match="the other end closed"):
            await waiting
        with pytest.raises(TransportClosed):
            await other.read(100, None)
        with pytest.raises(TransportClosed):
            await other.read(100, 0.01)
        with pytest.raises(TransportClosed, match="the other end closed"):
            await other.write(b"x")
        assert closing.closed
        assert other.closed
        # close() is idempotent, from both ends.
        await closing.close()
        await other.close()

    run(main(), timeout=5)


def test_closing_end_cannot_write_either() -> None:
    async def main() -> None:
        host, _terminal = pipe_pair()
        await host.close()
        with pytest.raises(TransportClosed):
            await host.write(b"x")
        with pytest.raises(TransportClosed):
            await host.read(10, 0.01)

    run(main(), timeout=5)


def test_bytes_written_before_close_are_still_delivered() -> None:
    async def main() -> None:
        host, terminal = pipe_pair()
        await host.write(b"last words")
        await host.close()
        assert await terminal.read(4, None) == b"last"
        assert await terminal.read(100, None) == b" words"
        with pytest.raises(TransportClosed):
            await terminal.read(100, None)

    run(main(), timeout=5)


def test_fault_hook_drops_alters_and_duplicates() -> None:
    async def main() -> None:
        host, terminal = pipe_pair()
        seen: list[bytes] = []

        def fault(data: bytes) -> bytes:
            seen.append(data)
            if data == b"drop me":
                return b""
            if data == b"twice":
                return data * 2
            return data.replace(b"a", b"X")

        host.fault = fault
        await host.write(b"drop me")
        assert await terminal.read(100, 0.01) == b""
        await host.write(b"banana")
        assert await terminal.read(100, 0.01) == b"bXnXnX"
        await host.write(b"twice")
        assert await terminal.read(100, 0.01) == b"twicetwice"
        assert seen == [b"drop me", b"banana", b"twice"]

        # The hook belongs to one end: the other direction is untouched.
        await terminal.write(b"banana")
        assert await host.read(100, 0.01) == b"banana"

        host.fault = None
        await host.write(b"banana")
        assert await terminal.read(100, 0.01) == b"banana"
        await host.close()

    run(main(), timeout=5)
