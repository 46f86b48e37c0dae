"""The request limits (http/server.py and the body reader in http/app.py): head size and
deadline, body size and deadline, malformed HTTP, however the bytes arrive, through a real
uvicorn on a real port with the production protocol class."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from posbridge.http import body as http_body
from posbridge.http.server import GuardedHttpToolsProtocol, uvicorn_config
from rig import Bridge, bridge, raw, run

# -- limits ------------------------------------------------------------------------------


def _request(body: bytes, extra: bytes = b"", path: bytes = b"/CreatePayment") -> bytes:
    return (b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-version: v1\r\n"
            b"content-type: application/json\r\n" + extra
            + b"content-length: %d\r\n\r\n" % len(body) + body)


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_oversized_bodies_get_413_without_being_read_whole(journal_path: Path) -> None:
    async def go() -> None:
        async with bridge(journal_path) as b:
            # Announced: answered from the header alone, though the body never comes.
            head = _request(b"")[: -len(b"content-length: 0\r\n\r\n")]
            out = await raw(b, head + b"content-length: 10000000\r\n\r\n{", read_timeout=2)
            assert _status(out) == 413 and b"REQUEST_TOO_LARGE" in out
            # Chunked, with no length, and never ending: cut off once past 16 KiB.
            chunk = b"x" * 8192
            body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3))
            out = await raw(b, head + b"transfer-encoding: chunked\r\n\r\n" + body,
                            read_timeout=2)
            assert _status(out) == 413
            r = await b.post("/QueryPayment", {"retrieval_reference_number": "r" * 20000})
            assert r.status_code == 413
            assert b.journal.recent() == []

    run(go())


def test_oversized_request_head_gets_431_json(journal_path: Path) -> None:
    async def go() -> None:
        async with bridge(journal_path) as b:
            out = await raw(b, _request(b"{}", b"x-big: " + b"a" * 40000 + b"\r\n"))
            assert _status(out) == 431
            assert b'"error_code":"HEADERS_TOO_LARGE"' in out
            # Many small headers add up the same way.
            many = b"".join(b"x-h%d: %s\r\n" % (i, b"b" * 100) for i in range(400))
            assert _status(await raw(b, _request(b"{}", many))) == 431
            # A normal request still works afterwards.
            r = await b.post("/QueryPayment", {"retrieval_reference_number": "q"})
            assert r.json()["error_code"] == "PAYMENT_NOT_FOUND"

    run(go())


def test_malformed_http_gets_a_json_400(journal_path: Path) -> None:
    async def go() -> None:
        async with bridge(journal_path) as b:
            for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello
                         b"POST /CreatePayment HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n",
                         b"GARBAGE\r\n\r\n"):
                out = await raw(b, junk)
                assert _status(out) == 400, out
                assert b'"success":false' in out and b"INVALID_REQUEST" in out

    run(go())


def _answers(out: bytes) -> list[tuple[int, dict[str, Any]]]:
    """Each response in ``out`` (Content-Length bodies): its status and its JSON body."""
    found = []
    while out:
        head, _, rest = out.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        found.append((_status(head), json.loads(rest[:length])))
        out = rest[length:]
    return found


@pytest.mark.parametrize("size", [17_000, 33_000, 40_000, 100_000])
def test_a_body_over_the_limit_gets_413_however_it_arrives(journal_path: Path,
                                                           size: int) -> None:
    # The head limit counts the head alone: a big body sent in one write with its head is
    # a 413, never a 431, whether it has a length, is chunked, trickles in or is pipelined
    # behind another request.
    body = b'{"retrieval_reference_number": "' + b"x" * size + b'"}'
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                       for part in (body[i:i + 5000] for i in range(0, len(body), 5000)))
    head = _request(b"")[: -len(b"content-length: 0\r\n\r\n")]

    async def trickled(b: Bridge, data: bytes, piece: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", b.port)
        try:
            for i in range(0, len(data), piece):
                writer.write(data[i:i + piece])
                await writer.drain()
                await asyncio.sleep(0.001)
        except ConnectionError:
            pass  # answered and closed before the end: what reader holds is the answer
        out = await asyncio.wait_for(reader.read(65536), 5)
        writer.close()
        return out

    async def go() -> None:
        # The rest of a refused body is read and dropped until the head deadline (0.5 s).
        async with bridge(journal_path, head_timeout=0.5) as b:
            small = _request(b'{"retrieval_reference_number": "small"}', path=b"/QueryPayment")
            for data in (_request(body, path=b"/QueryPayment"),
                         head.replace(b"/CreatePayment", b"/QueryPayment")
                         + b"transfer-encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n",
                         small + _request(body, path=b"/QueryPayment")):
                answers = _answers(await raw(b, data))
                assert answers[-1][0] == 413, answers
                assert answers[-1][1] == {
                    "success": False, "error_code": "REQUEST_TOO_LARGE",
                    "message": "the request body is over 16 KiB"}
                if len(answers) == 2:  # the pipelined one before it got its own answer
                    assert answers[0][1]["error_code"] == "PAYMENT_NOT_FOUND"
            out = await trickled(b, _request(body, path=b"/QueryPayment"), 1500)
            assert _status(out) == 413, out[:200]
            assert b.journal.recent() == []

    run(go())


def test_a_head_over_the_limit_gets_431_however_it_arrives(journal_path: Path) -> None:
    big = b"x-big: " + b"a" * 40_000 + b"\r\n"

    async def go() -> None:
        async with bridge(journal_path) as b:
            # In one write with a small body, and alone.
            for data in (_request(b"{}", big), _request(b"", big)):
                answers = _answers(await raw(b, data))
                assert [status for status, _ in answers] == [431], answers
                assert answers[0][1]["error_code"] == "HEADERS_TOO_LARGE"
            # A kilobyte at a time, never finished: refused once past 32 KiB.
            reader, writer = await asyncio.open_connection("127.0.0.1", b.port)
            data = _request(b"{}", big)[:-100]
            try:
                for i in range(0, len(data), 1000):
                    writer.write(data[i:i + 1000])
                    await writer.drain()
            except ConnectionError:
                pass
            out = await asyncio.wait_for(reader.read(65536), 5)
            writer.close()
            assert _status(out) == 431, out[:200]
            # Pipelined behind a request that is answered first.
            small = _request(b'{"retrieval_reference_number": "a"}', path=b"/QueryPayment")
            answers = _answers(await raw(b, small + _request(b"{}", big)))
            assert [status for status, _ in answers] == [404, 431], answers
            # Just under both limits in one write (a 30 KB head, a 15 KB body): answered.
            near = _request(b'{"retrieval_reference_number": "' + b"n" * 15_000 + b'"}',
                            b"x-big: " + b"a" * 30_000 + b"\r\n", b"/QueryPayment")
            answers = _answers(await raw(b, near + _request(b"{}", path=b"/QueryPayment")))
            assert [status for status, _ in answers][:1] == [400], answers
            assert answers[0][1]["error_code"] == "INVALID_REQUEST"  # the reference's length

    run(go())


async def _in_parts(b: Bridge, parts: list[bytes], pause: float = 0.2) -> bytes:
    """Send ``parts`` as separate writes (each read on its own), then read until closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", b.port)
    out = b""
    try:
        for part in parts:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(pause)
        async with asyncio.timeout(3):
            while chunk := await reader.read(65536):
                out += chunk
    except (TimeoutError, ConnectionError):
        pass
    writer.close()
    return out


