"""The ``posbridge`` command: serve the API, or run the terminal simulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from . import __version__, tools
from .gui import app as gui
from .http.security import (
    TOKEN_ENV,
    AccessPolicy,
    ConfigError,
)
from .journal import default_path
from .terminals import SPEC_HELP

DEFAULT_PORT = 8080
DEFAULT_SIM_LISTEN = "tcp://127.0.0.1:9100"

log = logging.getLogger("posbridge")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posbridge",
        description="Serve the PC POS USB API on this PC and carry each command to a "
        "payment terminal.",
        epilog="Quick start: posbridge serve --terminal simulator, then "
        "curl -X POST http://localhost:8080/CreatePayment -H 'x-api-version: v1' "
        "-d '{\"amount\": \"1.00\", \"retrieval_reference_number\": \"invoice-1\", "
        "\"condition_code\": \"82\"}'",
    )
    parser.add_argument("--version", action="version", version=f"posbridge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
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
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"port to listen on (default {DEFAULT_PORT})")
    serve.add_argument("--journal", metavar="PATH",
                       help="the payment journal (SQLite file); default: "
                       f"{default_path()}")
    serve.add_argument("--terminal-timeout", type=float, default=5.0, metavar="SECONDS",
                       help="how long to wait for the terminal to answer a command before "
                       "answering 504 and marking the payment unknown (default 5)")
    serve.add_argument("--max-amount", default="999999.99", metavar="AMOUNT",
                       help="the largest amount CreatePayment accepts (default 999999.99)")
    serve.add_argument("--customer-delay", type=float, default=2.0, metavar="SECONDS",
                       help="with --terminal simulator: how long the simulated customer "
                       "takes to pay (default 2)")
    serve.add_argument("--log-level", default="info",
                       choices=["debug", "info", "warning", "error"],
                       help="how much to log (default info: one line per payment step)")
    serve.add_argument("--log-file", metavar="PATH",
                       help="also write the log to this file (rotated at 5 MB, 5 kept); "
                       "the panel (posbridge gui) logs to "
                       "the user's log folder, see docs/operations.md")
    access = serve.add_argument_group(
        "access", "who may use the API (docs/security.md). Without these, only programs on "
        "this PC and no web page can use it.")
    access.add_argument("--token-file", metavar="PATH",
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
        "drops mid-payment; any other amount is approved after --customer-delay.",
    )
    sim.add_argument("--listen", default=DEFAULT_SIM_LISTEN, metavar="tcp://HOST:PORT",
                     help=f"where to listen for the bridge (default {DEFAULT_SIM_LISTEN})")
    sim.add_argument("--customer-delay", type=float, default=2.0, metavar="SECONDS",
                     help="how long the simulated customer takes to pay (default 2)")
    sim.add_argument("--condition-codes", default="00,01,08,59,82", metavar="CODES",
                     help="comma-separated condition codes the terminal supports "
                     "(default 00,01,08,59,82)")
    sim.add_argument("--state", metavar="PATH",
                     help="keep the terminal's own payment record in this JSON file so it "
                     "survives a restart (default: in memory only)")
    sim.add_argument("--settle-delay", type=float, default=0.0, metavar="SECONDS",
                     help="how long settling a batch takes before the terminal answers "
                     "(default 0; a real terminal settling with its acquirer can take over 5)")
    sim.add_argument("--serial", default="SIM-000001", help="the terminal's serial number")
    sim.add_argument("--log-level", default="info",
                     choices=["debug", "info", "warning", "error"])
    sub.add_parser("openapi", help="print the API's OpenAPI document (openapi.json)")
    from .devices import add_devices_command

    add_devices_command(sub)
    tools.add_api_commands(sub)
    tools.add_journal_command(sub, str(default_path()))
    gui.add_command(sub)
    return parser


def _setup_logging(level: str, log_file: str | None = None) -> None:
    from . import logs

    logging.basicConfig(level=getattr(logging, level.upper()), format=logs.FORMAT,
                        stream=sys.stderr)
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
    from .listener import Listener, ListenerConfig, ListenerError

    policy, token_source = _access_policy(args)
    listener = Listener(ListenerConfig(
        terminal=args.terminal, host=args.host, port=args.port,
        journal=Path(args.journal) if args.journal else None,
        terminal_timeout=args.terminal_timeout, max_amount=args.max_amount,
        customer_delay=args.customer_delay, policy=policy, token_source=token_source,
        access_log=args.log_level == "debug",
    ))
    try:
        await listener.run()
    except ListenerError as exc:
        raise SystemExit(f"posbridge: {exc}") from None
    return 0


def _access_policy(args: argparse.Namespace) -> tuple[AccessPolicy, str]:
    """The access policy from the flags and environment, and where the token came from (for
    the log: never the token itself)."""
    import os

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


async def _simulator(args: argparse.Namespace) -> int:
    from .simulator import TerminalModel, TerminalServer
    from .transports.tcp import parse_tcp_url

    host, port = parse_tcp_url(args.listen)
    codes = tuple(c.strip() for c in args.condition_codes.split(",") if c.strip())
    model = TerminalModel(customer_delay=args.customer_delay, condition_codes=codes,
                          state_path=args.state, settle_delay=args.settle_delay)
    server = TerminalServer(model, serial=args.serial)
    tcp = await server.listen_tcp(host, port)
    log.info("simulator: listening on tcp://%s:%d (condition codes %s)", host, port,
             ",".join(codes))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        tcp.close()
        await server.close()
    log.info("simulator: stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
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
        return _run(_simulator(args))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"posbridge: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
