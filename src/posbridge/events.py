"""The journal's events as a stream for many subscribers: what ``GET /events`` serves.

The journal's ``events`` table is the one ordered history of everything (payment status
changes, cancel, void, batch, and any later kind), with ids that only grow and are never
used twice. A subscriber is a *cursor* into that history: the last id it was given. It
starts from the id it asks for (``Last-Event-ID`` or ``?after=``), reads the history from
the journal page by page until it has caught up, and then joins the live feed. That makes
replay after a dropped connection or a bridge restart exact, with no gap and no duplicate:
every journal event is delivered to a subscriber once, and only if its id is above the
subscriber's cursor.

The live feed: every committed journal write calls the broker (``Journal.listeners``); the
broker reads the new events once (one query however many subscribers there are), encodes
each once, and appends it to each live subscriber's bounded buffer. It never waits for a
subscriber. A subscriber whose buffer is full has fallen behind (its connection is not
reading): its buffer is dropped and replaced by one final ``overflow`` event naming the
last id it was given; the stream then ends and the client reconnects from that id, reading
what it missed from the journal at its own pace. A subscriber that cannot even take that
final event (no write completes for ``stall_timeout``) is cut off by the HTTP layer.

Terminal events (the link going up or down, with the reason) are not journal rows: they
describe the terminal now, not the money. They are sent to every subscriber without an
``id:`` line, so they never move a client's Last-Event-ID, and they are not replayed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from . import errors, payments
from .journal import Journal, JournalError, JournalEvent
from .terminal import LinkStatus, TerminalClient

log = logging.getLogger("posbridge.events")

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: An SSE event type is one line of our own vocabulary; anything else is sent as "event".
_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: Fields of a QueryPayment answer that are its envelope, not the payment.
_ENVELOPE = ("success", "message")


@dataclass(frozen=True)
class EventsConfig:
    """Limits of the events stream (``posbridge serve --events-*``)."""

    #: Seconds between heartbeat comments on an idle stream, so that a proxy or a client
    #: notices a dead connection.
    heartbeat: float = 15.0
    #: Streams served at once; one more is answered 503 TOO_MANY_SUBSCRIBERS.
    max_subscribers: int = 64
    #: Events buffered for one subscriber before it counts as fallen behind.
    queue_size: int = 256
    #: Seconds one write to a subscriber may stay blocked (it is not reading at all) before
    #: its connection is cut.
    stall_timeout: float = 10.0
    #: Events read from the journal at a time while a subscriber catches up.
    page: int = 200
    #: The reconnection delay (ms) suggested to EventSource clients (the SSE ``retry:``).
    retry_ms: int = 1000


def sse(data: dict[str, Any], event: str, event_id: int | None = None) -> bytes:
    """One SSE event. JSON never contains a raw newline, so ``data`` is one line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {_ENCODER.encode(data)}\n\n".encode()


HEARTBEAT = b": hb\n\n"


def event_data(journal: Journal, event: JournalEvent) -> dict[str, Any]:
    """What a subscriber is told about one journal event: the event itself and the current
    state of what it is about (for a payment, the fields QueryPayment shows)."""
    from .http import models  # the one definition of what QueryPayment shows

    payment_kind = event.kind == "payment"
    data: dict[str, Any] = {
        "event_id": event.id,
        "kind": event.kind,
        "ref": event.ref,
        "at": event.at,
        # A payment's statuses as the POS sees them (``received`` is ``unknown``); an
        # operation's states (sent, done, refused, not_done) as they are.
        "from_status": _shown(event.from_status, payment_kind),
        "to_status": _shown(event.to_status, payment_kind),
        "detail": event.detail,
    }
    if event.kind == payments.OpKind.BATCH:
        batch = journal.batch(event.ref)
        if batch is not None:
            data.update(batch_id=batch.batch_id, batch_number=batch.batch_number,
                        count=batch.count, total=payments.format_minor(batch.total_minor),
                        terminal=batch.terminal)
        return data
    # A payment's event, an operation on a payment (cancel, void), or a kind this version
    # does not know (refund): the payment's current state when the reference is one.
    payment = journal.get(event.ref)
    if payment is not None:
        answer = models.query_payment_response(payment)
        data.update((k, v) for k, v in answer.items() if k not in _ENVELOPE)
    return data


