"""The ``posbridge`` command: serve the API, or run the terminal simulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only what building the parser needs is imported here; each command imports the rest
# (the HTTP stack for serve, httpx for the API commands, pyusb and pyserial for devices),
# so that `posbridge journal list` or `posbridge pay` does not load the server.
from . import about, checks, methods
from .checks import argument
from .journal import default_path
from .terminals import SPEC_HELP

if TYPE_CHECKING:
    from .http.access import AccessPolicy

DEFAULT_PORT = 8080
DEFAULT_SIM_LISTEN = "tcp://127.0.0.1:9100"

log = logging.getLogger("posbridge")


#: The commands this module defines itself. Given one of them, the parser is built without
#: the others (the tools, the panel, devices, the support bundle): their modules are not
#: imported, which a bridge started at every boot of the till would pay for nothing.
OWN_COMMANDS = ("serve", "simulator", "openapi")


_JOURNAL_DEFAULT = "{the default journal}"


class _ServeHelp(argparse.HelpFormatter):
    """Writes the journal's default path into --help only when help is shown: finding it
    imports platformdirs, which a serve given --journal never needs."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        if text is not None and _JOURNAL_DEFAULT in text:
            text = text.replace(_JOURNAL_DEFAULT, str(default_path()))
        return text


def _build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posbridge",
        description="Serve the PC POS USB API on this PC and carry each command to a "
        "payment terminal.",
        epilog="Quick start: posbridge serve --terminal simulator, then "
        "curl -X POST http://localhost:8080/CreatePayment -H 'x-api-version: v1' "
        "-d '{\"amount\": \"1.00\", \"retrieval_reference_number\": \"invoice-1\", "
        "\"condition_code\": \"82\"}'",
    )
    parser.add_argument("--version", action="version", version=about.version_line(),
                        help="show the version, whether this is the self-contained bundle "
                        "or an installed package, and its Python, then exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve", formatter_class=_ServeHelp,
        help="start the listener: serve the API and keep a link to the terminal",
        description="Start the listener: serve the PC POS USB API over HTTP and keep a link "
        "to the payment terminal. Stop it with Ctrl+C; payments in progress stay in the "
        "journal and are finished when it starts again.",
    )
    serve.add_argument(
        "--terminal", required=True, metavar="TERMINAL",
        help=f"the terminal to use: {SPEC_HELP}",
    )
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this PC only). Any "
                       "other address needs an access token; see docs/security.md")
    serve.add_argument("--port", type=argument(checks.port), default=DEFAULT_PORT,
                       help=f"port to listen on (default {DEFAULT_PORT})")
    serve.add_argument("--journal", metavar="PATH", type=argument(checks.file_to_write),
                       help=f"the payment journal (SQLite file); default: {_JOURNAL_DEFAULT}")
    serve.add_argument("--terminal-timeout", type=argument(checks.seconds), default=5.0,
                       metavar="SECONDS",
                       help="how long to wait for the terminal to answer a command before "
                       "answering 504 and marking the payment unknown (default 5)")
    serve.add_argument("--max-amount", default="999999.99", metavar="AMOUNT",
                       type=argument(checks.amount),
                       help="the largest amount CreatePayment accepts (default 999999.99)")
    serve.add_argument("--customer-delay", type=argument(checks.delay), default=2.0,
                       metavar="SECONDS",
                       help="with --terminal simulator: how long the simulated customer "
                       "takes to pay (default 2)")
    serve.add_argument("--log-level", default="info",
                       choices=["debug", "info", "warning", "error"],
                       help="how much to log (default info: one line per payment step)")
    serve.add_argument("--log-file", metavar="PATH", type=argument(checks.file_to_write),
                       help="also write the log to this file (rotated at 5 MB, 5 kept); "
                       "the panel (posbridge gui) logs to "
                       "the user's log folder, see docs/operations.md")
    events = serve.add_argument_group("events", "GET /events, the stream of payment and "
                                      "terminal events (docs/api.md)")
    events.add_argument("--events-max-subscribers", type=int, default=64, metavar="N",
                        help="event streams served at once (default 64); one more gets 503 "
                        "TOO_MANY_SUBSCRIBERS")
    events.add_argument("--events-queue", type=int, default=256, metavar="N",
                        help="events buffered per subscriber before it counts as fallen "
                        "behind and its stream ends with an overflow event (default 256)")
    events.add_argument("--events-heartbeat", type=float, default=15.0, metavar="SECONDS",
                        help="seconds between heartbeat comments on an idle stream "
                        "(default 15)")
    events.add_argument("--webhook", metavar="URL",
                        help="also POST every journal event to this URL (on this PC, or on "
                        "a host named with --allow-host), in order, at least once, signed "
                        "with --webhook-secret-file (docs/api.md, Webhook)")
    events.add_argument("--webhook-secret-file", metavar="PATH",
                        help="the webhook's shared secret (first line, at least 16 "
                        "characters): the X-Posbridge-Signature header is its HMAC-SHA256 "
                        "of each body")
    access = serve.add_argument_group(
        "access", "who may use the API (docs/security.md). Without these, only programs on "
        "this PC and no web page can use it.")
    access.add_argument("--token-file", metavar="PATH", type=argument(checks.file_to_read),
                        help="require 'Authorization: Bearer TOKEN' on every request, with "
                        "TOKEN read from this file (first line)")
    access.add_argument("--token", metavar="TOKEN",
                        help="the same with the token on the command line (other users of "
                        "this PC can see it there; prefer --token-file or the environment "
                        "variable POSBRIDGE_TOKEN)")
    access.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="let a web page from ORIGIN (for example "
                        "http://pos.shop.example:3000) call the API; repeat for several")
    access.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="answer requests addressed to this host name as well as to "
                        "localhost and IP addresses; repeat for several")

    sim = sub.add_parser(
        "simulator",
        help="run a terminal simulator that a 'posbridge serve' can connect to",
        description="Run a payment terminal simulator. The amount's cents choose what the "
        "customer does: .05 .51 .55 .91 declined with that code, .17 cancelled on the "
        "terminal, .68 timed out, .97 approved but the result message is lost, .98 the link "
        "drops mid-payment; any other amount is approved after --customer-delay. With "
        "--scenario a JSON file lists the outcomes instead, one per payment; with --window "
        "you click them. For a QR method (PayNow, Alipay, WeChat Pay, GrabPay) the terminal "
        "makes the QR code the customer would scan and reports it to the bridge.",
    )
    sim.add_argument("--listen", default=DEFAULT_SIM_LISTEN, metavar="tcp://HOST:PORT",
                     type=argument(checks.tcp_address),
                     help=f"where to listen for the bridge (default {DEFAULT_SIM_LISTEN})")
    sim.add_argument("--customer-delay", type=argument(checks.delay), default=2.0,
                     metavar="SECONDS",
                     help="how long the simulated customer takes to pay (default 2)")
    sim.add_argument("--condition-codes", default=methods.DEFAULT_SPEC,
                     metavar="CODE[=NAME],...", type=argument(checks.condition_codes),
                     help="the payment methods the terminal supports, as condition codes "
                     "with their names; a known code alone takes its known name (default "
                     f"{methods.DEFAULT_SPEC})")
    sim.add_argument("--scenario", metavar="FILE", type=argument(checks.file_to_read),
                     help="play the outcomes listed in this JSON file, one per payment, in "
                     "order, instead of the cents table; sales are refused once it has run "
                     "out (examples/scenario.json, docs/simulator.md)")
    sim.add_argument("--window", action="store_true",
                     help="open a window showing what the customer sees (amount, method, "
                     "QR code) with buttons for what happens next; each payment waits for "
                     "a click unless its 'cents table' box is ticked (docs/simulator.md)")
    sim.add_argument("--state", metavar="PATH", type=argument(checks.file_to_write),
                     help="keep the terminal's own payment record in this JSON file so it "
                     "survives a restart (default: in memory only)")
    sim.add_argument("--settle-delay", type=argument(checks.delay), default=0.0, metavar="SECONDS",
                     help="how long settling a batch takes before the terminal answers "
                     "(default 0; a real terminal settling with its acquirer can take over 5)")
    sim.add_argument("--serial", default="SIM-000001", help="the terminal's serial number")
    sim.add_argument("--log-level", default="info",
                     choices=["debug", "info", "warning", "error"])
    sub.add_parser("openapi", help="print the API's OpenAPI document (openapi.json)")
    if command in OWN_COMMANDS:
        return parser
    from . import tools
    from .devices import add_devices_command
    from .gui import app as gui

    add_devices_command(sub)
    tools.add_api_commands(sub)
    tools.add_journal_command(sub, str(default_path()))
    from .bundle import add_command as add_bundle_command

    add_bundle_command(sub)
    tools.add_receipt_command(sub, str(default_path()))
    tools.add_report_command(sub, str(default_path()))
    gui.add_command(sub)
    return parser


