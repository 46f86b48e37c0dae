"""The listener: one running bridge (journal, terminal link, PaymentService, HTTP API).

``Listener`` is the one way the bridge is put together and run; ``posbridge serve`` and
the desktop panel (``posbridge gui``) both use it. It binds the port itself before anything
else, so a port that is taken is a plain ``ListenerError`` ("port 8080 on 127.0.0.1 is in
use"), not an exit from inside uvicorn.

``ListenerThread`` runs a Listener in its own thread with its own asyncio loop, for a front
end that must never wait on the bridge (the Tk panel). Its methods all return at once: the
front end asks for ``status()`` (a snapshot published by the loop a few times a second),
``start(config)``, ``stop()`` and ``submit_batch()`` (a Future).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import gc
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from pathlib import Path
from typing import Any

import uvicorn
import uvicorn.server

from . import about
from .events import EventsConfig
from .http.access import TOKEN_ENV, AccessPolicy, is_loopback_bind
from .http.server import uvicorn_config
from .journal import Journal, Payment, default_path
from .service import BatchSummary, PaymentService, ServiceConfig, parse_amount
from .terminal import LinkStatus, TerminalClient
from .terminals import TerminalChoice, TerminalSpecError, choose_terminal
from .webhook import WebhookSender

log = logging.getLogger("posbridge")

STOPPED, STARTING, RUNNING, STOPPING = "stopped", "starting", "running", "stopping"


class ListenerError(Exception):
    """The listener cannot start with these settings; the text says why, for a person."""


@dataclass(frozen=True)
class ListenerConfig:
    terminal: str  # a terminal spec, as --terminal takes it
    host: str = "127.0.0.1"
    port: int = 8080  # 0: any free port (tests)
    journal: Path | None = None  # None: the default path in the user's data folder
    terminal_timeout: float = 5.0
    max_amount: str = "999999.99"
    customer_delay: float = 2.0  # for the built-in simulator
    #: The built-in simulator's customer (simulator/customer.py); None: the cents table.
    customer: Any = field(default=None, compare=False)
    policy: AccessPolicy = field(default_factory=AccessPolicy)
    token_source: str = ""  # where the token came from, for the log (never the token)
    access_log: bool = False
    events: EventsConfig = field(default_factory=EventsConfig)  # GET /events limits
    webhook: tuple[str, str] | None = None  # (url, secret), checked by the caller


@dataclass(frozen=True)
class ListenerStatus:
    """What a front end shows about the listener, at one moment."""

    state: str  # stopped | starting | running | stopping
    terminal_spec: str = ""
    simulated: bool = False
    address: str = ""  # http://HOST:PORT while running
    link: LinkStatus | None = None  # while running
    payment: Payment | None = None  # the payment holding the terminal, while running
    error: str = ""  # why it stopped or could not start, if it was not asked to
    journal: str = ""


def _bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for ``host``:``port`` (every address the name resolves to, as
    asyncio's create_server does), or ListenerError saying why not."""
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenerError(f"cannot listen on {host!r}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    seen: set[tuple[int, Any]] = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(2048)
            sock.setblocking(False)
            if port == 0:  # every address on the one port the kernel chose first
                port = sock.getsockname()[1]
                where = f"{host}:{port}"
    except OSError as exc:
        for sock in sockets:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenerError(
                f"port {port} on {host} is already in use (is another posbridge running?); "
                "stop that program or choose another port"
            ) from None
        if exc.errno == errno.EACCES:
            raise ListenerError(
                f"not allowed to listen on {where} (ports below 1024 need administrator "
                "rights); choose a port such as 8080"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ListenerError(f"cannot listen on {host!r}: it is not an address of this "
                                "PC") from None
        raise ListenerError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    return sockets


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Listener:
    """One bridge: ``await start()`` (ListenerError when it cannot), ``await stop()``.

    ``run()`` is start, then serve until ``request_stop()`` or a signal, then stop.
    All methods are called from the thread of the loop that runs it.
    """

    def __init__(self, config: ListenerConfig) -> None:
        self.config = config
        self.service: PaymentService | None = None
        self._state = STOPPED
        self._error = ""
        self._address = ""
        self._choice: TerminalChoice | None = None
        self._webhook: WebhookSender | None = None
        self._journal: Journal | None = None
        self._sockets: list[socket.socket] = []
        self._server: Any = None  # uvicorn.Server
        self._serving: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return self._address

    def status(self) -> ListenerStatus:
        service = self.service if self._state == RUNNING else None
        return ListenerStatus(
            state=self._state,
            terminal_spec=self.config.terminal,
            simulated=self._choice.simulated if self._choice else False,
            address=self._address if self._state == RUNNING else "",
            link=service.terminal.status() if service else None,
            payment=service.in_progress() if service else None,
            error=self._error,
            journal=str(self._journal.path) if self._journal else "",
        )

    async def start(self) -> None:
        if self._state != STOPPED:
            raise ListenerError(f"the listener is already {self._state}")
        self._state, self._error = STARTING, ""
        try:
            await self._start()
        except BaseException as exc:
            self._error = str(exc) if isinstance(exc, ListenerError) else (
                f"could not start: {exc}")
            await self._release()
            raise
        self._state = RUNNING

    async def _start(self) -> None:
        from .http import create_app

        config = self.config
        if config.policy.token is None and not is_loopback_bind(config.host):
            raise ListenerError(
                f"refusing to listen on {config.host}: that address can be reached from other "
                "machines, and anything that reaches the API can take payments. Set an access "
                f"token (posbridge serve --token-file PATH or the environment variable "
                f"{TOKEN_ENV}), or listen on 127.0.0.1. See docs/security.md"
            )
        try:
            max_minor = parse_amount(config.max_amount, 10**14)
        except Exception as exc:
            raise ListenerError(f"maximum amount: {exc}") from None
        try:
            choice = choose_terminal(config.terminal, customer_delay=config.customer_delay,
                                     customer=config.customer)
        except TerminalSpecError as exc:
            raise ListenerError(str(exc)) from None
        self._choice = choice
        if choice.simulated:
            log.warning("terminal: the built-in SIMULATOR; no real money is taken")
        self._sockets = _bind(config.host, config.port)
        port = self._sockets[0].getsockname()[1]
        path = config.journal or default_path()
        try:
            self._journal = Journal(path)
        except Exception as exc:  # a bad file, a newer schema, no permission
            raise ListenerError(f"cannot open the journal {path}: {exc}") from None
        terminal = TerminalClient(choice.connector, description=choice.description)
        self.service = PaymentService(
            self._journal, terminal,
            ServiceConfig(max_amount_minor=max_minor, terminal_timeout=config.terminal_timeout),
        )
        self.service.on_fatal = self._on_fatal
        app = create_app(self.service, config.policy, events=config.events)
        self._server = _Server(uvicorn_config(app, config.host, port,
                                              access_log=config.access_log))
        # Event streams never end by themselves: they are ended first, so that the server's
        # shutdown does not wait for them.
        self._server.before_shutdown = app.state.events.close
        log.info("%s: journal %s, terminal %s", about.version_line(), self._journal.path,
                 choice.description)
        policy = config.policy
        log.info("access: %s; web origins allowed: %s%s",
                 config.token_source or ("token required" if policy.token else "no token"),
                 ", ".join(policy.allowed_origins) or "none",
                 f"; extra host names: {', '.join(sorted(policy.allowed_hosts))}"
                 if policy.allowed_hosts else "")
        await self.service.start()
        if config.webhook is not None:
            self._webhook = WebhookSender(self._journal, *config.webhook)
            self._webhook.start()
            log.info("webhook: every journal event to %s", config.webhook[0])
        # uvicorn's serve() binds nothing here (it gets our sockets) and takes SIGINT and
        # SIGTERM only when it runs in the main thread, as `posbridge serve` does.
        self._serving = asyncio.create_task(self._server.serve(sockets=self._sockets),
                                            name="http")
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # its exception, if any
                raise ListenerError("the HTTP server stopped while starting")
            await asyncio.sleep(0.01)
        self._address = _url(config.host, port)
        # What start-up made (modules, the app, its models) lives as long as the process:
        # out of the collector's way, a full collection under load scans only what requests
        # made instead of the whole heap (a pause of tens of ms on a slow PC otherwise).
        gc.freeze()
        log.info("listening on %s", self._address)

    async def wait(self) -> None:
        """Until the HTTP server stops (a signal, ``request_stop()``, or a failure)."""
        if self._serving is not None:
            await asyncio.shield(self._serving)

    def _on_fatal(self, reason: str) -> None:
        """The journal is gone for good: stop serving and fail, so that ``posbridge serve``
        exits non-zero and its service manager starts it again."""
        self._error = f"stopped: {reason}"
        self.request_stop()

    def request_stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    async def stop(self) -> None:
        """Stop serving, close the link and the journal. Payments in progress stay in the
        journal and are finished by the next start."""
        if self._state in (STOPPED, STOPPING):
            return
        self._state = STOPPING
        log.info("listener: stopping")
        await self._release()
        log.info("listener: stopped")

    async def run(self) -> None:
        """Start, serve until stopped, stop. Raises ListenerError when serving failed, so
        that ``posbridge serve`` exits non-zero and a service manager restarts it."""
        await self.start()
        try:
            await self.wait()
        except Exception:
            pass  # stop() below meets the same failure, logs it and records it in _error
        finally:
            await self.stop()
        if self._error:
            raise ListenerError(self._error)

    async def _release(self) -> None:
        interrupted: BaseException | None = None
        try:
            if self._serving is not None:
                self.request_stop()
                serving, self._serving = self._serving, None
                try:
                    await serving
                except Exception as exc:
                    log.exception("listener: the HTTP server failed")
                    self._error = self._error or f"the HTTP server failed: {exc}"
                except BaseException as exc:
                    # A KeyboardInterrupt or cancellation while serving: close the link and
                    # the journal first, then let it go on.
                    interrupted = exc
            if self._webhook is not None:
                await self._webhook.stop()
                self._webhook = None
            if self.service is not None:
                await self.service.stop()
            if self._choice is not None:
                await self._choice.close()
        finally:
            for sock in self._sockets:
                sock.close()
            self._sockets = []
            if self._journal is not None:
                self._journal.close()
            self._state = STOPPED
        if interrupted is not None:
            raise interrupted


class _Server(uvicorn.Server):
    """uvicorn's server, except that a stop signal (Ctrl+C, systemd's SIGTERM) is not raised
    again once the HTTP side has shut down. uvicorn does that so the default action ends the
    process, which ended it before the link and the journal were closed; the listener
    closes them, and ``posbridge serve`` then exits 0."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.server_state = _DatedState(config)
        #: Called when shutting down starts, before waiting for the requests in flight.
        self.before_shutdown: Callable[[], None] = lambda: None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.before_shutdown()
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl+C: stop waiting for requests in flight
        else:
            self.should_exit = True

    # uvicorn's main loop wakes every 0.1 s to look at should_exit and to refresh the Date
    # header: the bridge's largest idle cost (a process nobody uses should not take CPU all
    # day). Here the Date header is made when a response asks for it (_DatedState) and the
    # main loop sleeps until a stop wakes it.
    _exit_wake: asyncio.Event | None = None
    _exit_loop: asyncio.AbstractEventLoop | None = None
    _should_exit = False

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._should_exit = value
        loop, wake = self._exit_loop, self._exit_wake
        if value and loop is not None and wake is not None:
            # From a signal handler or another thread (the panel's Stop) as well.
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(wake.set)

    async def main_loop(self) -> None:
        self._exit_loop, self._exit_wake = asyncio.get_running_loop(), asyncio.Event()
        while not self.should_exit:
            await self._exit_wake.wait()
            self._exit_wake.clear()


class _DatedState(uvicorn.server.ServerState):
    """uvicorn's server state whose default headers (Date) are made fresh when read, at
    most once a second, instead of by a timer: each response reads them once."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._config = config
        self._second = -1
        self._headers: list[tuple[bytes, bytes]] = []
        super().__init__()

    @property
    def default_headers(self) -> list[tuple[bytes, bytes]]:
        second = int(time.time())
        if second != self._second:
            self._second = second
            date = [(b"date", formatdate(second, usegmt=True).encode())]
            self._headers = (date if self._config.date_header else []) + list(
                self._config.encoded_headers)
        return self._headers

    @default_headers.setter
    def default_headers(self, value: list[tuple[bytes, bytes]]) -> None:
        pass  # uvicorn's own refresh (on_tick, __init__): the getter does it


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in uvicorn[standard] on Linux/macOS
        return asyncio.new_event_loop
    return uvloop.new_event_loop


class ListenerNotRunning(Exception):
    pass


class ListenerThread:
    """A Listener in its own thread and asyncio loop; every method returns at once.

    The loop publishes a status snapshot every ``publish_interval`` seconds and at each
    change of state; ``status()`` returns the latest one.
    """

    def __init__(self, publish_interval: float = 0.2) -> None:
        self.publish_interval = publish_interval
        self._lock = threading.Lock()
        self._status = ListenerStatus(STOPPED)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: Listener | None = None
        self._stop_event: asyncio.Event | None = None
        self._stop_wanted = False

    @property
    def alive(self) -> bool:
        """Whether the thread is running (from start until the listener has stopped)."""
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> ListenerStatus:
        with self._lock:
            return self._status

    def start(self, config: ListenerConfig) -> None:
        """Start a listener with ``config``. Failure to start shows in ``status().error``."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise RuntimeError("the listener is already running")
            self._stop_wanted = False
            self._status = ListenerStatus(STARTING, terminal_spec=config.terminal)
            self._thread = threading.Thread(target=self._main, args=(config,),
                                            name="posbridge-listener", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Ask the listener to stop; ``alive`` turns false when it has."""
        with self._lock:
            self._stop_wanted = True
            if self._loop is not None and self._stop_event is not None:
                with contextlib.suppress(RuntimeError):  # the loop has just closed
                    self._loop.call_soon_threadsafe(self._stop_event.set)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (not from a front end's event loop); True if it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.alive

    def submit_batch(self) -> concurrent.futures.Future[BatchSummary]:
        with self._lock:
            listener, loop = self._listener, self._loop
            if listener is None or loop is None or listener.service is None \
                    or listener.status().state != RUNNING:
                future: concurrent.futures.Future[BatchSummary] = concurrent.futures.Future()
                future.set_exception(ListenerNotRunning("the listener is not running"))
                return future
            return asyncio.run_coroutine_threadsafe(listener.service.submit_batch(), loop)

    def x_report(self) -> concurrent.futures.Future[dict[str, Any]]:
        """The X report, compared with the terminal's totals (the service's x_report)."""
        with self._lock:
            listener, loop = self._listener, self._loop
            if listener is None or loop is None or listener.service is None \
                    or listener.status().state != RUNNING:
                future: concurrent.futures.Future[dict[str, Any]] = \
                    concurrent.futures.Future()
                future.set_exception(ListenerNotRunning("the listener is not running"))
                return future
            return asyncio.run_coroutine_threadsafe(listener.service.x_report(), loop)

    # -- the thread -------------------------------------------------------------------

    def _main(self, config: ListenerConfig) -> None:
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(self._run(config))
        except BaseException as exc:  # never die silently: the panel shows it
            log.exception("listener: the listener thread failed")
            self._publish(ListenerStatus(STOPPED, terminal_spec=config.terminal,
                                         error=f"the listener failed: {exc}"))

    async def _run(self, config: ListenerConfig) -> None:
        listener = Listener(config)
        stop = asyncio.Event()
        with self._lock:
            self._loop, self._stop_event, self._listener = (
                asyncio.get_running_loop(), stop, listener)
            if self._stop_wanted:
                stop.set()
        publisher = asyncio.create_task(self._publish_loop(listener), name="status")
        try:
            try:
                await listener.start()
            except ListenerError as exc:
                log.error("listener: %s", exc)
                return
            except Exception as exc:
                log.exception("listener: could not start")
                listener._error = f"could not start: {exc}"
                return
            self._publish(listener.status())
            stopped = asyncio.create_task(stop.wait())
            serving = asyncio.create_task(listener.wait())
            await asyncio.wait({stopped, serving}, return_when=asyncio.FIRST_COMPLETED)
            for task in (stopped, serving):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if not stop.is_set():
                listener._error = listener._error or "the HTTP server stopped by itself"
            self._publish(replace(listener.status(), state=STOPPING))
            await listener.stop()
        finally:
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher
            with self._lock:
                self._loop = self._stop_event = self._listener = None
            self._publish(listener.status())

    async def _publish_loop(self, listener: Listener) -> None:
        while True:
            self._publish(listener.status())
            await asyncio.sleep(self.publish_interval)

    def _publish(self, status: ListenerStatus) -> None:
        with self._lock:
            self._status = status
