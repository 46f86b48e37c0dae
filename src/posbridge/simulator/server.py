"""Serve the simulated terminal's side of the link over TCP or an in-process pipe.

Like a real terminal on one cable, it talks to one PC at a time: a new connection replaces
the old one (the PC reconnected).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from .. import __version__
from ..protocol import (
    PRODUCTION_TIMERS,
    PROTOCOL_VERSION,
    Event,
    Hello,
    LinkConnection,
    LinkTimers,
    LinkUp,
    Message,
    MessageReceived,
    Role,
)
from ..protocol.messages import Progress
from ..session import LinkRunner
from ..transports import Transport
from ..transports.memory import MemoryTransport, pipe_pair
from ..transports.tcp import TcpTransport
from .model import TerminalModel

log = logging.getLogger("posbridge.simulator")


class TerminalServer:
    def __init__(
        self,
        model: TerminalModel,
        *,
        serial: str = "SIM-000001",
        timers: LinkTimers | None = None,
    ) -> None:
        self.model = model
        model.terminal_id = serial
        self.identity = Hello(
            role="terminal",
            version=PROTOCOL_VERSION,
            session="",
            serial=serial,
            model="posbridge simulator (no real money)",
            app_version=__version__,
            condition_codes=model.condition_codes,
            condition_code_names=model.condition_code_names,
        )
        self.timers = timers or PRODUCTION_TIMERS
        self._runner: LinkRunner | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        model.emit = self._emit
        model.drop_link = self.drop_link

    # -- serving ----------------------------------------------------------------------

    async def serve(self, transport: Transport) -> None:
        """Run the terminal end of the link over one transport until it closes."""
        if self._runner is not None:
            self._runner.close("another PC connected")
            await self._runner.transport.close()
        link = LinkConnection(Role.TERMINAL, self.identity, self.timers)
        runner = LinkRunner(link, transport, lambda event: self._on_event(runner, event))
        self._runner = runner
        log.info("simulator: PC connected over %s", transport.description)
        try:
            reason = await runner.run()
            log.info("simulator: link to the PC down: %s", reason)
        finally:
            await transport.close()
            if self._runner is runner:
                self._runner = None

    async def listen_tcp(self, host: str, port: int) -> asyncio.Server:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self.serve(TcpTransport(reader, writer))

        self._server = await asyncio.start_server(on_connect, host, port)
        return self._server

    async def connect_in_process(self) -> MemoryTransport:
        """A Connector for ``posbridge serve --terminal simulator``: a new pipe each call."""
        host_end, terminal_end = pipe_pair("in-process simulator")
        task = asyncio.get_running_loop().create_task(self.serve(terminal_end))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)
        return host_end

    def drop_link(self) -> None:
        runner = self._runner
        if runner is not None:
            runner.close("the simulator dropped the link (scenario .98)")
            asyncio.get_running_loop().create_task(runner.transport.close())

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._runner is not None:
            self._runner.close("the simulator is stopping")
            await self._runner.transport.close()
        for task in list(self._connections):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.model.close()

    # -- events -----------------------------------------------------------------------

    def _on_event(self, runner: LinkRunner, event: Event) -> None:
        if isinstance(event, LinkUp):
            log.info("simulator: session with the PC is up")
        elif isinstance(event, MessageReceived):
            answer = self.model.handle(event.message)
            if answer is not None:
                runner.send_nowait(answer)

    def _emit(self, message: Message) -> None:
        runner = self._runner
        if isinstance(message, Progress) and runner is not None and runner.link.version < 2:
            return  # progress is version 2: a v1 host would drop it and lose the link
        if runner is not None and runner.link.peer is not None and not runner.link.closed:
            runner.send_nowait(message)
        else:
            log.info("simulator: no PC connected; %s not sent", message)
