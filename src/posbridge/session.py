"""Run one LinkConnection over one Transport: the I/O loop shared by both ends of the link.

The protocol object is pure; this loop is the only place where its bytes meet a transport
and its deadlines meet a clock. It reads with a timeout no longer than the link's next
deadline (capped, so that a send from another task never waits long for its retransmission
timer), feeds what arrives, fires the timers, and writes what the link wants written.
Events are handed to a synchronous callback that must not block: the terminal client
resolves futures and schedules tasks from it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .protocol import Event, LinkConnection, LinkDown, Message
from .transports import Transport, TransportError

_MAX_WAIT = 0.05  # seconds; the longest a timer can be late
_READ_SIZE = 65536


class LinkRunner:
    def __init__(
        self,
        link: LinkConnection,
        transport: Transport,
        on_event: Callable[[Event], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link = link
        self.transport = transport
        self._on_event = on_event
        self._clock = clock
        self._write_lock = asyncio.Lock()
        self.last_rx_wall: float | None = None
        self._flushes: set[asyncio.Task[None]] = set()

    async def run(self) -> str:
        """Run until the link goes down; return why."""
        link = self.link
        link.initiate(self._clock())
        try:
            await self._flush()
            while not link.closed:
                deadline = link.next_deadline()
                now = self._clock()
                wait = _MAX_WAIT if deadline is None else max(0.0, min(deadline - now, _MAX_WAIT))
                data = await self.transport.read(_READ_SIZE, wait)
                now = self._clock()
                if data:
                    self.last_rx_wall = time.time()
                    self._dispatch(link.receive_data(data, now))
                deadline = link.next_deadline()
                if deadline is not None and now >= deadline and not link.closed:
                    self._dispatch(link.handle_timers(now))
                await self._flush()
        except TransportError as exc:
            self._dispatch(link.close(str(exc)))
        return self._reason

    async def send(self, message: Message) -> None:
        """Send an application message; raises TransportError if the write fails."""
        self.link.send(message, self._clock())
        try:
            await self._flush()
        except TransportError:
            # Make the read loop see the failure at once rather than at its next read.
            await self.transport.close()
            raise

    def send_nowait(self, message: Message) -> None:
        """Queue a message from synchronous code; a task writes it at once. Messages keep
        their order: each flush writes everything queued so far under one lock."""
        self.link.send(message, self._clock())
        task = asyncio.get_running_loop().create_task(self._flush_quietly())
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush_quietly(self) -> None:
        try:
            await self._flush()
        except TransportError:
            await self.transport.close()  # the read loop reports the failure

    def close(self, reason: str) -> None:
        self._dispatch(self.link.close(reason))

    _reason = "link closed"

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, LinkDown):
                self._reason = event.reason
            self._on_event(event)

    async def _flush(self) -> None:
        async with self._write_lock:
            data = self.link.data_to_send()
            if data:
                await self.transport.write(data)