def _setup_logging(level: str, log_file: str | None = None) -> None:
    from . import logs

    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logs.Formatter())
    logging.basicConfig(level=getattr(logging, level.upper()), handlers=[console])
    if log_file:
        try:
            logging.getLogger().addHandler(logs.file_handler(Path(log_file)))
        except OSError as exc:
            raise SystemExit(f"posbridge: --log-file: {exc}") from None


def _run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in uvicorn[standard] on Linux/macOS
        return asyncio.run(coro)
    return uvloop.run(coro)


async def _serve(args: argparse.Namespace) -> int:
    from .events import EventsConfig
    from .listener import Listener, ListenerConfig, ListenerError

    policy, token_source = _access_policy(args)
    webhook = _webhook(args, policy)
    listener = Listener(ListenerConfig(
        terminal=args.terminal, host=args.host, port=args.port,
        journal=Path(args.journal) if args.journal else None,
        terminal_timeout=args.terminal_timeout, max_amount=args.max_amount,
        customer_delay=args.customer_delay, policy=policy, token_source=token_source,
        access_log=args.log_level == "debug",
        events=EventsConfig(max_subscribers=args.events_max_subscribers,
                            queue_size=args.events_queue, heartbeat=args.events_heartbeat),
        webhook=webhook,
    ))
    try:
        await listener.run()
    except ListenerError as exc:
        raise SystemExit(f"posbridge: {exc}") from None
    return 0


