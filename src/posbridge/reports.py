"""End of day: the X report (since the last batch) and the Z report (one settled batch).

Pure: no sqlite, no asyncio. A report is built from the journal's items of one period (what
``Journal.period_items`` reads) and, for an X report, compared with the terminal's own
totals (the link's ``totals_result``); a Z report is compared with the batch the terminal
settled (``batch_result``). Any difference is listed in ``mismatch``, one sentence each,
and the text output starts with a loud line.

The period of an item: a payment belongs to the period in which it was created (an
approved payment to the batch that settled it); a refund to the period in which it was
sent. Both sides count the same way: the simulator keeps the period of each of its
payments and refunds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import methods
from .payments import format_minor

#: Payment statuses a terminal reports (the journal's received, unknown and failed are
#: not known to it, and are not compared).
TERMINAL_STATUSES = ("pending", "approved", "declined", "cancelled", "timed_out", "voided")


@dataclass(frozen=True)
class Item:
    """One payment or refund of the period."""

    kind: str  # "payment" or "refund"
    condition_code: str
    status: str
    amount_minor: int


@dataclass(frozen=True)
class Line:
    """The count and total of one kind, payment method and status."""

    kind: str
    condition_code: str
    status: str
    count: int
    total_minor: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.condition_code, self.status)


def tally(items: Iterable[Item]) -> list[Line]:
    """Items added up by kind, condition code and status, in a stable order."""
    sums: dict[tuple[str, str, str], list[int]] = {}
    for item in items:
        entry = sums.setdefault((item.kind, item.condition_code, item.status), [0, 0])
        entry[0] += 1
        entry[1] += item.amount_minor
    return [Line(k, c, s, n, t) for (k, c, s), (n, t) in sorted(sums.items())]


def encode_lines(lines: Iterable[Line]) -> tuple[str, ...]:
    """Lines as the link carries them: ``kind:condition_code:status:count:total``."""
    return tuple(f"{ln.kind}:{ln.condition_code}:{ln.status}:{ln.count}:{ln.total_minor}"
                 for ln in lines)


def decode_lines(rows: Iterable[str]) -> list[Line]:
    """The link's rows as lines; a row that is not well formed raises ValueError."""
    out = []
    for row in rows:
        parts = row.split(":")
        if len(parts) != 5 or not parts[3].isdigit() or not parts[4].isdigit():
            raise ValueError(f"a totals row is not kind:code:status:count:total: {row!r}")
        out.append(Line(parts[0], parts[1], parts[2], int(parts[3]), int(parts[4])))
    return out


def _compared(lines: Iterable[Line]) -> dict[tuple[str, str, str], Line]:
    """What a terminal can be compared on: payments in its statuses, approved refunds."""
    return {ln.key: ln for ln in lines
            if (ln.kind == "payment" and ln.status in TERMINAL_STATUSES)
            or (ln.kind == "refund" and ln.status == "approved")}


def _what(key: tuple[str, str, str], names: dict[str, str] | None) -> str:
    kind, code, status = key
    return f"{methods.name_of(code, names)} ({code}) {status} {kind}s"


def _amounts(line: Line | None) -> str:
    return "none" if line is None else f"{line.count} for {format_minor(line.total_minor)}"


def compare(journal: Sequence[Line], terminal: Sequence[Line],
            names: dict[str, str] | None = None) -> list[str]:
    """Every difference between the journal's lines and the terminal's, one sentence each."""
    ours, theirs = _compared(journal), _compared(terminal)
    return [f"{_what(key, names)}: journal {_amounts(ours.get(key))}, terminal "
            f"{_amounts(theirs.get(key))}"
            for key in sorted(set(ours) | set(theirs)) if ours.get(key) != theirs.get(key)]


def compare_batch(items: Sequence[Item], count: int, total_minor: int) -> list[str]:
    """A Z report's check: the approved payments the journal settled in the batch against
    the count and total the terminal answered the batch with."""
    settled = [i for i in items if i.kind == "payment" and i.status == "approved"]
    mine = (len(settled), sum(i.amount_minor for i in settled))
    if mine == (count, total_minor):
        return []
    return [f"settled payments: journal {mine[0]} for {format_minor(mine[1])}, terminal's "
            f"batch {count} for {format_minor(total_minor)}"]


