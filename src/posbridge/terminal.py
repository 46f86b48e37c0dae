"""TerminalClient: keeps a link to the terminal up and carries requests over it.

It owns the reconnect loop (open a transport, run a host LinkConnection over it, and when
the link goes down open a new one with a capped backoff), correlates requests with answers
by request id, and publishes the link's state for ``/health`` and the logs. It knows no
payment rules: the PaymentService decides what to send and what an answer means.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from . import __version__, methods
from .protocol import (
    PRODUCTION_TIMERS,
    PROTOCOL_VERSION,
    Event,
    Hello,
    LinkConnection,
    LinkDown,
    LinkTimers,
    LinkUp,
    Message,
    MessageReceived,
    Role,
)
from .protocol.messages import (
    BatchResult,
    PaymentResult,
    Progress,
    QueryResult,
    RefundResult,
    Reply,
    TotalsResult,
)
from .session import LinkRunner
from .transports import Connector, TransportError

log = logging.getLogger("posbridge.terminal")


class LinkLost(Exception):
    """The link went down (or was never up) before the terminal answered."""


class AnswerTimeout(Exception):
    """The link stayed up but the terminal did not answer in time."""


#: Link events ``TerminalClient.history`` keeps (the oldest are dropped).
HISTORY_SIZE = 50


@dataclass(frozen=True)
class LinkEvent:
    """One thing that happened to the link, for /health, the panel and /metrics.

    ``kind`` is ``opened`` (a transport was opened: for USB, the terminal was found attached),
    ``open_failed`` (none could be opened: for USB, no terminal attached or not usable),
    ``up`` (the terminal said hello) or ``down`` (the link was lost: for USB, usually a
    detach); ``detail`` says which transport, or why."""

    at: float  # wall-clock time
    kind: str
    detail: str


@dataclass(frozen=True)
class LinkStatus:
    state: str  # "stopped", "connecting", "connected", "disconnected"
    terminal: Hello | None
    since: float  # wall-clock time of the last state change
    last_error: str
    last_rx: float | None  # wall-clock time of the last frame from the terminal
    description: str
    history: tuple[LinkEvent, ...] = ()  # the latest HISTORY_SIZE link events, oldest first
    attempts: int = 0  # transports opened or tried since start


class TerminalClient:
    def __init__(
        self,
        connector: Connector,
        *,
        description: str = "",
        timers: LinkTimers | None = None,
        backoff_initial: float = 0.1,
        backoff_max: float = 1.0,
    ) -> None:
        self._connector = connector
        self.description = description
        self._timers = timers or PRODUCTION_TIMERS
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._rids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Message]] = {}
        self._runner: LinkRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._state = "stopped"
        self._since = time.time()
        self._peer: Hello | None = None
        self._last_error = ""
        self._stopping = False
        self._history: deque[LinkEvent] = deque(maxlen=HISTORY_SIZE)
        self._attempts = 0
        #: Called with each LinkEvent as it happens (must not block): metrics.
        self.on_link_event: Callable[[LinkEvent], None] = lambda event: None
        #: Called with every application message from the terminal, in the order the link
        #: delivered them, before anyone waiting for that answer is woken (must not block).
        #: The service journals each answer here, so a late answer is applied like a timely
        #: one and an older answer can never be applied after a newer one.
        self.on_message: Callable[[Message], None] = lambda message: None
        #: Called with each Progress (what a pending payment shows; must not block).
        self.on_progress: Callable[[Progress], None] = lambda progress: None
        #: Called each time the link comes up (must not block; schedule work instead).
        self.on_connected: Callable[[Hello], None] = lambda hello: None
        #: Called after every change of the link's state, with the new status (must not
        #: block; the events stream publishes link up/down from here).
        self.state_listeners: list[Callable[[LinkStatus], None]] = []

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._set_state("connecting")
            self._task = asyncio.create_task(self._run(), name="terminal-link")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._stopping = True
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_state("stopped")

    # -- state ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def terminal(self) -> Hello | None:
        return self._peer if self.connected else None

    def status(self) -> LinkStatus:
        return LinkStatus(
            state=self._state,
            terminal=self._peer,
            since=self._since,
            last_error=self._last_error,
            last_rx=self._runner.last_rx_wall if self._runner else None,
            description=self.description,
            history=tuple(self._history),
            attempts=self._attempts,
        )

    async def wait_connected(self, timeout: float) -> bool:
        if self.connected:
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    # -- requests ---------------------------------------------------------------------

    async def request(self, build: Callable[[int], Message], timeout: float) -> Message:
        """Send ``build(rid)`` and wait for the terminal's answer carrying that rid.

        Raises LinkLost when the link is down or drops before the answer, AnswerTimeout
        when the answer does not come within ``timeout`` seconds. The one deadline covers
        sending as well as the answer: a terminal that stops reading cannot make a request
        wait longer than ``timeout``.
        """
        runner = self._runner
        if runner is None or not self.connected:
            raise LinkLost(self._last_error or "the terminal is not connected")
        rid = next(self._rids)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        sent = False
        try:
            async with asyncio.timeout(timeout):
                try:
                    await runner.send(build(rid))
                except TransportError as exc:
                    raise LinkLost(str(exc)) from exc
                sent = True
                return await future
        except TimeoutError:
            what = "no answer from" if sent else "could not send to"
            raise AnswerTimeout(f"{what} the terminal within {timeout:g} s") from None
        finally:
            self._waiting.pop(rid, None)

    # -- the link loop ----------------------------------------------------------------

    async def _run(self) -> None:
        delay = self._backoff_initial
        while True:
            self._attempts += 1
            try:
                transport = await self._connector()
            except TransportError as exc:
                self._record("open_failed", str(exc))
                self._fail(str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
                continue
            link = LinkConnection(
                Role.HOST,
                Hello(
                    role="host",
                    version=PROTOCOL_VERSION,
                    session=uuid.uuid4().hex[:16],
                    app_version=__version__,
                ),
                self._timers,
            )
            runner = LinkRunner(link, transport, self._on_event)
            self._runner = runner
            self._record("opened", transport.description)
            log.debug("link: opened %s, saying hello", transport.description)
            try:
                reason = await runner.run()
            except Exception as exc:  # a bug below must not end the reconnect loop
                log.exception("link: the link loop failed")
                reason = f"posbridge's link loop failed: {exc!r}"
            finally:
                self._runner = None
                await transport.close()
                if self.connected:
                    self._on_event(LinkDown(
                        "posbridge is stopping" if self._stopping else "the link loop ended"))
            was_up = link.peer is not None
            self._fail(reason)
            if was_up:
                delay = self._backoff_initial
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)

    def _fail(self, reason: str) -> None:
        if reason != self._last_error or self._state != "disconnected":
            log.warning("link: terminal not connected: %s; retrying", reason)
        self._last_error = reason
        self._set_state("disconnected")

    def _on_event(self, event: Event) -> None:
        if isinstance(event, LinkUp):
            peer = event.peer
            self._peer = peer
            self._last_error = ""
            self._connected.set()
            self._set_state("connected")
            self._record("up", f"{peer.model or '?'} serial {peer.serial or '?'}, "
                         f"app {peer.app_version or '?'}")
            log.info(
                "link: terminal connected: %s serial %s, app %s, payment methods %s",
                peer.model or "?", peer.serial or "?", peer.app_version or "?",
                methods.describe(peer.condition_codes, methods.names_by_code(
                    peer.condition_codes, peer.condition_code_names)),
            )
            try:
                self.on_connected(peer)
            except Exception:
                log.exception("link: handling the terminal's hello failed")
        elif isinstance(event, LinkDown):
            if self.connected:
                if self._stopping:
                    log.info("link: closed, posbridge is stopping")
                else:
                    log.warning("link: down: %s", event.reason)
            self._record("down", event.reason)
            self._connected.clear()
            self._last_error = event.reason
            self._set_state("disconnected")
            waiting, self._waiting = self._waiting, {}
            for future in waiting.values():
                if not future.done():
                    future.set_exception(LinkLost(f"the link went down: {event.reason}"))
        elif isinstance(event, MessageReceived):
            message = event.message
            if isinstance(message, Progress):
                try:
                    self.on_progress(message)
                except Exception:
                    log.exception("link: handling Progress failed")
                return
            if isinstance(message, TotalsResult):
                # Read-only: nothing to journal, only the asker to answer.
                asked = self._waiting.get(message.rid)
                if asked is not None and not asked.done():
                    asked.set_result(message)
                return
            if not isinstance(message, PaymentResult | Reply | QueryResult | BatchResult
                              | RefundResult):
                log.warning("link: unexpected message from the terminal: %s", message)
                return
            try:
                self.on_message(message)
            except Exception:
                # A failure of the application (the journal, a bug) must never end the link:
                # the reconnect loop is what keeps posbridge usable.
                log.exception("link: handling %s failed", type(message).__name__)
            if not isinstance(message, PaymentResult):
                answered = self._waiting.get(message.rid)
                if answered is not None and not answered.done():
                    answered.set_result(message)
                else:
                    log.info("link: late answer %s (applied)", type(message).__name__)

    def _record(self, kind: str, detail: str) -> None:
        event = LinkEvent(time.time(), kind, detail)
        # An unplugged terminal fails the same way every second: one entry, not fifty.
        last = self._history[-1] if self._history else None
        if not (kind == "open_failed" and last and (last.kind, last.detail) == (kind, detail)):
            self._history.append(event)
        try:
            self.on_link_event(event)
        except Exception:  # metrics must never end the link loop
            log.exception("link: recording a link event failed")

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self._since = time.time()
            status = self.status()
            for listener in self.state_listeners:
                try:
                    listener(status)
                except Exception:  # a subscriber's failure must never end the link
                    log.exception("link: a state listener failed")