def _webhook(args: argparse.Namespace, policy: AccessPolicy) -> tuple[str, str] | None:
    """The webhook's URL and secret, checked, or None; SystemExit saying what is wrong."""
    from .webhook import WebhookConfigError, check_secret, check_url

    if args.webhook is None:
        if args.webhook_secret_file is not None:
            raise SystemExit("posbridge: --webhook-secret-file needs --webhook URL")
        return None
    if args.webhook_secret_file is None:
        raise SystemExit("posbridge: --webhook needs --webhook-secret-file PATH (the shared "
                         "secret its requests are signed with)")
    try:
        with open(args.webhook_secret_file, encoding="utf-8") as f:
            secret = f.readline().strip()
        return check_url(args.webhook, policy), check_secret(secret)
    except OSError as exc:
        raise SystemExit(f"posbridge: --webhook-secret-file: {exc}") from None
    except WebhookConfigError as exc:
        raise SystemExit(f"posbridge: {exc}") from None


def _access_policy(args: argparse.Namespace) -> tuple[AccessPolicy, str]:
    """The access policy from the flags and environment, and where the token came from (for
    the log: never the token itself)."""
    import os

    from .http.access import TOKEN_ENV, AccessPolicy, ConfigError

    if args.token is not None and args.token_file is not None:
        raise SystemExit("posbridge: give --token or --token-file, not both")
    token: str | None
    if args.token_file is not None:
        try:
            with open(args.token_file, encoding="utf-8") as f:
                token = f.readline().strip()
        except OSError as exc:
            raise SystemExit(f"posbridge: --token-file: {exc.strerror}: {exc.filename}") from None
        source = f"token required (from {args.token_file})"
    elif args.token is not None:
        token, source = args.token, "token required (from --token)"
    elif os.environ.get(TOKEN_ENV):
        token, source = os.environ[TOKEN_ENV], f"token required (from {TOKEN_ENV})"
    else:
        token, source = None, "no token"
    # Listening beyond this PC without a token is refused by the Listener, for every front end.
    try:
        policy = AccessPolicy.build(token=token, hosts=args.allow_host,
                                    origins=args.allow_origin)
    except ConfigError as exc:
        raise SystemExit(f"posbridge: {exc}") from None
    return policy, source


