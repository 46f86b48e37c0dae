"""The OpenAPI 3.1 document of the API, built from the command table (``commands.py``), its
request/response models and the error table, so it cannot drift from the code.
``openapi.json`` at the repository's root is this document; ``posbridge openapi`` prints it
and a test fails when the checked-in copy is out of date.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from .. import __version__, errors
from . import events, models
from .commands import COMMANDS, COMMON, Command


def build_spec() -> dict[str, Any]:
    classes: list[type[msgspec.Struct]] = [c.request for c in COMMANDS]
    classes += [c.response for c in COMMANDS]
    classes.append(models.ErrorResponse)
    classes += events.EVENT_MODELS
    _, schemas = msgspec.json.schema_components(
        classes, ref_template="#/components/schemas/{name}")
    paths: dict[str, Any] = {c.path: {"post": _operation(c)} for c in COMMANDS}
    paths[events.PATH] = {"get": _events_operation()}
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


def _operation(command: Command) -> dict[str, Any]:
    name = command.name
    responses: dict[str, Any] = {
        "200": {
            "description": command.message,
            "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{command.response.__name__}"},
                "example": command.answer,
            }},
        },
    }
    by_status: dict[int, list[type[errors.PosBridgeError]]] = {}
    for cls in (*COMMON, *command.errors):
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
        "summary": command.summary,
        "description": command.description,
        "parameters": [{"$ref": "#/components/parameters/ApiVersion"}],
        "requestBody": {
            "required": bool(command.request.__struct_fields__),
            "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{command.request.__name__}"},
                "example": command.example,
            }},
        },
        "responses": responses,
    }


def _events_operation() -> dict[str, Any]:
    data = [{"$ref": f"#/components/schemas/{cls.__name__}"} for cls in events.EVENT_MODELS]
    responses: dict[str, Any] = {
        "200": {
            "description": "A stream of Server-Sent Events, for as long as the client "
            "reads it. Each event: `id:` the journal id (journal events only), `event:` its "
            "type (payment, cancel, void, batch, link, stream, overflow; unknown "
            "types may be added), `data:` one JSON object, described by the schema below. "
            "`: hb` comment lines are heartbeats.",
            "content": {"text/event-stream": {
                # One SSE event: its fields, `data` being JSON text of one of the schemas.
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "pattern": "^[0-9]+$"},
                        "event": {"type": "string"},
                        "data": {"type": "string", "contentMediaType": "application/json",
                                 "contentSchema": {"oneOf": data}},
                        "retry": {"type": "integer"},
                    },
                },
                "example": 'id: 42\nevent: payment\ndata: {"event_id":42,"kind":'
                '"payment","ref":"invoice-1","at":"2026-12-01T10:00:02.117+00:00",'
                '"from_status":"pending","to_status":"approved","detail":"reported by the '
                'terminal","retrieval_reference_number":"invoice-1","status":"approved",'
                '"transaction_status":"00","amount":"1.00"}\n\n',
            }},
        },
    }
    for group in ((errors.InvalidRequest,), (errors.Unauthorized,),
                  (errors.ForbiddenHost, errors.ForbiddenOrigin),
                  (errors.TooManySubscribers,)):
        responses[str(group[0].http_status)] = _error_response([c.code for c in group])
    return {
        "operationId": "events",
        "summary": "Events",
        "description": "Every journal event (payment status changes, cancel, void, batch) "
        "as it is journaled, and the terminal link's state, as Server-Sent Events. Resume "
        "with the Last-Event-ID header (EventSource sends it) or ?after=ID: the journal "
        "replays what came after, with no gap and no duplicate. docs/api.md, Events.",
        "parameters": [
            {"name": "after", "in": "query", "required": False,
             "description": "replay the journal's events after this id (0: all); without "
             "it or Last-Event-ID, only events from now on",
             "schema": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}},
            {"name": "ref", "in": "query", "required": False,
             "description": "only the journal events of this payment (or batch id)",
             "schema": {"type": "string"}},
            {"name": "Last-Event-ID", "in": "header", "required": False,
             "description": "the id of the last event received; wins over ?after (empty: "
             "as if absent)",
             "schema": {"type": "string", "pattern": "^[0-9]*$"}},
        ],
        "responses": responses,
    }


def _error_response(codes: list[str]) -> dict[str, Any]:
    return {
        "description": "error: " + ", ".join(codes),
        "content": {"application/json": {"schema": {
            "allOf": [
                {"$ref": "#/components/schemas/ErrorResponse"},
                {"properties": {"error_code": {"enum": codes}}},
            ],
        }}},
    }


def dumps() -> str:
    return json.dumps(build_spec(), indent=2, ensure_ascii=False) + "\n"

