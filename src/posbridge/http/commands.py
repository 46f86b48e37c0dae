"""The commands of the API, in one table: the reference's five and posbridge's
RefundPayment.

Each row is a command's path, its request and response models, the errors it can answer
besides the common ones, its reference message and the reference's example bodies. The
routes (``app.py``), the OpenAPI document (``openapi.py``), the 404 message and the Python
client (``posbridge.client``) are all made from this table, so none can name a command the
others lack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from msgspec import Struct

from .. import errors
from . import models

# Errors any command can answer, before or around the route's own work.
COMMON: tuple[type[errors.PosBridgeError], ...] = (
    errors.InvalidApiVersion, errors.InvalidJson, errors.InvalidRequest, errors.Unauthorized,
    errors.ForbiddenHost, errors.ForbiddenOrigin, errors.RequestTimeout,
    errors.RequestTooLarge, errors.HeadersTooLarge, errors.InternalError,
    errors.TooManyConnections, errors.JournalUnavailable,
)
# What a command that goes to the terminal can add: no link, no answer, or a refusal.
TERMINAL: tuple[type[errors.PosBridgeError], ...] = (
    errors.TerminalNotConnected, errors.TerminalTimeout, errors.TerminalBusy,
    errors.TerminalRefused,
)


@dataclass(frozen=True)
class Command:
    """One command: ``POST /<name>`` with a JSON body."""

    name: str  # CreatePayment
    summary: str
    description: str
    request: type[Struct]
    response: type[Struct]
    errors: tuple[type[errors.PosBridgeError], ...]
    example: dict[str, Any]
    answer: dict[str, Any]

    @property
    def path(self) -> str:
        return f"/{self.name}"

    @property
    def method(self) -> str:
        """The Python name: ``create_payment`` (the client's method, the route's handler)."""
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in self.name).lstrip("_")

    @property
    def message(self) -> str:
        """The reference's success message, ``Create payment command processed``."""
        return str(self.answer["message"])


