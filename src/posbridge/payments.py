"""The payments core, pure: statuses, their transitions, the input rules, and what a
terminal's answer means for the journal.

Like ``protocol/`` for the wire, this module does no I/O: no asyncio, no sqlite, no clock.
``service.py`` orchestrates (the lock, journal first, send, resolve) and asks the functions
here what to write; ``journal.py`` stores what they decide; the HTTP models, the panel, the
client and the simulator use the same vocabulary.

Theory of operation
-------------------
A payment has one ``Status``. It moves only along ``TRANSITIONS``; anything else is a
confused terminal or a bug, refused so that a paid payment can never be unpaid by accident.

Every command that moves or settles money is an *operation*: a sale (the payment row
itself), a cancel, a void or a batch. It is journaled as ``sent`` before it goes to the
terminal and ends ``done`` (the terminal did it), ``refused`` (the terminal said no) or
``not_done`` (the terminal, asked later, shows it never happened). An operation still
``sent`` has an unknown outcome and is resolved by asking the terminal, never by guessing.

The decisions below take what the journal knows and what the terminal said and return a
``Change`` (or ``None`` for "nothing to write").
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Status(enum.StrEnum):
    """A payment's status in the journal. ``received`` is shown to the POS as ``unknown``."""

    RECEIVED = "received"  # journaled; the sale may or may not have reached the terminal
    PENDING = "pending"  # on the terminal, the customer is paying
    UNKNOWN = "unknown"  # a command's answer was lost; posbridge is asking the terminal
    APPROVED = "approved"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    VOIDED = "voided"
    FAILED = "failed"  # the sale never reached the terminal; not paid, may be sent again


RECEIVED, PENDING, UNKNOWN = Status.RECEIVED, Status.PENDING, Status.UNKNOWN
APPROVED, DECLINED, CANCELLED = Status.APPROVED, Status.DECLINED, Status.CANCELLED
TIMED_OUT, VOIDED, FAILED = Status.TIMED_OUT, Status.VOIDED, Status.FAILED

ACTIVE: tuple[Status, ...] = (RECEIVED, PENDING, UNKNOWN)
FINAL: tuple[Status, ...] = (APPROVED, DECLINED, CANCELLED, TIMED_OUT, VOIDED, FAILED)
_OUTCOMES = {APPROVED, DECLINED, CANCELLED, TIMED_OUT}

TRANSITIONS: dict[Status, frozenset[Status]] = {
    RECEIVED: frozenset({PENDING, UNKNOWN, FAILED} | _OUTCOMES),
    PENDING: frozenset({UNKNOWN, FAILED} | _OUTCOMES),  # FAILED: the terminal lost it
    UNKNOWN: frozenset({PENDING, FAILED, VOIDED} | _OUTCOMES),
    APPROVED: frozenset({VOIDED, UNKNOWN}),  # UNKNOWN: a void was sent, its answer not known
    FAILED: frozenset({RECEIVED}),  # the same request sent again restarts it
    DECLINED: frozenset(),
    CANCELLED: frozenset(),
    TIMED_OUT: frozenset(),
    VOIDED: frozenset(),
}

# The reference's transaction_status for each status ("00" and "09" are FOMO's own codes;
# the others are posbridge's, see docs/api.md). A declined payment shows its decline code.
TRANSACTION_STATUS: dict[Status, str] = {
    RECEIVED: "09",
    PENDING: "09",
    UNKNOWN: "09",
    APPROVED: "00",
    CANCELLED: "17",
    TIMED_OUT: "68",
    VOIDED: "VD",
    FAILED: "96",
}

# Statuses as the terminal reports them on the link.
_FROM_TERMINAL: dict[str, Status] = {
    "pending": PENDING,
    "approved": APPROVED,
    "declined": DECLINED,
    "cancelled": CANCELLED,
    "timed_out": TIMED_OUT,
    "voided": VOIDED,
}


def allowed(from_status: Status, to_status: Status) -> bool:
    return to_status == from_status or to_status in TRANSITIONS[from_status]


def is_active(status: str) -> bool:
    return status in ACTIVE


def public_status(status: str) -> Status:
    """The status the POS sees: ``received`` is ``unknown`` (it may not have reached the
    terminal)."""
    return UNKNOWN if status == RECEIVED else Status(status)


def transaction_status(status: str, response_code: str) -> str:
    """The reference's ``transaction_status``. A declined payment shows its decline code,
    except one that would read as paid ("00") or in progress ("09") to a POS: a confused
    terminal's "declined, 00" is shown as the generic decline "05"."""
    if status == DECLINED:
        return response_code if response_code not in ("", "00", "09") else "05"
    return TRANSACTION_STATUS[Status(status)]


def from_terminal(status: str) -> Status | None:
    return _FROM_TERMINAL.get(status)


# -- operations -------------------------------------------------------------------------


class OpKind(enum.StrEnum):
    CANCEL = "cancel"
    VOID = "void"
    BATCH = "batch"


class OpState(enum.StrEnum):
    SENT = "sent"  # journaled before sending; outcome not known until the terminal says
    DONE = "done"
    REFUSED = "refused"
    NOT_DONE = "not_done"  # asked afterwards: the terminal shows it never happened


# -- input rules (the same patterns feed the checks and the OpenAPI document) -------------

