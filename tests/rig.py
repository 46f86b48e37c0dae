"""Test rigs: an in-process bridge on a real socket, and helpers to run coroutines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from posbridge.events import EventBroker, EventsConfig
from posbridge.http import create_app
from posbridge.http.access import AccessPolicy
from posbridge.http.server import uvicorn_config
from posbridge.journal import Journal
from posbridge.protocol import LinkTimers
from posbridge.service import PaymentService, ServiceConfig
from posbridge.simulator import TerminalModel, TerminalServer
from posbridge.terminal import TerminalClient
from posbridge.transports import Connector

HEADERS = {"x-api-version": "v1"}
FAST_TIMERS = LinkTimers(rto=0.05, max_retries=6, heartbeat_interval=0.1, dead_after=0.5,
                         handshake_timeout=1.0)


def run(coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
    """Run a test coroutine with a hard time limit, so a hang fails instead of stalling CI."""

    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Bridge:
    service: PaymentService
    journal: Journal
    simulator: TerminalServer | None
    client: httpx.AsyncClient
    url: str
    port: int
    events: EventBroker

    async def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", HEADERS)
        return await self.client.post(self.url + path, json=body, headers=headers, **kw)

    async def wait_status(self, ref: str, status: str, timeout: float = 5.0) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            body: dict[str, Any] = (
                await self.post("/QueryPayment", {"retrieval_reference_number": ref})
            ).json()
            if body.get("status") == status or loop.time() > deadline:
                assert body.get("status") == status, body
                return body
            await asyncio.sleep(0.05)


def create_body(ref: str, amount: str = "1.00", cc: str = "82") -> dict[str, str]:
    return {"amount": amount, "retrieval_reference_number": ref, "condition_code": cc}


@contextlib.asynccontextmanager
async def bridge(
    journal_path: Path,
    *,
    model: TerminalModel | None = None,
    connector: Connector | None = None,
    config: ServiceConfig | None = None,
    policy: AccessPolicy | None = None,
    head_timeout: float = 10.0,
    events: EventsConfig | None = None,
    send_buffer: int | None = None,
) -> AsyncIterator[Bridge]:
    """The whole bridge in this process: journal file, service, uvicorn on a real port, and
    (unless a connector is given) the simulator over an in-process pipe. ``send_buffer``
    fixes the kernel's send buffer of every accepted connection (SO_SNDBUF, inherited from
    the listening socket), so a client that stops reading blocks the bridge's writes soon."""
    simulator = None
    if connector is None:
        simulator = TerminalServer(model or TerminalModel(customer_delay=0.2),
                                   timers=FAST_TIMERS)
        connector = simulator.connect_in_process
    journal = Journal(journal_path)
    terminal = TerminalClient(connector, description="test", timers=FAST_TIMERS,
                              backoff_initial=0.02, backoff_max=0.1)
    service = PaymentService(
        journal, terminal,
        config or ServiceConfig(terminal_timeout=1.0, query_timeout=0.5,
                                recovery_interval=0.2),
    )
    port = free_port()
    app = create_app(service, policy, events=events)
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, head_timeout=head_timeout))
    sockets = None
    if send_buffer is not None:
        listening = socket.socket()
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        listening.bind(("127.0.0.1", port))
        listening.listen(64)
        sockets = [listening]
    await service.start()
    serving = asyncio.create_task(server.serve(sockets=sockets))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            yield Bridge(service, journal, simulator, client, f"http://127.0.0.1:{port}", port,
                         app.state.events)
    finally:
        app.state.events.close()  # its streams would hold the server's shutdown
        server.should_exit = True
        await serving
        await service.stop()
        if simulator is not None:
            await simulator.close()
        journal.close()


Event = dict[str, Any]  # {"id": int | None, "event": str, "data": {...}} or {"comment": ...}


def parse_sse(text: str) -> list[Event]:
    """Events (and comments) of an SSE body, by the standard's rules."""
    out: list[Event] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        event: Event = {"id": None, "event": "message", "data": None}
        for line in block.split("\n"):
            if line.startswith(":"):
                out.append({"comment": line[1:].strip()})
                continue
            name, _, value = line.partition(": ")
            if name == "id":
                event["id"] = int(value)
            elif name == "event":
                event["event"] = value
            elif name == "data":
                event["data"] = json.loads(value)
            elif name == "retry":
                event["event"], event["retry"] = "retry", int(value)
        if event["data"] is not None or "retry" in event:
            out.append(event)
    return out


async def raw(b: Bridge, data: bytes, read_timeout: float = 5.0) -> bytes:
    """Send raw bytes on a fresh connection; return all the server sends until it closes
    (or the read times out)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", b.port)
    writer.write(data)
    # Answered and closed before it had all: the answer is still to be read.
    with contextlib.suppress(ConnectionError):
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
