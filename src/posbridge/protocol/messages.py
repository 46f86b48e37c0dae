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
  unsolicited report of a payment's outcome.

Amounts on the link are integer minor units (cents), never floats.
"""

from __future__ import annotations

import json
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from .errors import RemoteProtocolError

#: Version 2 adds the batch's id chosen by the host (``batch.batch_id``), ``batch_query``
#: and ``batch_result.found``, so that a batch whose answer was lost can be asked for.
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


REFUSAL_REASONS = (
    "busy",  # another payment is on the terminal
    "unsupported_condition_code",
    "duplicate_reference",  # the terminal already has a payment with this reference
    "not_found",  # no payment with this reference
    "not_in_progress",  # cancel: the payment is not waiting for the customer
    "not_approved",  # void: only an approved payment can be voided
    "already_voided",
    "already_settled",
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
class PaymentResult(Message):
    """The terminal's report that a payment reached a final state."""

    KIND: ClassVar[str] = "result"
    ref: str
    status: str
    response_code: str
    transaction_id: str = ""


# Payment statuses as the terminal reports them on the link.
TERMINAL_STATUSES = ("pending", "approved", "declined", "cancelled", "timed_out", "voided")

_KINDS: dict[str, type[Message]] = {
    cls.KIND: cls
    for cls in (
        Hello, Ack, Heartbeat, Data, Sale, Cancel, Query, Void, Batch, BatchQuery,
        Reply, QueryResult, BatchResult, PaymentResult,
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
