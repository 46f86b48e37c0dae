"""What the panel shows, decided without Tk: from a ListenerStatus (and what the operator
typed) to texts, colours and which buttons can be pressed.

Everything here is a pure function of its arguments (the clock is passed in), so each
state of the service is tested without a display; ``window.py`` only copies the result
into widgets. One exception: ``settle_by_hand`` posts a person's resolution to the bridge,
through the same API as ``posbridge journal resolve``, and says what to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import checks, methods, payments, reports
from ..http.access import is_loopback_bind
from ..journal import ACTIVE, APPROVED, RECEIVED, UNKNOWN, Payment
from ..listener import RUNNING, STARTING, STOPPED, STOPPING, ListenerConfig, ListenerStatus
from ..service import (
    BatchSummary,
    format_minor,
    journal_report,
    public_status,
    transaction_status,
)
from ..transports.tcp import parse_tcp_url
from .choices import TerminalOption

GREEN, AMBER, RED, GREY = "green", "amber", "red", "grey"

SIMULATOR_BANNER = "SIMULATOR: no real money is taken. Payments here are only tests."


@dataclass(frozen=True)
class Light:
    """One status line: a coloured lamp and its text."""

    text: str
    colour: str


@dataclass(frozen=True)
class PanelView:
    title: str
    listener: Light
    terminal: Light
    terminal_detail: str
    payment: Light
    banner: str  # the simulator warning, or ""
    start_enabled: bool
    stop_enabled: bool
    batch_enabled: bool
    form_enabled: bool  # host, port and terminal can be changed
    #: The link's latest events, newest first, one line each (empty while stopped).
    link_history: tuple[str, ...] = ()


def present(status: ListenerStatus, now: float, selected: TerminalOption) -> PanelView:
    """The panel for ``status`` at wall-clock time ``now``, with ``selected`` the terminal
    chosen in the form (it decides the simulator banner while stopped)."""
    state = status.state
    if state == RUNNING:
        listener = Light(f"Running on {status.address}", GREEN)
        title = f"posbridge: running on {status.address}"
    elif state == STARTING:
        listener, title = Light("Starting...", AMBER), "posbridge: starting"
    elif state == STOPPING:
        listener, title = Light("Stopping...", AMBER), "posbridge: stopping"
    elif status.error:
        listener = Light(f"Stopped: {status.error}", RED)
        title = "posbridge: stopped"
    else:
        listener, title = Light("Stopped", GREY), "posbridge: stopped"

    terminal, detail = _terminal(status, now)
    payment = _payment(status)
    simulated = status.simulated if state in (RUNNING, STOPPING) else selected.simulated
    if simulated:
        title += " (SIMULATOR)"
    link_up = status.link is not None and status.link.state == "connected"
    return PanelView(
        title=title,
        listener=listener,
        terminal=terminal,
        terminal_detail=detail,
        payment=payment,
        banner=SIMULATOR_BANNER if simulated else "",
        start_enabled=state == STOPPED,
        stop_enabled=state in (STARTING, RUNNING),
        batch_enabled=state == RUNNING and link_up and status.payment is None,
        form_enabled=state == STOPPED,
        link_history=link_history(status),
    )


#: Link events the panel shows (the rest are in /health and the support bundle).
HISTORY_LINES = 4
_EVENT_WORDS = {"opened": "opened", "open_failed": "could not open the terminal",
                "up": "terminal connected", "down": "link lost"}


def link_history(status: ListenerStatus) -> tuple[str, ...]:
    """The link's latest events, newest first, in local time: ``HH:MM:SS what: detail``,
    then the reconnect attempts since start-up."""
    link = status.link
    if status.state != RUNNING or link is None or not link.history:
        return ()
    lines = []
    for event in reversed(link.history[-HISTORY_LINES:]):
        at = datetime.fromtimestamp(event.at).strftime("%H:%M:%S")
        lines.append(f"{at} {_EVENT_WORDS.get(event.kind, event.kind)}: {event.detail}")
    lines.append(f"{link.attempts} connection attempt(s) since the listener started")
    return tuple(lines)


def _terminal(status: ListenerStatus, now: float) -> tuple[Light, str]:
    link = status.link
    if status.state != RUNNING or link is None:
        return Light("Not connected (the listener is stopped)", GREY), ""
    heard = f"last heard {ago(now - link.last_rx)}" if link.last_rx else "not heard yet"
    if link.state == "connected" and link.terminal is not None:
        peer = link.terminal
        codes = methods.describe(peer.condition_codes, methods.names_by_code(
            peer.condition_codes, peer.condition_code_names))
        return (Light(f"Connected: {peer.model or 'unknown model'}, serial {peer.serial or '?'}",
                      GREEN),
                f"app {peer.app_version or '?'}; payment methods {codes}; {heard}")
    if link.state == "disconnected":
        reason = link.last_error or "the link is down"
        return (Light(f"Not connected: {reason}", RED),
                f"posbridge keeps trying to reach {link.description}; {heard}")
    return Light(f"Connecting to {link.description}...", AMBER), heard


def _payment(status: ListenerStatus) -> Light:
    if status.state != RUNNING:
        return Light("No payment (the listener is stopped)", GREY)
    p = status.payment
    if p is None:
        return Light("No payment on the terminal", GREY)
    if p.status == UNKNOWN:
        return Light(f"{p.ref}: {p.amount}, outcome unknown: asking the terminal", RED)
    if p.status == RECEIVED:
        return Light(f"{p.ref}: {p.amount}, being sent to the terminal", AMBER)
    return Light(f"{p.ref}: {p.amount}, waiting for the customer on the terminal", AMBER)


def ago(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 10:
        return f"{seconds:.1f} s ago"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


# -- questions before acting -----------------------------------------------------------


def stop_question(status: ListenerStatus) -> str | None:
    """What to ask before stopping, or None when nothing is at stake."""
    p = status.payment
    if p is None:
        return None
    return (f"Payment {p.ref} ({p.amount}) is on the terminal ({public_status(p)}).\n\n"
            "Stop the listener anyway? The journal keeps the payment as it is. When the "
            "listener starts again, posbridge asks the terminal for its outcome; until then "
            "the POS cannot reach posbridge to learn it.")


def panel_report(asked: Any, journal: Any) -> dict[str, Any]:
    """The X report the batch confirmation shows: the running bridge's (compared with the
    terminal's totals), or, when it could not be had (``asked`` is the error: a v1
    terminal, no link, busy), the journal's own with the reason the terminal was not
    compared. ``journal``: the panel's read-only journal."""
    if isinstance(asked, dict):
        return asked
    why = getattr(asked, "message", None) or str(asked)
    return journal_report(journal, terminal_problem=why)


