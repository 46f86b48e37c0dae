"""Typed messages of the posbridge link and their payload codec.

Every message is a frozen dataclass with a ``KIND`` tag. A frame's payload is one message,
encoded as compact UTF-8 JSON: ``{"k": KIND, ...fields}``. JSON keeps the wire readable in a
capture and trivial to implement on the terminal (an Android app); the frame layer below
gives it integrity.

Two families share the codec:

* link control (``Hello``, ``Ack``, ``Heartbeat``, ``Data``): used by ``LinkConnection``
  itself, never seen by the application;
* application messages, carried inside ``Data`` frames so that they are acknowledged,
  retransmitted and delivered exactly once, in order. Requests from the PC carry a request
  id ``rid`` that the terminal copies into its answer; ``PaymentResult`` is the terminal's
  unsolicited report of a payment's outcome, ``Progress`` (version 2) its report of what the
  customer is being shown while a payment is pending.

Amounts on the link are integer minor units (cents), never floats.
"""

from __future__ import annotations

import json
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from .errors import RemoteProtocolError

#: Version 2 adds the batch's id chosen by the host (``batch.batch_id``), ``batch_query``
#: and ``batch_result.found``, so that a batch whose answer was lost can be asked for;
#: ``progress`` (what a pending payment shows: the QR code); the payment methods' names
#: in the hello; refunds (``refund``, ``refund_query``, ``refund_result``); receipts; the
#: terminal's own totals since its last batch (``totals``, ``totals_result``).
PROTOCOL_VERSION = 2
#: The oldest version this implementation still speaks; the hello negotiates down to it.
MIN_PROTOCOL_VERSION = 1


@dataclass(frozen=True)
class Message:
    KIND: ClassVar[str] = ""


# -- link control ----------------------------------------------------------------------


@dataclass(frozen=True)
class Hello(Message):
    """Opens a session. The host sends first; the terminal answers with its identity."""

    KIND: ClassVar[str] = "hello"
    role: str  # "host" or "terminal"
    version: int
    session: str
    serial: str = ""
    model: str = ""
    app_version: str = ""
    condition_codes: tuple[str, ...] = ()
    #: The payment method of each condition code, parallel to ``condition_codes`` ("" where
    #: the terminal has no name). Optional, so a peer that sends codes only still decodes.
    condition_code_names: tuple[str, ...] = ()
    #: The idle heartbeat interval, in ms. The host proposes one (0: none, keep the
    #: defaults); a terminal that takes it answers with the interval agreed, and from then
    #: both ends use it (and a dead-peer time of three intervals) for this session. A peer
    #: that does not know the field ignores it and answers 0: the defaults stay.
    idle_heartbeat_ms: int = 0


@dataclass(frozen=True)
class Ack(Message):
    """Cumulative acknowledgement: every Data frame up to and including ``seq`` arrived."""

    KIND: ClassVar[str] = "ack"
    seq: int


@dataclass(frozen=True)
class Heartbeat(Message):
    KIND: ClassVar[str] = "hb"


@dataclass(frozen=True)
class Data(Message):
    """A sequenced envelope for one application message."""

    KIND: ClassVar[str] = "data"
    seq: int
    message: Message


# -- application: PC -> terminal -------------------------------------------------------


@dataclass(frozen=True)
class Sale(Message):
    KIND: ClassVar[str] = "sale"
    rid: int
    ref: str
    amount: int
    condition_code: str


@dataclass(frozen=True)
class Cancel(Message):
    KIND: ClassVar[str] = "cancel"
    rid: int
    ref: str


@dataclass(frozen=True)
class Query(Message):
    KIND: ClassVar[str] = "query"
    rid: int
    ref: str


@dataclass(frozen=True)
class Void(Message):
    KIND: ClassVar[str] = "void"
    rid: int
    ref: str


@dataclass(frozen=True)
class Batch(Message):
    """Settle every approved, unsettled payment. ``batch_id`` is chosen by the host and
    journaled before sending; a terminal that already settled a batch with this id answers
    with that batch again instead of settling another."""

    KIND: ClassVar[str] = "batch"
    rid: int
    batch_id: str = ""


@dataclass(frozen=True)
class BatchQuery(Message):
    """What became of the batch ``batch_id``? Answered with a ``BatchResult``."""

    KIND: ClassVar[str] = "batch_query"
    rid: int
    batch_id: str


