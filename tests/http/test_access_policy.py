"""Who may drive the terminal (http/access.py): Host, Origin, CORS and the token, through a
real uvicorn on a real port with the production protocol class."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from posbridge.http.access import (
    AccessPolicy,
    ConfigError,
    is_loopback_bind,
    normalize_origin,
)
from rig import HEADERS, bridge, create_body, raw, run

TOKEN = "s3cret-token-for-tests-0123456789"
ALLOWED = "http://pos.shop.example:3000"


def journal_rows(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as db:
        payments = db.execute("SELECT count(*) FROM payments").fetchone()[0]
        events = db.execute("SELECT count(*) FROM events").fetchone()[0]
    return payments, events


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
    b"Host: localhost\r\nx-api-version: v2\r\n",  # with the v1 the request always has
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


def test_every_refusal_before_a_route_is_json(journal_path: Path) -> None:
    # A preflight asking for what is not allowed, and a WebSocket upgrade: the bridge's JSON
    # error, not Starlette's or uvicorn's plain text (or an empty 403).
    async def go() -> None:
        async with bridge(journal_path, policy=AccessPolicy.build(origins=[ALLOWED])) as b:
            for asked in ({"Access-Control-Request-Method": "POST",
                           "Access-Control-Request-Headers": "x-api-version, x-evil"},
                          {"Access-Control-Request-Method": "DELETE"}):
                r = await b.client.options(b.url + "/CreatePayment",
                                           headers={"Origin": ALLOWED, **asked})
                assert r.status_code == 400, r.text
                assert r.headers["content-type"] == "application/json"
                body = r.json()
                assert body["success"] is False and body["error_code"] == "INVALID_REQUEST"
                assert "preflight" in body["message"] and "x-api-version" in body["message"]
            out = await raw(b, b"GET /ws HTTP/1.1\r\nHost: localhost\r\n"
                               b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
                               b"Sec-WebSocket-Version: 13\r\n"
                               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                            read_timeout=1)
            head, _, body_bytes = out.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 404"), out
            assert b"content-type: application/json" in head.lower()
            assert json.loads(body_bytes)["error_code"] == "NOT_FOUND"

    run(go())
