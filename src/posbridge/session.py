"""Run one LinkConnection over one Transport: the I/O loop shared by both ends of the link.

The protocol object is pure; this runner is the only place where its bytes meet a
transport and its deadlines meet a clock. It is event-driven, so that an idle link costs
nothing but the protocol's own heartbeats:

* a reader task waits on the transport with no timeout, feeds what arrives, and writes
  what the link wants written (acknowledgements);
* the runner's own task sleeps until the link's next deadline (``next_deadline()``:
  retransmission, heartbeat, the peer's silence, the handshake) and fires the timers then;
* a send from another task writes at once and, when it brought the next deadline forward
  (a first unacknowledged frame arms the retransmission timer), wakes the timer task so
  that it sleeps to the new deadline instead of the old one.

Nothing polls: with the link idle, the process wakes only for a heartbeat to send or to
receive. Events are handed to a synchronous callback that must not block: the terminal
client resolves futures and schedules tasks from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable

from .protocol import Event, LinkConnection, LinkDown, Message
from .transports import Transport, TransportError

_READ_SIZE = 65536
#: How long one write may take before the link is declared down: a terminal that stops
#: reading (its app hung, a full USB or TCP buffer) must not hold a request for ever. The
#: link's own timers would declare it down within dead_after anyway; a write that cannot
#: finish in this long will not finish in time for any request.
WRITE_TIMEOUT = 2.0


class LinkRunner:
    def __init__(
        self,
        link: LinkConnection,
        transport: Transport,
        on_event: Callable[[Event], None],
        clock: Callable[[], float] = time.monotonic,
        write_timeout: float = WRITE_TIMEOUT,
    ) -> None:
        self.link = link
        self.transport = transport
        self._on_event = on_event
        self._clock = clock
        self._write_timeout = write_timeout
        self._write_lock = asyncio.Lock()
        self.last_rx_wall: float | None = None
        self._flushes: set[asyncio.Task[None]] = set()
        # The timer task sleeps until _armed (inf: no deadline) or until _wake is set.
        self._wake = asyncio.Event()
        self._armed = math.inf

    async def run(self) -> str:
        """Run until the link goes down; return why."""
        link = self.link
        link.initiate(self._clock())
        reader = asyncio.get_running_loop().create_task(self._read_loop())
        try:
            await self._flush()
            while not link.closed and not reader.done():
                now = self._clock()
                deadline = link.next_deadline()
                if deadline is not None and now >= deadline:
                    self._dispatch(link.handle_timers(now))
                    await self._flush()
                    continue
                self._wake.clear()
                self._armed = math.inf if deadline is None else deadline
                wait = None if deadline is None else deadline - now
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
        except TransportError as exc:
            self._dispatch(link.close(str(exc)))
        finally:
            self._armed = -math.inf  # nothing to wake any more
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        return self._reason

    async def _read_loop(self) -> None:
        link = self.link
        try:
            while not link.closed:
                data = await self.transport.read(_READ_SIZE, None)
                if not data:
                    continue
                self.last_rx_wall = time.time()
                self._dispatch(link.receive_data(data, self._clock()))
                await self._flush()
                self._rearm()
        except TransportError as exc:
            self._dispatch(link.close(str(exc)))
        finally:
            self._wake.set()  # the timer task sees the link closed (or the reader gone)

    def _rearm(self) -> None:
        """Wake the timer task when the link's next deadline is now earlier than the one
        it sleeps to, or the link closed. Waking it later than needed would fire a
        retransmission late; waking it for nothing costs a loop turn, so only then."""
        deadline = self.link.next_deadline()
        if self.link.closed or (deadline is not None and deadline < self._armed):
            self._wake.set()

    async def send(self, message: Message) -> None:
        """Send an application message; raises TransportError if the write fails or does
        not finish within the write timeout."""
        self.link.send(message, self._clock())
        self._rearm()
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
        self._rearm()
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
        self._wake.set()

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
                await self.transport.write(data, self._write_timeout)
