"""The command-line tools beside `serve`: API commands through posbridge.client (pay, query,
cancel, void, batch), read-only journal tools (list, show, export), and ``journal
resolve``, which settles by hand a payment the terminal cannot answer for.

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
import contextlib
import csv
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .journal import Journal, JournalEvent, Payment

EXIT_OK, EXIT_ERROR, EXIT_NOT_PAID, EXIT_NOT_FINAL = 0, 1, 3, 4


class _Unreadable(Exception):
    """The journal could not be opened or read; the reason is already on stderr."""


@contextlib.contextmanager
def _reading(path: str) -> Iterator[Journal]:
    """The journal at ``path``, read-only (safe while posbridge serve writes it), closed on
    the way out. A file that cannot be opened, or read as a journal, is said on stderr and
    raised as _Unreadable, for the command to exit EXIT_ERROR."""
    from .journal import Journal, JournalError

    try:
        journal = Journal(path, readonly=True)
    except OSError as exc:
        print(f"posbridge: {exc}", file=sys.stderr)
        raise _Unreadable from None
    try:
        yield journal
    except (sqlite3.DatabaseError, JournalError) as exc:
        print(f"posbridge: cannot read {journal.path} as a posbridge journal: {exc}",
              file=sys.stderr)
        raise _Unreadable from None
    finally:
        journal.close()


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
    command("status", "show the terminal, its payment methods and the payment in progress "
            "(GET /health)")
    watch = command("watch", "follow payments and the terminal as they happen (GET /events), "
                    "one line per event, until Ctrl+C")
    watch.add_argument("--ref", help="only the events of this payment")
    watch.add_argument("--after", type=int, default=None, metavar="ID",
                       help="first replay the journal's events after this id (0: all)")


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
    resolve = what.add_parser(
        "resolve", help="settle by hand a payment the terminal can never answer for",
        description="Settle as paid or not paid a payment whose outcome the terminal can "
        "never tell (the terminal was replaced, or lost its records). Goes through the "
        "running bridge, which asks the terminal first and refuses while the terminal "
        "still answers for the payment. Recorded in the journal's history with your user "
        "name and the reason.")
    resolve.add_argument("ref")
    outcome = resolve.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--paid", action="store_true", help="the customer paid")
    outcome.add_argument("--not-paid", action="store_true", help="the customer did not pay")
    resolve.add_argument("--reason", required=True,
                         help="why (one line, kept in the journal's history)")
    resolve.add_argument("--url", default=os.environ.get("POSBRIDGE_URL",
                                                         "http://localhost:8080"),
                         help="the running bridge (default http://localhost:8080)")
    resolve.add_argument("--token-file", metavar="PATH",
                         help="the access token, if the bridge needs one (or POSBRIDGE_TOKEN)")
    resolve.add_argument("--without-terminal", action="store_true",
                         help="only when no bridge is running and no terminal will ever "
                         "answer for the payment: settle it in the journal directly, "
                         "without asking a terminal (recorded as such)")
    journal.set_defaults(func=_journal)


def add_receipt_command(sub: Any, default_journal: str) -> None:
    receipt = sub.add_parser(
        "receipt", help="print a payment's receipts (its own, its void's, its refunds')",
        description="Print the terminal's receipts of a payment from the journal (read-only, "
        "safe while posbridge serve runs): the customer's copy, or the merchant's.")
    receipt.add_argument("ref")
    receipt.add_argument("--journal", metavar="PATH", default=default_journal,
                         help=f"the journal file (default {default_journal})")
    receipt.add_argument("--merchant", action="store_true", help="the merchant's copy")
    receipt.add_argument("--refund", metavar="REFUND_REFERENCE",
                         help="only the receipt of this refund")
    receipt.add_argument("--json", action="store_true",
                         help="every receipt as JSON, with its structured fields")
    receipt.set_defaults(func=_receipts)


def _receipts(args: argparse.Namespace) -> int:
    try:
        with _reading(args.journal) as journal:
            if journal.get(args.ref) is None:
                print(f"posbridge: no payment {args.ref!r} in {journal.path}", file=sys.stderr)
                return EXIT_ERROR
            receipts = [r for r in journal.receipts(args.ref) if args.refund is None
                        or (r.kind, r.refund_ref) == ("refund", args.refund)]
    except _Unreadable:
        return EXIT_ERROR
    if not receipts:
        print(f"posbridge: no receipt for {args.ref!r} in the journal (the payment is not "
              "final, or the terminal gave none)", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps([{**r.fields, "kind": r.kind, "retrieval_reference_number": r.ref,
                           "refund_reference": r.refund_ref,
                           "merchant_copy": r.merchant_copy,
                           "customer_copy": r.customer_copy} for r in receipts],
                         indent=2, ensure_ascii=False))
        return EXIT_OK
    for i, r in enumerate(receipts):
        if i:
            print()
        # Lines from the terminal: printed as text, never as terminal control sequences.
        for line in r.merchant_copy if args.merchant else r.customer_copy:
            print(line if line.isprintable() else line.encode("unicode_escape").decode())
    return EXIT_OK


def add_report_command(sub: Any, default_journal: str) -> None:
    report = sub.add_parser(
        "report", help="the end-of-day report: X since the last batch, or Z of one batch",
        description="The X report (since the last batch: counts and totals by payment method "
        "and status, refunds and voids included) from the running bridge, compared with the "
        "terminal's own totals; or, with --batch, the Z report the journal kept when that "
        "batch settled (read from the journal: safe while posbridge serve runs, and works "
        "without it). Exits 5 when the journal and the terminal do not agree.")
    report.add_argument("--batch", type=int, metavar="N", help="the Z report of batch N")
    report.add_argument("--csv", action="store_true", help="CSV, one row per line")
    report.add_argument("--json", action="store_true", help="the report as JSON")
    report.add_argument("--journal", metavar="PATH", default=default_journal,
                        help=f"the journal file, for --batch (default {default_journal})")
    report.add_argument("--url", default=os.environ.get("POSBRIDGE_URL",
                                                        "http://127.0.0.1:8080"),
                        help="the bridge, for the X report (default %(default)s)")
    report.add_argument("--token-file", metavar="PATH",
                        help="read the bearer token from this file (else POSBRIDGE_TOKEN)")
    report.set_defaults(func=_report)


EXIT_MISMATCH = 5  # not 2: argparse exits 2 for a usage error


def _report(args: argparse.Namespace) -> int:
    if args.batch is not None and args.batch < 1:
        print(f"posbridge: --batch is a batch number, 1 or more (got {args.batch})",
              file=sys.stderr)
        return EXIT_ERROR
    report = _x_report(args) if args.batch is None else _z_report(args)
    if report is None:
        return EXIT_ERROR
    from . import reports

    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    elif args.csv:
        write_report_csv(sys.stdout, report)
    else:
        print(reports.text(report))
    if report["mismatch"]:
        print("posbridge: the journal and the terminal do not agree; see the MISMATCH lines",
              file=sys.stderr)
        return EXIT_MISMATCH
    return EXIT_OK


def _x_report(args: argparse.Namespace) -> dict[str, Any] | None:
    import httpx

    from .client import ApiError, Client

    try:
        with Client(args.url, token=_token(args)) as bridge:
            report: dict[str, Any] = bridge.report()["report"]
            return report
    except ApiError as exc:
        print(f"posbridge: {exc.status} {exc.code}: {exc.message}", file=sys.stderr)
    except httpx.TransportError as exc:
        print(f"posbridge: cannot reach the bridge at {args.url} ({exc}); the X report asks "
              "the terminal through it: is 'posbridge serve' running?", file=sys.stderr)
    except OSError as exc:
        print(f"posbridge: {exc}", file=sys.stderr)
    return None


def _z_report(args: argparse.Namespace) -> dict[str, Any] | None:
    try:
        with _reading(args.journal) as journal:
            report = journal.report(args.batch)
    except _Unreadable:
        return None
    if report is None:
        print(f"posbridge: no report of batch {args.batch} in {journal.path} (no such batch "
              "was settled, or it was settled before posbridge kept reports)", file=sys.stderr)
    return report


REPORT_COLUMNS = ("report", "batch_number", "source", "kind", "condition_code", "method",
                  "status", "count", "total")


def write_report_csv(out: TextIO, report: dict[str, Any]) -> None:
    """A report as CSV (``report --csv``): one row per line, the journal's (source
    ``journal``) then the terminal's (``terminal``), then a ``mismatch`` row per
    difference (its sentence under ``method``); cells guarded as in ``journal export``."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    head = [report["kind"], report["batch_number"]]
    for source, lines in (("journal", report["lines"]), ("terminal", report["terminal"] or [])):
        for ln in lines:
            writer.writerow([_cell(v) for v in (*head, source, ln["kind"],
                                                ln["condition_code"], ln["method"],
                                                ln["status"], ln["count"], ln["total"])])
    for m in report["mismatch"]:
        writer.writerow([_cell(v) for v in (*head, "mismatch", "", "", m, "", "", "")])


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
    elif args.command == "status":
        answer = pos.health()
        if not args.json:
            print(status_text(answer))
            return EXIT_OK
    elif args.command == "watch":
        return _watch(pos, args)
    else:
        answer = pos.submit_batch()
    _print(answer, args.json)
    return EXIT_OK


