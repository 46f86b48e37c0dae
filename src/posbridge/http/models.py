"""Request bodies (msgspec structs, decoded and checked straight from the raw JSON) and
response bodies.

Field names and the reference's messages are the vendor's contract, byte for byte; the
extra response fields (``status``, ``amount``, ``replayed``, batch figures) are ours and
documented in docs/api.md.

msgspec, not pydantic (docs/architecture.md, "Validation"): the same strict checks (a JSON
object, each field of its JSON type, no other field) for 1 MiB instead of 13 at start-up.
The patterns and lengths are the OpenAPI document's (``extra_json_schema``); the service
checks them with its own error codes (``payments.py``).
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from .. import errors, payments
from ..journal import Payment, Receipt, RefundRecord
from ..protocol.messages import RECEIPT_FIELDS, Progress
from ..service import (
    BatchSummary,
    RefundOutcome,
    format_minor,
    public_status,
    refunded_minor,
    shown,
    transaction_status,
)


class _Body(Struct, forbid_unknown_fields=True):
    """A request body: a JSON object with these fields and no other."""


_REFERENCE = {"minLength": 1, "maxLength": 64, "pattern": payments.REFERENCE_PATTERN}

Ref = Annotated[str, Meta(
    description="Identifies the payment: the POS's own reference for the sale (an invoice "
    "number). 1 to 64 printable ASCII characters. Sending the same CreatePayment again "
    "answers with what the first one got.", extra_json_schema=_REFERENCE)]


class CreatePaymentRequest(_Body):
    amount: Annotated[str, Meta(
        description="The amount as a decimal string with at most two decimal places, above "
        "zero and at most the bridge's maximum (default 999999.99).",
        extra_json_schema={"pattern": payments.AMOUNT_PATTERN})]
    retrieval_reference_number: Ref
    condition_code: Annotated[str, Meta(
        description="Two digits: the payment method (source of funds), as in FOMO Pay's POS "
        "API: 82 PayNow, 30 Alipay, 20 WeChat Pay, 50 GrabPay. The terminal's methods are "
        "listed by GET /health (payment_methods).",
        extra_json_schema={"pattern": payments.CONDITION_CODE_PATTERN})]


class CancelPaymentRequest(_Body):
    pass


class QueryPaymentRequest(_Body):
    retrieval_reference_number: Ref


class VoidPaymentRequest(_Body):
    retrieval_reference_number: Ref


class SubmitBatchRequest(_Body):
    pass


class RefundPaymentRequest(_Body):
    retrieval_reference_number: Annotated[str, Meta(
        description="The approved payment to refund (settled in a batch or not).",
        extra_json_schema=_REFERENCE)]
    refund_reference: Annotated[str, Meta(
        description="Identifies the refund: the POS's own reference for it (a credit note "
        "number). 1 to 64 printable ASCII characters, unique across all refunds. Sending the "
        "same refund again answers with what the first one got; the same refund_reference "
        "with another payment or amount is refused (409 REFERENCE_CONFLICT).",
        extra_json_schema=_REFERENCE)]
    amount: Annotated[str, Meta(
        description="How much to refund, as a decimal string with at most two decimal "
        "places: all of the payment or part of it. Several refunds of one payment may add "
        "up to its amount, no more (409 REFUND_EXCEEDS_PAYMENT says what remains).",
        extra_json_schema={"pattern": payments.AMOUNT_PATTERN})]


class ResolvePaymentRequest(_Body):
    """``POST /admin/ResolvePayment`` (loopback only, for ``posbridge journal resolve``)."""

    retrieval_reference_number: Ref
    outcome: Literal["paid", "not_paid"]
    reason: str
    by: str


class ReportRequest(_Body):
    """``POST /admin/Report`` (loopback only, for ``posbridge report``)."""

    batch: Annotated[Annotated[int, Meta(ge=1)] | None, Meta(
        description="the Z report of this batch; absent: the X report since the last "
        "batch")] = None


# The response bodies, for the OpenAPI document and the clients generated from it. The
# routes build the same bodies as dicts (the functions below); tests check them against
# these structs through the served document.


Status = Literal["pending", "unknown", "approved", "declined", "cancelled", "timed_out",
                 "voided", "failed"]
# The statuses the POS sees are payments.Status without "received" (shown as "unknown").
assert set(typing.get_args(Status)) == {str(s) for s in payments.Status} - {"received"}


class _Answer(Struct, kw_only=True):
    success: Literal[True]
    message: str


class CreatePaymentResponse(_Answer):
    retrieval_reference_number: str
    condition_code: str
    status: Status
    amount: str
    replayed: Annotated[bool, Meta(description="true when this answers a repeat of an "
                                   "earlier CreatePayment with the same reference and "
                                   "values")]


class CancelPaymentResponse(_Answer):
    retrieval_reference_number: str
    status: Status


RefundStatusName = Literal["unknown", "approved", "refused", "failed"]
assert set(typing.get_args(RefundStatusName)) == {str(s) for s in payments.RefundStatus}


class RefundEntry(Struct, kw_only=True):
    refund_reference: str
    amount: str
    status: Annotated[RefundStatusName, Meta(
        description="approved: refunded; unknown: its answer was lost and posbridge is "
        "asking the terminal; refused: the terminal said no, nothing was refunded; failed: "
        "it never reached the terminal, nothing was refunded")]


class ReceiptBody(Struct, kw_only=True):
    """The terminal's receipt: the fields a POS prints itself, and the terminal's own
    printable lines for each copy. A field the terminal did not give is ""."""

    kind: Literal["payment", "void", "refund"]
    method: Annotated[str, Meta(description="the payment method, e.g. PayNow")]
    account: Annotated[str, Meta(description="the masked account or wallet")]
    transaction_id: Annotated[str, Meta(description="the terminal's transaction id")]
    terminal_id: str
    merchant_id: str
    time: Annotated[str, Meta(description="when the terminal made the receipt (its clock)")]
    amount: str
    status: str
    merchant_copy: Annotated[list[str], Meta(description="printable lines, the merchant's "
                                             "copy")]
    customer_copy: Annotated[list[str], Meta(description="printable lines, the customer's "
                                             "copy")]


assert set(ReceiptBody.__struct_fields__) >= set(RECEIPT_FIELDS)


class QueryPaymentResponse(_Answer, kw_only=True):
    retrieval_reference_number: str
    condition_code: str
    transaction_id: str | None
    transaction_status: Annotated[str, Meta(
        description='"00" approved, "09" in progress or unknown, "17" cancelled, "68" timed '
        'out, "VD" voided, "96" failed, other codes: declined with that code')]
    status: Status
    amount: str
    batch_number: int | None
    recovered_from_terminal: Annotated[bool, Meta(
        description="true when the journal had no record of this payment and posbridge "
        "brought it back from the terminal's own record")]
    stage: Annotated[Literal["waiting_for_customer", "qr_shown"] | None, Meta(
        description="while the payment is pending, and once the terminal has reported it: "
        'what the customer is shown ("qr_shown": the QR code to scan, '
        '"waiting_for_customer": the amount). Absent otherwise')] = None
    qr_payload: Annotated[str | None, Meta(
        description="with stage qr_shown: the text of the QR code the customer scans (for "
        "PayNow an EMVCo/SGQR payload ending in a CRC-16), for the POS to show on a "
        "customer display. Absent once the payment is final")] = None
    refunded: Annotated[str, Meta(description='the total refunded (approved refunds), '
                                  '"0.00" when none')]
    refunds: Annotated[list[RefundEntry], Meta(description="the payment's refunds, oldest "
                                               "first")]
    receipt: Annotated[ReceiptBody | None, Meta(
        description="the terminal's receipt once the payment is final (a voided payment: "
        "the void's); null while it is not final or the terminal gave none")]
    resolved_by_hand: Annotated[bool, Meta(
        description="true when a person settled this payment as paid or not paid because "
        "the terminal could not answer for it (posbridge journal resolve); who and why are "
        "in the journal's history")]


class VoidPaymentResponse(_Answer):
    retrieval_reference_number: str
    status: Status


class ReportLine(Struct, kw_only=True):
    kind: Literal["payment", "refund"]
    condition_code: str
    method: Annotated[str, Meta(description='the payment method\'s name, "" for a code '
                                'nobody named')]
    status: str
    count: int
    total: str


class ReportMethod(Struct, kw_only=True):
    condition_code: str
    method: str
    approved_count: int
    approved_total: str
    refunded_count: int
    refunded_total: str
    net: Annotated[str, Meta(description="approved payments less approved refunds")]


class ReportStatus(Struct, kw_only=True):
    kind: Literal["payment", "refund"]
    status: str
    count: int
    total: str


class EndOfDayReport(Struct, kw_only=True):
    """An end-of-day report from the journal: ``X`` since the last batch, or ``Z`` of one
    settled batch (kept in the journal when the batch settled)."""

    kind: Literal["X", "Z"]
    batch_number: Annotated[int | None, Meta(description="the batch (Z); null for an X "
                                             "report")]
    since_batch: Annotated[int, Meta(description="the batch before this period, 0 before "
                                     "the first")]
    lines: Annotated[list[ReportLine], Meta(
        description="counts and totals by kind, payment method and status, voids (status "
        "voided) and refunds included")]
    by_method: list[ReportMethod]
    by_status: list[ReportStatus]
    net: Annotated[str, Meta(description="approved payments less approved refunds")]
    terminal: Annotated[list[ReportLine] | None, Meta(
        description="X: the terminal's own totals since its last batch; null in a Z report")]
    terminal_problem: Annotated[str | None, Meta(description="why the terminal was not "
                                                 "compared")]
    mismatch: Annotated[list[str], Meta(
        description="every difference between the journal and the terminal (X: its totals; "
        "Z: the count and total it settled), one sentence each; empty when they agree")]


class SubmitBatchResponse(_Answer):
    batch_number: int
    count: int
    total: str
    batch_id: Annotated[str, Meta(description="posbridge's id for this batch, journaled "
                                  "before it was sent to the terminal")]
    replayed: Annotated[bool, Meta(description="true when this answers a SubmitBatch whose "
                                   "answer was lost: the batch it settled, not a new one")]
    report: Annotated[EndOfDayReport | None, Meta(
        description="posbridge's extension: the batch's Z report as the journal keeps it "
        "(null when none could be kept)")]


class RefundPaymentResponse(_Answer):
    retrieval_reference_number: str
    refund_reference: str
    amount: str
    status: RefundStatusName
    refunded: Annotated[str, Meta(description="the payment's total refunded, this refund "
                                  "included when approved")]
    remaining: Annotated[str, Meta(description="what may still be refunded of the payment")]
    replayed: Annotated[bool, Meta(description="true when this answers a repeat of an "
                                   "earlier RefundPayment with the same refund_reference "
                                   "and values")]


class ErrorResponse(Struct, kw_only=True):
    """An error; some codes add fields (``fields``, ``held_by``, ``supported_versions``:
    docs/api.md)."""

    success: Literal[False]
    message: Annotated[str, Meta(description="what happened and what to do, for a person")]
    error_code: Annotated[str, Meta(description="stable code for programs; see docs/api.md")]


#: Problems listed in one INVALID_REQUEST; the rest are counted, so an error stays short.
MAX_PROBLEMS = 4


@functools.cache
def _decoder(model: type[_Body]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(model)


#: A body's top level only: its keys and each value's JSON text, checked but not decoded.
_TOP_LEVEL = msgspec.json.Decoder(dict[str, msgspec.Raw])


def parse_body(model: type[_Body], body: bytes) -> Any:
    """Decode and check a raw body against ``model``; raise the matching PosBridgeError."""
    try:
        parsed = _decoder(model).decode(body or b"{}")
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as exc:
        raise _problems(model, body or b"{}", exc) from None
    if model.__struct_fields__ and _may_repeat_a_key(body, model):
        # msgspec keeps the last of duplicate keys; a body that says two amounts is refused
        # rather than guessed at. Here the body is known to be a flat object of strings.
        json.loads(body, object_pairs_hook=_refuse_duplicates)
    return parsed


@functools.cache
def _quoted_names(model: type[_Body]) -> tuple[bytes, ...]:
    return tuple(b'"%s"' % name.encode() for name in model.__struct_fields__)


def _may_repeat_a_key(body: bytes, model: type[_Body]) -> bool:
    """False only when ``body`` (already valid for ``model``, which forbids other keys)
    surely gives each key once: with no escapes, every key is written as its plain quoted
    name, so a name seen at most once cannot be a repeated key. The full parse settles the
    rest (an escape anywhere, or a value that spells a field's name)."""
    if b"\\" in body:
        return True
    return any(body.count(name) > 1 for name in _quoted_names(model))


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise errors.InvalidJson(
            f"the request body gives {', '.join(twice)} more than once; send each field once"
        )
    return dict(pairs)


def _problems(model: type[_Body], body: bytes, exc: Exception) -> errors.PosBridgeError:
    """Every problem of a body ``model`` refused, not only the first msgspec stopped at: the
    body's top level, then each field's value decoded alone against its type."""
    try:
        given = _TOP_LEVEL.decode(body)
    except msgspec.ValidationError:
        return errors.InvalidRequest("the request body must be a JSON object")
    except msgspec.DecodeError as bad:
        return errors.InvalidJson(f"the request body is not valid JSON ({bad}); send a "
                                  "JSON object")
    except RecursionError:
        return errors.InvalidJson("the request body nests too deeply to be read; send a "
                                  "flat JSON object")
    problems: list[str] = []
    first: errors.PosBridgeError | None = None
    for field in msgspec.structs.fields(model):
        name = field.name
        if name not in given:
            if field.required:
                problems.append(f"{name} is required")
            continue
        try:
            msgspec.json.decode(given[name], type=field.type)
        except msgspec.ValidationError as wrong:
            if _is_text(field.type):
                text = f"{name} must be a JSON string"
                if name == "amount":
                    text += ' with at most two decimal places, for example "1.00"'
                    first = first or errors.InvalidAmount(text)
            else:
                text = f"{name}: {str(wrong).removesuffix(' - at `$`')}"
            problems.append(text)
    extras = [shown(key, 30) for key in given if key not in model.__struct_fields__]
    if extras:
        allowed = ", ".join(model.__struct_fields__) or "no fields"
        listed = ", ".join(extras[:3]) + (f" and {len(extras) - 3} more" if len(extras) > 3
                                          else "")
        problems.append(f"{listed} {'is not a field' if len(extras) == 1 else 'are not fields'}"
                        f" of this command (it takes: {allowed})")
    if not problems:  # msgspec saw what this walk did not: say what it said
        return errors.InvalidRequest(f"the request body was refused: {exc}")
    if first is not None and len(problems) == 1:
        return first
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        problems = [*problems[:MAX_PROBLEMS], f"and {more} more problem{'s' * (more > 1)}"]
    return errors.InvalidRequest("; ".join(problems), fields=problems)


def _is_text(annotation: Any) -> bool:
    """Whether a field's type is a plain string (``str``, perhaps with a description)."""
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation is str


# -- responses --------------------------------------------------------------------------


def create_payment_response(payment: Payment, replayed: bool) -> dict[str, Any]:
    return {
        "success": True,
        "message": "Create payment command processed",
        "retrieval_reference_number": payment.ref,
        "condition_code": payment.condition_code,
        "status": public_status(payment),
        "amount": payment.amount,
        "replayed": replayed,
    }


def cancel_payment_response(payment: Payment) -> dict[str, Any]:
    return {
        "success": True,
        "message": "Cancel payment command processed",
        "retrieval_reference_number": payment.ref,
        "status": public_status(payment),
    }


def refund_entries(refunds: Sequence[RefundRecord]) -> list[dict[str, str]]:
    return [{"refund_reference": r.refund_ref, "amount": r.amount, "status": r.status}
            for r in refunds]


def receipt_body(receipt: Receipt) -> dict[str, Any]:
    return {"kind": receipt.kind,
            **{name: str(receipt.fields.get(name, "")) for name in RECEIPT_FIELDS},
            "merchant_copy": receipt.merchant_copy, "customer_copy": receipt.customer_copy}


def query_payment_response(payment: Payment, progress: Progress | None = None,
                           refunds: Sequence[RefundRecord] = (),
                           receipt: Receipt | None = None) -> dict[str, Any]:
    body = {
        "success": True,
        "message": "Query payment command processed",
        "retrieval_reference_number": payment.ref,
        "condition_code": payment.condition_code,
        "transaction_id": payment.transaction_id,
        "transaction_status": transaction_status(payment),
        "status": public_status(payment),
        "amount": payment.amount,
        "batch_number": payment.batch_number,
        "recovered_from_terminal": payment.origin == "terminal",
        "refunded": format_minor(refunded_minor(refunds)),
        "refunds": refund_entries(refunds),
        "receipt": receipt_body(receipt) if receipt is not None else None,
        "resolved_by_hand": bool(payment.resolved_by),
    }
    if progress is not None:  # only while pending: what the terminal shows the customer
        body["stage"] = progress.stage
        body["qr_payload"] = progress.qr_payload or None
    return body


def void_payment_response(payment: Payment) -> dict[str, Any]:
    return {
        "success": True,
        "message": "Void payment command processed",
        "retrieval_reference_number": payment.ref,
        "status": public_status(payment),
    }


def submit_batch_response(batch: BatchSummary) -> dict[str, Any]:
    return {
        "success": True,
        "message": "Submit batch command processed",
        "batch_number": batch.batch_number,
        "count": batch.count,
        "total": format_minor(batch.total_minor),
        "batch_id": batch.batch_id,
        "replayed": batch.replayed,
        "report": batch.report,
    }


def refund_payment_response(outcome: RefundOutcome) -> dict[str, Any]:
    counted = sum(r.amount_minor for r in outcome.refunds
                  if r.status in payments.REFUND_COUNTED)
    return {
        "success": True,
        "message": "Refund payment command processed",
        "retrieval_reference_number": outcome.payment.ref,
        "refund_reference": outcome.refund.refund_ref,
        "amount": outcome.refund.amount,
        "status": outcome.refund.status,
        "refunded": format_minor(outcome.refunded_minor),
        "remaining": format_minor(payments.refund_room(outcome.payment.amount_minor, counted)),
        "replayed": outcome.replayed,
    }
