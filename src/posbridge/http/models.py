"""Request bodies (pydantic, validated straight from the raw JSON) and response bodies.

Field names and the reference's messages are the vendor's contract, byte for byte; the
extra response fields (``status``, ``amount``, ``replayed``, batch figures) are ours and
documented in docs/api.md.
"""

from __future__ import annotations

import functools
import json
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import errors, payments
from ..journal import Payment
from ..service import BatchSummary, format_minor, public_status, shown, transaction_status


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


_REF = Field(
    description="Identifies the payment: the POS's own reference for the sale (an invoice "
    "number). 1 to 64 printable ASCII characters. Sending the same CreatePayment again "
    "answers with what the first one got.",
    json_schema_extra={"minLength": 1, "maxLength": 64, "pattern": payments.REFERENCE_PATTERN},
)


class CreatePaymentRequest(_Body):
    amount: str = Field(
        description="The amount as a decimal string with at most two decimal places, above "
        "zero and at most the bridge's maximum (default 999999.99).",
        json_schema_extra={"pattern": payments.AMOUNT_PATTERN},
    )
    retrieval_reference_number: str = _REF
    condition_code: str = Field(
        description="Two digits: how the card is presented; the terminal's supported codes "
        "are listed by GET /health.",
        json_schema_extra={"pattern": payments.CONDITION_CODE_PATTERN},
    )


class CancelPaymentRequest(_Body):
    pass


class QueryPaymentRequest(_Body):
    retrieval_reference_number: str = _REF


class VoidPaymentRequest(_Body):
    retrieval_reference_number: str = _REF


class SubmitBatchRequest(_Body):
    pass


# The response bodies, for the OpenAPI document and the clients generated from it. The
# routes build the same bodies as dicts (the functions below); tests check them against
# these models through the served document.

Status = Literal["pending", "unknown", "approved", "declined", "cancelled", "timed_out",
                 "voided", "failed"]
# The statuses the POS sees are payments.Status without "received" (shown as "unknown").
assert set(typing.get_args(Status)) == {str(s) for s in payments.Status} - {"received"}


class _Answer(BaseModel):
    success: Literal[True]
    message: str


class CreatePaymentResponse(_Answer):
    retrieval_reference_number: str
    condition_code: str
    status: Status
    amount: str
    replayed: bool = Field(description="true when this answers a repeat of an earlier "
                           "CreatePayment with the same reference and values")


class CancelPaymentResponse(_Answer):
    retrieval_reference_number: str
    status: Status


class QueryPaymentResponse(_Answer):
    retrieval_reference_number: str
    condition_code: str
    transaction_id: str | None
    transaction_status: str = Field(description='"00" approved, "09" in progress or '
                                    'unknown, "17" cancelled, "68" timed out, "VD" voided, '
                                    '"96" failed, other codes: declined with that code')
    status: Status
    amount: str
    batch_number: int | None
    recovered_from_terminal: bool = Field(
        description="true when the journal had no record of this payment and posbridge "
        "brought it back from the terminal's own record")


class VoidPaymentResponse(_Answer):
    retrieval_reference_number: str
    status: Status


class SubmitBatchResponse(_Answer):
    batch_number: int
    count: int
    total: str
    batch_id: str = Field(description="posbridge's id for this batch, journaled before it "
                          "was sent to the terminal")
    replayed: bool = Field(description="true when this answers a SubmitBatch whose answer "
                           "was lost: the batch it settled, not a new one")


class ErrorResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    success: Literal[False]
    message: str = Field(description="what happened and what to do, for a person")
    error_code: str = Field(description="stable code for programs; see docs/api.md")


#: Problems listed in one INVALID_REQUEST; the rest are counted, so an error stays short.
MAX_PROBLEMS = 4


def parse_body(model: type[_Body], body: bytes) -> Any:
    """Validate a raw body against ``model``; raise the matching PosBridgeError."""
    try:
        parsed = model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise _to_error(model, exc) from None
    if parsed.model_fields_set and _may_repeat_a_key(body, model):
        # pydantic keeps the last of duplicate keys; a body that says two amounts is refused
        # rather than guessed at. Here the body is known to be a flat object of strings.
        json.loads(body, object_pairs_hook=_refuse_duplicates)
    return parsed


@functools.cache
def _quoted_names(model: type[_Body]) -> tuple[bytes, ...]:
    return tuple(b'"%s"' % name.encode() for name in model.model_fields)


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


def _to_error(model: type[_Body], exc: ValidationError) -> errors.PosBridgeError:
    fields = list(model.model_fields)
    problems = []
    extras: list[str] = []
    first: errors.PosBridgeError | None = None
    for err in exc.errors(include_url=False, include_input=False):
        kind = err["type"]
        name = ".".join(str(p) for p in err["loc"])
        if name not in fields:
            name = shown(name, 30)  # a key the client made up: quoted, cut short
        if kind == "json_invalid":
            return errors.InvalidJson(
                f"the request body is not valid JSON ({err['ctx'].get('error', 'invalid')}); "
                "send a JSON object"
            )
        if kind == "model_type" or not name:
            return errors.InvalidRequest("the request body must be a JSON object")
        if kind == "missing":
            text = f"{name} is required"
        elif kind == "extra_forbidden":
            extras.append(name)
            continue
        elif kind == "string_type":
            text = f"{name} must be a JSON string"
            if name == "amount":
                text += ' with at most two decimal places, for example "1.00"'
        else:
            text = f"{name}: {err['msg']}"
        problems.append(text)
        if first is None and name == "amount" and kind == "string_type":
            first = errors.InvalidAmount(text)
    if extras:
        allowed = ", ".join(fields) or "no fields"
        listed = ", ".join(extras[:3]) + (f" and {len(extras) - 3} more" if len(extras) > 3
                                          else "")
        problems.append(f"{listed} {'is not a field' if len(extras) == 1 else 'are not fields'}"
                        f" of this command (it takes: {allowed})")
    if first is not None and len(problems) == 1:
        return first
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        problems = [*problems[:MAX_PROBLEMS], f"and {more} more problem{'s' * (more > 1)}"]
    return errors.InvalidRequest("; ".join(problems), fields=problems)


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


def query_payment_response(payment: Payment) -> dict[str, Any]:
    return {
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
    }


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
    }


def error_response(exc: errors.PosBridgeError) -> dict[str, Any]:
    return {"success": False, "message": exc.message, "error_code": exc.code, **exc.extra}
