"""Who may drive the terminal: Host and Origin checks, CORS, the access token, slow clients.

Anything that can send a POST to the bridge can take or void a payment, so three guards sit
in front of the routes, in one ASGI middleware, ``Gate`` (one pass over the headers):

1. The Host and Origin checks refuse a ``Host`` that is not a loopback name, an IP address or a
   configured name (a DNS-rebinding page sends its own host name), and an ``Origin`` that is
   neither the bridge's own nor on the allowlist (a cross-site page). Both answer 403 before
   anything is read or done.
2. Starlette's ``CORSMiddleware`` answers the preflight of an allowed origin and adds the
   CORS headers to its answers (including errors, so a browser POS can read them); a
   request with no Origin is not a CORS request and skips it.
3. The token check: when an access token is set, every request but the preflight and the
   public documents needs ``Authorization: Bearer <token>``, compared in constant time.

``GuardedHttpToolsProtocol`` closes connections that do not finish sending a request head
in time; uvicorn itself has no such limit. docs/security.md explains what each guard stops.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .. import errors
from .docs import PATHS as DOCS_PATHS

log = logging.getLogger("posbridge.http")

TOKEN_ENV = "POSBRIDGE_TOKEN"
MIN_TOKEN_LENGTH = 16
#: Seconds a client has to send a whole request head, from connecting or from the end of
#: its previous response. An idle keep-alive connection is closed after the same time.
HEAD_TIMEOUT = 10.0
#: Seconds a client has to send the rest of a request body once its head has arrived.
BODY_TIMEOUT = 10.0
#: Bytes a request head (request line and headers) may take; more gets 431 and a close.
MAX_HEAD = 32 * 1024
#: Paths served without the token: static documents that hold no payment data.
PUBLIC_PATHS = frozenset({"/openapi.json", *DOCS_PATHS})

_TOKEN_RE = re.compile(r"[\x21-\x7e]+")
#: The headers the Gate reads (as uvicorn gives them: lower case), and their names for a person.
_IDENTITY_HEADERS = {b"host": "Host", b"origin": "Origin", b"authorization": "Authorization"}
_ORIGIN_RE = re.compile(r"(https?)://([^/?#@\s]+)")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class ConfigError(ValueError):
    """A security setting the bridge refuses to start with; the text says what to do."""


@dataclass(frozen=True)
class AccessPolicy:
    """The checks a request passes before it reaches a route."""

    token: str | None = None
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        token: str | None = None,
        hosts: Iterable[str] = (),
        origins: Iterable[str] = (),
    ) -> AccessPolicy:
        """Validate operator settings; raise ConfigError with a message for a person."""
        if token is not None:
            check_token(token)
        names = frozenset(_host_name(h) for h in hosts if h.strip())
        return cls(token, names, tuple(dict.fromkeys(normalize_origin(o) for o in origins)))

    def host_allowed(self, host: str | None) -> bool:
        if host is None:  # HTTP/1.0 without Host: a program, never a browser
            return True
        name = _host_name(host)
        return _is_loopback_or_ip(name) or name in self.allowed_hosts

    def origin_allowed(self, origin: str, host: str | None) -> bool:
        origin = origin.strip().lower()
        if origin in self.allowed_origins:
            return True
        # The bridge's own origin (its /docs page): the Host check has already passed.
        return host is not None and origin in (f"http://{host.lower()}",
                                               f"https://{host.lower()}")

    def token_ok(self, authorization: str | None) -> bool:
        if self.token is None:
            return True
        if authorization is None:
            return False
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self.token.encode())


def check_token(token: str) -> None:
    if len(token) < MIN_TOKEN_LENGTH or not _TOKEN_RE.fullmatch(token):
        raise ConfigError(
            f"the access token must be at least {MIN_TOKEN_LENGTH} printable characters "
            "with no spaces; make one with: python3 -c \"import secrets; "
            "print(secrets.token_urlsafe(32))\""
        )


def normalize_origin(origin: str) -> str:
    """``HTTPS://Shop.Example:443/`` -> ``https://shop.example``: the form browsers send."""
    text = origin.strip().lower().rstrip("/")
    match = _ORIGIN_RE.fullmatch(text)
    if match is None:
        raise ConfigError(
            f"--allow-origin {origin!r} is not an origin; give scheme, host and port as the "
            "browser shows them, for example http://pos.shop.example:3000 ('*' is not allowed)"
        )
    scheme, hostport = match.groups()
    default = {"http": ":80", "https": ":443"}[scheme]
    if hostport.endswith(default):
        hostport = hostport[: -len(default)]
    return f"{scheme}://{hostport}"


