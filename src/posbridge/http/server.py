"""The HTTP server: uvicorn's configuration, and the one thing its protocol cannot do.

uvicorn parses HTTP (httptools), runs the ASGI app, keeps connections alive and closes idle
ones. It sets no limit on a request head, neither in time (a client that trickles a header
a byte at a time holds a connection for ever, since uvicorn's keep-alive timer stops at the
first byte) nor in size (httptools keeps whatever arrives). ``GuardedHttpToolsProtocol``
adds those two and nothing else, with uvicorn's own keep-alive timer as the one timer of a
connection. The body's deadline and size are the ASGI app's (``app.read_body``), on uvicorn's
public interface.

The subclass touches uvicorn's internals (``_unset_keepalive_if_required``, the parser
callbacks, ``send_400_response``), so pyproject.toml pins uvicorn and httptools below the
next minor versions; tests/http/test_server.py checks each behaviour through a real socket.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .. import errors
from . import responses

log = logging.getLogger("posbridge.http")

#: Seconds a client has to send a whole request head, from connecting or from the end of
#: its previous response: this is also how long an idle keep-alive connection stays open.
HEAD_TIMEOUT = 10.0
#: Bytes a request head (request line and headers) may take; more gets 431 and a close.
MAX_HEAD = 32 * 1024
#: Connections served at once; one more is answered 503 (JSON) and closed at connect.
MAX_CONNECTIONS = 512
#: Seconds a refused connection is still read (and what comes dropped) before it is closed.
LINGER = 1.0


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head that is over the limit."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size limit for the request head.

    A connection must send a complete request head within ``timeout_keep_alive`` seconds
    (uvicorn's setting) of connecting or of its previous response, or it is closed: uvicorn's
    keep-alive timer is armed at connect too, and arriving bytes no longer stop it; a
    complete head does. A head over ``max_head`` bytes gets 431 and a close, counted on the
    head alone, however its bytes arrive (one write with its body, several requests in one
    write, a byte at a time). A request being answered is never cut. Everything this
    protocol answers by itself (400 for what is not HTTP, 431, 503 over the connection
    limit) is the bridge's JSON error (``responses.raw_error``).
    """

    max_head = MAX_HEAD

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn's concurrency limit answers a request head with a plain-text 503; here the
        # same limit is applied at connect, with the JSON error (connection_made).
        self.max_connections: int | None = self.limit_concurrency
        self.limit_concurrency = None
        self._in_message = False  # a request has begun and is not complete
        self._in_head = False  # a request head has begun and is not complete
        self._head_first = 0  # bytes of that head from the read in which it began
        self._head_later = 0  # bytes of the reads after that one (all head: it is not done)
        self._heads = 0  # request heads begun on this connection
        self._may_overflow = False  # the current read could complete a head over the limit
        # The head began after another request in one read: the parser holds its unfinished
        # line, which nothing has counted; it is counted exactly when the head completes.
        self._uncounted = False
        self._head_n = 0  # headers of the current request at its head's end (then trailers)
        self._receiving = False
        self._refusal: errors.PosBridgeError | None = None
        self._refused = False
        self._after_answer: errors.PosBridgeError | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if self.max_connections is not None and len(self.connections) > self.max_connections:
            self._close_with(errors.TooManyConnections(
                f"posbridge is serving {self.max_connections} connections already; close "
                "idle ones or try again in a moment"
            ))
            return
        # The head deadline of a new connection is uvicorn's keep-alive timer, armed now.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # answered and closing: what still comes is dropped
        heads, continued, between = self._heads, self._in_head, not self._in_message
        # A head completed in this read can be over the limit only if this read, with what
        # came before of a head it continues, is: otherwise on_headers_complete need not
        # count (the common case, and why no per-header callback is overridden).
        self._may_overflow = self._uncounted or (
            len(data) + (self._head_first + self._head_later if continued else 0)
        ) > self.max_head
        self._receiving = True
        try:
            HttpToolsProtocol.data_received(self, data)
        finally:
            self._receiving = False
        if self._in_head and not self.transport.is_closing():
            # A head still incomplete: the parser holds its unfinished line, so count raw
            # bytes too. Those of a read after the one where the head began are all head;
            # so is the whole read in which it began when that read began with it (no
            # earlier request in it); otherwise only what the parser has handed over counts
            # from that read.
            if continued and heads == self._heads:
                self._head_later += len(data)
            elif between and self._heads == heads + 1:
                self._head_first, self._head_later = max(len(data), self._parsed()), 0
            else:
                self._head_first, self._head_later = self._parsed(), 0
                self._uncounted = True
            if self._head_first + self._head_later > self.max_head:
                self._close_with(self._head_too_large())
        elif self._in_message and len(self.headers) > self._head_n \
                and self._parsed() > self.max_head:
            # Trailers after a chunked body (the parser adds them to the headers): they
            # count with the head, as the request's own lines.
            self._close_with(self._head_too_large())

    def _unset_keepalive_if_required(self) -> None:
        # uvicorn stops its keep-alive timer at the first byte of a new request; here it
        # runs on until the request's head is complete (on_headers_complete).
        if not self._receiving:
            HttpToolsProtocol._unset_keepalive_if_required(self)

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        self._in_message = self._in_head = True
        self._uncounted = False
        self._heads += 1

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._may_overflow and self._parsed() > self.max_head:
            self._stop_parsing()
        self._head_n = len(self.headers)
        HttpToolsProtocol._unset_keepalive_if_required(self)  # the head is in: deadline met
        HttpToolsProtocol.on_headers_complete(self)

    def on_message_complete(self) -> None:
        self._in_message = False
        if len(self.headers) > self._head_n and self._parsed() > self.max_head:
            self._stop_parsing()  # trailers, completed in this read
        HttpToolsProtocol.on_message_complete(self)

    def _parsed(self) -> int:
        """Bytes of the current head the parser has handed over: its URL and headers (each
        with ": " and CRLF), as uvicorn keeps them."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _stop_parsing(self) -> NoReturn:
        """From a parser callback: the head is over the limit. The parser stops and uvicorn
        calls send_400_response, which answers the 431."""
        self._refusal = self._head_too_large()
        raise _HeadTooLarge

    def _head_too_large(self) -> errors.PosBridgeError:
        return errors.HeadersTooLarge(
            f"the request line and headers are over {self.max_head // 1024} KiB"
        )

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers a request httptools cannot parse in plain text; ours is JSON, and
        # a head stopped for its size gets its 431.
        self._close_with(self._refusal or errors.InvalidRequest(
            "the request is not valid HTTP/1.1 (a malformed request line, header or chunk)"
        ))

    def _unsupported_upgrade_warning(self) -> None:
        # uvicorn's warning says to install a WebSocket library; the bridge has no
        # WebSocket endpoint (ws="none"), so an Upgrade request is answered as plain HTTP.
        log.debug("an Upgrade request is answered as plain HTTP (no WebSocket endpoint)")

    def on_response_complete(self) -> None:
        HttpToolsProtocol.on_response_complete(self)
        if self._after_answer is not None:
            error, self._after_answer, self._refused = self._after_answer, None, False
            self._close_with(error)

    def _close_with(self, error: errors.PosBridgeError) -> None:
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        cycle = self.cycle
        if cycle is not None and not cycle.more_body and not cycle.response_complete:
            # A whole request before this one (pipelined) is being answered: it gets its
            # answer first, then this refusal (on_response_complete). Nothing more is read.
            self._after_answer = error
            return
        who = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown client"
        log.warning("refused a connection from %s: %s (%s)", who, error.code, error.message)
        self.transport.write(responses.raw_error(error))
        # Closing a socket with unread bytes makes the kernel reset the connection, and a
        # reset can destroy the answer before the client reads it (a client still sending
        # its big head would see "connection reset", not the 431). So: end our side, drop
        # what still comes, and close when the client does or after LINGER seconds.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        HttpToolsProtocol._unset_keepalive_if_required(self)
        self.timeout_keep_alive_task = self.loop.call_later(LINGER, self.transport.close)


def uvicorn_config(app: ASGIApp, host: str, port: int, *, access_log: bool = False,
                   head_timeout: float = HEAD_TIMEOUT,
                   max_connections: int | None = MAX_CONNECTIONS) -> uvicorn.Config:
    """uvicorn's settings for the bridge: ours on the protocol above, no WebSocket, no
    lifespan, the log to posbridge's handlers."""
    return uvicorn.Config(
        app, host=host, port=port, http=GuardedHttpToolsProtocol, ws="none",
        lifespan="off", log_config=None, access_log=access_log, server_header=False,
        timeout_keep_alive=head_timeout,  # type: ignore[arg-type]
        limit_concurrency=max_connections,
        # Nothing stands between the POS and the bridge: X-Forwarded-* headers are not
        # believed (a local program could otherwise choose the client address the log shows).
        proxy_headers=False,
    )
