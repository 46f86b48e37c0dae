"""The TCP transport through real sockets on 127.0.0.1, and tcp:// address parsing."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from posbridge.transports import TransportClosed, TransportError
from posbridge.transports.tcp import TcpTransport, parse_tcp_url, tcp_connector
from rig import run

Peer = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class Server:
    port: int
    peers: asyncio.Queue[Peer] = field(default_factory=asyncio.Queue)

    async def connect(self) -> tuple[TcpTransport, Peer]:
        transport = await tcp_connector("127.0.0.1", self.port)()
        peer = await asyncio.wait_for(self.peers.get(), 5)
        return transport, peer


@contextlib.asynccontextmanager
async def serve() -> AsyncIterator[Server]:
    """An asyncio server on an ephemeral port whose accepted connections the test drives;
    everything is closed on the way out."""
    writers: list[asyncio.StreamWriter] = []
    queue: asyncio.Queue[Peer] = asyncio.Queue()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await queue.put((reader, writer))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield Server(server.sockets[0].getsockname()[1], queue)
    finally:
        server.close()
        for writer in writers:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await server.wait_closed()


async def read_exactly(t: TcpTransport, n: int) -> bytes:
    data = b""
    while len(data) < n:
        data += await t.read(n - len(data), 1.0)
    return data


def test_read_and_write() -> None:
    async def main() -> None:
        async with serve() as server:
            t, (peer_r, peer_w) = await server.connect()
            try:
                assert t.description == f"tcp://127.0.0.1:{server.port}"
                peer_w.write(b"hello")
                await peer_w.drain()
                assert await read_exactly(t, 5) == b"hello"
                await t.write(b"ping")
                assert await asyncio.wait_for(peer_r.readexactly(4), 5) == b"ping"
            finally:
                await t.close()

    run(main(), timeout=10)


def test_read_returns_at_most_max_bytes() -> None:
    async def main() -> None:
        async with serve() as server:
            t, (_, peer_w) = await server.connect()
            try:
                peer_w.write(b"0123456789")
                await peer_w.drain()
                first = await t.read(4, 1.0)
                assert 1 <= len(first) <= 4
                rest = await read_exactly(t, 10 - len(first))
                assert first + rest == b"0123456789"
            finally:
                await t.close()

    run(main(), timeout=10)


def test_read_timeout_returns_empty_and_keeps_the_stream() -> None:
    async def main() -> None:
        async with serve() as server:
            t, (_, peer_w) = await server.connect()
            try:
                loop = asyncio.get_running_loop()
                start = loop.time()
                assert await t.read(100, 0.05) == b""
                assert loop.time() - start >= 0.04
                assert await t.read(100, 0) == b""
                peer_w.write(b"after")
                await peer_w.drain()
                assert await read_exactly(t, 5) == b"after"
            finally:
                await t.close()

    run(main(), timeout=10)


def test_eof_raises_transport_closed() -> None:
    async def main() -> None:
        async with serve() as server:
            t, (_, peer_w) = await server.connect()
            try:
                peer_w.write(b"bye")
                peer_w.close()
                await peer_w.wait_closed()
                assert await read_exactly(t, 3) == b"bye"
                with pytest.raises(TransportClosed, match="closed the connection") as info:
                    await t.read(100, 1.0)
                assert f"127.0.0.1:{server.port}" in str(info.value)
                # Stays closed.
                with pytest.raises(TransportClosed):
                    await t.read(100, 1.0)
            finally:
                await t.close()

    run(main(), timeout=10)


def test_reset_by_peer_raises_transport_closed() -> None:
    async def main() -> None:
        async with serve() as server:
            t, (_, peer_w) = await server.connect()
            try:
                sock = peer_w.get_extra_info("socket")
                # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                peer_w.close()
                await peer_w.wait_closed()
                with pytest.raises(TransportClosed, match=r"reading from tcp://127\.0\.0\.1:"):
                    await t.read(100, 1.0)
            finally:
                await t.close()

    run(main(), timeout=10)


def test_close_is_idempotent_and_the_peer_sees_eof() -> None:
    async def main() -> None:
        async with serve() as server:
            t, (peer_r, _) = await server.connect()
            await t.close()
            await t.close()
            assert await asyncio.wait_for(peer_r.read(), 5) == b""

    run(main(), timeout=10)


def test_connecting_to_a_closed_port_names_the_address() -> None:
    async def main() -> None:
        # A socket bound but not listening holds the port, and refuses connections to it.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            with pytest.raises(TransportError, match=re.escape(f"tcp://127.0.0.1:{port}")):
                await tcp_connector("127.0.0.1", port)()

    run(main(), timeout=10)


def test_connect_timeout_names_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never_answers(*args: object, **kwargs: object) -> Peer:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    # A host that never answers a SYN cannot be made portably; stand in for the network.
    monkeypatch.setattr(asyncio, "open_connection", never_answers)

    async def main() -> None:
        connect = tcp_connector("192.0.2.1", 9100, connect_timeout=0.05)
        with pytest.raises(TransportError, match=r"tcp://192\.0\.2\.1:9100: no answer "
                                                 r"within 0\.05 s") as info:
            await connect()
        assert not isinstance(info.value, TransportClosed)

    run(main(), timeout=10)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("tcp://127.0.0.1:9100", ("127.0.0.1", 9100)),
        ("tcp://127.0.0.1:9100/", ("127.0.0.1", 9100)),
        ("tcp://localhost:1", ("localhost", 1)),
        ("tcp://terminal.example:65535", ("terminal.example", 65535)),
        ("tcp://[::1]:9100", ("::1", 9100)),
    ],
)
def test_parse_tcp_url_accepts(url: str, expected: tuple[str, int]) -> None:
    assert parse_tcp_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "127.0.0.1:9100",
        "http://127.0.0.1:9100",
        "TCP://127.0.0.1:9100",
        "tcp://",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:",
        "tcp://:9100",
        "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:65536",
        "tcp://127.0.0.1:-1",
        "tcp://127.0.0.1:+9100",
        "tcp://127.0.0.1: 9100",
        "tcp://127.0.0.1:port",
        "tcp://127.0.0.1:9100/path",
        "tcp://[::1]",
    ],
)
def test_parse_tcp_url_rejects(url: str) -> None:
    with pytest.raises(ValueError, match="is not a tcp://HOST:PORT address") as info:
        parse_tcp_url(url)
    assert repr(url) in str(info.value)


def test_parse_tcp_url_rejects_superscript_port_readably() -> None:
    with pytest.raises(ValueError, match="is not a tcp://HOST:PORT address"):
        parse_tcp_url("tcp://127.0.0.1:9\u00b2")
