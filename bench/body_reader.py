"""What the body deadline costs per request: the bridge's BodyReader beside the same read
under ``asyncio.timeout()`` and with no deadline at all.

    .venv/bin/python bench/body_reader.py [--reads 50000] [--repeats 5]

Each reads a body that is already there (the usual request: head and body in one packet)
through an ASGI ``receive`` that returns at once, on uvloop; the lowest time per read of
each is printed. The difference is the deadline's own cost (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from posbridge.http.body import BodyReader

MESSAGE = {"type": "http.request", "body": b'{"retrieval_reference_number":"x"}',
           "more_body": False}


async def receive() -> dict[str, Any]:
    return MESSAGE


async def no_deadline(receive: Any, length: str | None) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def with_asyncio_timeout(receive: Any, length: str | None) -> bytes:
    async with asyncio.timeout(10.0):
        return await no_deadline(receive, length)


async def main(reads: int, repeats: int) -> None:
    reader = BodyReader()
    ways: dict[str, Callable[[Any, str | None], Awaitable[bytes]]] = {
        "BodyReader (one sweeping timer)": reader.read,
        "asyncio.timeout() per read": with_asyncio_timeout,
        "no deadline": no_deadline,
    }
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(repeats):
        for name, read in ways.items():
            t0 = time.perf_counter()
            for _ in range(reads):
                await read(receive, "34")
            best[name] = min(best[name], (time.perf_counter() - t0) / reads)
    for name, seconds in best.items():
        print(f"  {name:34} {seconds * 1e6:6.2f} us/read")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=50000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import uvloop

    uvloop.run(main(args.reads, args.repeats))