def _shown(status: str | None, payment_kind: bool) -> str | None:
    if status is None or not payment_kind:
        return status
    try:
        return str(payments.public_status(status))
    except ValueError:
        return status


def encode_event(journal: Journal, event: JournalEvent) -> bytes:
    kind = event.kind if _KIND_RE.fullmatch(event.kind) else "event"
    return sse(event_data(journal, event), kind, event.id)


def link_data(status: LinkStatus) -> dict[str, Any]:
    peer = status.terminal
    return {
        "state": status.state,
        "connected": status.state == "connected",
        "reason": status.last_error,
        "serial": peer.serial if peer else None,
        "link": status.description,
    }


# One item of a subscriber's buffer: the journal id it carries (None for a terminal event)
# and its encoded bytes.
Item = tuple[int | None, bytes]


class Subscriber:
    """One stream's place in the history and its bounded buffer of live events."""

    def __init__(self, broker: EventBroker, after: int, ref: str | None) -> None:
        self._broker = broker
        #: The last journal id queued for this subscriber (replayed or live).
        self.cursor = after
        #: The last journal id written to its connection (what its overflow event names).
        self.delivered = after
        self.ref = ref
        self.live = False
        self._items: collections.deque[Item] = collections.deque()
        self._wake = asyncio.Event()
        #: Why the stream ends: "" while it runs, "overflow", "closing" or "gone".
        self.ending = ""

    def wants(self, event: JournalEvent) -> bool:
        return event.id > self.cursor and (self.ref is None or event.ref == self.ref)

    def push(self, item: Item) -> None:
        if self.ending:
            return
        if len(self._items) >= self._broker.config.queue_size:
            self._overflow()
            return
        self._items.append(item)
        if item[0] is not None:
            self.cursor = item[0]
        self._wake.set()

    def end(self, why: str) -> None:
        if not self.ending:
            self.ending = why
        self._wake.set()

    def _overflow(self) -> None:
        log.warning("events: a subscriber fell %d events behind (its connection is not "
                    "reading); ending its stream after id %d so it resumes from there",
                    len(self._items), self.delivered)
        self._items.clear()
        self.end("overflow")
        self._broker.forget(self)

    async def next(self, timeout: float) -> Item | None:
        """The next buffered item; None after ``timeout`` seconds with nothing (a heartbeat
        is due) or when the stream is ending and its buffer is empty."""
        if not self._items and not self.ending:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
        if self._items:
            return self._items.popleft()
        return None


