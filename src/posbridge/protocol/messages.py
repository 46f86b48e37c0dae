"""Typed messages of the posbridge link and their payload codec.

Every message is a frozen msgspec Struct with a ``KIND`` tag. A frame's payload is one
message, encoded as compact UTF-8 JSON: ``{"k": KIND, ...fields}``. JSON keeps the wire
readable in a capture and trivial to implement on the terminal (an Android app); the frame
layer below gives it integrity. msgspec encodes and decodes them (a tagged union on ``k``):
a wrong type, a missing field or an unknown kind is refused, a bool is not an int, and keys
this version does not know are ignored so that a newer peer may add fields. (They were
dataclasses with a hand-written codec: the module took about 8 ms of every start to
import, docs/performance.md.)

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

from typing import ClassVar, TypeAlias

import msgspec

from .errors import RemoteProtocolError

#: Version 2 adds the batch's id chosen by the host (``batch.batch_id``), ``batch_query``
#: and ``batch_result.found``, so that a batch whose answer was lost can be asked for;
#: ``progress`` (what a pending payment shows: the QR code); the payment methods' names
#: in the hello; refunds (``refund``, ``refund_query``, ``refund_result``); receipts; the
#: terminal's own totals since its last batch (``totals``, ``totals_result``).
PROTOCOL_VERSION = 2
#: The oldest version this implementation still speaks; the hello negotiates down to it.
MIN_PROTOCOL_VERSION = 1


class Message(msgspec.Struct, frozen=True, tag_field="k"):
    #: The message's tag on the wire (its ``tag=``), set on each class below.
    KIND: ClassVar[str] = ""


# -- link control ----------------------------------------------------------------------


class Hello(Message, frozen=True, tag="hello"):
    """Opens a session. The host sends first; the terminal answers with its identity."""

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


class Ack(Message, frozen=True, tag="ack"):
    """Cumulative acknowledgement: every Data frame up to and including ``seq`` arrived."""

    seq: int


class Heartbeat(Message, frozen=True, tag="hb"):
    pass


class Data(Message, frozen=True, tag="data"):
    """A sequenced envelope for one application message (``m`` on the wire); a link-control
    message inside one is refused when decoded."""

    seq: int
    message: AppMessage = msgspec.field(name="m")


# -- application: PC -> terminal -------------------------------------------------------


class Sale(Message, frozen=True, tag="sale"):
    rid: int
    ref: str
    amount: int
    condition_code: str


class Cancel(Message, frozen=True, tag="cancel"):
    rid: int
    ref: str


class Query(Message, frozen=True, tag="query"):
    rid: int
    ref: str


class Void(Message, frozen=True, tag="void"):
    rid: int
    ref: str


class Batch(Message, frozen=True, tag="batch"):
    """Settle every approved, unsettled payment. ``batch_id`` is chosen by the host and
    journaled before sending; a terminal that already settled a batch with this id answers
    with that batch again instead of settling another."""

    rid: int
    batch_id: str = ""


class BatchQuery(Message, frozen=True, tag="batch_query"):
    """What became of the batch ``batch_id``? Answered with a ``BatchResult``."""

    rid: int
    batch_id: str


class Refund(Message, frozen=True, tag="refund"):
    """Refund ``amount`` (minor units) of the approved payment ``ref``, settled or not.
    ``refund_ref`` is chosen by the POS and journaled before sending: a terminal that
    already made the refund ``refund_ref`` of the same payment and amount answers accepted
    again instead of refunding twice. Answered with a ``Reply``."""

    rid: int
    ref: str
    refund_ref: str
    amount: int


class RefundQuery(Message, frozen=True, tag="refund_query"):
    """What became of the refund ``refund_ref`` of payment ``ref``? Answered with a
    ``RefundResult``."""

    rid: int
    ref: str
    refund_ref: str


class Totals(Message, frozen=True, tag="totals"):
    """(v2) The terminal's own totals since its last batch (the X report's other half).
    Read-only: it moves no money. Answered with a ``TotalsResult``."""

    rid: int


# -- application: terminal -> PC -------------------------------------------------------


class Reply(Message, frozen=True, tag="reply"):
    """The terminal's answer to a Sale, Cancel or Void: accepted, or refused with a reason.

    ``reason`` is one of REFUSAL_REASONS when ``accepted`` is false.
    """

    rid: int
    ref: str
    accepted: bool
    reason: str = ""
    detail: str = ""
    # (v2) an accepted void or refund: its receipt, as in QueryResult.
    receipt: tuple[str, ...] = ()
    merchant_copy: tuple[str, ...] = ()
    customer_copy: tuple[str, ...] = ()


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


class QueryResult(Message, frozen=True, tag="query_result"):
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
    receipt: tuple[str, ...] = ()
    merchant_copy: tuple[str, ...] = ()
    customer_copy: tuple[str, ...] = ()


class BatchResult(Message, frozen=True, tag="batch_result"):
    rid: int
    batch_number: int
    count: int
    total: int
    refs: tuple[str, ...] = ()
    batch_id: str = ""
    found: bool = True  # false: a batch_query for a batch the terminal never settled


class RefundResult(Message, frozen=True, tag="refund_result"):
    """The terminal's record of the refund ``refund_ref``: ``found`` false when it never
    received it. ``status`` is ``approved`` (refunded) or ``declined``."""

    rid: int
    ref: str
    refund_ref: str
    found: bool
    amount: int = 0
    status: str = ""
    transaction_id: str = ""
    receipt: tuple[str, ...] = ()  # (v2) the refund's receipt
    merchant_copy: tuple[str, ...] = ()
    customer_copy: tuple[str, ...] = ()


class TotalsResult(Message, frozen=True, tag="totals_result"):
    """(v2) The terminal's totals since ``since_batch`` (its last batch; 0 before the
    first): one row per kind, condition code and status, each
    ``kind:condition_code:status:count:total`` (kind ``payment`` or ``refund``; total in
    minor units). Declined refunds leave nothing on a terminal and are not counted."""

    rid: int
    since_batch: int = 0
    rows: tuple[str, ...] = ()


class PaymentResult(Message, frozen=True, tag="result"):
    """The terminal's report that a payment reached a final state."""

    ref: str
    status: str
    response_code: str
    transaction_id: str = ""
    receipt: tuple[str, ...] = ()  # (v2) its receipt, as in QueryResult
    merchant_copy: tuple[str, ...] = ()
    customer_copy: tuple[str, ...] = ()


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


