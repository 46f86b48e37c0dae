"""Who may drive the terminal: Host, Origin, CORS, the token and the limits, through a real
uvicorn on a real port with the production protocol class."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from posbridge.http.security import (
    AccessPolicy,
    ConfigError,
    GuardedHttpToolsProtocol,
    is_loopback_bind,
    normalize_origin,
)
from rig import HEADERS, Bridge, bridge, create_body, run

TOKEN = "s3cret-token-for-tests-0123456789"
ALLOWED = "http://pos.shop.example:3000"


def journal_rows(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as db:
        payments = db.execute("SELECT count(*) FROM payments").fetchone()[0]
        events = db.execute("SELECT count(*) FROM events").fetchone()[0]
    return payments, events


async def raw(b: Bridge, data: bytes, read_timeout: float = 5.0) -> bytes:
    """Send raw bytes on a fresh connection; return all the server sends until it closes
    (or the read times out)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", b.port)
    writer.write(data)
    await writer.drain()
    out = b""
    try:
        async with asyncio.timeout(read_timeout):
            while chunk := await reader.read(65536):
                out += chunk
    except TimeoutError:
        pass
    writer.close()
    return out


# -- policy parsing (pure) ---------------------------------------------------------------


def test_bind_addresses_beyond_loopback_are_told_apart() -> None:
    for host in ("127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback_bind(host), host
    for host in ("0.0.0.0", "::", "192.168.1.10", "pos-pc.local", "10.0.0.1"):
        assert not is_loopback_bind(host), host


def test_origins_are_normalized_and_wildcards_refused() -> None:
    assert normalize_origin("HTTPS://Shop.Example:443/") == "https://shop.example"
    assert normalize_origin("http://shop.example:80") == "http://shop.example"
    assert normalize_origin("http://127.0.0.1:3000") == "http://127.0.0.1:3000"
    for bad in ("*", "shop.example", "http://shop.example/path", "ftp://x", "null", ""):
        with pytest.raises(ConfigError):
            normalize_origin(bad)


def test_short_or_spaced_tokens_are_refused() -> None:
    for bad in ("short", "x" * 15, "has a space in it ok", "tab\there-0123456789"):
        with pytest.raises(ConfigError, match=r"secrets\.token_urlsafe"):
            AccessPolicy.build(token=bad)
    assert AccessPolicy.build(token=TOKEN).token == TOKEN


def test_host_names_loopback_ips_and_configured_names_pass() -> None:
    policy = AccessPolicy.build(hosts=["POS-PC.shop.example"])
    for host in ("localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080", "::1",
                 "192.168.1.10:8080", "app.localhost", "pos-pc.shop.example:8080",
                 "LocalHost.", None):
        assert policy.host_allowed(host), host
    for host in ("evil.test", "evil.test:8080", "localhost.evil.test", "127.0.0.1.evil.test",
                 "pos-pc.shop.example.evil.test", ""):
        assert not policy.host_allowed(host), host


# -- through the server ------------------------------------------------------------------


def test_dns_rebinding_host_is_refused_and_leaves_nothing(journal_path: Path) -> None:
    async def go() -> None:
        async with bridge(journal_path) as b:
            before = journal_rows(journal_path)
            for path, body in (("/CreatePayment", create_body("rebind-1")),
                               ("/CancelPayment", {}), ("/SubmitBatch", {})):
                r = await b.post(path, body, headers={**HEADERS, "Host": "evil.test:8080"})
                assert r.status_code == 403, r.text
                assert r.json()["error_code"] == "FORBIDDEN_HOST"
                assert r.json()["success"] is False
            r = await b.client.get(b.url + "/health", headers={"Host": "evil.test"})
            assert r.status_code == 403
            assert journal_rows(journal_path) == before
            # The same request with a loopback Host works.
            r = await b.post("/CreatePayment", create_body("rebind-1"))
            assert r.status_code == 200, r.text

    run(go())


@pytest.mark.parametrize("headers", [
    b"Host: evil.test\r\nHost: localhost\r\n",
    b"Host: localhost\r\nOrigin: http://evil.test\r\nOrigin: http://localhost\r\n",
    b"Host: localhost\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n",
])
def test_a_repeated_host_origin_or_authorization_is_refused(journal_path: Path,
                                                             headers: bytes) -> None:
    # Which copy counts would differ between layers (the old stack took the first, CORS
    # takes the first, a loop keeps the last): refused instead.
    async def go() -> None:
        async with bridge(journal_path) as b:
            body = json.dumps(create_body("repeat-1")).encode()
            out = await raw(b, b"POST /CreatePayment HTTP/1.1\r\n" + headers
                            + b"x-api-version: v1\r\nContent-Type: application/json\r\n"
                            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
                            + body)
            assert out.startswith(b"HTTP/1.1 400"), out
            assert b"more than once" in out and b"INVALID_REQUEST" in out
            assert journal_rows(journal_path) == (0, 0)

    run(go())


def test_configured_host_name_is_answered(journal_path: Path) -> None:
    async def go() -> None:
        async with bridge(journal_path, policy=AccessPolicy.build(hosts=["pos-pc"])) as b:
            r = await b.post("/QueryPayment", {"retrieval_reference_number": "x"},
                             headers={**HEADERS, "Host": "pos-pc:8080"})
            assert r.json()["error_code"] == "PAYMENT_NOT_FOUND"

    run(go())


def test_cross_site_origin_is_refused_before_anything_is_done(journal_path: Path) -> None:
    async def go() -> None:
        async with bridge(journal_path, policy=AccessPolicy.build(origins=[ALLOWED])) as b:
            before = journal_rows(journal_path)
            for origin in ("http://evil.test", "null", "http://pos.shop.example:3001",
                           "https://pos.shop.example:3000"):
                r = await b.post("/CreatePayment", create_body("xsite-1"),
                                 headers={**HEADERS, "Origin": origin})
                assert r.status_code == 403, (origin, r.text)
                assert r.json()["error_code"] == "FORBIDDEN_ORIGIN"
                assert "access-control-allow-origin" not in r.headers
            # A "simple" cross-site request (no preflight: text/plain, no x-api-version)
            # is refused as well, not merely unreadable to the page.
            r = await b.client.post(b.url + "/CreatePayment", content=b'{"amount":"1.00"}',
                                    headers={"Origin": "http://evil.test",
                                             "Content-Type": "text/plain"})
            assert r.status_code == 403
            assert journal_rows(journal_path) == before

    run(go())


def test_allowed_origin_gets_preflight_and_cors_headers(journal_path: Path) -> None:
    async def go() -> None:
        async with bridge(journal_path, policy=AccessPolicy.build(origins=[ALLOWED])) as b:
            pre = await b.client.options(b.url + "/CreatePayment", headers={
                "Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, x-api-version",
            })
            assert pre.status_code == 200, pre.text
            assert pre.headers["access-control-allow-origin"] == ALLOWED
            allowed = pre.headers["access-control-allow-headers"].lower()
            assert "x-api-version" in allowed and "content-type" in allowed
            assert "POST" in pre.headers["access-control-allow-methods"]

            bad = await b.client.options(b.url + "/CreatePayment", headers={
                "Origin": "http://evil.test", "Access-Control-Request-Method": "POST"})
            assert bad.status_code == 403
            assert "access-control-allow-origin" not in bad.headers

            r = await b.post("/CreatePayment", create_body("cors-1"),
                             headers={**HEADERS, "Origin": ALLOWED})
            assert r.status_code == 200, r.text
            assert r.headers["access-control-allow-origin"] == ALLOWED
            # Errors are readable by the allowed page too.
            r = await b.post("/QueryPayment", {}, headers={**HEADERS, "Origin": ALLOWED})
            assert r.status_code == 400
            assert r.headers["access-control-allow-origin"] == ALLOWED

    run(go())


def test_the_bridges_own_origin_is_allowed(journal_path: Path) -> None:
    async def go() -> None:
        async with bridge(journal_path) as b:
            own = f"http://127.0.0.1:{b.port}"
            r = await b.post("/QueryPayment", {"retrieval_reference_number": "own"},
                             headers={**HEADERS, "Origin": own})
            assert r.json()["error_code"] == "PAYMENT_NOT_FOUND"
            r = await b.post("/QueryPayment", {"retrieval_reference_number": "own"},
                             headers={**HEADERS, "Origin": f"http://127.0.0.1:{b.port + 1}"})
            assert r.json()["error_code"] == "FORBIDDEN_ORIGIN"

    run(go())


def test_token_is_required_everywhere_but_preflight_and_public_documents(
    journal_path: Path,
) -> None:
    policy = AccessPolicy.build(token=TOKEN, origins=[ALLOWED])

    async def go() -> None:
        async with bridge(journal_path, policy=policy) as b:
            before = journal_rows(journal_path)
            for auth in (None, "Bearer wrong-token-0123456789abcdef", f"Basic {TOKEN}",
                         f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer", TOKEN):
                headers = dict(HEADERS)
                if auth is not None:
                    headers["Authorization"] = auth
                r = await b.post("/CreatePayment", create_body("tok-1"), headers=headers)
                assert r.status_code == 401, (auth, r.text)
                assert r.json()["error_code"] == "UNAUTHORIZED"
                assert r.headers["www-authenticate"].startswith("Bearer")
                assert TOKEN not in r.text
            r = await b.client.get(b.url + "/health")
            assert r.status_code == 401
            assert journal_rows(journal_path) == before

            for scheme in ("Bearer", "bearer", "BEARER"):
                r = await b.post("/QueryPayment", {"retrieval_reference_number": "tok-1"},
                                 headers={**HEADERS, "Authorization": f"{scheme} {TOKEN}"})
                assert r.json()["error_code"] == "PAYMENT_NOT_FOUND", r.text
            r = await b.client.get(b.url + "/openapi.json")
            assert r.status_code == 200 and r.json()["openapi"].startswith("3.")
            pre = await b.client.options(b.url + "/CreatePayment", headers={
                "Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, x-api-version"})
            assert pre.status_code == 200
            assert "authorization" in pre.headers["access-control-allow-headers"].lower()
            r = await b.post("/CreatePayment", create_body("tok-1"),
                             headers={**HEADERS, "Origin": ALLOWED})
            assert r.status_code == 401
            assert r.headers["access-control-allow-origin"] == ALLOWED

    run(go())


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
            assert b'"error_code": "HEADERS_TOO_LARGE"' in out
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
                assert b'"success": false' in out and b"INVALID_REQUEST" in out

    run(go())


def test_slow_and_idle_connections_are_closed(
    journal_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GuardedHttpToolsProtocol, "head_timeout", 0.3)
    monkeypatch.setattr(GuardedHttpToolsProtocol, "body_timeout", 0.3)

    async def go() -> None:
        async with bridge(journal_path) as b:
            loop = asyncio.get_running_loop()
            # Connected and silent: closed.
            t0 = loop.time()
            assert await raw(b, b"") == b""
            assert loop.time() - t0 < 4
            # A head trickled a byte at a time: closed without an answer.
            reader, writer = await asyncio.open_connection("127.0.0.1", b.port)
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
            # A body that never completes: 408, JSON.
            out = await raw(b, _request(b'{"retrieval_reference_number": "slow"}')[:-5])
            assert _status(out) == 408 and b"REQUEST_TIMEOUT" in out
            # A busy keep-alive connection is never cut: 1.2 s of requests on one socket.
            deadline = loop.time() + 1.2
            n = 0
            while loop.time() < deadline:
                r = await b.post("/QueryPayment", {"retrieval_reference_number": "busy"})
                assert r.json()["error_code"] == "PAYMENT_NOT_FOUND"
                n += 1
                await asyncio.sleep(0.1)
            assert n >= 5

    run(go())


@pytest.mark.parametrize("body, code", [
    (b'{"amount": "1.00", "amount": "100.00", "retrieval_reference_number": "dup-1", '
     b'"condition_code": "82"}', "INVALID_JSON"),
    # The same key twice, once written with an escape: still the same key.
    (b'{"amount": "1.00", "\\u0061mount": "100.00", "retrieval_reference_number": "dup-2", '
     b'"condition_code": "82"}', "INVALID_JSON"),
    (b'{"condition_code": "82", "amount": "1.00", "retrieval_reference_number": "dup-3", '
     b'"condition_code":"59"}', "INVALID_JSON"),
    (b"[" * 5000 + b"]" * 5000, "INVALID_JSON"),
    (b'{"amount": ' + b"9" * 5000 + b', "retrieval_reference_number": "big-1", '
     b'"condition_code": "82"}', "INVALID_JSON"),
    (b'{"amount": NaN, "retrieval_reference_number": "nan-1", "condition_code": "82"}',
     "INVALID_AMOUNT"),
    (b'{"amount": "1.00", "retrieval_reference_number": "' + b"\\u0000" * 10
     + b'", "condition_code": "82"}', "INVALID_REQUEST"),
    (b'{"amount": "1.00", "retrieval_reference_number": "trunc', "INVALID_JSON"),
    (json.dumps({f"{'k' * 1000}{i}": [1] for i in range(12)}).encode(), "INVALID_REQUEST"),
    (b'\xff\xfe{"amount": "1.00"}', "INVALID_JSON"),
])
def test_hostile_bodies_are_refused_and_change_nothing(
    journal_path: Path, body: bytes, code: str
) -> None:
    async def go() -> Any:
        async with bridge(journal_path) as b:
            r = await b.client.post(b.url + "/CreatePayment", content=body, headers=HEADERS)
            assert r.status_code == 400, r.text
            assert r.json()["error_code"] == code, r.text
            assert len(r.json()["message"]) < 400  # quotes the input cut short, never whole
            assert b.journal.recent() == []

    run(go())


@pytest.mark.parametrize("body, repeated", [
    (b'{"retrieval_reference_number": "amount"}', False),  # a value that reads like a key
    (b'{"retrieval_reference_number": "\\"retrieval_reference_number\\""}', False),
    (b'{"retrieval_reference_number": "a", "retrieval_reference_number": "a"}', True),
    (b'{"retrieval_reference_number": "a", "retrieval_reference_numbe\\u0072": "b"}', True),
])
def test_duplicate_keys_are_found_however_they_are_written(body: bytes, repeated: bool) -> None:
    from posbridge import errors
    from posbridge.http import models

    if repeated:
        with pytest.raises(errors.InvalidJson, match="more than once"):
            models.parse_body(models.QueryPaymentRequest, body)
    else:
        parsed = models.parse_body(models.QueryPaymentRequest, body)
        assert parsed.retrieval_reference_number == json.loads(body)[
            "retrieval_reference_number"]


def test_a_pipelined_request_never_cuts_the_one_being_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Request A is complete and takes a while to answer; request B, pipelined behind it on
    # the same connection, sends only part of its body. A must get its own answer; only
    # then does B's body deadline run, and B gets the 408.
    import socket
    import threading
    import time

    import uvicorn

    from rig import free_port

    monkeypatch.setattr(GuardedHttpToolsProtocol, "head_timeout", 0.4)
    monkeypatch.setattr(GuardedHttpToolsProtocol, "body_timeout", 0.4)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/slow":
            await asyncio.sleep(1.0)  # longer than both deadlines
        out = b"answer of " + scope["path"].encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           http=GuardedHttpToolsProtocol, log_config=None))
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