class EventBroker:
    """Fans the journal's new events (and the terminal's link changes) out to subscribers.

    ``subscribers`` is the number of streams being served (a gauge for /metrics).
    """

    def __init__(self, journal: Journal, terminal: TerminalClient | None = None,
                 config: EventsConfig | None = None) -> None:
        self.journal = journal
        self.terminal = terminal
        self.config = config or EventsConfig()
        self._all: set[Subscriber] = set()
        self._live: set[Subscriber] = set()
        self._last = journal.last_event_id()
        self._scheduled = False
        self._closed = False
        journal.listeners.append(self._on_commit)
        if terminal is not None:
            terminal.state_listeners.append(self._on_link)

    @property
    def subscribers(self) -> int:
        return len(self._all)

    # -- subscribing ------------------------------------------------------------------

    def subscribe(self, after: int | None, ref: str | None) -> Subscriber:
        """A new subscriber resuming after journal id ``after`` (None: from now on), or
        TooManySubscribers."""
        if len(self._all) >= self.config.max_subscribers:
            raise errors.TooManySubscribers(
                f"posbridge already streams events to {self.config.max_subscribers} "
                "subscribers, its limit (--events-max-subscribers); close one or retry later")
        start = self.journal.last_event_id() if after is None else after
        subscriber = Subscriber(self, start, ref)
        self._all.add(subscriber)
        if self._closed:
            subscriber.end("closing")
        return subscriber

    def forget(self, subscriber: Subscriber) -> None:
        self._all.discard(subscriber)
        self._live.discard(subscriber)

    async def stream(self, subscriber: Subscriber) -> AsyncGenerator[Item | None, None]:
        """The subscriber's items in order: the journal's history after its cursor, then
        live events; None when a heartbeat is due. Ends when the subscriber ends."""
        config = self.config
        try:
            # Where this stream resumes, as an id: EventSource keeps it as its Last-Event-ID,
            # so a stream that drops before its first journal event resumes from here too.
            yield None, sse({"after": subscriber.cursor, "ref": subscriber.ref}, "stream",
                            subscriber.cursor)
            if self.terminal is not None:
                yield None, sse(link_data(self.terminal.status()), "link")
            while not subscriber.live and not subscriber.ending:
                page = self.journal.events_after(subscriber.cursor, config.page,
                                                 subscriber.ref)
                if not page:
                    # Caught up: from here on the broker hands it every new event. No
                    # await between the read and this line, so no commit falls between.
                    subscriber.live = True
                    self._live.add(subscriber)
                    break
                for event in page:
                    subscriber.cursor = event.id
                    yield event.id, encode_event(self.journal, event)
                    subscriber.delivered = event.id  # resumed here: it was written
            while True:
                item = await subscriber.next(config.heartbeat)
                if item is not None:
                    yield item
                    if item[0] is not None:
                        subscriber.delivered = item[0]
                elif subscriber.ending:
                    break
                else:
                    yield None
            if subscriber.ending == "overflow":
                yield None, sse({
                    "reason": f"this subscriber fell more than {config.queue_size} events "
                    "behind; reconnect with Last-Event-ID to read the rest from the journal",
                    "last_event_id": subscriber.delivered,
                }, "overflow")
        except JournalError as exc:
            log.warning("events: cannot read the journal for a subscriber: %s", exc)
            yield None, sse({"reason": f"{exc.message}; reconnect with Last-Event-ID",
                             "last_event_id": subscriber.delivered}, "overflow")
        finally:
            self.forget(subscriber)

    # -- publishing -------------------------------------------------------------------

    def _on_commit(self) -> None:
        # Called inside the journal's write path: only schedule the fan-out, once per turn
        # of the loop however many transactions commit in it.
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a journal used without a loop (tools, tests)
            return
        self._scheduled = True
        loop.call_soon(self._fan_out)

    def _fan_out(self) -> None:
        self._scheduled = False
        try:
            if not self._live:
                self._last = self.journal.last_event_id()
                return
            while True:
                page = self.journal.events_after(self._last, self.config.page)
                for event in page:
                    self._last = event.id
                    encoded: bytes | None = None
                    for subscriber in list(self._live):
                        if subscriber.wants(event):
                            if encoded is None:
                                encoded = encode_event(self.journal, event)
                            subscriber.push((event.id, encoded))
                if len(page) < self.config.page:
                    return
        except JournalError as exc:
            # The events stay in the journal; the next commit (or a reconnect) reads them.
            log.warning("events: cannot read the journal's new events: %s", exc)
        except Exception:
            log.exception("events: publishing failed")

    def _on_link(self, status: LinkStatus) -> None:
        if status.state in ("connected", "disconnected"):
            self.publish("link", link_data(status))

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """Send a terminal event (not a journal row: no id, no replay) to every subscriber,
        whatever its reference filter. ``event`` is the SSE event type."""
        encoded = sse(data, event)
        for subscriber in list(self._all):
            subscriber.push((None, encoded))

    def close(self) -> None:
        """End every stream (the bridge is stopping); clients reconnect with their last id."""
        self._closed = True
        for subscriber in list(self._all):
            subscriber.end("closing")