AMOUNT_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
REFERENCE_PATTERN = r"^[ -~]{1,64}$"
CONDITION_CODE_PATTERN = r"^[0-9]{2}$"
_AMOUNT = re.compile(AMOUNT_PATTERN)
_REFERENCE = re.compile(REFERENCE_PATTERN)
_CONDITION_CODE = re.compile(CONDITION_CODE_PATTERN)


class InvalidInput(ValueError):
    """A rule was broken; ``field`` names which (``amount``, ``reference``, ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def shown(value: str, limit: int = 40) -> str:
    """``value`` quoted for an error message, cut short: messages never echo a whole body."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def format_minor(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def parse_amount(text: str, max_minor: int) -> int:
    """A decimal string with at most two places, above zero, at most the maximum -> cents."""
    if _AMOUNT.fullmatch(text) is None:
        raise InvalidInput(
            "amount",
            f"amount {shown(text)} is not a decimal string with at most two places, "
            'for example "1.00" or "12.5"',
        )
    whole, _, frac = text.partition(".")
    minor = int(whole) * 100 + int(frac.ljust(2, "0") or "0")
    if minor <= 0:
        raise InvalidInput("amount", f"amount {text!r} must be greater than zero")
    if minor > max_minor:
        raise InvalidInput(
            "amount",
            f"amount {text!r} is above the maximum of {format_minor(max_minor)} "
            "(set with --max-amount)",
        )
    return minor


def check_reference(ref: str) -> None:
    if _REFERENCE.fullmatch(ref) is None:
        raise InvalidInput(
            "reference",
            "retrieval_reference_number must be 1 to 64 printable ASCII characters, "
            f"got {shown(ref, 70)}",
        )


def check_condition_code(code: str) -> None:
    if _CONDITION_CODE.fullmatch(code) is None:
        raise InvalidInput(
            "condition_code",
            f'condition_code must be two digits, for example "82"; got {shown(code)}',
        )


# -- decisions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """What the journal knows of a payment, as the decisions need it."""

    status: Status
    amount_minor: int
    transaction_id: str
    batch_number: int | None


@dataclass(frozen=True)
class TerminalView:
    """What the terminal says of a payment (a query's answer or an unsolicited result)."""

    found: bool
    status: str = ""
    response_code: str = ""
    transaction_id: str = ""
    amount_minor: int = 0
    batch_number: int = 0  # 0: unsettled, or not said
    condition_code: str = ""


@dataclass(frozen=True)
class Change:
    """What to write: a status (possibly the same one, to fill in ids), and why.

    ``problem`` is set when the answer shows something that should not happen (a terminal
    that forgot a payment, an amount that differs): the caller logs it as an error.
    """

    status: Status
    detail: str
    response_code: str | None = None
    transaction_id: str | None = None
    settled_in: int | None = None  # the terminal's batch number, when newly known
    problem: str = ""


def on_terminal_view(known: Known, view: TerminalView, source: str) -> Change | None:
    """What the terminal's word on a payment means for the journal.

    ``source`` says where the word came from ("as the terminal reports it", ...), for the
    journal's history. Returns None when there is nothing to write (the journal already
    says the same, or the answer cannot be used and has been judged harmless).
    """
    if not view.found:
        if known.status in (RECEIVED, UNKNOWN) and not known.transaction_id:
            # The link is in order and a terminal acts on no frame of an old session, so
            # "no such payment" means the sale never reached it (docs/link-protocol.md).
            return Change(FAILED, "the terminal has no record of it: the sale never "
                          "reached the terminal; not paid")
        if known.status == PENDING:
            return Change(FAILED, "the terminal lost its record of it; not paid",
                          problem="the terminal accepted this payment but no longer has "
                          "any record of it; recording it as failed (not paid)")
        if known.status == UNKNOWN:
            return Change(known.status, "", problem=f"the terminal has no record of this "
                          f"{known.status} payment; it stays unknown")
        return None  # a final payment the terminal no longer lists: the journal keeps it
    status = from_terminal(view.status)
    if status is None:
        return Change(known.status, "", problem=f"the terminal reported an unknown status "
                      f"{view.status!r}")
    problem = ""
    if view.amount_minor and view.amount_minor != known.amount_minor:
        problem = (f"the terminal has amount {format_minor(view.amount_minor)}, the journal "
                   f"{format_minor(known.amount_minor)}")
    if not allowed(known.status, status):
        if status == PENDING and known.status not in ACTIVE:
            return None  # an answer older than the result already applied: harmless
        return Change(known.status, "", problem=f"ignored an impossible change "
                      f"{known.status} -> {status}; the journal keeps {known.status}")
    settled = (view.batch_number if view.batch_number and known.batch_number is None
               and status == APPROVED else None)
    return Change(status, source, response_code=view.response_code or None,
                  transaction_id=view.transaction_id or None, settled_in=settled,
                  problem=problem)


def on_void_refused(reason: str) -> Status | None:
    """A void the terminal refused: the refusals that reveal the payment's state."""
    if reason == "already_voided":
        return VOIDED
    if reason in ("already_settled", "not_approved", "busy", "not_found"):
        return None  # the payment's state must be asked for (query)
    return None


def cancel_outcome(status: Status) -> OpState | None:
    """A cancel's outcome once its payment is final: done if it ended cancelled."""
    if status in ACTIVE:
        return None
    return OpState.DONE if status == CANCELLED else OpState.NOT_DONE


def void_outcome(status: Status) -> OpState | None:
    if status in ACTIVE:
        return None
    return OpState.DONE if status == VOIDED else OpState.NOT_DONE