class Progress(Message, frozen=True, tag="progress"):
    """What a pending payment is showing the customer (version 2). Informational: it moves
    no money and changes no status; the latest one per payment replaces the earlier ones.

    ``stage`` is one of PROGRESS_STAGES; ``qr_payload`` is the text of the QR code the
    customer scans (an EMVCo payload for PayNow), or "".
    """

    ref: str
    stage: str
    qr_payload: str = ""


PROGRESS_STAGES = (
    "waiting_for_customer",  # the amount is shown; no QR (a method without one)
    "qr_shown",  # the QR code is on the screen, waiting for the customer to scan it
)


# Payment statuses as the terminal reports them on the link.
TERMINAL_STATUSES = ("pending", "approved", "declined", "cancelled", "timed_out", "voided")

#: What a Data frame may carry: every application message, in both directions.
AppMessage: TypeAlias = (
    Sale | Cancel | Query | Void | Batch | BatchQuery | Refund | RefundQuery | Totals
    | Reply | QueryResult | BatchResult | RefundResult | TotalsResult | PaymentResult | Progress
)
_LINK_CONTROL = (Hello, Ack, Heartbeat, Data)
for _cls in (*_LINK_CONTROL, *AppMessage.__args__):
    _cls.KIND = _cls.__struct_config__.tag
del _cls

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Hello | Ack | Heartbeat | Data | AppMessage).decode


def encode_message(msg: Message) -> bytes:
    """Encode a message as a frame payload."""
    return _encode(msg)


def decode_message(payload: bytes) -> Message:
    """Decode a frame payload; raise RemoteProtocolError for anything malformed."""
    try:
        return _decode(payload)  # type: ignore[no-any-return]
    except msgspec.DecodeError as exc:  # not JSON, or not a message (ValidationError)
        raise RemoteProtocolError(f"payload is not a message: {exc}") from None
    except RecursionError:  # "[[[[..." nested deeper than the parser's stack; fits a frame
        raise RemoteProtocolError("payload is nested too deeply") from None