def batch_question(unsettled: Sequence[Payment], report: dict[str, Any] | None = None
                   ) -> str:
    """The batch button's confirmation, with the X report (``reports.build``) below it
    when given: what the batch closes, and whether the terminal agrees."""
    total = sum(p.amount_minor for p in unsettled)
    if not unsettled:
        question = ("No approved payment is waiting to be settled.\n\n"
                    "Submit an empty batch to the terminal anyway?")
    else:
        question = (f"Submit the batch for the end of the day?\n\n"
                    f"{len(unsettled)} approved payment(s), total {format_minor(total)}, are "
                    "not settled yet. Once settled they can no longer be voided.")
    if report is None:
        return question
    if report["mismatch"]:
        question = ("The journal and the terminal do not agree (see MISMATCH below): check "
                    "before settling.\n\n" + question)
    return f"{question}\n\n{reports.text(report)}"


def batch_done(summary: BatchSummary) -> str:
    return (f"Batch {summary.batch_number} submitted: {summary.count} payment(s), total "
            f"{format_minor(summary.total_minor)}.")


# -- the form --------------------------------------------------------------------------


class FormError(ValueError):
    """What the operator typed cannot be used; the text says what to type instead."""


def read_form(
    host: str, port: str, option: TerminalOption, address: str, *,
    customer_delay: float = 2.0, journal: str = "",
) -> ListenerConfig:
    """The listener settings from the form, or FormError saying what is wrong."""
    host = host.strip()
    if not host:
        raise FormError("Host: give the address to listen on, for example 127.0.0.1")
    if not is_loopback_bind(host):
        raise FormError(
            f"Host: {host} can be reached from other machines, and anything that reaches "
            "the API can take payments. The panel listens on this PC only (127.0.0.1); to "
            "serve other machines use 'posbridge serve' with an access token "
            "(docs/security.md)")
    # The same checks as posbridge serve's options (posbridge.checks), named as the form is.
    try:
        number = checks.port(port.strip())
    except ValueError as exc:
        raise FormError(f"Port: {exc}") from None
    try:
        checks.delay(str(customer_delay))
    except ValueError as exc:
        raise FormError(f"Customer delay (settings file): {exc}") from None
    if journal:
        try:
            checks.file_to_write(journal)
        except ValueError as exc:
            raise FormError(f"Journal (settings file): {exc}") from None
    spec = option.spec
    if option.takes_address:
        spec = tcp_spec(address)
    return ListenerConfig(terminal=spec, host=host, port=number,
                          journal=Path(journal) if journal else None,
                          customer_delay=customer_delay)


