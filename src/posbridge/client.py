"""A Python client for the PC POS USB API, sync and async (httpx).

    from posbridge.client import Client

    with Client("http://localhost:8080") as pos:
        pos.create_payment("12.50", "invoice-1001")
        payment = pos.wait_final("invoice-1001")
        if payment["transaction_status"] == "00":
            ...  # paid

``events()`` follows every payment and the terminal as it happens (``GET /events``), and
resumes where it left off when the connection drops or the bridge restarts:

    for event in pos.events(ref="invoice-1001", after=0):
        print(event.event, event.id, event.data.get("status"))

Every error answer raises ``ApiError`` with the HTTP status, the stable ``error_code`` and
the message; a bridge that cannot be reached raises ``httpx.TransportError``. A 504
(``TERMINAL_TIMEOUT``) from CreatePayment means the outcome is not known yet: call
``wait_final`` for the same reference, never create a new payment for the same sale.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from . import journal
from .http.commands import BY_NAME

DEFAULT_URL = "http://localhost:8080"
#: Statuses a payment waits for: its outcome. ``approved`` can still be voided (by the POS
#: alone) and ``failed`` retried by sending the same CreatePayment again.
FINAL = frozenset(journal.FINAL)
#: The command paths, from the server's own table (posbridge.http.commands).
_PATH = {command.method: command.path for command in BY_NAME.values()}

Answer = dict[str, Any]


class ApiError(Exception):
    """posbridge answered with an error: ``status`` (HTTP), ``code`` and ``message``."""

    def __init__(self, status: int, body: Answer) -> None:
        self.status = status
        self.code: str = body.get("error_code", "UNKNOWN")
        self.message: str = body.get("message", "")
        self.body = body
        super().__init__(f"{status} {self.code}: {self.message}")


def _headers(token: str | None) -> dict[str, str]:
    headers = {"x-api-version": "v1", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _answer(response: httpx.Response) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = {"success": False, "error_code": "NOT_JSON",
                "message": response.text[:200] or response.reason_phrase}
    if not isinstance(body, dict):
        body = {"success": False, "error_code": "NOT_JSON", "message": str(body)[:200]}
    if response.status_code != 200 or not body.get("success"):
        raise ApiError(response.status_code, body)
    return body


def _refund_body(ref: str, refund_reference: str, amount: str) -> Answer:
    return {"retrieval_reference_number": ref, "refund_reference": refund_reference,
            "amount": amount}
@dataclass(frozen=True)
class Event:
    """One event from ``GET /events``: ``event`` is its type (``payment``, ``cancel``,
    ``void``, ``batch``, ``link``, ``overflow``, ...), ``id`` the journal id (None for a
    terminal event, which is not in the journal), ``data`` its JSON."""

    event: str
    data: Answer
    id: int | None


#: What the parser returns for a comment line (the bridge's heartbeat); never yielded.
_HEARTBEAT = Event("heartbeat", {}, None)
#: Seconds between attempts to reopen a stream, doubling up to the second.
_RECONNECT = (0.25, 5.0)
#: Seconds without a byte (the bridge sends a heartbeat every 15) before a stream counts
#: as dead and is reopened.
_STREAM_SILENCE = 45.0


class _SseParser:
    """The text/event-stream format (the WHATWG HTML standard, 9.2): fields per line, an
    empty line ends an event, a line starting with ':' is a comment (a heartbeat)."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: int | None = None

    def feed(self, line: str) -> Event | None:
        if not line:
            if not self._data:
                self._event, self._id = "", None
                return None
            event = Event(self._event or "message", json.loads("\n".join(self._data)),
                          self._id)
            self._event, self._data, self._id = "", [], None
            return event
        if line.startswith(":"):
            return _HEARTBEAT
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and value.isdigit():
            self._id = int(value)
        return None


class _StreamRefused(ApiError):
    """The stream could not be opened (an older bridge without /events, no room for another
    subscriber, anything but a stream): ``wait_final`` polls instead."""


def _stream_headers(last: int | None) -> dict[str, str]:
    headers = {"Accept": "text/event-stream"}
    if last is not None:
        headers["Last-Event-ID"] = str(last)
    return headers


def _check_stream(response: httpx.Response, body: bytes) -> None:
    if response.status_code == 200 and response.headers.get(
            "content-type", "").startswith("text/event-stream"):
        return
    try:
        _answer(httpx.Response(response.status_code, content=body))
    except ApiError as exc:
        raise _StreamRefused(exc.status, exc.body) from None
    raise _StreamRefused(response.status_code, {"error_code": "NOT_AN_EVENT_STREAM",
                                                "message": "GET /events is not a stream"})


def _payment_of(event: Event, ref: str) -> Answer | None:
    """The payment's QueryPayment fields in ``event``, if it is about payment ``ref``."""
    data = event.data
    if data.get("retrieval_reference_number") != ref or not data.get("status"):
        return None
    return data


