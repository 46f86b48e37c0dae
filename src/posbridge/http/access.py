"""Who may drive the terminal: Host and Origin checks, CORS, the access token.

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

Slow clients and oversized heads are the protocol's business (``server.py``); what each
guard stops is in docs/security.md.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import errors
from ..logs import escape
from . import responses
from .docs import PATHS as DOCS_PATHS

log = logging.getLogger("posbridge.http")

TOKEN_ENV = "POSBRIDGE_TOKEN"
MIN_TOKEN_LENGTH = 16
#: Paths served without the token: static documents that hold no payment data.
PUBLIC_PATHS = frozenset({"/openapi.json", *DOCS_PATHS})

_TOKEN_RE = re.compile(r"[\x21-\x7e]+")
#: The headers the Gate reads (as uvicorn gives them: lower case), and their names for a
#: person. Each must come at most once: which copy counts would differ between layers.
_GUARDED_HEADERS = {b"host": "Host", b"origin": "Origin", b"authorization": "Authorization",
                    b"x-api-version": "x-api-version"}
#: What a browser's preflight may ask for; anything else is refused (400, JSON).
CORS_METHODS = ("GET", "POST")
CORS_HEADERS = ("x-api-version", "content-type", "authorization")
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
    client = scope.get("client")
    who = f"{client[0]}:{client[1]}" if client else "unknown client"
    # ``why`` is written for the log: it never holds the request's headers' secrets. The
    # path is the client's (decoded: %0a is a line feed), so it is escaped here as well as
    # by the log formatter: a log line is never of the client's making.
    log.warning("refused %s %s from %s: %s (%s)", escape(str(scope.get("method"))),
                escape(str(scope.get("path"))), who, exc.code, escape(why))
    await responses.error(exc, headers)(scope, receive, send)


class Gate:
    """The checks every request passes before a route, in one pass over its headers.

    In order: a repeated Host, Origin, Authorization or x-api-version (400
    ``INVALID_REQUEST``), the Host (403 ``FORBIDDEN_HOST``), the Origin when there is one
    (403 ``FORBIDDEN_ORIGIN``), then the token when one is set (401 ``UNAUTHORIZED``). A
    request with an allowed Origin goes through Starlette's ``CORSMiddleware``, which answers
    its preflight (a refused one leaves as a JSON 400) and adds the CORS headers to every
    answer, refusals included, so a browser POS can read them. A request with no Origin (a
    program, curl) is never a CORS request and skips that layer. Nothing is read or done for
    a refused request.
    """

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy
        self.cors = CORSMiddleware(
            self._after_cors,
            allow_origins=list(policy.allowed_origins),
            allow_methods=list(CORS_METHODS),
            allow_headers=list(CORS_HEADERS),
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
            if name in _GUARDED_HEADERS:
                if name in found:
                    # Two answers to "who is asking" (or "which API"): no browser sends
                    # that, and which one counts would differ between layers. Refused, not
                    # guessed at.
                    repeated = _GUARDED_HEADERS[name]
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
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
            await self.cors(scope, receive, _PreflightRefusal(scope, receive, send))
            return
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


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class _PreflightRefusal:
    """The ``send`` of a preflight: Starlette's CORSMiddleware decides, and a refusal it
    writes as plain text ("Disallowed CORS headers") leaves here as the bridge's JSON error.
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope, self.receive, self.send = scope, receive, send
        self.refused = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            self.refused = True
            return
        if not self.refused:
            await self.send(message)
            return
        reason = bytes(message.get("body", b"")).decode("utf-8", "replace")[:80]
        asked = (_header(self.scope, b"access-control-request-headers") or b"").decode(
            "latin-1")
        error = errors.InvalidRequest(
            f"the browser's preflight was refused ({reason}); posbridge accepts the methods "
            f"{', '.join(CORS_METHODS)} and the headers {', '.join(CORS_HEADERS)}"
        )
        await _refuse(error, f"preflight: {reason}, asked for headers {_printable(asked)}",
                      self.scope, self.receive, self.send)