def is_loopback_bind(host: str) -> bool:
    """Whether listening on ``host`` reaches this PC only."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    """``[::1]:8080`` -> ``::1``, ``Example.COM.:80`` -> ``example.com``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def _is_loopback_or_ip(name: str) -> bool:
    # An IP address cannot be rebound: DNS rebinding needs a name the attacker controls.
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


async def _refuse(exc: errors.PosBridgeError, why: str, scope: Scope, receive: Receive,
                  send: Send, headers: dict[str, str] | None = None) -> None:
    from .app import _json
    from .models import error_response

    client = scope.get("client")
    who = f"{client[0]}:{client[1]}" if client else "unknown client"
    # ``why`` is written for the log: it never holds the request's headers' secrets.
    log.warning("refused %s %s from %s: %s (%s)", scope.get("method"), scope.get("path"), who,
                exc.code, why)
    await _json(error_response(exc), exc.http_status, headers)(scope, receive, send)


class Gate:
    """The checks every request passes before a route, in one pass over its headers.

    In order: the Host (403 ``FORBIDDEN_HOST``), the Origin when there is one (403
    ``FORBIDDEN_ORIGIN``), then the token when one is set (401 ``UNAUTHORIZED``). A request
    with an allowed Origin goes through Starlette's ``CORSMiddleware``, which answers its
    preflight and adds the CORS headers to every answer, refusals included, so a browser POS
    can read them. A request with no Origin (a program, curl) is never a CORS request and
    skips that layer. Nothing is read or done for a refused request.
    """

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy
        self.cors = CORSMiddleware(
            self._after_cors,
            allow_origins=list(policy.allowed_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["x-api-version", "content-type", "authorization"],
            max_age=600,
        )
        # Host header -> allowed: a client sends the same few names over and over.
        self._hosts: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _IDENTITY_HEADERS:
                if name in found:
                    # Two answers to "who is asking": no browser sends that, and which one
                    # counts would differ between layers. Refused, not guessed at.
                    repeated = _IDENTITY_HEADERS[name]
                    await _refuse(errors.InvalidRequest(f"the request gives the {repeated} "
                                                        "header more than once; send it once"),
                                  f"{repeated} header repeated", scope, receive, send)
                    return
                found[name] = value.decode("latin-1")
        host, origin = found.get(b"host"), found.get(b"origin")
        authorization = found.get(b"authorization")
        if not self._host_allowed(host):
            error: errors.PosBridgeError = errors.ForbiddenHost(
                f"requests for host {_printable(host)} are refused: posbridge answers to "
                "localhost, IP addresses and names given with --allow-host"
            )
            await _refuse(error, f"Host {_printable(host)}", scope, receive, send)
            return
        if origin is None:
            if not self._token_allowed(scope, authorization):
                await self._refuse_token(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if not self.policy.origin_allowed(origin, host):
            error = errors.ForbiddenOrigin(
                f"requests from the web page origin {_printable(origin)} are refused; "
                "the operator can allow a POS web app with --allow-origin"
            )
            await _refuse(error, f"Origin {_printable(origin)}", scope, receive, send)
            return
        scope.setdefault("state", {})["posbridge.authorization"] = authorization
        await self.cors(scope, receive, send)

    async def _after_cors(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Reached for an allowed origin's request that is not a preflight.
        if not self._token_allowed(scope, scope["state"]["posbridge.authorization"]):
            await self._refuse_token(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _host_allowed(self, host: str | None) -> bool:
        if host is None:  # HTTP/1.0 without Host: a program, never a browser
            return True
        allowed = self._hosts.get(host)
        if allowed is None:
            allowed = self.policy.host_allowed(host)
            if len(self._hosts) < 256:
                self._hosts[host] = allowed
        return allowed

    def _token_allowed(self, scope: Scope, authorization: str | None) -> bool:
        return (self.policy.token is None or scope["path"] in PUBLIC_PATHS
                or self.policy.token_ok(authorization))

    async def _refuse_token(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = errors.Unauthorized(
            "this posbridge requires an access token: send the header "
            "'Authorization: Bearer <token>' with the token the operator configured"
        )
        await _refuse(error, "no valid access token", scope, receive, send,
                      {"WWW-Authenticate": 'Bearer realm="posbridge"'})


def _printable(value: str | None, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines for the request head and body.

    uvicorn arms no timer on a new connection and cancels its keep-alive timer on the first
    byte, so a client that trickles a header a byte at a time holds a connection forever.
    Here a connection must send a complete request head within ``head_timeout`` seconds of
    connecting or of its previous response (else it is closed), and a body that has not
    arrived whole with its head must arrive within ``body_timeout`` seconds of it (else 408
    and a close). A request that has arrived and is being answered is never cut. One timer
    per connection serves both, and the usual request (head and body in one read) arms none
    of its own: the deadline costs the routes nothing.
    """

    head_timeout = HEAD_TIMEOUT
    body_timeout = BODY_TIMEOUT
    max_head = MAX_HEAD

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_pending = False
        self._body_pending = False
        self._body_timer_armed = False
        self._head_timer: Any = None
        self._deadline = 0.0
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        # Bytes count toward the head while no request is being answered (its body is
        # bounded by the route instead). httptools itself sets no limit.
        if self._head_pending or self.cycle is None or self.cycle.response_complete:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head:
                self._refuse_head()
                return
        super().data_received(data)
        if self._body_pending and not self._body_timer_armed:
            # The head is in and the body is not: it gets body_timeout from now, once.
            self._body_timer_armed = True
            self._arm_head_timer(self.body_timeout)

    def _refuse_head(self) -> None:
        self._close_with(errors.HeadersTooLarge(
            f"the request line and headers are over {self.max_head // 1024} KiB"
        ))

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers a request httptools cannot parse in plain text; ours is JSON too.
        self._close_with(errors.InvalidRequest(
            "the request is not valid HTTP/1.1 (a malformed request line, header or chunk)"
        ))

    def _close_with(self, error: errors.PosBridgeError) -> None:
        from http import HTTPStatus

        from .models import error_response

        body = json.dumps(error_response(error)).encode()
        reason = HTTPStatus(error.http_status).phrase.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n%s" % (error.http_status, reason, len(body), body)
        )
        self.transport.close()

    def _arm_head_timer(self, seconds: float | None = None) -> None:
        # Moving the deadline is a float store: the one timer is rescheduled only when it
        # would fire too late, and when it fires early it sleeps on to the new deadline.
        self._deadline = self.loop.time() + (seconds or self.head_timeout)
        if self._head_timer is None or self._deadline < self._head_timer.when():
            self._disarm_head_timer()
            self._head_timer = self.loop.call_at(self._deadline, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.loop.time() < self._deadline:
            self._head_timer = self.loop.call_at(self._deadline, self._head_timed_out)
            return
        if self.pipeline:
            # The request still arriving is queued behind one being answered (pipelining):
            # its deadline starts again when that answer is complete (on_response_complete).
            return
        if self._body_pending and self.cycle is not None and not self.cycle.response_started:
            self._close_with(errors.RequestTimeout(
                f"the request body did not arrive within {self.body_timeout:g} s; send it again"
            ))
            return
        answering = self.cycle is not None and not self.cycle.response_complete
        if self._head_pending or not answering:
            self.transport.close()

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_pending = True

    def on_headers_complete(self) -> None:
        self._head_pending = False
        self._head_bytes = 0
        self._body_pending, self._body_timer_armed = True, False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._body_pending = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()
