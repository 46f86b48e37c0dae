"""``GET /events``: the journal's events as Server-Sent Events (the broker is ../events.py).

The route sits behind the same Gate as the commands (Host, Origin/CORS, token). Its answer
is an ASGI response of our own rather than Starlette's StreamingResponse: a write that stays
blocked (the client stopped reading and every buffer between is full) must be given up
after ``stall_timeout`` so the subscriber's slot is freed, and a StreamingResponse's
iterator cannot run while its write is blocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated

from msgspec import Meta, Struct
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .. import errors
from ..events import HEARTBEAT, EventBroker, Subscriber
from ..service import check_reference
from .models import Status

log = logging.getLogger("posbridge.http")

PATH = "/events"


# -- what each event's data holds (for the OpenAPI document and the TypeScript types) ----


class JournalEventData(Struct, kw_only=True):
    """The data of a journal event (SSE ``event:`` payment, cancel, void, batch, or a kind
    added later such as refund; ``id:`` the journal id). A payment's fields are its
    *current* state, as QueryPayment shows it; ``to_status`` is what this event changed."""

    event_id: Annotated[int, Meta(description="the journal's id of this event, also its SSE "
                                  "id")]
    kind: Annotated[str, Meta(description="payment, cancel, void, batch (more may be added)")]
    ref: Annotated[str, Meta(description="the payment's reference, or a batch's batch_id")]
    at: Annotated[str, Meta(description="when it was journaled (ISO 8601, UTC)")]
    from_status: Annotated[str | None, Meta(description="payment: the status before (null "
                                            "when created); operation: its state before")]
    to_status: Annotated[str, Meta(description="payment: the status it moved to, as "
                                   "QueryPayment names it; operation: sent, done, refused or "
                                   "not_done")]
    detail: Annotated[str, Meta(description="why, for a person")]
    retrieval_reference_number: str | None = None
    condition_code: str | None = None
    transaction_id: str | None = None
    transaction_status: str | None = None
    status: Annotated[Status | None, Meta(description="the payment's status now")] = None
    amount: str | None = None
    batch_number: int | None = None
    recovered_from_terminal: bool | None = None
    batch_id: str | None = None
    count: int | None = None
    total: str | None = None
    terminal: str | None = None


class LinkEventData(Struct, kw_only=True):
    """SSE ``event: link`` (no id, not replayed): the terminal link's state, sent when a
    stream opens and whenever the link goes up or down."""

    state: Annotated[str, Meta(description="connecting, connected or disconnected")]
    connected: bool
    reason: Annotated[str, Meta(description="why the link is down; empty while it is up")]
    serial: Annotated[str | None, Meta(description="the terminal's serial, once known")]
    link: Annotated[str, Meta(description="the link, e.g. usb or tcp://host:port")]


class StreamEventData(Struct, kw_only=True):
    """SSE ``event: stream``, the first event of every stream, whose ``id:`` is the
    journal id the stream resumes after (so that EventSource resumes from there)."""

    after: int
    ref: str | None


class OverflowEventData(Struct, kw_only=True):
    """SSE ``event: overflow``, the last event of a stream that fell behind (or could not
    read the journal): reconnect with Last-Event-ID."""

    reason: str
    last_event_id: int


EVENT_MODELS: tuple[type[Struct], ...] = (
    JournalEventData, LinkEventData, StreamEventData, OverflowEventData)


def _single(values: list[str], name: str) -> str | None:
    """The one value of a header or query parameter, None when absent; given twice, it is
    ambiguous (which one did the client mean?), so it is refused like a repeated Host."""
    if len(values) > 1:
        raise errors.InvalidRequest(f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


def _event_id(given: str, name: str) -> int:
    if not given.isascii() or not given.isdigit() or len(given) > 18:
        raise errors.InvalidRequest(
            f"{name} must be an event id (a whole number, 0 for the whole history); "
            f"got {given[:40]!r}")
    return int(given)


def _after(request: Request) -> int | None:
    """Where the subscriber resumes: ``Last-Event-ID`` (what EventSource sends when it
    reconnects, so it wins over the URL it reconnects to), else ``?after=``, else None
    (only what happens from now on). An empty header counts as absent (EventSource's
    reset); an empty ``?after=`` is an error, since nothing sends it by accident."""
    header = _single(request.headers.getlist("last-event-id"), "the Last-Event-ID header")
    query = _single(request.query_params.getlist("after"), "after")
    # Both are checked whichever wins: a bad ?after= is an error even beside the header.
    after = None if query is None else _event_id(query, "after")
    return _event_id(header, "the Last-Event-ID header") if header else after


class EventStream(Response):
    """The stream of one subscriber, written until it ends, the client leaves, or a write
    stays blocked past ``stall_timeout``."""

    media_type = "text/event-stream"

    def __init__(self, broker: EventBroker, subscriber: Subscriber) -> None:
        # Not Response.__init__: that would give the stream a Content-Length of 0.
        self.broker, self.subscriber = broker, subscriber
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscriber, config = self.subscriber, self.broker.config

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            subscriber.end("gone")

        watcher = asyncio.create_task(watch())
        items = self.broker.stream(subscriber)
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            await send({"type": "http.response.body", "more_body": True,
                        "body": b"retry: %d\n\n" % config.retry_ms})
            async for item in items:
                chunk = HEARTBEAT if item is None else item[1]
                try:
                    async with asyncio.timeout(config.stall_timeout):
                        await send({"type": "http.response.body", "body": chunk,
                                    "more_body": True})
                except TimeoutError:
                    log.warning("events: a subscriber took no data for %g s; its connection "
                                "is closed (it resumes from its last event id when it "
                                "reconnects)", config.stall_timeout)
                    return  # uvicorn closes the connection of an unfinished answer
                if subscriber.ending == "gone":
                    break
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await items.aclose()
            self.broker.forget(subscriber)


def routes(broker: EventBroker) -> list[Route]:
    """The ``/events`` route over ``broker``."""

    async def events(request: Request) -> Response:
        after = _after(request)
        ref = _single(request.query_params.getlist("ref"), "ref")
        if ref is not None:
            check_reference(ref)
        return EventStream(broker, broker.subscribe(after, ref))

    return [Route(PATH, events, methods=["GET"])]