def _build_simulator(args: argparse.Namespace, customer: Any = None) -> tuple[Any, str, int]:
    """The simulated terminal the flags describe, not yet listening: (server, host, port).
    Bad flags end the program with a message."""
    from .simulator import TerminalModel, TerminalServer
    from .transports.tcp import parse_tcp_url

    try:
        host, port = parse_tcp_url(args.listen)
    except ValueError as exc:
        raise SystemExit(f"posbridge: --listen: {exc}") from None
    try:
        codes, names = methods.parse_spec(args.condition_codes)
    except ValueError as exc:
        raise SystemExit(f"posbridge: --condition-codes: {exc}") from None
    if args.scenario:
        if customer is not None:
            raise SystemExit("posbridge: give --scenario or --window, not both")
        from .simulator.scenario import Scenario, ScenarioError

        try:
            customer = Scenario.from_file(args.scenario, default_delay=args.customer_delay)
        except ScenarioError as exc:
            raise SystemExit(f"posbridge: {exc}") from None
        log.info("simulator: playing the scenario %s (%d payments)", args.scenario,
                 len(customer.steps))
    if customer is not None and hasattr(customer, "names"):
        customer.names = methods.names_by_code(codes, names)
    model = TerminalModel(customer_delay=args.customer_delay, condition_codes=codes,
                          condition_code_names=names, state_path=args.state,
                          customer=customer, settle_delay=args.settle_delay)
    return TerminalServer(model, serial=args.serial), host, port


async def _simulator(
    args: argparse.Namespace,
    built: tuple[Any, str, int] | None = None,
    started: Callable[[asyncio.AbstractEventLoop, asyncio.Event], None] | None = None,
) -> int:
    server, host, port = built or _build_simulator(args)
    model = server.model
    tcp = await server.listen_tcp(host, port)
    log.info("simulator: listening on tcp://%s:%d (payment methods %s)", host, port,
             methods.describe(model.condition_codes, methods.names_by_code(
                 model.condition_codes, model.condition_code_names)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if started is not None:
        started(loop, stop)
    from .stopping import stop_on_signals

    try:
        # With --window the loop runs in a thread (Tk has the main one): no handler can be
        # installed here, and the window's thread handles the signals.
        with stop_on_signals(loop, stop.set):
            await stop.wait()
    finally:
        tcp.close()
        await server.close()
    log.info("simulator: stopped")
    return 0


def _simulator_window(args: argparse.Namespace) -> int:
    """``posbridge simulator --window``: Tk on the main thread, the simulator's loop in a
    thread; closing the window (or SIGINT/SIGTERM) stops both."""
    import signal
    import threading

    try:
        import tkinter as tk
    except ImportError:
        raise SystemExit("posbridge: --window needs Tk, which this Python lacks (on Debian "
                         "and Ubuntu: apt-get install python3-tk)") from None
    from .simulator.screen import WindowCustomer
    from .simulator.window import STATE_ENV, TerminalWindow

    customer = WindowCustomer(args.customer_delay)
    built = _build_simulator(args, customer)  # bad flags end here, before any window
    try:
        root = tk.Tk(className="posbridge-terminal")
    except tk.TclError as exc:
        raise SystemExit(f"posbridge: --window cannot open a window ({exc}); is there a "
                         "display?") from None
    loops: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
    ended = threading.Event()
    failed: list[BaseException] = []
    model = built[0].model

    def started(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        customer.bind(lambda: model.drop_link(), loop)
        loops.append((loop, stop))

    def simulator_thread() -> None:
        try:
            _run(_simulator(args, built, started))
        except BaseException as exc:  # re-raised on the main thread once Tk is gone
            failed.append(exc)
        finally:
            ended.set()  # Tk is called from its own thread only: the watcher quits it

    def stop_all() -> None:
        for loop, stop in loops:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(stop.set)
        if not loops:
            root.quit()

    signalled: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, frame: signalled.append(number))

    def watch_signals() -> None:  # Python runs signal handlers between Tk's callbacks
        if ended.is_set():
            root.quit()
            return
        if signalled:
            signalled.clear()
            stop_all()
        root.after(100, watch_signals)

    state = os.environ.get(STATE_ENV)
    TerminalWindow(root, customer, state_file=Path(state) if state else None)
    root.protocol("WM_DELETE_WINDOW", stop_all)
    watch_signals()
    thread = threading.Thread(target=simulator_thread, name="simulator", daemon=True)
    thread.start()
    root.mainloop()
    stop_all()
    thread.join(10)
    root.destroy()
    if failed and not isinstance(failed[0], SystemExit | KeyboardInterrupt):
        raise failed[0]
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _build_parser(argv[0] if argv else None).parse_args(argv)
    if args.command == "openapi":
        from .http.openapi import dumps

        sys.stdout.write(dumps())
        return 0
    if hasattr(args, "func"):  # the API and journal tools
        code: int = args.func(args)
        return code
    _setup_logging(args.log_level, getattr(args, "log_file", None))
    try:
        if args.command == "serve":
            return _run(_serve(args))
        if args.window:
            return _simulator_window(args)
        return _run(_simulator(args))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"posbridge: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