def status_text(health: dict[str, Any]) -> str:
    """``posbridge status``: the /health answer for a person, methods by name."""
    t = health.get("terminal", {})
    if t.get("connected"):
        lines = [f"terminal: connected since {t.get('since')}: {t.get('model') or '?'}, "
                 f"serial {t.get('serial') or '?'}, app {t.get('app_version') or '?'}"]
    else:
        why = f": {t['last_error']}" if t.get("last_error") else ""
        lines = [f"terminal: {t.get('state', 'unknown')}{why}"]
    lines.append(f"link: {t.get('link') or '?'}")
    found = t.get("payment_methods") or []
    if found:
        lines.append("payment methods (condition_code):")
        for m in found:
            qr = "  QR" if m.get("qr") else ""
            lines.append(f"  {m['condition_code']}  {m.get('name') or '(no name)'}{qr}")
    else:
        lines.append("payment methods: none known (the terminal is not connected)")
    current = health.get("payment_in_progress")
    lines.append("payment in progress: " + (
        f"{current['retrieval_reference_number']} ({current['status']})" if current
        else "none"))
    return "\n".join(lines)


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
        # "pending, QR shown": what the terminal shows the customer, when it says so.
        state = answer["status"] + {"qr_shown": ", QR shown",
                                    "waiting_for_customer": ", waiting for the customer"
                                    }.get(answer.get("stage") or "", "")
        line = f"{args.ref}: {state} ({time.monotonic() - started:.1f} s)"
        if tty:
            print(f"\r{line}   ", end="", file=sys.stderr, flush=True)
        elif last != [state]:
            print(line, file=sys.stderr, flush=True)
        last[:] = [state]

    # What the terminal shows now (its QR code came as the sale was accepted, before the
    # stream below opens: terminal events are not replayed).
    with contextlib.suppress(Exception):
        progress(pos.query_payment(args.ref))
    try:
        # Follows GET /events for the payment; polls only if the stream cannot be opened.
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


