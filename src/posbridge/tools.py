"""The command-line tools beside `serve`: API commands through posbridge.client (pay, query,
cancel, void, batch) and read-only journal tools (list, show, export).

Exit status of the API commands, for scripts:

====  ==========================================================================
0     done; for ``pay --wait`` the payment is approved
1     posbridge refused the command (its code is printed: nothing was started and the
      same command may be sent again), or could not be reached
3     ``pay --wait``: the payment ended but is not paid (declined, cancelled,
      timed out or failed)
4     the payment's outcome is not known yet: ``pay`` got a 504 or lost the connection
      after sending, or ``pay --wait`` was still pending or unknown when ``--timeout`` ran
      out. Keep querying it; do not start a new payment (``pay --wait`` itself keeps
      querying through a 504 and through a bridge that cannot be reached for a while)
====  ==========================================================================
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import sys
import time
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_NOT_PAID, EXIT_NOT_FINAL = 0, 1, 3, 4


def add_api_commands(sub: Any) -> None:
    def command(name: str, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
        p.add_argument("--url", default=os.environ.get("POSBRIDGE_URL",
                                                       "http://localhost:8080"),
                       help="the bridge (default http://localhost:8080, or POSBRIDGE_URL)")
        p.add_argument("--token-file", metavar="PATH",
                       help="the access token, if the bridge needs one (or POSBRIDGE_TOKEN)")
        p.add_argument("--json", action="store_true", help="print the JSON answer")
        p.set_defaults(func=_api)
        return p

    pay = command("pay", "take a payment on the terminal (CreatePayment)")
    pay.add_argument("amount", help='the amount, e.g. "12.50"')
    pay.add_argument("--ref", required=True, help="retrieval_reference_number (e.g. invoice)")
    pay.add_argument("--condition-code", default="82", help="default 82")
    pay.add_argument("--wait", action="store_true",
                     help="wait until the payment is final, showing progress; the exit "
                     "status says how it ended (0 approved, 3 not paid, 4 not final yet)")
    pay.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                     help="with --wait: give up waiting after this long (exit 4)")
    query = command("query", "show a payment's state (QueryPayment)")
    query.add_argument("ref")
    command("cancel", "cancel the payment in progress (CancelPayment)")
    void = command("void", "void an approved payment (VoidPayment)")
    void.add_argument("ref")
    command("batch", "submit the day's batch (SubmitBatch)")


def add_journal_command(sub: Any, default_journal: str) -> None:
    journal = sub.add_parser(
        "journal", help="read the payment journal (safe while the bridge runs)",
        description="Read the payment journal for support and reconciliation. Opens it "
        "read-only, so it is safe while posbridge serve is running.")
    journal.add_argument("--journal", metavar="PATH", default=default_journal,
                         help=f"the journal file (default {default_journal})")
    what = journal.add_subparsers(dest="journal_command", required=True, metavar="ACTION")
    listing = what.add_parser("list", help="the latest payments, newest first")
    listing.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    listing.add_argument("--status", help="only payments with this status")
    show = what.add_parser("show", help="one payment and every change it went through")
    show.add_argument("ref")
    export = what.add_parser("export", help="every payment as CSV, oldest first")
    export.add_argument("--csv", action="store_true", required=True,
                        help="CSV on standard output (the only format)")
    journal.set_defaults(func=_journal)


# -- API commands ----------------------------------------------------------------------


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            return f.readline().strip()
    return os.environ.get("POSBRIDGE_TOKEN") or None


def _api(args: argparse.Namespace) -> int:
    import httpx

    from .client import ApiError, Client

    try:
        with Client(args.url, token=_token(args)) as pos:
            return _run_api(pos, args)
    except ApiError as exc:
        if args.json:
            print(json.dumps(exc.body, indent=2, ensure_ascii=False))
        print(f"posbridge: {exc.status} {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except httpx.TransportError as exc:
        print(f"posbridge: cannot reach the bridge at {args.url} ({exc}); is "
              "'posbridge serve' running?", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"posbridge: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _run_api(pos: Any, args: argparse.Namespace) -> int:
    if args.command == "pay":
        try:
            answer = pos.create_payment(args.amount, args.ref, args.condition_code)
        except Exception as exc:
            if not _outcome_unknown(exc):
                raise  # refused: nothing was recorded, the same command may be sent again
            print(f"posbridge: {exc}; the payment's outcome is not known yet", file=sys.stderr)
            if not args.wait:
                print(f"posbridge: query it (posbridge query {args.ref}); do not start a new "
                      "payment", file=sys.stderr)
                return EXIT_NOT_FINAL
            return _wait(pos, args)
        if args.wait:
            return _wait(pos, args)
    elif args.command == "query":
        answer = pos.query_payment(args.ref)
    elif args.command == "cancel":
        answer = pos.cancel_payment()
    elif args.command == "void":
        answer = pos.void_payment(args.ref)
    else:
        answer = pos.submit_batch()
    _print(answer, args.json)
    return EXIT_OK


def _outcome_unknown(exc: Exception) -> bool:
    """Whether CreatePayment may have started a payment although it raised: a 504 or 500,
    or the connection failed after the request was sent."""
    import httpx

    from .client import ApiError

    if isinstance(exc, ApiError):
        return (exc.code in ("TERMINAL_TIMEOUT", "INTERNAL_ERROR")
                or exc.body.get("status") == "unknown")
    if isinstance(exc, httpx.TransportError):
        return not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
    return False


def _wait(pos: Any, args: argparse.Namespace) -> int:
    started = time.monotonic()
    tty = sys.stderr.isatty()
    last: list[str] = []

    def progress(answer: dict[str, Any]) -> None:
        line = f"{args.ref}: {answer['status']} ({time.monotonic() - started:.1f} s)"
        if tty:
            print(f"\r{line}   ", end="", file=sys.stderr, flush=True)
        elif last != [answer["status"]]:
            print(line, file=sys.stderr, flush=True)
        last[:] = [answer["status"]]

    try:
        answer = pos.wait_final(args.ref, poll=0.3, timeout=args.timeout, progress=progress)
    except TimeoutError as exc:
        if tty:
            print(file=sys.stderr)
        print(f"posbridge: {exc}; query it again later, do not start a new payment",
              file=sys.stderr)
        return EXIT_NOT_FINAL
    if tty:
        print(file=sys.stderr)
    _print(answer, args.json)
    return EXIT_OK if answer["status"] == "approved" else EXIT_NOT_PAID


def _print(answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return
    shown = {k: v for k, v in answer.items() if k not in ("success", "message")}
    print(answer.get("message", ""))
    for key, value in shown.items():
        print(f"  {key}: {value}")


# -- journal ---------------------------------------------------------------------------

COLUMNS = ("ref", "amount", "condition_code", "status", "response_code", "transaction_id",
           "batch_number", "created_at", "updated_at")


def _cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: a reference such as ``=HYPERLINK(...)``
    from the POS must not become a formula on the accountant's PC."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _journal(args: argparse.Namespace) -> int:
    from .journal import Journal, JournalError

    try:
        journal = Journal(args.journal, readonly=True)
    except (FileNotFoundError, OSError) as exc:
        print(f"posbridge: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        if args.journal_command == "list":
            payments = journal.recent(args.limit, args.status)
            print(f"{'created (UTC)':23}  {'reference':24} {'amount':>10}  cc  {'status':9}  "
                  "code  batch")
            for p in payments:
                print(f"{p.created_at[:23]:23}  {p.ref[:24]:24} {p.amount:>10}  "
                      f"{p.condition_code:2}  {p.status:9}  {p.response_code or '':4}  "
                      f"{p.batch_number or ''}")
            print(f"{len(payments)} payment(s)")
        elif args.journal_command == "show":
            payment = journal.get(args.ref)
            if payment is None:
                print(f"posbridge: no payment {args.ref!r} in {journal.path}", file=sys.stderr)
                return EXIT_ERROR
            for column in COLUMNS:
                print(f"{column:15} {getattr(payment, column)}")
            print("history:")
            for event in journal.events(args.ref):
                print(f"  {event.at}  {event.from_status or '-':9} -> {event.to_status:9}  "
                      f"{event.detail}")
        else:
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(COLUMNS)
            for p in reversed(journal.recent(-1)):
                writer.writerow([_cell(getattr(p, c)) for c in COLUMNS])
    except (sqlite3.DatabaseError, JournalError) as exc:
        print(f"posbridge: cannot read {journal.path} as a posbridge journal: {exc}",
              file=sys.stderr)
        return EXIT_ERROR
    finally:
        journal.close()
    return EXIT_OK
