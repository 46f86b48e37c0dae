"""The OpenAPI 3.1 document of the API, built from the command table (``commands.py``), its
request/response models and the error table, so it cannot drift from the code.
``openapi.json`` at the repository's root is this document; ``posbridge openapi`` prints it
and a test fails when the checked-in copy is out of date.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .. import __version__, errors
from . import models
from .commands import COMMANDS, COMMON, Command


def build_spec() -> dict[str, Any]:
    classes: list[type[BaseModel]] = [c.request for c in COMMANDS]
    classes += [c.response for c in COMMANDS]
    classes.append(models.ErrorResponse)
    _, defs = models_json_schema([(cls, "validation") for cls in classes],
                                 ref_template="#/components/schemas/{model}")
    schemas = defs["$defs"]
    paths = {c.path: {"post": _operation(c)} for c in COMMANDS}
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
            "required": bool(command.request.model_fields),
            "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{command.request.__name__}"},
                "example": command.example,
            }},
        },
        "responses": responses,
    }


def dumps() -> str:
    return json.dumps(build_spec(), indent=2, ensure_ascii=False) + "\n"

