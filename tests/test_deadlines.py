"""Deadlines on writing: a terminal that stops reading cannot hang a write or a request.

Real sockets (a TCP peer that accepts and never reads, until both buffers are full) and the
in-memory pipe with a capacity (the same thing in process). No assertion on how long
anything took: each test only checks that the write or request ends with the right error,
and the rig's overall timeout catches a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest

from posbridge.protocol import (
    PROTOCOL_VERSION,
    Hello,
    LinkConnection,
    LinkTimers,
    Role,
)
from posbridge.protocol.messages import Query, Reply
from posbridge.session import LinkRunner
from posbridge.terminal import AnswerTimeout, TerminalClient
from posbridge.transports import TransportError
from posbridge.transports.memory import MemoryTransport, pipe_pair
from posbridge.transports.tcp import TcpTransport, tcp_connector
from rig import run

CHUNK = b"x" * 65536


@contextlib.asynccontextmanager
async def deaf_peer() -> AsyncIterator[tuple[TcpTransport, socket.socket]]:
    """A TcpTransport connected to a peer that accepts and then never reads; the peer's
    receive buffer and our send buffer are made small so that they fill quickly."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # accepted ones inherit it
    listener.listen(1)
    accepted: list[socket.socket] = []
    try:
        connect = tcp_connector("127.0.0.1", listener.getsockname()[1])
        transport = await connect()
        peer, _ = listener.accept()
        accepted.append(peer)
        yield transport, peer
        await transport.close()
    finally:
        for sock in (*accepted, listener):
            sock.close()


def test_tcp_write_to_a_peer_that_stops_reading_fails_after_its_timeout() -> None:
    async def main() -> None:
        async with deaf_peer() as (transport, _peer):
            with pytest.raises(TransportError, match="takes no data") as caught:
                # Each write fills the buffers further; one of them must wait, and its
                # deadline ends it. 1,000 chunks (64 MB) is far beyond any socket buffer.
                for _ in range(1000):
                    await transport.write(CHUNK, 0.2)
            assert "nothing written for 0.2 s" in str(caught.value)

    run(main(), timeout=30)


def test_tcp_write_without_a_timeout_still_waits_for_a_slow_reader() -> None:
    """The control for the test above: a peer that reads, however late, gets everything;
    the timeout is what ends the write, not the amount."""

    async def main() -> None:
        async with deaf_peer() as (transport, peer):
            total = 64 * len(CHUNK)

            def drain() -> int:
                got = 0
                while got < total:
                    data = peer.recv(1 << 20)
                    if not data:
                        break
                    got += len(data)
                return got

            reader = asyncio.get_running_loop().run_in_executor(None, drain)
            for _ in range(64):
                await transport.write(CHUNK, None)
            assert await reader == total

    run(main(), timeout=30)


def test_memory_write_to_a_full_pipe_fails_after_its_timeout_and_recovers_once_read() -> None:
    async def main() -> None:
        host, terminal = pipe_pair("test", capacity=100)
        await host.write(b"a" * 100, 0.1)  # fills the pipe
        with pytest.raises(TransportError, match="takes no data"):
            await host.write(b"b", 0.05)
        # The reader takes what is there: there is room again.
        assert await terminal.read(1000, 1.0) == b"a" * 100
        await host.write(b"c", 0.05)
        assert await terminal.read(1000, 1.0) == b"c"

    run(main(), timeout=10)


def test_memory_write_waiting_for_room_ends_when_the_pipe_closes() -> None:
    async def main() -> None:
        host, terminal = pipe_pair("test", capacity=10)
        await host.write(b"0123456789", None)
        writer = asyncio.create_task(host.write(b"more", None))
        await asyncio.sleep(0)
        assert not writer.done()
        await terminal.close()
        with pytest.raises(TransportError, match="closed"):
            await writer

    run(main(), timeout=10)


TERMINAL = Hello(role="terminal", version=PROTOCOL_VERSION, session="", serial="SN-1",
                 model="T1", app_version="1", condition_codes=("82",))


async def stop_reading_terminal(end: MemoryTransport) -> None:
    """A terminal that answers the hello and then never reads again (its app hung)."""
    link = LinkConnection(Role.TERMINAL, TERMINAL, LinkTimers())
    link.initiate(0.0)
    while link.peer is None:
        link.receive_data(await end.read(65536, None), 0.0)
    await end.write(link.data_to_send(), None)


def test_a_request_to_a_terminal_that_stops_reading_ends_within_its_deadline() -> None:
    async def main() -> None:
        host_end, terminal_end = pipe_pair("test", capacity=4096)

        async def connect() -> MemoryTransport:
            asyncio.get_running_loop().create_task(stop_reading_terminal(terminal_end))
            return host_end

        # dead_after is long: only the request's own deadline can end it.
        client = TerminalClient(connect, timers=LinkTimers(heartbeat_interval=5.0,
                                                           dead_after=30.0))
        await client.start()
        try:
            assert await client.wait_connected(5.0)
            big = "r" * 7000  # each request fills the pipe further; one must wait to send
            errors: list[str] = []
            for _ in range(20):
                with pytest.raises(AnswerTimeout) as caught:
                    await client.request(lambda rid: Query(rid=rid, ref=big), 0.3)
                errors.append(str(caught.value))
                if "could not send" in errors[-1]:
                    break
            # The first is written and never answered; a later one cannot even be sent.
            assert errors[0] == "no answer from the terminal within 0.3 s"
            assert errors[-1] == "could not send to the terminal within 0.3 s"
        finally:
            await client.stop()

    run(main(), timeout=60)


def test_a_runner_whose_write_times_out_takes_the_link_down() -> None:
    """A heartbeat or acknowledgement the peer does not take within the write timeout ends
    the link (the stream may hold part of a frame), rather than leaving a writer stuck."""

    async def main() -> None:
        host_end, terminal_end = pipe_pair("test", capacity=64)
        host = LinkRunner(
            LinkConnection(Role.HOST, Hello(role="host", version=PROTOCOL_VERSION,
                                            session="s"), LinkTimers(dead_after=30.0,
                                                                     handshake_timeout=30)),
            host_end, lambda event: None, write_timeout=0.1)
        # Nobody reads the terminal end: the host's repeated hellos fill the pipe.
        reason = await asyncio.wait_for(host.run(), 20)
        assert "takes no data" in reason
        assert host.link.closed
        await terminal_end.close()

    run(main(), timeout=30)


def test_reply_reaches_a_request_when_the_terminal_reads() -> None:
    """The control for the request test: the same client and pipe capacity, with a terminal
    that reads and answers, gets its answer."""

    async def main() -> None:
        host_end, terminal_end = pipe_pair("test", capacity=4096)
        answered: list[object] = []

        def on_event(event: object) -> None:
            message = getattr(event, "message", None)
            if isinstance(message, Query):
                runner.send_nowait(Reply(rid=message.rid, ref="r", accepted=True))
                answered.append(message)

        runner = LinkRunner(LinkConnection(Role.TERMINAL, TERMINAL, LinkTimers()),
                            terminal_end, on_event)  # type: ignore[arg-type]
        task = asyncio.create_task(runner.run())

        async def connect() -> MemoryTransport:
            return host_end

        client = TerminalClient(connect)
        await client.start()
        try:
            assert await client.wait_connected(5.0)
            answer = await client.request(lambda rid: Query(rid=rid, ref="r" * 7000), 5.0)
            assert isinstance(answer, Reply)
            assert answered
        finally:
            await client.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    run(main(), timeout=30)
