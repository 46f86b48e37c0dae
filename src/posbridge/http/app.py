"""The Starlette application: the reference's five POST routes and posbridge's
RefundPayment, all from the command table; the health, metrics and admin routes.

Each route reads the body with a size cap and a deadline (``body.py``), validates it with
its request struct (msgspec), calls the PaymentService, and writes JSON. Every failure is a
PosBridgeError by the time it leaves a route, and ``responses.error`` turns it into
``{"success": false, "message", "error_code"}`` with the class's HTTP status: the error
table is ``posbridge.errors``.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import about, errors, methods
from ..events import EventBroker, EventsConfig
from ..journal import JournalError, Payment, Receipt
from ..logs import escape
from ..metrics import BridgeMetrics
from ..protocol.messages import Progress
from ..service import PaymentService, public_status, shown
from . import docs, models, openapi
from . import events as event_stream
from .access import AccessPolicy, Gate
from .body import BodyReader
from .commands import COMMANDS, endpoints_sentence
from .responses import ENCODER, error, error_body, json_response

log = logging.getLogger("posbridge.http")

API_VERSIONS = ("v1",)


def _check_version(request: Request) -> None:
    version = request.headers.get("x-api-version")
    if version not in API_VERSIONS:
        got = "it is missing" if version is None else f"got {shown(version)}"
        raise errors.InvalidApiVersion(
            f"header x-api-version must be one of: {', '.join(API_VERSIONS)} ({got})",
            supported_versions=list(API_VERSIONS),
        )


Handler = Callable[[Request], Awaitable[Response]]


def create_app(
    service: PaymentService, policy: AccessPolicy | None = None,
    metrics: BridgeMetrics | None = None, events: EventsConfig | None = None,
) -> Starlette:
    """The API over ``service``, behind the guards of ``policy`` (default: loopback names
    and IP addresses only, no cross-site origin, no token), measured into ``metrics`` (a new
    BridgeMetrics by default) and served at /metrics. ``app.state.events`` is the broker of
    ``GET /events``: close it before stopping the server, or its streams hold the server's
    shutdown."""
    policy = policy or AccessPolicy()
    metrics = metrics or BridgeMetrics()
    reader = BodyReader()
    broker = EventBroker(service.journal, service.terminal, events)
    metrics.watch(service, broker)
    # What the terminal shows the customer (its QR code) is no journal row: a "progress"
    # event without an id, with the fields QueryPayment shows at that moment.
    service.progress_listeners.append(lambda payment, progress: broker.publish(
        "progress", models.query_payment_response(payment, progress)))

    def command(
        model: type[Any], run: Callable[[Any], Awaitable[dict[str, Any] | bytes]]
    ) -> Handler:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            status, code = 500, errors.InternalError.code
            try:
                _check_version(request)
                body = await reader.read(request.receive, request.headers.get("content-length"))
                answer = await run(models.parse_body(model, body))
                status, code = 200, ""
            except errors.PosBridgeError as exc:
                status, code = exc.http_status, exc.code
                raise
            finally:  # the name is the route's path: every command's outcome and latency
                metrics.observe_command(request.scope["path"][1:],
                                        time.perf_counter() - started, status, code)
            if isinstance(answer, bytes):  # already encoded
                return Response(answer, media_type="application/json")
            return json_response(answer)

        return endpoint

    async def create(body: models.CreatePaymentRequest) -> dict[str, Any]:
        result = await service.create_payment(
            body.retrieval_reference_number, body.amount, body.condition_code
        )
        return models.create_payment_response(result.payment, result.replayed)

    async def cancel(body: models.CancelPaymentRequest) -> dict[str, Any]:
        return models.cancel_payment_response(await service.cancel_payment())

    # A POS polls QueryPayment, and the journal hands out the same Payment object until the
    # payment changes: its encoded answer is made once per state (and, while it is pending,
    # per progress report from the terminal), not once per poll.
    answers: dict[int, tuple[Payment, Progress | None, bytes]] = {}

    async def query(body: models.QueryPaymentRequest) -> bytes:
        payment = await service.query_payment(body.retrieval_reference_number)
        progress = service.progress_of(payment)
        hit = answers.get(id(payment))
        if hit is None or hit[0] is not payment or hit[1] is not progress:
            if len(answers) >= 1024:
                answers.clear()
            # Every journal write (a refund's too) makes a new Payment object: a refund's
            # change is a new answer.
            encoded = ENCODER.encode(models.query_payment_response(
                payment, progress, service.journal.refunds(payment.ref), _receipt(payment))
            ).encode()
            hit = answers[id(payment)] = (payment, progress, encoded)
        return hit[2]

    def _receipt(payment: Payment) -> Receipt | None:
        if payment.active:
            return None
        return service.journal.receipt("void" if payment.status == "voided" else "payment",
                                       payment.ref)

    async def void(body: models.VoidPaymentRequest) -> dict[str, Any]:
        return models.void_payment_response(
            await service.void_payment(body.retrieval_reference_number)
        )

    async def batch(body: models.SubmitBatchRequest) -> dict[str, Any]:
        return models.submit_batch_response(await service.submit_batch())

    async def refund(body: models.RefundPaymentRequest) -> dict[str, Any]:
        return models.refund_payment_response(await service.refund_payment(
            body.retrieval_reference_number, body.refund_reference, body.amount))

    async def this_pc_only(request: Request, model: type[models._Body], refusal: str) -> Any:
        """The body of an admin command, which is for a person at this PC: refused from any
        other machine (``refusal`` says why) even when the listener serves the network."""
        client = request.client
        if client is None or not _is_loopback(client.host):
            raise errors.ForbiddenHost(refusal)
        _check_version(request)
        return models.parse_body(
            model, await reader.read(request.receive, request.headers.get("content-length")))

    async def resolve(request: Request) -> Response:
        body = await this_pc_only(request, models.ResolvePaymentRequest,
                                  "settling a payment by hand is allowed from this PC only "
                                  "(posbridge journal resolve)")
        payment = await service.resolve_payment(
            body.retrieval_reference_number, paid=body.outcome == "paid", reason=body.reason,
            by=body.by)
        answer = models.query_payment_response(payment, None,
                                               service.journal.refunds(payment.ref),
                                               _receipt(payment))
        answer["message"] = "Resolve payment command processed"
        return json_response(answer)

    async def report(request: Request) -> Response:
        body = await this_pc_only(request, models.ReportRequest,
                                  "the end-of-day report is given to this PC only "
                                  "(posbridge report)")
        if body.batch is None:
            answer = await service.x_report()
        else:
            try:
                kept = service.journal.report(body.batch)
            except JournalError as exc:
                raise errors.JournalUnavailable(exc.message) from None
            if kept is None:
                raise errors.ReportNotFound(
                    f"the journal has no report of batch {body.batch}: no such batch was "
                    "settled by this posbridge (or it was settled before posbridge kept "
                    "reports); see posbridge journal for the batches")
            answer = kept
        return json_response({"success": True, "message": "Report command processed",
                              "report": answer})

    async def health(request: Request) -> Response:
        return json_response(health_body(service))

    async def metrics_text(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=metrics.content_type)

    spec: list[bytes] = []  # made at the first ask: a till's bridge is rarely asked

    async def openapi_json(request: Request) -> Response:
        if not spec:
            spec.append(openapi.dumps().encode())
        # Vary: Origin: an allowed origin's fetch gets CORS headers a cached copy would lack.
        return Response(spec[0], media_type="application/json", headers={"Vary": "Origin"})

    handlers: dict[str, Callable[[Any], Awaitable[dict[str, Any] | bytes]]] = {
        "CreatePayment": create, "CancelPayment": cancel, "QueryPayment": query,
        "VoidPayment": void, "SubmitBatch": batch, "RefundPayment": refund,
    }
    endpoints = {c.path: command(c.request, handlers[c.name]) for c in COMMANDS}
    routes = [
        # What a command's path answers to any other method (405); its POST goes by
        # _Commands, in front of the router.
        *(Route(path, endpoint, methods=["POST"]) for path, endpoint in endpoints.items()),
        Route("/admin/ResolvePayment", resolve, methods=["POST"]),
        Route("/admin/Report", report, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *event_stream.routes(broker),
        *docs.routes(),
    ]
    middleware = [Middleware(Gate, policy=policy), Middleware(_Commands, endpoints=endpoints)]
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
    app.state.metrics = metrics
    app.state.events = broker
    return app


class _Commands:
    """The commands' POST by exact path, behind the Gate: a dict lookup, the endpoint, and
    the same error handlers the app has (``_error``, ``_crash``). It is what Starlette's
    exception middleware, router and route would do for these requests, without their
    layers, for the requests a POS sends most (a poll of QueryPayment): about 4 us of the
    bridge's ~50 us per request (docs/performance.md). Anything else (another path or
    method, a path with a trailing slash) goes on to Starlette's router."""

    def __init__(self, app: ASGIApp, endpoints: dict[str, Handler]) -> None:
        self.app, self.endpoints = app, endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except errors.PosBridgeError as exc:
            response = await _error(request, exc)
        except Exception as exc:  # what Starlette's ServerErrorMiddleware would answer
            response = await _crash(request, exc)
        await response(scope, receive, send)


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
            "payment_methods": (methods.listing(peer.condition_codes, peer.condition_code_names)
                                if peer else []),
            "link_attempts": status.attempts,
            # The latest link events, newest first: what the help desk asks about.
            "history": [
                {"at": _iso(e.at), "event": e.kind, "detail": e.detail}
                for e in reversed(status.history)
            ],
        },
        "payment_in_progress": (
            {"retrieval_reference_number": current.ref, "status": public_status(current)}
            if current else None
        ),
        "journal": str(service.journal.path),
        "journal_error": service.journal_problem(),
        # Which posbridge answers: its version, bundle or installed package, its Python.
        "posbridge": about.describe(),
    }


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.PosBridgeError)
    if exc.http_status >= 500:
        log.warning("%s %s: %s %s", request.method, escape(request.url.path), exc.code,
                    escape(exc.message))
    return error(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    refusal: errors.PosBridgeError
    if exc.status_code == 405:
        method = "GET" if request.url.path == event_stream.PATH else "POST"
        refusal = errors.MethodNotAllowed(f"{shown(request.url.path, 80)} takes {method} only")
    elif exc.status_code == 404:
        refusal = errors.RouteNotFound(
            f"no such endpoint {shown(request.url.path, 80)}; the API has "
            f"{endpoints_sentence()}"
        )
    else:
        refusal = errors.InvalidRequest(str(exc.detail))
    return json_response(error_body(refusal), exc.status_code, exc.headers)


async def _crash(request: Request, exc: Exception) -> Response:
    log.exception("%s %s: unexpected error", request.method, escape(request.url.path))
    return error(errors.InternalError(
        "posbridge hit an unexpected error; the payment journal is intact. See the log"
    ))