def _create_body(amount: str, ref: str, condition_code: str) -> Answer:
    return {"amount": amount, "retrieval_reference_number": ref,
            "condition_code": condition_code}


class Client:
    """The API over one keep-alive connection; use it as a context manager or ``close()``."""

    def __init__(self, url: str = DEFAULT_URL, *, token: str | None = None,
                 timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=url, headers=_headers(token), timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _post(self, path: str, body: Answer) -> Answer:
        return _answer(self._http.post(path, json=body))

    def create_payment(self, amount: str, ref: str, condition_code: str = "82") -> Answer:
        return self._post(_PATH["create_payment"], _create_body(amount, ref, condition_code))

    def cancel_payment(self) -> Answer:
        return self._post(_PATH["cancel_payment"], {})

    def query_payment(self, ref: str) -> Answer:
        return self._post(_PATH["query_payment"], {"retrieval_reference_number": ref})

    def void_payment(self, ref: str) -> Answer:
        return self._post(_PATH["void_payment"], {"retrieval_reference_number": ref})

    def submit_batch(self) -> Answer:
        return self._post(_PATH["submit_batch"], {})

    def refund_payment(self, ref: str, refund_reference: str, amount: str) -> Answer:
        """Refund ``amount`` of payment ``ref`` once per ``refund_reference`` (posbridge's
        extension); sending the same refund again is safe."""
        return self._post(_PATH["refund_payment"], _refund_body(ref, refund_reference, amount))

    def resolve_payment(self, ref: str, *, paid: bool, reason: str, by: str) -> Answer:
        """Settle by hand a payment the terminal cannot answer for (``POST
        /admin/ResolvePayment``, from this PC only; what ``posbridge journal resolve``
        uses)."""
        return self._post("/admin/ResolvePayment", {
            "retrieval_reference_number": ref, "outcome": "paid" if paid else "not_paid",
            "reason": reason, "by": by})

    def report(self, batch: int | None = None) -> Answer:
        """The end-of-day report (``POST /admin/Report``, from this PC only; what
        ``posbridge report`` uses): the X report since the last batch, compared with the
        terminal's totals, or the Z report kept for ``batch``."""
        return self._post("/admin/Report", {} if batch is None else {"batch": batch})

    def health(self) -> Answer:
        return _answer(self._http.get("/health"))

    def events(self, ref: str | None = None, after: int | None = None) -> Iterator[Event]:
        """Every event from now on (or after the journal id ``after``; 0: the whole
        history), only those of ``ref`` if given, for ever. When the connection drops, the
        bridge restarts or the stream ends (an ``overflow`` event, which is yielded), it
        reconnects and resumes after the last journal id it yielded: no event is missed
        or repeated. Stop by leaving the loop."""
        for event in self._events(ref, after, None):
            if event is not _HEARTBEAT:
                yield event

    def _events(self, ref: str | None, after: int | None, deadline: float | None,
                opened: list[bool] | None = None) -> Generator[Event, None, None]:
        last, delay = after, _RECONNECT[0]
        params = {"ref": ref} if ref is not None else {}
        while True:
            read = _STREAM_SILENCE if deadline is None else min(
                _STREAM_SILENCE, max(0.05, deadline - time.monotonic()))
            try:
                with self._http.stream("GET", "/events", params=params,
                                       headers=_stream_headers(last),
                                       timeout=httpx.Timeout(10.0, read=read)) as response:
                    _check_stream(response, response.read() if response.status_code != 200
                                  else b"")
                    if opened is not None:
                        opened.append(True)
                    delay = _RECONNECT[0]
                    parser = _SseParser()
                    for line in response.iter_lines():
                        event = parser.feed(line)
                        if event is None:
                            continue
                        if event.event == "stream":
                            last = event.id if last is None else last
                            continue
                        if event.id is not None:
                            last = event.id
                        yield event
                        if event.event == "overflow":
                            break
            except httpx.TransportError:
                if opened is not None and not opened:
                    raise
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("no final event before the timeout")
            time.sleep(delay)
            delay = min(delay * 2, _RECONNECT[1])

    def wait_final(self, ref: str, *, poll: float = 0.5, timeout: float | None = None,
                   progress: Callable[[Answer], None] | None = None,
                   events: bool = True) -> Answer:
        """Wait until the status of ``ref`` is final; return its QueryPayment answer. With
        a ``timeout``, raise TimeoutError (the payment is then still pending or unknown). A
        bridge that cannot be reached for a while (restarting) is asked again: the outcome
        of a payment is what this waits for, and giving up early is how a till pays twice.

        It follows ``GET /events`` for the payment (told the moment the terminal's result
        is journaled); when the stream cannot be opened (an older bridge, no room for
        another subscriber, the bridge not reachable), or with ``events=False``, it
        queries every ``poll`` seconds instead."""
        deadline = None if timeout is None else time.monotonic() + timeout
        status = "unknown"
        if events:
            opened: list[bool] = []
            try:
                with contextlib.closing(self._events(ref, 0, deadline, opened)) as stream:
                    for event in stream:
                        if _payment_of(event, ref) is None:
                            continue
                        status = event.data["status"]
                        if progress is not None:
                            progress(event.data)
                        if status in FINAL:
                            return self.query_payment(ref)
            except TimeoutError:
                raise TimeoutError(f"payment {ref!r} is still {status}") from None
            except (_StreamRefused, httpx.TransportError):
                pass  # the stream could not be opened: poll
        while True:
            try:
                answer = self.query_payment(ref)
            except httpx.TransportError:
                answer = None
            if answer is not None:
                if progress is not None:
                    progress(answer)
                if answer["status"] in FINAL:
                    return answer
                status = answer["status"]
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"payment {ref!r} is still {status}")
            time.sleep(poll)


