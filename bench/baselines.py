"""Baseline servers for bench/bench.py: the bridge's QueryPayment answer, served as a constant.

    python bench/baselines.py starlette --port 8001   # bare Starlette on uvicorn
    python bench/baselines.py raw --port 8002         # minimal asyncio HTTP/1.1 responder

``starlette`` runs uvicorn exactly as ``posbridge serve`` does (uvloop, httptools, no log
config, no access log, no server header, lifespan off, keep-alive 5 s) with one POST route
that reads the request body and answers a constant JSON body. ``raw`` is an
``asyncio.Protocol`` on uvloop that answers every request on a keep-alive connection with
the same body: the ceiling of any Python server on this machine, and a check that the load
generator is not the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import cast

# Same fields, types and about the same length as the bridge's answer for an approved payment
# (since issue 18 that answer carries the refunds and the terminal's receipt).
_COPY = ["POSBRIDGE SIMULATOR - NO REAL MONEY", "SALE APPROVED", "AMOUNT     SGD 1.00",
         "METHOD     PayNow wallet ****uery", "TXN        100126120257201299524972",
         "TID SIM-000001  MID SIM-MERCHANT-0001", "2026-12-02T06:45:19Z"]
BODY = json.dumps(
    {
        "success": True,
        "message": "Query payment command processed",
        "retrieval_reference_number": "bench-query",
        "condition_code": "82",
        "transaction_id": "100126120257201299524972",
        "transaction_status": "00",
        "status": "approved",
        "amount": "1.00",
        "batch_number": None,
        "recovered_from_terminal": False,
        "refunded": "0.00",
        "refunds": [],
        "receipt": {
            "kind": "payment", "method": "PayNow", "account": "wallet ****uery",
            "transaction_id": "100126120257201299524972", "terminal_id": "SIM-000001",
            "merchant_id": "SIM-MERCHANT-0001", "time": "2026-12-02T06:45:19Z",
            "amount": "1.00", "status": "approved",
            "merchant_copy": ["MERCHANT COPY", *_COPY, "SIGNATURE NOT REQUIRED"],
            "customer_copy": ["CUSTOMER COPY", *_COPY, "THANK YOU"],
        },
        "resolved_by_hand": False,
    },
    separators=(",", ":"),
).encode()

RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)
_CONTENT_LENGTH = b"\r\ncontent-length:"


def content_length(head: bytes) -> int:
    """The Content-Length of a request or response head (without the final CRLFCRLF); 0 if
    there is none."""
    start = head.lower().find(_CONTENT_LENGTH)
    if start < 0:
        return 0
    start += len(_CONTENT_LENGTH)
    end = head.find(b"\r\n", start)
    return int(head[start:] if end < 0 else head[start:end])


def _run(coro: object) -> None:
    import uvloop

    uvloop.run(coro)  # type: ignore[arg-type]


# -- bare Starlette ----------------------------------------------------------------------


def serve_starlette(host: str, port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def query(request: Request) -> Response:
        await request.body()
        return Response(BODY, media_type="application/json")

    app = Starlette(routes=[Route("/QueryPayment", query, methods=["POST"])])
    config = uvicorn.Config(
        app, host=host, port=port, loop="uvloop", http="httptools", log_config=None,
        access_log=False, server_header=False, lifespan="off", timeout_keep_alive=5,
    )
    _run(uvicorn.Server(config).serve())


# -- raw asyncio -------------------------------------------------------------------------


class _Responder(asyncio.Protocol):
    """Answers each complete request (head plus Content-Length body) with RESPONSE."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            total = end + 4 + content_length(bytes(buf[:end]))
            if len(buf) < total:
                return
            del buf[:total]
            assert self._transport is not None
            self._transport.write(RESPONSE)


async def _serve_raw(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Responder, host, port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def serve_raw(host: str, port: int) -> None:
    _run(_serve_raw(host, port))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["starlette", "raw"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.kind == "starlette":
        serve_starlette(args.host, args.port)
    else:
        serve_raw(args.host, args.port)


if __name__ == "__main__":
    main()