def tcp_spec(address: str) -> str:
    """``HOST:PORT`` or ``tcp://HOST:PORT`` -> ``tcp://HOST:PORT``; FormError otherwise."""
    text = address.strip()
    if not text:
        raise FormError("Terminal address: give the terminal's address, for example "
                        "tcp://192.168.1.50:9100")
    if "://" not in text:
        text = "tcp://" + text
    try:
        parse_tcp_url(text)
    except ValueError as exc:
        raise FormError(f"Terminal address: {exc}") from None
    return text


# -- the payment list -------------------------------------------------------------------

COLUMNS = ("time", "reference", "amount", "condition code", "status")
PAID, WAITING, UNPAID = "paid", "waiting", "unpaid"


@dataclass(frozen=True)
class Row:
    ref: str
    values: tuple[str, str, str, str, str]  # as COLUMNS
    tag: str  # PAID, WAITING or UNPAID: the row's colour


def payment_rows(payments: Sequence[Payment], now: datetime) -> list[Row]:
    """One row per payment, its time in ``now``'s time zone (the date only if not today)."""
    rows = []
    for p in payments:
        status = f"{public_status(p)} ({transaction_status(p)})"
        if p.batch_number is not None:
            status += f", batch {p.batch_number}"
        tag = PAID if p.status == APPROVED else WAITING if p.status in ACTIVE else UNPAID
        rows.append(Row(p.ref, (_when(p.created_at, now), p.ref, p.amount, p.condition_code,
                                status), tag))
    return rows


def _when(iso: str, now: datetime) -> str:
    try:
        at = datetime.fromisoformat(iso).astimezone(now.tzinfo)
    except ValueError:
        return iso
    if at.date() == now.date():
        return at.strftime("%H:%M:%S")
    return at.strftime("%Y-%m-%d %H:%M")


# -- settling a payment by hand ----------------------------------------------------------


def resolvable(status: ListenerStatus, payment: Payment | None) -> bool:
    """Whether the selected payment may be offered for settling by hand: the listener runs
    and the payment's outcome is not known. Whether the terminal can still answer for it
    only the bridge can tell (it asks the terminal first, and refuses if it can)."""
    return status.state == RUNNING and payment is not None and payment.active


def resolve_question(p: Payment) -> str:
    return (f"Payment {p.ref} ({p.amount}) is {public_status(p)}: posbridge does not know "
            "whether the customer paid.\n\n"
            "Settle it by hand only if the terminal can never answer for it (it was "
            "replaced, or lost its records), after checking the old terminal's slip or the "
            "acquirer's report. posbridge asks the connected terminal first and refuses if "
            "the terminal still has the payment. Your name and reason go into the journal.")


@dataclass(frozen=True)
class Resolution:
    ref: str
    paid: bool
    reason: str


def read_resolution(ref: str, outcome: str, reason: str) -> Resolution:
    """What the operator chose in the Resolve dialog, or FormError saying what is missing.
    ``outcome`` is "paid", "not_paid" or "" (nothing chosen)."""
    if outcome not in ("paid", "not_paid"):
        raise FormError("Choose whether the customer paid or not")
    reason = reason.strip()
    if not reason:
        raise FormError("Reason: say why, for example \"acquirer report 2026-12-01 lists "
                        "it\"")
    try:
        payments.check_reason(reason)
    except payments.InvalidInput as exc:
        raise FormError(f"Reason: {exc.message}") from None
    return Resolution(ref, outcome == "paid", reason)


def settle_by_hand(address: str, resolution: Resolution, by: str,
                   token: str | None = None) -> tuple[bool, str]:
    """Post ``resolution`` to the bridge at ``address`` (``POST /admin/ResolvePayment``,
    what ``posbridge journal resolve`` uses): (True, what was done) or (False, why not,
    the bridge's refusal as it gave it)."""
    import httpx

    from ..client import ApiError, Client

    try:
        with Client(address, token=token) as bridge:
            answer = bridge.resolve_payment(resolution.ref, paid=resolution.paid,
                                            reason=resolution.reason, by=by)
    except ApiError as exc:
        return False, resolve_refused(resolution.ref, exc.status, exc.code, exc.message)
    except httpx.HTTPError as exc:
        return False, f"Payment {resolution.ref} was not settled: the bridge at {address} " \
            f"did not answer ({exc})."
    return True, resolve_done(resolution.ref, answer, by)


def resolve_done(ref: str, answer: dict[str, Any], by: str) -> str:
    return (f"Payment {ref} settled by hand by {by}: {answer['status']} (transaction_status "
            f"{answer['transaction_status']}).")


def resolve_refused(ref: str, status: int, code: str, message: str) -> str:
    return f"Payment {ref} was not settled by hand ({status} {code}):\n\n{message}"


def reference_filter(text: str) -> str | None:
    """The filter to give the journal: None shows every payment."""
    return text.strip() or None
