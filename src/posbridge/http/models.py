"""Request bodies (pydantic, validated straight from the raw JSON) and response bodies.

Field names and the reference's messages are the vendor's contract, byte for byte; the
extra response fields (``status``, ``amount``, ``replayed``, batch figures) are ours and
documented in docs/api.md.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .. import errors
from ..journal import Payment
from ..service import BatchSummary, format_minor, public_status, transaction_status


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CreatePaymentRequest(_Body):
    amount: str
    retrieval_reference_number: str
    condition_code: str


class CancelPaymentRequest(_Body):
    pass


class QueryPaymentRequest(_Body):
    retrieval_reference_number: str


class VoidPaymentRequest(_Body):
    retrieval_reference_number: str


class SubmitBatchRequest(_Body):
    pass



def parse_body(model: type[_Body], body: bytes) -> Any:
    """Validate a raw body against ``model``; raise the matching PosBridgeError."""
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise _to_error(model, exc) from None


def _to_error(model: type[_Body], exc: ValidationError) -> errors.PosBridgeError:
    fields = list(model.model_fields)
    problems = []
    first: errors.PosBridgeError | None = None
    for err in exc.errors(include_url=False, include_input=False):
        kind = err["type"]
        name = ".".join(str(p) for p in err["loc"])
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
            allowed = ", ".join(fields) or "no fields"
            text = f"{name} is not a field of this command (it takes: {allowed})"
        elif kind == "string_type":
            text = f"{name} must be a JSON string"
            if name == "amount":
                text += ' with at most two decimal places, for example "1.00"'
        else:
            text = f"{name}: {err['msg']}"
        problems.append(text)
        if first is None and name == "amount" and kind == "string_type":
            first = errors.InvalidAmount(text)
    if first is not None and len(problems) == 1:
        return first
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
    }


def error_response(exc: errors.PosBridgeError) -> dict[str, Any]:
    return {"success": False, "message": exc.message, "error_code": exc.code, **exc.extra}
