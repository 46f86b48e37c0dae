"""The clickable terminal's logic, without Tk: the customer whose outcomes are clicks, and what
the terminal's screen shows (``present``), so both are tested without a display.

Threads: the simulator's asyncio loop calls ``WindowCustomer.decide``/``finished``; the Tk
window calls ``snapshot``, ``click`` and ``set_auto`` from its own thread. A click never
touches the loop's objects directly: it is handed over with ``call_soon_threadsafe``, and
the snapshot is an immutable value swapped under a lock.

What a POS developer gets: with the window open, each payment waits on the screen until a
button is clicked, as a real terminal waits for its customer. Ticking "cents table" hands
the waiting payment and the following ones back to the cents table (the behaviour without
``--window``), and unticking it makes the next payment wait for a click again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .. import methods
from .customer import (
    APPROVE,
    CANCEL,
    DECLINE,
    LINK_DROP,
    RESULT_LOST,
    TIMEOUT,
    Outcome,
    Sale,
    from_cents,
)

TITLE = "posbridge terminal simulator (no real money)"
#: The buttons, in the window's order: name -> label.
BUTTONS = {
    "pay": "Pay",
    "decline": "Decline with code",
    "cancel": "Customer cancels",
    "timeout": "Let it time out",
    "lose_result": "Pay, lose the result",
    "drop_link": "Drop the link",
}
_OUTCOMES = {"pay": APPROVE, "decline": DECLINE, "cancel": CANCEL, "timeout": TIMEOUT,
             "lose_result": RESULT_LOST}
_DECLINE_CODE = re.compile(r"[0-9A-Z]{2}")
RESULTS = {
    APPROVE: "paid (00)",
    CANCEL: "cancelled by the customer (17)",
    TIMEOUT: "timed out (68)",
    RESULT_LOST: "paid (00); the result message to the PC was lost",
    LINK_DROP: "the link dropped; paid (00) once it is back",
}


@dataclass(frozen=True)
class Showing:
    """The payment on the screen."""

    ref: str
    amount_minor: int
    condition_code: str
    method: str  # the method's name, or ""
    qr_payload: str
    waiting: bool  # for a click (False: the cents table decides it)


@dataclass(frozen=True)
class ScreenState:
    showing: Showing | None = None
    auto: bool = False  # the cents table decides
    last: str = ""  # how the last payment ended
    error: str = ""  # what was wrong with the last click (a bad decline code)


@dataclass(frozen=True)
class ScreenView:
    title: str
    headline: str
    method: str
    detail: str
    qr: str  # the payload to draw, or ""
    last: str
    error: str
    enabled: dict[str, bool] = field(default_factory=dict)  # by BUTTONS name


def present(state: ScreenState) -> ScreenView:
    """What the terminal's window shows for ``state``."""
    last = f"Last payment: {state.last}" if state.last else ""
    s = state.showing
    if s is None:
        enabled = {name: name == "drop_link" for name in BUTTONS}
        return ScreenView(TITLE, "Ready", "", "Waiting for a payment from the POS", "", last,
                          state.error, enabled)
    amount = f"SGD {s.amount_minor // 100}.{s.amount_minor % 100:02d}"
    method = f"{s.method} (condition code {s.condition_code})" if s.method else (
        f"condition code {s.condition_code}")
    if s.waiting:
        todo = "Scan the QR code to pay" if s.qr_payload else "Waiting for the customer"
        detail = f"{todo}. Reference {s.ref}; click what the customer does."
    else:
        detail = f"Reference {s.ref}; the cents table decides (.{s.amount_minor % 100:02d})."
    enabled = {name: s.waiting or name == "drop_link" for name in BUTTONS}
    return ScreenView(TITLE, amount, method, detail, s.qr_payload, last, state.error, enabled)


def outcome_for(button: str, code: str = "") -> Outcome:
    """The outcome a button gives; ValueError for a decline code that is not two digits or
    capital letters."""
    kind = _OUTCOMES[button]
    if kind == DECLINE:
        code = code.strip()
        if not _DECLINE_CODE.fullmatch(code):
            raise ValueError(f"Decline code: give two digits or capital letters, for example "
                             f"51 (got {code!r})")
        return Outcome(DECLINE, code)
    return Outcome(kind)


def result_text(outcome: Outcome | None) -> str:
    if outcome is None:
        return "cancelled by the POS (17)"
    if outcome.kind == DECLINE:
        return f"declined ({outcome.code})"
    return RESULTS[outcome.kind]


class WindowCustomer:
    """The customer whose outcomes are clicks in the terminal window."""

    def __init__(self, delay: float, *, auto: bool = False,
                 names: dict[str, str] | None = None) -> None:
        self.delay = delay
        self.names = names or {}
        self._lock = threading.Lock()
        self._state = ScreenState(auto=auto)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._future: asyncio.Future[Outcome] | None = None
        self._sale: Sale | None = None
        self._given: dict[str, Outcome] = {}
        #: Drops the link to the PC; set with ``bind`` (runs on the loop).
        self._drop_link: Callable[[], None] = lambda: None

    def bind(self, drop_link: Callable[[], None], loop: asyncio.AbstractEventLoop) -> None:
        """Where clicks go: the simulator's loop and its way to drop the link."""
        self._drop_link, self._loop = drop_link, loop

    # -- the Tk thread ------------------------------------------------------------------

    def snapshot(self) -> ScreenState:
        with self._lock:
            return self._state

    def click(self, button: str, code: str = "") -> None:
        """A button was clicked. A bad decline code shows as the state's ``error``."""
        if button == "drop_link":
            self._update(error="")
            self._to_loop(self._drop_link)
            return
        try:
            outcome = outcome_for(button, code)
        except ValueError as exc:
            self._update(error=str(exc))
            return
        self._update(error="")
        self._to_loop(functools.partial(self._resolve, outcome))

    def set_auto(self, auto: bool) -> None:
        """Tick or untick "cents table"; ticking it decides a waiting payment now."""
        self._update(auto=auto)
        if auto:
            self._to_loop(functools.partial(self._resolve, None))

    def _to_loop(self, call: Callable[[], None]) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the simulator has stopped
                loop.call_soon_threadsafe(call)

    # -- the simulator's loop -----------------------------------------------------------

    def unavailable(self) -> str:
        return ""

    async def decide(self, sale: Sale) -> Outcome:
        loop = asyncio.get_running_loop()
        self._loop = self._loop or loop
        auto = self.snapshot().auto
        method = methods.name_of(sale.condition_code, self.names)
        self._update(showing=Showing(sale.ref, sale.amount_minor, sale.condition_code, method,
                                     sale.shown.qr_payload, waiting=not auto))
        if auto:
            outcome, wait = from_cents(sale.amount_minor, self.delay)
            await asyncio.sleep(wait)
        else:
            self._sale, self._future = sale, loop.create_future()
            try:
                outcome = await self._future
            finally:
                self._sale = self._future = None
        self._given[sale.ref] = outcome
        return outcome

    def finished(self, ref: str) -> None:
        outcome = self._given.pop(ref, None)
        self._update(showing=None, last=f"{ref}: {result_text(outcome)}")

    def _resolve(self, outcome: Outcome | None) -> None:
        future, sale = self._future, self._sale
        if future is None or future.done() or sale is None:
            return  # nothing waits for a click (the click came after the payment ended)
        if outcome is None:  # "cents table" ticked while it waited
            outcome = from_cents(sale.amount_minor, self.delay)[0]
        future.set_result(outcome)

    def _update(self, **changes: object) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)  # type: ignore[arg-type]
