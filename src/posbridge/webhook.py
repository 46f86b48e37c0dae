"""The optional webhook: every journal event POSTed to the POS's own local server.

``posbridge serve --webhook URL --webhook-secret-file PATH`` delivers each journal event
(the same JSON as a ``GET /events`` event, ``{"event", "id", "data"}``) to URL, one at a
time in journal order, at least once: an event is retried with backoff (0.5 s doubling to
30 s) until the receiver answers 2xx, and nothing after it is sent before. The id of the
last event delivered is journaled (table ``webhook_cursor``, schema 3) after each success,
so a restart resumes where it stopped; a crash between the receiver's 2xx and that write
sends that one event again (the receiver deduplicates by ``X-Posbridge-Event-Id``).

The body is signed: ``X-Posbridge-Signature: sha256=<hex HMAC-SHA256 of the body>`` with
the shared secret, so the receiver can tell posbridge's requests from anyone else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .events import event_data
from .http.access import AccessPolicy, _host_name, is_loopback_bind
from .journal import Journal, JournalError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("posbridge.webhook")

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
BACKOFF = (0.5, 30.0)
SIGNATURE_HEADER = "X-Posbridge-Signature"
MIN_SECRET_LENGTH = 16


class WebhookConfigError(ValueError):
    """A webhook setting posbridge refuses to start with; the text says what to do."""


def check_url(url: str, policy: AccessPolicy) -> str:
    """The URL if it may be used: http(s), on this PC or on a host named with --allow-host
    (payment data goes nowhere else)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookConfigError(f"--webhook {url!r} is not an http:// or https:// URL")
    host = _host_name(parts.hostname)
    if not (is_loopback_bind(host) or host in policy.allowed_hosts):
        raise WebhookConfigError(
            f"--webhook {url!r}: posbridge sends payment events only to this PC (localhost, "
            "127.0.0.1, ::1) or to a host named with --allow-host")
    return url


def check_secret(secret: str) -> str:
    if len(secret) < MIN_SECRET_LENGTH:
        raise WebhookConfigError(
            f"the webhook secret must be at least {MIN_SECRET_LENGTH} characters")
    return secret


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """One task that delivers the journal's events to ``url`` in order, at least once."""

    def __init__(self, journal: Journal, url: str, secret: str, *, timeout: float = 10.0,
                 backoff: tuple[float, float] = BACKOFF) -> None:
        self.journal, self.url, self.secret = journal, url, secret
        self.timeout, self.backoff = timeout, backoff
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        journal.listeners.append(self._wake.set)

    def start(self) -> None:
        if self.journal.webhook_cursor(self.url) is None:
            # A new webhook starts with what happens from now on, not the whole history.
            self.journal.set_webhook_cursor(self.url, self.journal.last_event_id())
        self._task = asyncio.create_task(self._run(), name="webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        import httpx  # here: a bridge without a webhook never loads the HTTP client

        delay = self.backoff[0]
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
            while True:
                self._wake.clear()
                try:
                    cursor = self.journal.webhook_cursor(self.url) or 0
                    pending = self.journal.events_after(cursor, 100)
                except JournalError as exc:
                    log.warning("webhook: cannot read the journal: %s; retrying", exc)
                    pending = []
                    await asyncio.sleep(delay)
                for event in pending:
                    while not await self._deliver(http, event.id, event.kind,
                                                  event_data(self.journal, event)):
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, self.backoff[1])
                    delay = self.backoff[0]
                    with contextlib.suppress(JournalError):  # sent again after a restart
                        self.journal.set_webhook_cursor(self.url, event.id)
                if not pending:
                    await self._wake.wait()

    async def _deliver(self, http: httpx.AsyncClient, event_id: int, kind: str,
                       data: dict[str, object]) -> bool:
        import httpx  # loaded by _run already

        body = _ENCODER.encode({"event": kind, "id": event_id, "data": data}).encode()
        try:
            response = await http.post(self.url, content=body, headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(self.secret, body),
                "X-Posbridge-Event-Id": str(event_id),
            })
        except httpx.HTTPError as exc:
            log.warning("webhook: event %d not delivered to %s: %s; retrying", event_id,
                        self.url, exc)
            return False
        if 200 <= response.status_code < 300:
            return True
        log.warning("webhook: event %d refused by %s with HTTP %d; retrying", event_id,
                    self.url, response.status_code)
        return False