def _watch(pos: Any, args: argparse.Namespace) -> int:
    try:
        for event in pos.events(ref=args.ref, after=args.after):
            if args.json:
                print(json.dumps({"event": event.event, "id": event.id, "data": event.data},
                                 ensure_ascii=False), flush=True)
                continue
            data = event.data
            if event.event == "link":
                why = f" ({data['reason']})" if data.get("reason") else ""
                print(f"link      {data.get('state')}{why}", flush=True)
            elif event.event == "overflow":
                print(f"overflow  {data.get('reason')}", flush=True)
            else:
                shown = data.get("status") or ""
                extra = f"  now {shown}" if shown and shown != data.get("to_status") else ""
                print(f"{event.id:>8}  {data.get('at', '')[:23]}  {event.event:8} "
                      f"{data.get('ref', '')}  {data.get('from_status') or '-'} -> "
                      f"{data.get('to_status')}{extra}", flush=True)
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


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
#: The CSV cells a spreadsheet must show as text, never run as a formula: those whose text
#: comes from outside (a reference such as ``=HYPERLINK(...)`` from the POS, the amount as
#: the POS sent it, the terminal's codes). The others are written by posbridge itself
#: (status, times) or checked against a fixed list (condition code).
GUARDED = ("ref", "amount", "response_code", "transaction_id")