COMMANDS: tuple[Command, ...] = (
    Command(
        name="CreatePayment",
        summary="Create payment",
        description="Start a payment on the terminal. Answers once the terminal has "
        "accepted it (status pending); poll QueryPayment for the outcome.",
        request=models.CreatePaymentRequest,
        response=models.CreatePaymentResponse,
        errors=(errors.InvalidAmount, errors.UnsupportedConditionCode,
                errors.ReferenceConflict, *TERMINAL),
        example={"amount": "1.00", "retrieval_reference_number": "invoice-123456789",
                 "condition_code": "82"},
        answer={"success": True, "message": "Create payment command processed",
                "retrieval_reference_number": "invoice-123456789",
                "condition_code": "82", "status": "pending", "amount": "1.00",
                "replayed": False},
    ),
    Command(
        name="CancelPayment",
        summary="Cancel payment",
        description="Cancel the payment in progress on the terminal.",
        request=models.CancelPaymentRequest,
        response=models.CancelPaymentResponse,
        errors=(errors.NoPaymentInProgress, *TERMINAL),
        example={},
        answer={"success": True, "message": "Cancel payment command processed",
                "retrieval_reference_number": "invoice-123456789", "status": "cancelled"},
    ),
    Command(
        name="QueryPayment",
        summary="Query payment",
        description="The payment's state. Answers from the journal; asks the terminal "
        "while the payment is pending or unknown.",
        request=models.QueryPaymentRequest,
        response=models.QueryPaymentResponse,
        errors=(errors.PaymentNotFound,),
        example={"retrieval_reference_number": "invoice-123456789"},
        answer={"success": True, "message": "Query payment command processed",
                "retrieval_reference_number": "invoice-123456789",
                "condition_code": "82", "transaction_id": "100100090250128303091105",
                "transaction_status": "00", "status": "approved", "amount": "1.00",
                "batch_number": None, "recovered_from_terminal": False,
                "refunded": "0.40", "refunds": [{"refund_reference": "credit-note-881",
                                                 "amount": "0.40", "status": "approved"}],
                "receipt": {"kind": "payment", "method": "PayNow",
                            "account": "wallet ****6789",
                            "transaction_id": "100100090250128303091105",
                            "terminal_id": "SIM-000001", "merchant_id": "SIM-MERCHANT-0001",
                            "time": "2026-12-01T22:30:21Z", "amount": "1.00",
                            "status": "approved",
                            "merchant_copy": ["MERCHANT COPY", "SALE APPROVED"],
                            "customer_copy": ["CUSTOMER COPY", "SALE APPROVED"]},
                "resolved_by_hand": False},
    ),
    Command(
        name="VoidPayment",
        summary="Void payment",
        description="Void an approved payment that is not yet settled.",
        request=models.VoidPaymentRequest,
        response=models.VoidPaymentResponse,
        errors=(errors.PaymentNotFound, errors.PaymentNotApproved, errors.AlreadyVoided,
                errors.AlreadySettled, errors.AlreadyRefunded, *TERMINAL),
        example={"retrieval_reference_number": "invoice-123456789"},
        answer={"success": True, "message": "Void payment command processed",
                "retrieval_reference_number": "invoice-123456789", "status": "voided"},
    ),
    Command(
        name="SubmitBatch",
        summary="Submit batch",
        description="Settle the day's approved payments (end of day). posbridge adds "
        "`report`: the batch's Z report, kept in the journal.",
        request=models.SubmitBatchRequest,
        response=models.SubmitBatchResponse,
        errors=TERMINAL,
        example={},
        answer={"success": True, "message": "Submit batch command processed",
                "batch_number": 1, "count": 12, "total": "231.40",
                "batch_id": "3f9c2a7e51d04b88", "replayed": False,
                "report": {
                    "kind": "Z", "batch_number": 1, "since_batch": 0,
                    "lines": [{"kind": "payment", "condition_code": "82",
                               "method": "PayNow", "status": "approved", "count": 12,
                               "total": "231.40"},
                              {"kind": "refund", "condition_code": "82",
                               "method": "PayNow", "status": "approved", "count": 1,
                               "total": "0.40"}],
                    "by_method": [{"condition_code": "82", "method": "PayNow",
                                   "approved_count": 12, "approved_total": "231.40",
                                   "refunded_count": 1, "refunded_total": "0.40",
                                   "net": "231.00"}],
                    "by_status": [{"kind": "payment", "status": "approved", "count": 12,
                                   "total": "231.40"},
                                  {"kind": "refund", "status": "approved", "count": 1,
                                   "total": "0.40"}],
                    "net": "231.00", "terminal": None, "terminal_problem": None,
                    "mismatch": []}},
    ),
    Command(
        name="RefundPayment",
        summary="Refund payment",
        description="posbridge's extension beside the reference's five: refund all or "
        "part of an approved payment, settled or not. Several refunds of one payment may add "
        "up to its amount. Journaled before it is sent; the same refund_reference again "
        "answers with what the first one got. A lost answer is a 504 with status unknown: "
        "posbridge asks the terminal, and QueryPayment's refunds show the outcome.",
        request=models.RefundPaymentRequest,
        response=models.RefundPaymentResponse,
        errors=(errors.InvalidAmount, errors.PaymentNotFound, errors.PaymentNotApproved,
                errors.AlreadyVoided, errors.ReferenceConflict,
                errors.RefundExceedsPayment, *TERMINAL),
        example={"retrieval_reference_number": "invoice-123456789",
                 "refund_reference": "credit-note-881", "amount": "0.40"},
        answer={"success": True, "message": "Refund payment command processed",
                "retrieval_reference_number": "invoice-123456789",
                "refund_reference": "credit-note-881", "amount": "0.40",
                "status": "approved", "refunded": "0.40", "remaining": "0.60",
                "replayed": False},
    ),
)

#: Command by name, ``BY_NAME["QueryPayment"]``.
BY_NAME = {command.name: command for command in COMMANDS}


def endpoints_sentence() -> str:
    """``POST /CreatePayment, /CancelPayment, ... and /SubmitBatch``, for a 404's message."""
    paths = [command.path for command in COMMANDS]
    return f"POST {', '.join(paths[:-1])} and {paths[-1]}"
