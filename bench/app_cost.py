"""In-process cost of one QueryPayment in the bridge's ASGI app, beside a bare Starlette app.

    .venv/bin/python bench/app_cost.py [--requests 20000] [--repeats 5]

No sockets and no HTTP parser: both apps are called directly with the same ASGI scope and
body, alternately, ``--repeats`` times; the lowest time per request of each is printed with
their difference, which is what the bridge's own layers (guards, validation, journal read,
answer) cost per request. bench/bench.py measures the whole server over real sockets; this
one isolates the app, which is where the bridge's optimisations were (docs/performance.md).
To measure an older commit: ``git worktree add /tmp/old COMMIT`` and run this file with
``PYTHONPATH=/tmp/old/src``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from baselines import BODY as BASELINE_BODY  # bench/ is on sys.path: run as a script
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

REF = "bench-query"
REQUEST = b'{"retrieval_reference_number":"%s"}' % REF.encode()
SCOPE: dict[str, Any] = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
    "scheme": "http", "path": "/QueryPayment", "raw_path": b"/QueryPayment",
    "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8080),
    "headers": [(b"host", b"127.0.0.1:8080"), (b"x-api-version", b"v1"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(REQUEST)).encode())],
}


async def per_request_us(app: Any, n: int) -> float:
    statuses: set[int] = set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": REQUEST, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    start = time.perf_counter()
    for _ in range(n):
        await app({**SCOPE, "state": {}}, receive, send)
    elapsed = time.perf_counter() - start
    if statuses != {200}:
        raise SystemExit(f"the app answered {statuses}, not 200")
    return elapsed / n * 1e6


def bare_app() -> Starlette:
    async def query(request: Request) -> Response:
        await request.body()
        return Response(BASELINE_BODY, media_type="application/json")

    return Starlette(routes=[Route("/QueryPayment", query, methods=["POST"])])


async def main(requests: int, repeats: int) -> None:
    from posbridge.http import create_app
    from posbridge.journal import Journal
    from posbridge.service import PaymentService, ServiceConfig
    from posbridge.terminal import TerminalClient
    from posbridge.terminals import choose_terminal

    with tempfile.TemporaryDirectory(prefix="posbridge-appcost-") as tmp:
        journal = Journal(Path(tmp) / "journal.sqlite3")
        choice = choose_terminal("simulator", customer_delay=0)
        service = PaymentService(journal, TerminalClient(choice.connector,
                                                         description="simulator"),
                                 ServiceConfig(terminal_timeout=5))
        await service.start()
        try:
            for _ in range(100):  # until the link is up
                if service.terminal.connected:
                    break
                await asyncio.sleep(0.05)
            await service.create_payment(REF, "1.00", "82")
            while journal.get(REF).status != "approved":  # type: ignore[union-attr]
                await asyncio.sleep(0.05)
            bridge, bare = create_app(service), bare_app()
            best = {"bridge": float("inf"), "bare": float("inf")}
            for _ in range(repeats):
                best["bridge"] = min(best["bridge"], await per_request_us(bridge, requests))
                best["bare"] = min(best["bare"], await per_request_us(bare, requests))
        finally:
            await service.stop()
            await choice.close()
            journal.close()
    print(f"QueryPayment in process, best of {repeats} x {requests} requests:")
    print(f"  bridge app         {best['bridge']:6.1f} us/request")
    print(f"  bare Starlette app {best['bare']:6.1f} us/request")
    print(f"  the bridge's own layers: {best['bridge'] - best['bare']:.1f} us/request "
          f"(ratio {best['bare'] / best['bridge']:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.repeats))
