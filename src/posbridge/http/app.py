"""The Starlette application: five POST routes, a health route, one error table.

Each route reads the body with a size cap, validates it with its pydantic model, calls the
PaymentService, and writes JSON. Every failure is a PosBridgeError by the time it leaves a
route, and ``_error`` turns it into ``{"success": false, "message", "error_code"}`` with
the class's HTTP status: the error table is ``posbridge.errors``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import errors
from ..journal import Payment
from ..service import PaymentService, public_status, shown
from . import docs, models, openapi
from .security import AccessPolicy, Gate

log = logging.getLogger("posbridge.http")

API_VERSIONS = ("v1",)
MAX_BODY = 16 * 1024


#: One encoder for every answer (json.dumps with options builds a new one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _json(
    body: dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        _ENCODER.encode(body).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


async def _read_body(request: Request) -> bytes:
    """The body, refused past MAX_BODY without reading the rest. The transport's protocol
    (GuardedHttpToolsProtocol) answers 408 to a body that does not arrive in time."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise errors.RequestTooLarge(f"the request body is over {MAX_BODY // 1024} KiB")
    body = b""
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # Nobody is left to read the answer; this only keeps it out of the error log.
            raise errors.InvalidRequest("the client closed the connection mid-body")
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > MAX_BODY:
            raise errors.RequestTooLarge(f"the request body is over {MAX_BODY // 1024} KiB")
        if not message.get("more_body", False):
            return body


def _check_version(request: Request) -> None:
    version = request.headers.get("x-api-version")
    if version not in API_VERSIONS:
        got = "it is missing" if version is None else f"got {shown(version)}"
        raise errors.InvalidApiVersion(
            f"header x-api-version must be one of: {', '.join(API_VERSIONS)} ({got})",
            supported_versions=list(API_VERSIONS),
        )


Handler = Callable[[Request], Awaitable[Response]]


def create_app(service: PaymentService, policy: AccessPolicy | None = None) -> Starlette:
    """The API over ``service``, behind the guards of ``policy`` (default: loopback names
    and IP addresses only, no cross-site origin, no token)."""
    policy = policy or AccessPolicy()
    def command(
        model: type[models._Body], run: Callable[[Any], Awaitable[dict[str, Any] | bytes]]
    ) -> Handler:
        async def endpoint(request: Request) -> Response:
            _check_version(request)
            answer = await run(models.parse_body(model, await _read_body(request)))
            if isinstance(answer, bytes):  # already encoded
                return Response(answer, media_type="application/json")
            return _json(answer)

        return endpoint

    async def create(body: models.CreatePaymentRequest) -> dict[str, Any]:
        result = await service.create_payment(
            body.retrieval_reference_number, body.amount, body.condition_code
        )
        return models.create_payment_response(result.payment, result.replayed)

    async def cancel(body: models.CancelPaymentRequest) -> dict[str, Any]:
        return models.cancel_payment_response(await service.cancel_payment())

    # A POS polls QueryPayment, and the journal hands out the same Payment object until the
    # payment changes: its encoded answer is made once per state, not once per poll.
    answers: dict[int, tuple[Payment, bytes]] = {}

    async def query(body: models.QueryPaymentRequest) -> bytes:
        payment = await service.query_payment(body.retrieval_reference_number)
        hit = answers.get(id(payment))
        if hit is None or hit[0] is not payment:
            if len(answers) >= 1024:
                answers.clear()
            encoded = _ENCODER.encode(models.query_payment_response(payment)).encode()
            hit = answers[id(payment)] = (payment, encoded)
        return hit[1]

    async def void(body: models.VoidPaymentRequest) -> dict[str, Any]:
        return models.void_payment_response(
            await service.void_payment(body.retrieval_reference_number)
        )

    async def batch(body: models.SubmitBatchRequest) -> dict[str, Any]:
        return models.submit_batch_response(await service.submit_batch())

    async def health(request: Request) -> Response:
        return _json(health_body(service))

    spec = openapi.dumps().encode()

    async def openapi_json(request: Request) -> Response:
        # Vary: Origin: an allowed origin's fetch gets CORS headers a cached copy would lack.
        return Response(spec, media_type="application/json", headers={"Vary": "Origin"})

    routes = [
        # QueryPayment first: it is what a POS polls, and routes are tried in order.
        Route("/QueryPayment", command(models.QueryPaymentRequest, query), methods=["POST"]),
        Route("/CreatePayment", command(models.CreatePaymentRequest, create), methods=["POST"]),
        Route("/CancelPayment", command(models.CancelPaymentRequest, cancel), methods=["POST"]),
        Route("/VoidPayment", command(models.VoidPaymentRequest, void), methods=["POST"]),
        Route("/SubmitBatch", command(models.SubmitBatchRequest, batch), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *docs.routes(),
    ]
    middleware = [Middleware(Gate, policy=policy)]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            errors.PosBridgeError: _error,
            HTTPException: _http_error,
            Exception: _crash,
        },
    )
    # "/CreatePayment/" is a wrong path (404 JSON), not a 307 redirect with an empty body.
    app.router.redirect_slashes = False
    return app


def health_body(service: PaymentService) -> dict[str, Any]:
    status = service.terminal.status()
    peer = status.terminal
    current = service.in_progress()
    return {
        "success": True,
        "terminal": {
            "connected": status.state == "connected",
            "state": status.state,
            "since": _iso(status.since),
            "link": status.description,
            "last_error": status.last_error,
            "last_heard": _iso(status.last_rx) if status.last_rx else None,
            "serial": peer.serial if peer else None,
            "model": peer.model if peer else None,
            "app_version": peer.app_version if peer else None,
            "condition_codes": list(peer.condition_codes) if peer else [],
        },
        "payment_in_progress": (
            {"retrieval_reference_number": current.ref, "status": public_status(current)}
            if current else None
        ),
        "journal": str(service.journal.path),
        "journal_error": service.journal_problem(),
    }


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.PosBridgeError)
    if exc.http_status >= 500:
        log.warning("%s %s: %s %s", request.method, request.url.path, exc.code, exc.message)
    return _json(models.error_response(exc), exc.http_status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: errors.PosBridgeError
    if exc.status_code == 405:
        error = errors.MethodNotAllowed(f"{request.url.path} takes POST only")
    elif exc.status_code == 404:
        error = errors.RouteNotFound(
            f"no such endpoint {request.url.path}; the API has POST /CreatePayment, "
            "/CancelPayment, /QueryPayment, /VoidPayment and /SubmitBatch"
        )
    else:
        error = errors.InvalidRequest(str(exc.detail))
    body = models.error_response(error)
    return _json(body, exc.status_code, exc.headers)


async def _crash(request: Request, exc: Exception) -> Response:
    log.exception("%s %s: unexpected error", request.method, request.url.path)
    error = errors.InternalError(
        "posbridge hit an unexpected error; the payment journal is intact. See the log"
    )
    return _json(models.error_response(error), 500)
