"""The journal's streaming reads (what `posbridge journal list/show/export` use): the right
rows in the right order, the formula guard, and memory that does not grow with the journal.

Memory is measured with tracemalloc (Python allocations; deterministic, not a timing): a
read that built every row at once would hold thousands of them at its peak.
"""

from __future__ import annotations

import sqlite3
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from posbridge.journal import APPROVED, DECLINED, PENDING, Journal

ROWS = 5000


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3")
    yield j
    j.close()


def fill(journal: Journal, n: int) -> None:
    for i in range(n):
        journal.create(f"ref-{i:05d}", "1.00", 100, "82")


def fill_quickly(journal: Journal, n: int) -> None:
    """``n`` payments in one transaction (one commit instead of ``n``)."""
    with sqlite3.connect(journal.path) as db:
        db.executemany(
            "INSERT INTO payments (ref, amount, amount_minor, condition_code, status, "
            "created_at, updated_at) VALUES (?, '1.00', 100, '82', 'received', ?, ?)",
            ((f"ref-{i:05d}", f"2026-01-01T00:00:{i:05d}", f"2026-01-01T00:00:{i:05d}")
             for i in range(n)))


def test_iter_payments_newest_written_first_with_limit_and_status(journal: Journal) -> None:
    fill(journal, 5)
    journal.transition("ref-00001", PENDING, "sent")
    journal.transition("ref-00001", APPROVED, "paid")
    journal.transition("ref-00003", DECLINED, "declined")
    assert [p.ref for p in journal.iter_payments()] == [f"ref-0000{i}" for i in (4, 3, 2, 1, 0)]
    assert [p.ref for p in journal.iter_payments(2)] == ["ref-00004", "ref-00003"]
    assert [p.ref for p in journal.iter_payments(status=APPROVED)] == ["ref-00001"]
    assert [p.ref for p in journal.iter_payments(-1, "received")] == [
        "ref-00004", "ref-00002", "ref-00000"]
    # The same payments as recent() gives, field for field.
    assert list(journal.iter_payments()) == journal.recent(-1)


def test_iter_events_is_the_history_oldest_first(journal: Journal) -> None:
    fill(journal, 1)
    journal.transition("ref-00000", PENDING, "sent")
    journal.transition("ref-00000", APPROVED, "paid")
    history = list(journal.iter_events("ref-00000"))
    assert [(e.from_status, e.to_status) for e in history] == [
        (None, "received"), ("received", PENDING), (PENDING, APPROVED)]
    assert history == journal.events("ref-00000")


def test_export_rows_oldest_first_with_the_formula_guard(journal: Journal) -> None:
    refs = ["plain", "=HYPERLINK(1)", "+1", "-2", "@SUM", "\tTAB", "\rCR", "mid=dle"]
    for ref in refs:
        journal.create(ref, "1.00", 100, "82")
    guarded = list(journal.export_rows(("ref", "amount", "batch_number"), guard=("ref",)))
    assert guarded == [
        ("plain", "1.00", None), ("'=HYPERLINK(1)", "1.00", None), ("'+1", "1.00", None),
        ("'-2", "1.00", None), ("'@SUM", "1.00", None), ("'\tTAB", "1.00", None),
        ("'\rCR", "1.00", None), ("mid=dle", "1.00", None)]
    assert [r[0] for r in journal.export_rows(("ref",))] == refs  # unguarded: as stored


def test_export_rows_refuses_a_name_that_is_not_a_column(journal: Journal) -> None:
    with pytest.raises(ValueError, match="not payment columns: nope"):
        list(journal.export_rows(("ref", "nope")))
    with pytest.raises(ValueError, match="not payment columns"):
        list(journal.export_rows(("ref FROM payments; DROP TABLE payments; --",)))
    with pytest.raises(ValueError, match="not payment columns: x"):
        list(journal.export_rows(("ref",), guard=("x",)))


def peak_bytes(read: Callable[[], Iterable[object]]) -> int:
    """The peak of Python allocations while ``read()`` is made and consumed one item at a
    time."""
    tracemalloc.start()
    try:
        for _ in read():
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("read", ["iter_payments", "export_rows"])
def test_streaming_reads_hold_a_few_rows_not_the_journal(journal: Journal, read: str) -> None:
    fill_quickly(journal, ROWS)
    whole = peak_bytes(lambda: journal.recent(-1))  # the control: every row at once
    if read == "iter_payments":
        streamed = peak_bytes(journal.iter_payments)
    else:
        streamed = peak_bytes(lambda: journal.export_rows(("ref", "amount", "created_at")))
    assert whole > 1_000_000  # 5,000 payments held at once are megabytes
    assert streamed < whole / 20
