"""The OpenAPI 3.1 document of the API, built from the request/response models and the
error table, so it cannot drift from the code. ``openapi.json`` at the repository's root
is this document; ``posbridge openapi`` prints it and a test fails when the checked-in copy
is out of date.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .. import __version__, errors
from . import models

# Errors any command can answer, before or around the route's own work.
_COMMON = (errors.InvalidApiVersion, errors.InvalidJson, errors.InvalidRequest,
           errors.Unauthorized, errors.ForbiddenHost, errors.ForbiddenOrigin,
           errors.RequestTimeout, errors.RequestTooLarge, errors.HeadersTooLarge,
           errors.InternalError, errors.JournalUnavailable)
# What a command that goes to the terminal can add: no link, no answer, or a refusal.
_TERMINAL = (errors.TerminalNotConnected, errors.TerminalTimeout, errors.TerminalBusy,
             errors.TerminalRefused)

ROUTES: dict[str, dict[str, Any]] = {
    "/CreatePayment": {
        "summary": "Create payment",
        "description": "Start a payment on the terminal. Answers once the terminal has "
        "accepted it (status pending); poll QueryPayment for the outcome.",
        "request": models.CreatePaymentRequest,
        "response": models.CreatePaymentResponse,
        "errors": (errors.InvalidAmount, errors.UnsupportedConditionCode,
                   errors.ReferenceConflict, *_TERMINAL),
        "example": {"amount": "1.00", "retrieval_reference_number": "invoice-123456789",
                    "condition_code": "82"},
        "answer": {"success": True, "message": "Create payment command processed",
                   "retrieval_reference_number": "invoice-123456789",
                   "condition_code": "82", "status": "pending", "amount": "1.00",
                   "replayed": False},
    },
    "/CancelPayment": {
        "summary": "Cancel payment",
        "description": "Cancel the payment in progress on the terminal.",
        "request": models.CancelPaymentRequest,
        "response": models.CancelPaymentResponse,
        "errors": (errors.NoPaymentInProgress, *_TERMINAL),
        "example": {},
        "answer": {"success": True, "message": "Cancel payment command processed",
                   "retrieval_reference_number": "invoice-123456789",
                   "status": "cancelled"},
    },
    "/QueryPayment": {
        "summary": "Query payment",
        "description": "The payment's state. Answers from the journal; asks the terminal "
        "while the payment is pending or unknown.",
        "request": models.QueryPaymentRequest,
        "response": models.QueryPaymentResponse,
        "errors": (errors.PaymentNotFound,),
        "example": {"retrieval_reference_number": "invoice-123456789"},
        "answer": {"success": True, "message": "Query payment command processed",
                   "retrieval_reference_number": "invoice-123456789",
                   "condition_code": "82", "transaction_id": "100100090250128303091105",
                   "transaction_status": "00", "status": "approved", "amount": "1.00",
                   "batch_number": None, "recovered_from_terminal": False},
    },
    "/VoidPayment": {
        "summary": "Void payment",
        "description": "Void an approved payment that is not yet settled.",
        "request": models.VoidPaymentRequest,
        "response": models.VoidPaymentResponse,
        "errors": (errors.PaymentNotFound, errors.PaymentNotApproved, errors.AlreadyVoided,
                   errors.AlreadySettled, *_TERMINAL),
        "example": {"retrieval_reference_number": "invoice-123456789"},
        "answer": {"success": True, "message": "Void payment command processed",
                   "retrieval_reference_number": "invoice-123456789", "status": "voided"},
    },
    "/SubmitBatch": {
        "summary": "Submit batch",
        "description": "Settle the day's approved payments (end of day).",
        "request": models.SubmitBatchRequest,
        "response": models.SubmitBatchResponse,
        "errors": _TERMINAL,
        "example": {},
        "answer": {"success": True, "message": "Submit batch command processed",
                   "batch_number": 1, "count": 12, "total": "231.40",
                   "batch_id": "3f9c2a7e51d04b88", "replayed": False},
    },
}


def build_spec() -> dict[str, Any]:
    classes: list[type[BaseModel]] = [r["request"] for r in ROUTES.values()]
    classes += [r["response"] for r in ROUTES.values()]
    classes.append(models.ErrorResponse)
    _, defs = models_json_schema([(cls, "validation") for cls in classes],
                                 ref_template="#/components/schemas/{model}")
    schemas = defs["$defs"]
    paths = {path: {"post": _operation(path, route)} for path, route in ROUTES.items()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "PC POS USB API (posbridge)",
            "version": __version__,
            "description": "Local bridge API exposed by the POS USB desktop client after the "
            "listener is started. Every command is a POST with the header "
            "x-api-version: v1 and a JSON body. Errors carry success false, a message "
            "for a person and a stable error_code (docs/api.md).",
        },
        "servers": [{"url": "http://localhost:8080"}],
        "security": [{}, {"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": {
                "ApiVersion": {
                    "name": "x-api-version", "in": "header", "required": True,
                    "schema": {"type": "string", "enum": ["v1"]},
                },
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http", "scheme": "bearer",
                    "description": "Needed only when the operator set an access token "
                    "(docs/security.md).",
                },
            },
        },
    }


def _operation(path: str, route: dict[str, Any]) -> dict[str, Any]:
    name = path.strip("/")
    responses: dict[str, Any] = {
        "200": {
            "description": f"{route['summary']} command processed",
            "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{route['response'].__name__}"},
                "example": route["answer"],
            }},
        },
    }
    by_status: dict[int, list[type[errors.PosBridgeError]]] = {}
    for cls in (*_COMMON, *route["errors"]):
        by_status.setdefault(cls.http_status, [])
        if cls not in by_status[cls.http_status]:
            by_status[cls.http_status].append(cls)
    for status in sorted(by_status):
        codes = [cls.code for cls in by_status[status]]
        responses[str(status)] = {
            "description": "error: " + ", ".join(codes),
            "content": {"application/json": {"schema": {
                "allOf": [
                    {"$ref": "#/components/schemas/ErrorResponse"},
                    {"properties": {"error_code": {"enum": codes}}},
                ],
            }}},
        }
    return {
        "operationId": name[0].lower() + name[1:],
        "summary": route["summary"],
        "description": route["description"],
        "parameters": [{"$ref": "#/components/parameters/ApiVersion"}],
        "requestBody": {
            "required": bool(route["request"].model_fields),
            "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{route['request'].__name__}"},
                "example": route["example"],
            }},
        },
        "responses": responses,
    }


def dumps() -> str:
    return json.dumps(build_spec(), indent=2, ensure_ascii=False) + "\n"