@dataclass(frozen=True)
class Refund(Message):
    """Refund ``amount`` (minor units) of the approved payment ``ref``, settled or not.
    ``refund_ref`` is chosen by the POS and journaled before sending: a terminal that
    already made the refund ``refund_ref`` of the same payment and amount answers accepted
    again instead of refunding twice. Answered with a ``Reply``."""

    KIND: ClassVar[str] = "refund"
    rid: int
    ref: str
    refund_ref: str
    amount: int


@dataclass(frozen=True)
class RefundQuery(Message):
    """What became of the refund ``refund_ref`` of payment ``ref``? Answered with a
    ``RefundResult``."""

    KIND: ClassVar[str] = "refund_query"
    rid: int
    ref: str
    refund_ref: str


@dataclass(frozen=True)
class Totals(Message):
    """(v2) The terminal's own totals since its last batch (the X report's other half).
    Read-only: it moves no money. Answered with a ``TotalsResult``."""

    KIND: ClassVar[str] = "totals"
    rid: int


# -- application: terminal -> PC -------------------------------------------------------


@dataclass(frozen=True)
class Reply(Message):
    """The terminal's answer to a Sale, Cancel or Void: accepted, or refused with a reason.

    ``reason`` is one of REFUSAL_REASONS when ``accepted`` is false.
    """

    KIND: ClassVar[str] = "reply"
    rid: int
    ref: str
    accepted: bool
    reason: str = ""
    detail: str = ""
    # (v2) an accepted void or refund: its receipt, as in QueryResult.
    receipt: tuple[str, ...] = field(default=())
    merchant_copy: tuple[str, ...] = field(default=())
    customer_copy: tuple[str, ...] = field(default=())


REFUSAL_REASONS = (
    "busy",  # another payment is on the terminal
    "unsupported_condition_code",
    "duplicate_reference",  # the terminal already has a payment with this reference
    "not_found",  # no payment with this reference
    "not_in_progress",  # cancel: the payment is not waiting for the customer
    "not_approved",  # void: only an approved payment can be voided
    "already_voided",
    "already_settled",
    "customer_unavailable",  # sale: the simulator's scenario has run out (detail says so)
    "already_refunded",  # void: the payment has refunds; refund the rest instead
    "exceeds_payment",  # refund: more than remains of the payment
    "refund_declined",  # refund: the acquirer declined it
)


@dataclass(frozen=True)
class QueryResult(Message):
    KIND: ClassVar[str] = "query_result"
    rid: int
    ref: str
    found: bool
    status: str = ""
    response_code: str = ""
    transaction_id: str = ""
    amount: int = 0
    condition_code: str = ""
    batch_number: int = 0  # the batch that settled it; 0 while unsettled
    # (v2) the receipt of the payment's final state (a voided payment: the void's), as
    # "key=value" strings (RECEIPT_FIELDS), and the printable lines of each copy.
    receipt: tuple[str, ...] = field(default=())
    merchant_copy: tuple[str, ...] = field(default=())
    customer_copy: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class BatchResult(Message):
    KIND: ClassVar[str] = "batch_result"
    rid: int
    batch_number: int
    count: int
    total: int
    refs: tuple[str, ...] = field(default=())
    batch_id: str = ""
    found: bool = True  # false: a batch_query for a batch the terminal never settled


@dataclass(frozen=True)
class RefundResult(Message):
    """The terminal's record of the refund ``refund_ref``: ``found`` false when it never
    received it. ``status`` is ``approved`` (refunded) or ``declined``."""

    KIND: ClassVar[str] = "refund_result"
    rid: int
    ref: str
    refund_ref: str
    found: bool
    amount: int = 0
    status: str = ""
    transaction_id: str = ""
    receipt: tuple[str, ...] = field(default=())  # (v2) the refund's receipt
    merchant_copy: tuple[str, ...] = field(default=())
    customer_copy: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class TotalsResult(Message):
    """(v2) The terminal's totals since ``since_batch`` (its last batch; 0 before the
    first): one row per kind, condition code and status, each
    ``kind:condition_code:status:count:total`` (kind ``payment`` or ``refund``; total in
    minor units). Declined refunds leave nothing on a terminal and are not counted."""

    KIND: ClassVar[str] = "totals_result"
    rid: int
    since_batch: int = 0
    rows: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class PaymentResult(Message):
    """The terminal's report that a payment reached a final state."""

    KIND: ClassVar[str] = "result"
    ref: str
    status: str
    response_code: str
    transaction_id: str = ""
    receipt: tuple[str, ...] = field(default=())  # (v2) its receipt, as in QueryResult
    merchant_copy: tuple[str, ...] = field(default=())
    customer_copy: tuple[str, ...] = field(default=())