def _cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: a reference such as ``=HYPERLINK(...)``
    from the POS must not become a formula on the accountant's PC. (``journal export``
    applies the same guard in SQL; this is for the support bundle's rows.)"""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_payments_csv(out: TextIO, payments: Iterable[Payment]) -> None:
    """``payments`` as CSV (``journal export --csv``; the support bundle's payments.csv)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for p in payments:
        writer.writerow([_cell(getattr(p, c)) for c in COLUMNS])


EVENT_COLUMNS = ("ref", "at", "from_status", "to_status", "detail")


def write_events_csv(out: TextIO, events: Iterable[JournalEvent]) -> None:
    """Journal events (each change of a payment's status) as CSV, cells as in
    ``write_payments_csv``."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    for e in events:
        writer.writerow([_cell(getattr(e, c)) for c in EVENT_COLUMNS])
def _resolve(args: argparse.Namespace) -> int:
    """Through the running bridge (the journal's only writer: it holds the lock and keeps
    payments in memory, so no other process may write under it); the journal itself only
    when no bridge holds it, and then only with --without-terminal, since nobody can ask
    the terminal."""
    import getpass

    import httpx

    from .client import ApiError, Client

    by, reason = getpass.getuser(), args.reason
    try:
        with Client(args.url, token=_token(args)) as bridge:
            answer = bridge.resolve_payment(args.ref, paid=args.paid, reason=reason, by=by)
        print(f"{args.ref}: {answer['status']} (transaction_status "
              f"{answer['transaction_status']}), settled by hand by {by}")
        return EXIT_OK
    except ApiError as exc:
        print(f"posbridge: {exc.status} {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except httpx.TransportError as exc:
        unreachable = str(exc)
    except OSError as exc:
        print(f"posbridge: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return _resolve_offline(args, by, unreachable)


def _resolve_offline(args: argparse.Namespace, by: str, unreachable: str) -> int:
    from . import payments
    from .journal import Journal, JournalError, JournalInUse
    from .payments import OpKind, OpState

    try:
        journal = Journal(args.journal)  # takes the lock: refused while a bridge owns it
    except JournalInUse as exc:
        print(f"posbridge: cannot reach the bridge at {args.url} ({unreachable}), yet {exc}. "
              "Give the bridge's address with --url", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, RuntimeError) as exc:
        print(f"posbridge: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        if not args.without_terminal:
            print(f"posbridge: no bridge is running (nothing answers at {args.url}). A "
                  "payment is settled by hand only after the terminal was asked about it: "
                  "start 'posbridge serve' with the terminal (or its replacement) connected "
                  "and run this again. If no terminal can ever answer for it, add "
                  "--without-terminal", file=sys.stderr)
            return EXIT_ERROR
        payments.check_reason(args.reason)
        payment = journal.get(args.ref)
        if payment is None:
            print(f"posbridge: no payment {args.ref!r} in {journal.path}", file=sys.stderr)
            return EXIT_ERROR
        voids = [op for op in journal.open_ops(OpKind.VOID) if op.ref == args.ref]
        status = payments.resolved_status(payments.Status(payment.status), bool(voids),
                                          args.paid)
        if status is None:
            print(f"posbridge: payment {args.ref!r} is {payment.status}: its outcome is "
                  "known, there is nothing to settle by hand", file=sys.stderr)
            return EXIT_ERROR
        outcome = "paid" if args.paid else "not paid"
        detail = (f"settled by hand by {by} as {outcome} without asking a terminal (no bridge "
                  f"was running; --without-terminal): {args.reason}")
        with journal.atomic():
            resolved = journal.resolve(args.ref, status, by, detail)
            for op in journal.open_ops():
                if op.ref == args.ref and op.kind in (OpKind.VOID, OpKind.CANCEL):
                    done = (resolved.status == payments.VOIDED if op.kind == OpKind.VOID
                            else resolved.status == payments.CANCELLED)
                    journal.close_op(op.id, OpState.DONE if done else OpState.NOT_DONE,
                                     f"the payment was settled by hand as {outcome}")
        print(f"{args.ref}: {resolved.status}, settled by hand by {by} without a terminal")
        return EXIT_OK
    except payments.InvalidInput as exc:
        print(f"posbridge: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except JournalError as exc:
        print(f"posbridge: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        journal.close()


def _journal(args: argparse.Namespace) -> int:
    if args.journal_command == "resolve":
        return _resolve(args)
    try:
        with _reading(args.journal) as journal:
            return _read_journal(args, journal)
    except _Unreadable:
        return EXIT_ERROR


def _read_journal(args: argparse.Namespace, journal: Journal) -> int:
    """``posbridge journal list``, ``show`` or ``export`` on an open journal."""
    if args.journal_command == "list":
        # Streamed, as are show and export: --limit -1 on a journal of a million
        # payments prints them all in the memory of a few rows.
        print(f"{'created (UTC)':23}  {'reference':24} {'amount':>10}  cc  {'status':9}  "
              "code  batch")
        count = 0
        for p in journal.iter_payments(args.limit, args.status):
            count += 1
            print(f"{p.created_at[:23]:23}  {p.ref[:24]:24} {p.amount:>10}  "
                  f"{p.condition_code:2}  {p.status:9}  {p.response_code or '':4}  "
                  f"{p.batch_number or ''}")
        print(f"{count} payment(s)")
    elif args.journal_command == "show":
        payment = journal.get(args.ref)
        if payment is None:
            print(f"posbridge: no payment {args.ref!r} in {journal.path}", file=sys.stderr)
            return EXIT_ERROR
        for column in COLUMNS:
            print(f"{column:15} {getattr(payment, column)}")
        if payment.resolved_by:
            print(f"{'settled by hand':15} by {payment.resolved_by} (see the history)")
        refunds = journal.refunds(args.ref)
        if refunds:
            print("refunds:")
            for refund in refunds:
                print(f"  {refund.created_at[:23]}  {refund.refund_ref:24} "
                      f"{refund.amount:>10}  {refund.status:9}  {refund.transaction_id}")
        print("history:")
        for event in journal.iter_events(args.ref):
            kind = "" if event.kind == "payment" else f"[{event.kind}] "
            print(f"  {event.at}  {event.from_status or '-':9} -> {event.to_status:9}  "
                  f"{kind}{event.detail}")
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        # Rows go from SQLite's cursor to the CSV writer with no Python step per cell;
        # the formula guard is applied in the query.
        writer.writerows(journal.export_rows(COLUMNS, guard=GUARDED))
    return EXIT_OK
