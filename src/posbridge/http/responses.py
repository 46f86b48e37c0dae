"""How every answer is written: one JSON encoder, one error body, one refusal.

Every refusal the bridge gives, from a route, from the access guards or from the protocol
before any route runs, is ``{"success": false, "message", "error_code"}`` with the error
class's HTTP status (the table is ``posbridge.errors``), rendered by ``error_body``:
``error()`` wraps it in a Starlette response, ``raw_error()`` in the bytes of a whole HTTP/1.1
response for the protocol, which answers before there is an ASGI request to answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

from .. import errors

#: One encoder for every answer (json.dumps with options builds a new one per call).
ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

#: Refusals after which the connection is closed: a body that did not arrive in time. (A
#: body over the limit is not: uvicorn reads and drops its rest, so the client can read the
#: 413 instead of a reset, and the connection's head deadline bounds how long that takes.)
_CLOSES = frozenset({errors.RequestTimeout.http_status})


def json_response(
    body: dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """``body`` as an ``application/json`` response."""
    return Response(ENCODER.encode(body).encode(), status_code=status,
                    media_type="application/json", headers=headers)


def error_body(exc: errors.PosBridgeError) -> dict[str, Any]:
    """The one error body: success false, a message for a person, a stable code."""
    return {"success": False, "message": exc.message, "error_code": exc.code, **exc.extra}


def error(exc: errors.PosBridgeError, headers: Mapping[str, str] | None = None) -> Response:
    """The refusal ``exc`` as a response, with the status of its class."""
    if exc.http_status in _CLOSES:
        headers = {**(headers or {}), "Connection": "close"}
    return json_response(error_body(exc), exc.http_status, headers)


def raw_error(exc: errors.PosBridgeError) -> bytes:
    """The refusal ``exc`` as a whole HTTP/1.1 response that closes the connection."""
    body = ENCODER.encode(error_body(exc)).encode()
    reason = HTTPStatus(exc.http_status).phrase.encode()
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n%s" % (exc.http_status, reason, len(body), body))
