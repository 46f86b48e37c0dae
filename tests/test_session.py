"""LinkRunner: a host and a terminal LinkConnection joined by a memory pipe pair, each run
by its own LinkRunner, as the bridge and the in-process simulator do."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from posbridge.protocol import (
    PROTOCOL_VERSION,
    Event,
    Hello,
    LinkConnection,
    LinkDown,
    LinkTimers,
    LinkUp,
    MessageReceived,
    Role,
    State,
)
from posbridge.protocol.messages import Query, QueryResult
from posbridge.session import LinkRunner
from posbridge.transports import TransportClosed
from posbridge.transports.memory import MemoryTransport, pipe_pair
from rig import run

TIMERS = LinkTimers(rto=0.05, max_retries=6, heartbeat_interval=0.1, dead_after=0.5,
                    handshake_timeout=0.3)
HOST = Hello(role="host", version=PROTOCOL_VERSION, session="s-1")
TERMINAL = Hello(role="terminal", version=PROTOCOL_VERSION, session="", serial="SN-1",
                 model="T1", app_version="1.2.3", condition_codes=("82", "85"))


@dataclass
class Log:
    """The events one runner reported, with a way to wait for the one a test needs."""

    events: list[Event] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self.changed.set()

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]

    def messages(self) -> list[object]:
        return [e.message for e in self.events if isinstance(e, MessageReceived)]

    async def wait(self, ready: Callable[[], bool], timeout: float = 2.0) -> None:
        async with asyncio.timeout(timeout):
            while not ready():
                self.changed.clear()
                await self.changed.wait()


@dataclass
class End:
    runner: LinkRunner
    transport: MemoryTransport
    log: Log
    task: asyncio.Task[str] | None = None

    def start(self) -> End:
        self.task = asyncio.create_task(self.runner.run())
        return self

    async def result(self, timeout: float = 2.0) -> str:
        assert self.task is not None
        async with asyncio.timeout(timeout):
            return await self.task


def make_end(role: Role, identity: Hello, transport: MemoryTransport,
             timers: LinkTimers = TIMERS) -> End:
    log = Log()
    link = LinkConnection(role, identity, timers)
    return End(LinkRunner(link, transport, log), transport, log)


@contextlib.asynccontextmanager
async def linked(*, start_terminal: bool = True, timers: LinkTimers = TIMERS
                 ) -> AsyncIterator[tuple[End, End]]:
    host_t, terminal_t = pipe_pair("test")
    host = make_end(Role.HOST, HOST, host_t, timers)
    terminal = make_end(Role.TERMINAL, TERMINAL, terminal_t, timers)
    if start_terminal:
        terminal.start()
    host.start()
    try:
        yield host, terminal
    finally:
        await host_t.close()
        await terminal_t.close()
        for end in (host, terminal):
            if end.task is not None:
                end.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await end.task


async def link_up(host: End, terminal: End) -> None:
    await host.log.wait(lambda: bool(host.log.of(LinkUp)))
    await terminal.log.wait(lambda: bool(terminal.log.of(LinkUp)))


def test_link_comes_up_on_both_ends() -> None:
    async def main() -> None:
        async with linked() as (host, terminal):
            await link_up(host, terminal)
            [host_up] = host.log.of(LinkUp)
            [terminal_up] = terminal.log.of(LinkUp)
            assert isinstance(host_up, LinkUp)
            assert isinstance(terminal_up, LinkUp)
            # Each end learns who the other is; the terminal joins the host's session.
            assert host_up.peer.role == "terminal"
            assert host_up.peer.session == "s-1"
            assert (host_up.peer.serial, host_up.peer.model) == ("SN-1", "T1")
            assert host_up.peer.condition_codes == ("82", "85")
            assert terminal_up.peer == HOST
            assert host.runner.link.state is State.UP
            assert terminal.runner.link.state is State.UP
            assert host.runner.last_rx_wall is not None
            assert abs(host.runner.last_rx_wall - time.time()) < 5
            assert not host.task.done()  # type: ignore[union-attr]

    run(main(), timeout=10)


def test_send_delivers_a_message_to_the_other_end() -> None:
    async def main() -> None:
        async with linked() as (host, terminal):
            await link_up(host, terminal)
            await host.runner.send(Query(rid=1, ref="x"))
            await terminal.log.wait(lambda: bool(terminal.log.messages()))
            assert terminal.log.messages() == [Query(rid=1, ref="x")]

            answer = QueryResult(rid=1, ref="x", found=True, status="approved",
                                 response_code="00", transaction_id="T1", amount=100)
            await terminal.runner.send(answer)
            await host.log.wait(lambda: bool(host.log.messages()))
            assert host.log.messages() == [answer]

    run(main(), timeout=10)


def test_send_nowait_keeps_order() -> None:
    async def main() -> None:
        async with linked() as (host, terminal):
            await link_up(host, terminal)
            sent = [Query(rid=n, ref=f"r{n}") for n in range(20)]
            for message in sent:
                host.runner.send_nowait(message)  # from synchronous code, no await between
            await terminal.log.wait(lambda: len(terminal.log.messages()) == len(sent))
            assert terminal.log.messages() == sent
            # Acknowledged: nothing left to retransmit, nothing delivered twice.
            await asyncio.sleep(0.2)
            assert terminal.log.messages() == sent
            assert host.runner.link.stats.retransmissions == 0

    run(main(), timeout=10)


def test_lost_frame_is_retransmitted_by_the_runner_timers() -> None:
    async def main() -> None:
        async with linked() as (host, terminal):
            await link_up(host, terminal)
            dropped: list[bytes] = []

            def drop_first_data(data: bytes) -> bytes:
                if not dropped and b'"ref":"lost"' in data:
                    dropped.append(data)
                    return b""
                return data

            host.transport.fault = drop_first_data
            await host.runner.send(Query(rid=7, ref="lost"))
            await terminal.log.wait(lambda: bool(terminal.log.messages()))
            assert dropped
            assert terminal.log.messages() == [Query(rid=7, ref="lost")]
            assert host.runner.link.stats.retransmissions >= 1

    run(main(), timeout=10)


@pytest.mark.parametrize("closer", ["host", "terminal"])
def test_closing_one_transport_ends_the_other_runner(closer: str) -> None:
    async def main() -> None:
        async with linked() as (host, terminal):
            await link_up(host, terminal)
            closing, other = (host, terminal) if closer == "host" else (terminal, host)
            await closing.transport.close()
            reason = await other.result(timeout=1.0)
            assert "the other end closed" in reason
            [down] = other.log.of(LinkDown)
            assert isinstance(down, LinkDown)
            assert down.reason == reason
            assert other.runner.link.closed
            # The end whose transport was closed stops as well.
            assert "closed" in await closing.result(timeout=1.0)
            assert len(closing.log.of(LinkDown)) == 1

    run(main(), timeout=10)


def test_send_on_a_dead_transport_raises_and_stops_the_loop() -> None:
    async def main() -> None:
        async with linked() as (host, terminal):
            await link_up(host, terminal)
            # No await between: the host loop has not noticed the close yet.
            await terminal.transport.close()
            assert host.runner.link.state is State.UP
            with pytest.raises(TransportClosed):
                await host.runner.send(Query(rid=1, ref="x"))
            assert host.transport.closed
            assert "closed" in await host.result(timeout=1.0)

    run(main(), timeout=10)


def test_local_close_returns_its_reason_and_the_peer_times_out() -> None:
    async def main() -> None:
        async with linked() as (host, terminal):
            await link_up(host, terminal)
            host.runner.close("stopping")
            assert await host.result(timeout=1.0) == "stopping"
            [down] = host.log.of(LinkDown)
            assert down == LinkDown("stopping")
            # The terminal hears nothing more: dead_after (0.5 s) takes it down.
            reason = await terminal.result(timeout=2.0)
            assert reason == "no frames from the peer for 0.5 s"

    run(main(), timeout=10)


def test_host_without_a_terminal_gives_up_after_the_handshake_timeout() -> None:
    async def main() -> None:
        async with linked(start_terminal=False) as (host, terminal):
            loop = asyncio.get_running_loop()
            start = loop.time()
            reason = await host.result(timeout=2.0)
            assert reason == "no answer to hello within 0.3 s"
            assert loop.time() - start >= 0.25
            assert host.log.events == [LinkDown(reason)]
            # The hello was repeated every rto while waiting.
            assert host.runner.link.stats.frames_sent >= 3
            assert terminal.log.events == []

    run(main(), timeout=10)


SLOW_HEARTBEATS = LinkTimers(rto=0.05, max_retries=6, heartbeat_interval=600.0,
                             dead_after=1200.0, handshake_timeout=5.0)


def test_an_idle_link_does_not_wake_its_runner() -> None:
    """Event-driven: with no deadline due (heartbeats every 10 minutes), the runners do not
    look at their timers at all while the link is idle. A runner that polled (every 50 ms
    before) would look several times in the 0.5 s this test waits."""

    async def main() -> None:
        async with linked(timers=SLOW_HEARTBEATS) as (host, terminal):
            await link_up(host, terminal)
            await asyncio.sleep(0.05)  # the handshake's last frames settle
            looks = {"host": 0, "terminal": 0}
            for name, end in (("host", host), ("terminal", terminal)):
                link = end.runner.link
                original = link.next_deadline

                def counted(original: Callable[[], float | None] = original,
                            name: str = name) -> float | None:
                    looks[name] += 1
                    return original()

                link.next_deadline = counted  # type: ignore[method-assign]
            await asyncio.sleep(0.5)
            assert looks == {"host": 0, "terminal": 0}
            # And the link still works: a send wakes what needs waking.
            await host.runner.send(Query(rid=1, ref="x"))
            await terminal.log.wait(lambda: bool(terminal.log.messages()))
            assert looks["host"] >= 1

    run(main(), timeout=10)


def test_a_send_wakes_the_runner_for_its_retransmission() -> None:
    """The first frame waiting for an acknowledgement arms the retransmission timer, far
    earlier than the heartbeat the runner was sleeping to: the send must wake it, or the
    lost frame would wait ten minutes."""

    async def main() -> None:
        async with linked(timers=SLOW_HEARTBEATS) as (host, terminal):
            await link_up(host, terminal)
            # Past the handshake's last deadline (its hello repeat): the runners now sleep
            # to the heartbeat ten minutes away.
            await asyncio.sleep(0.3)
            dropped: list[bytes] = []

            def drop_first_data(data: bytes) -> bytes:
                if not dropped and b'"ref":"lost"' in data:
                    dropped.append(data)
                    return b""
                return data

            host.transport.fault = drop_first_data
            host.runner.send_nowait(Query(rid=7, ref="lost"))
            await terminal.log.wait(lambda: bool(terminal.log.messages()), timeout=5.0)
            assert dropped
            assert terminal.log.messages() == [Query(rid=7, ref="lost")]
            assert host.runner.link.stats.retransmissions >= 1

    run(main(), timeout=10)