def test_a_head_begun_behind_another_request_is_counted_whole(journal_path: Path) -> None:
    """A read that ends one request and begins the next head leaves that head's unfinished
    line in the parser, uncounted: the head is counted whole when it completes."""
    query = b'{"retrieval_reference_number": "a"}'

    async def go() -> None:
        async with bridge(journal_path) as b:
            small = _request(query, path=b"/QueryPayment")
            one_line = _request(query, b"x-pad: " + b"a" * 100_000 + b"\r\n", b"/QueryPayment")
            cut = one_line.index(b"x-pad: ") + 100_000  # inside the 100 KB header
            two_lines = _request(query, b"x-a: " + b"a" * 30_000 + b"\r\nx-b: " + b"b" * 30_000
                                 + b"\r\n", b"/QueryPayment")
            cut2 = two_lines.index(b"x-b: ") - 2
            for second, at in ((one_line, cut), (two_lines, cut2)):
                out = await _in_parts(b, [small + second[:at], second[at:]])
                assert [status for status, _ in _answers(out)] == [404, 431], out[:300]

    run(go())


def test_trailers_count_with_the_head(journal_path: Path) -> None:
    """A chunked body's trailers are kept with the headers: over the head limit they get
    431, whether they end the request in one read or keep coming."""
    query = b'{"retrieval_reference_number": "a"}'
    head = (b"POST /QueryPayment HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-version: v1\r\n"
            b"content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
    chunks = b"%x\r\n%s\r\n0\r\n" % (len(query), query)
    trailers = b"".join(b"x-t%d: %s\r\n" % (i, b"t" * 1000) for i in range(40))  # 40 KB

    async def go() -> None:
        async with bridge(journal_path) as b:
            # Small trailers: answered as usual.
            out = await raw(b, head + chunks + b"x-t: 1\r\n\r\n", read_timeout=2)
            assert _status(out) == 404, out[:300]
            # Over the limit, the request complete in one read.
            out = await raw(b, head + chunks + trailers + b"\r\n", read_timeout=2)
            assert _status(out) == 431 and b"HEADERS_TOO_LARGE" in out, out[:300]
            # Over the limit and never finished: refused, not held.
            out = await _in_parts(b, [head + chunks, trailers, trailers])
            assert _status(out) == 431 and b"HEADERS_TOO_LARGE" in out, out[:300]

    run(go())


def test_slow_and_idle_connections_are_closed(
    journal_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_body, "BODY_TIMEOUT", 0.3)

    async def go() -> None:
        async with bridge(journal_path, head_timeout=0.3) as b:
            loop = asyncio.get_running_loop()
            # Connected and silent: closed.
            t0 = loop.time()
            assert await raw(b, b"") == b""
            assert loop.time() - t0 < 4
            # A head trickled a byte at a time, on a new connection and after an answer on
            # a kept-alive one: closed without an answer, at the deadline.
            for first in (b"", _request(b'{"retrieval_reference_number": "k"}',
                                        path=b"/QueryPayment")):
                reader, writer = await asyncio.open_connection("127.0.0.1", b.port)
                if first:
                    writer.write(first)
                    assert _status(await reader.readuntil(b"}")) == 404
                answer = asyncio.create_task(reader.read(1000))
                sent = 0
                for byte in _request(b"{}"):
                    if answer.done():
                        break
                    writer.write(bytes([byte]))
                    sent += 1
                    await asyncio.sleep(0.02)
                assert answer.done() and answer.result() == b""  # closed, nothing answered
                assert sent < len(_request(b"{}"))
                writer.close()
            # A body that never completes: 408, JSON, and the connection closed.
            out = await raw(b, _request(b'{"retrieval_reference_number": "slow"}')[:-5])
            assert _status(out) == 408 and b"REQUEST_TIMEOUT" in out
            assert b"connection: close" in out.lower()
            # A busy keep-alive connection is never cut: 1.2 s of requests on one socket.
            deadline = loop.time() + 1.2
            n = 0
            while loop.time() < deadline:
                r = await b.post("/QueryPayment", {"retrieval_reference_number": "busy"})
                assert r.json()["error_code"] == "PAYMENT_NOT_FOUND"
                n += 1
                await asyncio.sleep(0.1)
            assert n >= 3  # over 1.2 s, four times the head deadline, on one socket

    run(go())


def test_one_idle_timer_per_connection(journal_path: Path) -> None:
    # The head deadline is uvicorn's keep-alive timer: a connection has one timer while it
    # waits for a head (new, or kept alive after an answer), and none while it is answered.
    async def go() -> None:
        async with bridge(journal_path) as b:
            loop = asyncio.get_running_loop()

            def timers() -> int:
                scheduled = loop._scheduled  # type: ignore[attr-defined]
                return sum(1 for h in scheduled if not h.cancelled() and isinstance(
                    getattr(h._callback, "__self__", None), GuardedHttpToolsProtocol))

            assert timers() == 0
            reader, writer = await asyncio.open_connection("127.0.0.1", b.port)
            await asyncio.sleep(0.05)
            assert timers() == 1  # new connection: the head deadline
            for _ in range(3):
                writer.write(_request(b'{"retrieval_reference_number": "t"}',
                                      path=b"/QueryPayment"))
                assert _status(await reader.readuntil(b"}")) == 404
                await asyncio.sleep(0.05)
                assert timers() == 1  # kept alive: the same one deadline, not two
            writer.close()

    run(go())


def test_over_the_connection_limit_gets_a_json_503() -> None:
    import socket
    import threading
    import time

    import uvicorn

    from rig import free_port

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, max_connections=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
        time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            out = b""
            while chunk := sock.recv(65536):
                out += chunk
        assert _answers(out) == [(503, {
            "success": False, "error_code": "TOO_MANY_CONNECTIONS",
            "message": "posbridge is serving 2 connections already; close idle ones or try "
                       "again in a moment"})]
        for sock in held:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(1000).startswith(b"HTTP/1.1 200")
            sock.close()
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_pipelined_request_never_cuts_the_one_being_answered() -> None:
    # Request A is complete and takes a while to answer; request B, pipelined behind it on
    # the same connection, sends only part of its body. A must get its own answer; only
    # then does B's body deadline run (it is read by the app, after A), and B gets the 408.
    import socket
    import threading
    import time

    import uvicorn

    from posbridge import errors
    from posbridge.http import responses
    from rig import free_port

    reader = http_body.BodyReader(timeout=0.4)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await reader.read(receive, None)
        except errors.PosBridgeError as exc:
            await responses.error(exc)(scope, receive, send)
            return
        if scope["path"] == "/slow":
            await asyncio.sleep(1.0)  # longer than both deadlines
        out = b"answer of " + scope["path"].encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, head_timeout=0.4))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"
                         b"POST /next HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        first, _, rest = received.partition(b"answer of /slow")
        assert first.startswith(b"HTTP/1.1 200"), received
        assert rest.startswith(b"HTTP/1.1 408") and b"REQUEST_TIMEOUT" in rest, received
    finally:
        server.should_exit = True
        thread.join(10)