def build(items: Sequence[Item], *, kind: str, batch_number: int | None = None,
          since_batch: int = 0, terminal: Sequence[Line] | None = None,
          mismatch: Sequence[str] = (), names: dict[str, str] | None = None,
          terminal_problem: str = "") -> dict[str, Any]:
    """A report as a JSON-able dict: ``kind`` "X" or "Z"; the lines by method and status;
    per method and per status; the net (approved payments less approved refunds); the
    terminal's lines when asked; and every difference in ``mismatch``."""
    lines = tally(items)
    by_method: dict[str, list[int]] = {}
    by_status: dict[tuple[str, str], list[int]] = {}
    for ln in lines:
        m = by_method.setdefault(ln.condition_code, [0, 0, 0, 0])
        if ln.status == "approved":
            m[0 if ln.kind == "payment" else 2] += ln.count
            m[1 if ln.kind == "payment" else 3] += ln.total_minor
        s = by_status.setdefault((ln.kind, ln.status), [0, 0])
        s[0] += ln.count
        s[1] += ln.total_minor
    sales = sum(ln.total_minor for ln in lines if ln.kind == "payment" and
                ln.status == "approved")
    refunds = sum(ln.total_minor for ln in lines if ln.kind == "refund" and
                  ln.status == "approved")
    if terminal is not None:
        mismatch = [*mismatch, *compare(lines, terminal, names)]
    return {
        "kind": kind,
        "batch_number": batch_number,
        "since_batch": since_batch,
        "lines": [_line(ln, names) for ln in lines],
        "by_method": [{"condition_code": code, "method": methods.name_of(code, names),
                       "approved_count": v[0], "approved_total": format_minor(v[1]),
                       "refunded_count": v[2], "refunded_total": format_minor(v[3]),
                       "net": format_minor(v[1] - v[3])}
                      for code, v in sorted(by_method.items())],
        "by_status": [{"kind": k, "status": s, "count": v[0], "total": format_minor(v[1])}
                      for (k, s), v in sorted(by_status.items())],
        "net": _signed(sales - refunds),
        "terminal": None if terminal is None else [_line(ln, names) for ln in terminal],
        "terminal_problem": terminal_problem or None,
        "mismatch": list(mismatch),
    }


def _signed(minor: int) -> str:
    return format_minor(minor) if minor >= 0 else "-" + format_minor(-minor)


def _line(ln: Line, names: dict[str, str] | None) -> dict[str, Any]:
    return {"kind": ln.kind, "condition_code": ln.condition_code,
            "method": methods.name_of(ln.condition_code, names), "status": ln.status,
            "count": ln.count, "total": format_minor(ln.total_minor)}


def _clean(text: object) -> str:
    """A value for one line of text: never a terminal control sequence or a line break."""
    s = str(text)
    return s if s.isprintable() else s.encode("unicode_escape").decode("ascii")


def text(report: dict[str, Any]) -> str:
    """The report for a person (the CLI, the panel's confirmation)."""
    out = []
    if report["mismatch"]:
        out.append("!!! MISMATCH: the journal and the terminal do not agree !!!")
        out.extend(f"!!! {_clean(m)}" for m in report["mismatch"])
        out.append("")
    if report["kind"] == "Z":
        out.append(f"Z report: batch {report['batch_number']}")
    else:
        since = report["since_batch"]
        out.append(f"X report: since batch {since}" if since else "X report: since the "
                   "first payment")
    if not report["lines"]:
        out.append("  no payments and no refunds")
    for ln in report["lines"]:
        out.append(f"  {_clean(ln['method'] or ln['condition_code']):12} {_clean(ln['kind']):8} "
                   f"{_clean(ln['status']):10} {ln['count']:>4}  SGD {ln['total']:>10}")
    out.append(f"  net (approved payments less refunds): SGD {report['net']}")
    if report["terminal"] is not None and not report["mismatch"]:
        out.append("  the terminal's totals agree")
    if report.get("terminal_problem"):
        out.append(f"  the terminal's totals were not compared: "
                   f"{_clean(report['terminal_problem'])}")
    return "\n".join(out)
