"""The bridge's own documentation page works offline: everything it loads comes from the
bridge, even with an access token set, and a real Chromium renders the six operations (the
reference's five, RefundPayment and GET /events)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from browser import chromium_path, run_page
from posbridge.http import docs
from procs import Stack

pytestmark = pytest.mark.e2e

TOKEN = "docs-page-token-0123456789"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(tmp_path_factory.mktemp("docs"),
               bridge_env={**os.environ, "POSBRIDGE_TOKEN": TOKEN},
               client_headers={"Authorization": f"Bearer {TOKEN}"}).running() as s:
        yield s


def test_the_page_and_its_assets_are_served_by_the_bridge_alone(stack: Stack) -> None:
    page = httpx.get(stack.url + "/docs")  # no token: the page holds no payment data
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["vary"] == "Origin"  # cacheable: a CORS fetch must not reuse it
    # Nothing from anywhere else: every script and stylesheet is a path on the bridge.
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/docs/") for s in sources), sources
    for source in sources:
        asset = httpx.get(stack.url + source)
        assert asset.status_code == 200 and len(asset.content) > 100, source
        # Streamed from the package's own files, whole (they are not read at start).
        assert asset.content == (docs.FOLDER / source.removeprefix("/docs/")).read_bytes()
        assert asset.headers["etag"] and asset.headers["cache-control"] == "max-age=86400"
    assert httpx.get(stack.url + "/openapi.json").json()["paths"].keys() == {
        "/CreatePayment", "/CancelPayment", "/QueryPayment", "/VoidPayment", "/SubmitBatch",
        "/RefundPayment", "/events"}
    # The API itself still needs the token.
    assert httpx.post(stack.url + "/QueryPayment", json={}).status_code == 401


@pytest.mark.skipif(chromium_path() is None and not os.environ.get("POSBRIDGE_CI"),
                    reason="Chromium is not installed")
def test_chromium_renders_the_six_operations_offline(stack: Stack, tmp_path: Path) -> None:
    # No proxy and no DNS: any request off this machine would fail, and the page would not
    # render.
    rendered = run_page(stack.url + "/docs", prefix="posbridge API (",
                        extra_args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                                    "--proxy-server=http://127.0.0.1:9"])
    assert rendered == "7 operations)"  # the five, RefundPayment and GET /events