class AsyncClient:
    """The same API for asyncio programs."""

    def __init__(self, url: str = DEFAULT_URL, *, token: str | None = None,
                 timeout: float = 30.0) -> None:
        self._http = httpx.AsyncClient(base_url=url, headers=_headers(token), timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: Answer) -> Answer:
        return _answer(await self._http.post(path, json=body))

    async def create_payment(self, amount: str, ref: str, condition_code: str = "82") -> Answer:
        return await self._post(_PATH["create_payment"],
                                _create_body(amount, ref, condition_code))

    async def cancel_payment(self) -> Answer:
        return await self._post(_PATH["cancel_payment"], {})

    async def query_payment(self, ref: str) -> Answer:
        return await self._post(_PATH["query_payment"], {"retrieval_reference_number": ref})

    async def void_payment(self, ref: str) -> Answer:
        return await self._post(_PATH["void_payment"], {"retrieval_reference_number": ref})

    async def submit_batch(self) -> Answer:
        return await self._post(_PATH["submit_batch"], {})

    async def refund_payment(self, ref: str, refund_reference: str, amount: str) -> Answer:
        return await self._post(_PATH["refund_payment"],
                                _refund_body(ref, refund_reference, amount))

    async def health(self) -> Answer:
        return _answer(await self._http.get("/health"))

    async def events(self, ref: str | None = None, after: int | None = None
                     ) -> AsyncIterator[Event]:
        """As ``Client.events``."""
        async for event in self._events(ref, after, None):
            if event is not _HEARTBEAT:
                yield event

    async def _events(self, ref: str | None, after: int | None, deadline: float | None,
                      opened: list[bool] | None = None) -> AsyncGenerator[Event, None]:
        loop = asyncio.get_running_loop()
        last, delay = after, _RECONNECT[0]
        params = {"ref": ref} if ref is not None else {}
        while True:
            read = _STREAM_SILENCE if deadline is None else min(
                _STREAM_SILENCE, max(0.05, deadline - loop.time()))
            try:
                async with self._http.stream("GET", "/events", params=params,
                                             headers=_stream_headers(last),
                                             timeout=httpx.Timeout(10.0, read=read)
                                             ) as response:
                    _check_stream(response, await response.aread()
                                  if response.status_code != 200 else b"")
                    if opened is not None:
                        opened.append(True)
                    delay = _RECONNECT[0]
                    parser = _SseParser()
                    async for line in response.aiter_lines():
                        event = parser.feed(line)
                        if event is None:
                            continue
                        if event.event == "stream":
                            last = event.id if last is None else last
                            continue
                        if event.id is not None:
                            last = event.id
                        yield event
                        if event.event == "overflow":
                            break
            except httpx.TransportError:
                if opened is not None and not opened:
                    raise
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError("no final event before the timeout")
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RECONNECT[1])

    async def wait_final(self, ref: str, *, poll: float = 0.5, timeout: float | None = None,
                         progress: Callable[[Answer], None] | None = None,
                         events: bool = True) -> Answer:
        """As ``Client.wait_final``."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        status = "unknown"
        if events:
            opened: list[bool] = []
            try:
                async with contextlib.aclosing(self._events(ref, 0, deadline, opened)) as stream:
                    async for event in stream:
                        if _payment_of(event, ref) is None:
                            continue
                        status = event.data["status"]
                        if progress is not None:
                            progress(event.data)
                        if status in FINAL:
                            return await self.query_payment(ref)
            except TimeoutError:
                raise TimeoutError(f"payment {ref!r} is still {status}") from None
            except (_StreamRefused, httpx.TransportError):
                pass  # the stream could not be opened: poll
        while True:
            try:
                answer: Answer | None = await self.query_payment(ref)
            except httpx.TransportError:
                answer = None
            if answer is not None:
                if progress is not None:
                    progress(answer)
                if answer["status"] in FINAL:
                    return answer
                status = answer["status"]
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(f"payment {ref!r} is still {status}")
            await asyncio.sleep(poll)