#: The structured fields of a receipt, each sent as "key=value" (a value may hold "=").
RECEIPT_FIELDS = ("method", "account", "transaction_id", "terminal_id", "merchant_id",
                  "time", "amount", "status")


def receipt_fields(pairs: tuple[str, ...]) -> dict[str, str]:
    """The ``key=value`` strings of a receipt as a dict (keys this version does not know
    are kept; an entry without ``=`` is dropped)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if sep and key:
            out[key] = value
    return out


@dataclass(frozen=True)
class Progress(Message):
    """What a pending payment is showing the customer (version 2). Informational: it moves
    no money and changes no status; the latest one per payment replaces the earlier ones.

    ``stage`` is one of PROGRESS_STAGES; ``qr_payload`` is the text of the QR code the
    customer scans (an EMVCo payload for PayNow), or "".
    """

    KIND: ClassVar[str] = "progress"
    ref: str
    stage: str
    qr_payload: str = ""


PROGRESS_STAGES = (
    "waiting_for_customer",  # the amount is shown; no QR (a method without one)
    "qr_shown",  # the QR code is on the screen, waiting for the customer to scan it
)


# Payment statuses as the terminal reports them on the link.
TERMINAL_STATUSES = ("pending", "approved", "declined", "cancelled", "timed_out", "voided")

_KINDS: dict[str, type[Message]] = {
    cls.KIND: cls
    for cls in (
        Hello, Ack, Heartbeat, Data, Sale, Cancel, Query, Void, Batch, BatchQuery,
        Refund, RefundQuery, Totals, Reply, QueryResult, BatchResult, RefundResult,
        TotalsResult, PaymentResult, Progress,
    )
}
_HINTS: dict[type[Message], dict[str, Any]] = {}


def _to_obj(msg: Message) -> dict[str, Any]:
    if isinstance(msg, Data):
        return {"k": Data.KIND, "seq": msg.seq, "m": _to_obj(msg.message)}
    obj: dict[str, Any] = {"k": msg.KIND}
    obj.update(asdict(msg))
    return obj


def encode_message(msg: Message) -> bytes:
    """Encode a message as a frame payload."""
    return json.dumps(_to_obj(msg), separators=(",", ":"), ensure_ascii=False).encode()


def _check(cls: type[Message], name: str, hint: Any, value: Any) -> Any:
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is str:
        ok = isinstance(value, str)
    elif typing.get_origin(hint) is tuple:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    else:  # pragma: no cover - a field type this codec was not taught
        raise TypeError(f"{cls.__name__}.{name}: unsupported type {hint!r}")
    if not ok:
        raise RemoteProtocolError(f"{cls.KIND}.{name}: expected {hint}, got {value!r}")
    return value


def _from_obj(obj: Any) -> Message:
    if not isinstance(obj, dict):
        raise RemoteProtocolError("message is not a JSON object")
    kind = obj.get("k")
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise RemoteProtocolError(f"unknown message kind {kind!r}")
    if cls is Data:
        seq = _check(Data, "seq", int, obj.get("seq"))
        inner = _from_obj(obj.get("m"))
        if isinstance(inner, Data | Hello | Ack | Heartbeat):
            raise RemoteProtocolError("data frame carries a link-control message")
        return Data(seq=seq, message=inner)
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in obj:
            kwargs[f.name] = _check(cls, f.name, hints[f.name], obj[f.name])
    # Unknown keys are ignored so that a newer peer may add fields.
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise RemoteProtocolError(f"{kind}: {exc}") from None


def decode_message(payload: bytes) -> Message:
    """Decode a frame payload; raise RemoteProtocolError for anything malformed."""
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RemoteProtocolError(f"payload is not JSON: {exc}") from None
    except RecursionError:  # "[[[[..." nested deeper than the parser's stack; fits a frame
        raise RemoteProtocolError("payload is nested too deeply") from None
    return _from_obj(obj)
