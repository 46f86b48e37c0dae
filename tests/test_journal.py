"""The payment journal on real SQLite files: WAL + synchronous=FULL, schema migration, the
transition table, batches, and durability/concurrency across real processes."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posbridge.journal import (
    ACTIVE,
    APPROVED,
    BUSY_TIMEOUT_MS,
    CANCELLED,
    DECLINED,
    FAILED,
    FINAL,
    PENDING,
    RECEIVED,
    SCHEMA_VERSION,
    TIMED_OUT,
    TRANSITIONS,
    UNKNOWN,
    VOIDED,
    IllegalTransition,
    Journal,
)
from posbridge.payments import RefundStatus

ALL_STATUSES = (*ACTIVE, *FINAL)


@pytest.fixture
def journal(journal_path: Path) -> Iterator[Journal]:
    j = Journal(journal_path)
    try:
        yield j
    finally:
        j.close()


@contextlib.contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection that is really closed afterwards (sqlite3's own context
    manager only commits)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        yield db
    finally:
        db.close()


def wal_file(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


# -- file format ------------------------------------------------------------------------


def test_connection_uses_wal_and_synchronous_full(journal: Journal, journal_path: Path) -> None:
    db = journal._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS

    journal.create("r1", "1.00", 100, "82")
    assert wal_file(journal_path).exists()
    assert wal_file(journal_path).stat().st_size > 0
    # WAL mode is a property of the file: another connection sees it too.
    with raw(journal_path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_creates_missing_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.sqlite3"
    j = Journal(path)
    j.close()
    assert path.is_file()


def test_schema_version_is_5_and_reopening_keeps_data(journal_path: Path) -> None:
    assert SCHEMA_VERSION == 5
    j = Journal(journal_path)
    j.create("r1", "1.00", 100, "82")
    j.transition("r1", PENDING, "sent")
    settle(j, 7, [])
    before, events_before = j.get("r1"), j.events("r1")
    j.close()

    for _ in range(2):  # the migration is idempotent: open the same file again and again
        j = Journal(journal_path)
        try:
            assert j.get("r1") == before
            assert j.events("r1") == events_before
            assert j.last_batch_number() == 7
        finally:
            j.close()
        with raw(journal_path) as db:
            assert db.execute("SELECT version FROM schema_version").fetchall() == [(5,)]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master "
                                               "WHERE type = 'table'")}
            assert {"payments", "events", "batches", "operations", "refunds",
                    "reports", "schema_version"} <= tables


def test_a_version_1_journal_is_migrated_with_its_payments_events_and_batches(
        journal_path: Path) -> None:
    """A journal written by the first posbridge (schema 1): built here from that schema,
    then opened by this one."""
    from posbridge.journal import _MIGRATIONS

    with raw(journal_path) as db:
        db.executescript(_MIGRATIONS[0])
        db.executescript("""
            CREATE TABLE schema_version (version INTEGER NOT NULL);
            INSERT INTO schema_version VALUES (1);
            INSERT INTO payments (ref, amount, amount_minor, condition_code, status,
                response_code, transaction_id, batch_number, created_at, updated_at)
                VALUES ('old', '5.00', 500, '82', 'approved', '00', 'T9', 3, 'a', 'b');
            INSERT INTO events (ref, at, from_status, to_status, detail)
                VALUES ('old', 'a', NULL, 'received', 'amount 5.00');
            INSERT INTO batches VALUES (3, '2026-11-01T00:00:00Z', 1, 500);
        """)
    j = Journal(journal_path)
    try:
        old = j.get("old")
        assert old is not None
        assert (old.status, old.batch_number, old.origin) == (APPROVED, 3, "pos")
        [event] = j.events("old")
        assert (event.kind, event.to_status) == ("payment", RECEIVED)
        [batch] = j.batches()
        assert (batch.terminal, batch.batch_number, batch.count, batch.total_minor,
                batch.state) == ("", 3, 1, 500, "done")
        assert j.last_batch_number() == 3
        assert j.open_ops() == []
        assert j.refunds("old") == []
    finally:
        j.close()


def test_a_version_2_journal_gains_refunds_and_keeps_its_operations(
        journal_path: Path) -> None:
    """A journal written by issue 13's posbridge (schema 2), opened by this one."""
    from posbridge.journal import _MIGRATIONS

    with raw(journal_path) as db:
        db.executescript(_MIGRATIONS[0])
        db.executescript(_MIGRATIONS[1])
        db.executescript("""
            CREATE TABLE schema_version (version INTEGER NOT NULL);
            INSERT INTO schema_version VALUES (2);
            INSERT INTO payments (ref, amount, amount_minor, condition_code, status,
                created_at, updated_at) VALUES ('p', '5.00', 500, '82', 'approved', 'a', 'b');
            INSERT INTO operations (kind, ref, state, created_at, updated_at)
                VALUES ('void', 'p', 'refused', 'a', 'b');
        """)
    j = Journal(journal_path)
    try:
        void = j.last_op("void")
        assert void is not None and void.state == "refused"
        op, record = j.begin_refund("r1", "p", "1.00", 100)
        assert (record.status, record.op_id, op.kind) == ("unknown", op.id, "refund")
    finally:
        j.close()


def test_a_refund_is_journaled_as_sent_and_its_outcome_is_written_once(
        journal: Journal) -> None:
    journal.create("p", "5.00", 500, "82")
    op, record = journal.begin_refund("r1", "p", "2.00", 200)
    assert (record.ref, record.amount, record.status) == ("p", "2.00", "unknown")
    assert [o.id for o in journal.open_ops("refund")] == [op.id]
    assert journal.refund_of_op(op.id) == record
    done = journal.finish_refund("r1", RefundStatus.APPROVED, "refunded")
    again = journal.finish_refund("r1", RefundStatus.FAILED, "a stale answer")
    assert done.status == again.status == "approved"
    assert journal.open_ops("refund") == []
    refund_events = [(e.kind, e.to_status) for e in journal.events("p") if e.kind == "refund"]
    assert refund_events == [("refund", "sent"), ("refund", "done")]
    # A refused refund sent again starts over under the same reference, with a new operation.
    journal.begin_refund("r2", "p", "1.00", 100)
    journal.finish_refund("r2", RefundStatus.REFUSED, "declined")
    op2, retried = journal.begin_refund("r2", "p", "1.00", 100)
    assert (retried.status, retried.op_id) == ("unknown", op2.id)
    assert [r.refund_ref for r in journal.refunds("p")] == ["r1", "r2"]
    journal.delete_refund("r2")
    assert journal.refund("r2") is None


def test_newer_schema_version_is_refused(journal_path: Path) -> None:
    j = Journal(journal_path)
    j.create("r1", "1.00", 100, "82")
    j.close()
    with raw(journal_path) as db:
        db.execute("UPDATE schema_version SET version = 6")

    with pytest.raises(RuntimeError, match=r"newer posbridge \(schema 6") as info:
        Journal(journal_path)
    assert str(journal_path) in str(info.value)
    assert "knows 5" in str(info.value)
    del info

    # Refusing the file left it alone.
    with raw(journal_path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(6,)]
        assert db.execute("SELECT ref FROM payments").fetchall() == [("r1",)]


def _open_fds_on(path: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(path)):
                found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_refusing_a_newer_schema_closes_the_file(journal_path: Path) -> None:
    Journal(journal_path).close()
    with raw(journal_path) as db:
        db.execute("UPDATE schema_version SET version = 6")
    with pytest.raises(RuntimeError, match="newer posbridge"):
        Journal(journal_path)
    # Closed at once, not whenever the garbage collector gets to the half-built Journal.
    assert _open_fds_on(journal_path) == []


# -- create / transition ----------------------------------------------------------------


def test_create_records_received_and_an_event(journal: Journal) -> None:
    p = journal.create("r1", "12.34", 1234, "82")
    assert (p.ref, p.amount, p.amount_minor, p.condition_code) == ("r1", "12.34", 1234, "82")
    assert p.status == RECEIVED
    assert p.active
    assert (p.response_code, p.transaction_id, p.batch_number) == ("", "", None)
    assert p.created_at == p.updated_at
    assert journal.get("r1") == p
    [event] = journal.events("r1")
    assert (event.ref, event.from_status, event.to_status) == ("r1", None, RECEIVED)
    assert "12.34" in event.detail
    assert "82" in event.detail


def test_create_twice_is_refused(journal: Journal) -> None:
    journal.create("r1", "1.00", 100, "82")
    with pytest.raises(sqlite3.IntegrityError):
        journal.create("r1", "2.00", 200, "82")
    assert journal.get("r1") is not None
    assert journal.get("r1").amount == "1.00"  # type: ignore[union-attr]
    assert len(journal.events("r1")) == 1


def test_transition_of_unknown_ref_is_illegal(journal: Journal) -> None:
    with pytest.raises(IllegalTransition, match="no payment 'nope'"):
        journal.transition("nope", PENDING)
    assert journal.get("nope") is None
    assert journal.events("nope") == []


def test_transition_table_matches_the_documented_rules() -> None:
    assert set(TRANSITIONS) == set(ALL_STATUSES)
    # Nothing goes back to "received" except a failed request sent again.
    assert {s for s, to in TRANSITIONS.items() if RECEIVED in to} == {FAILED}
    # Final outcomes other than approved (void) and failed (retry) never move again.
    for status in (DECLINED, CANCELLED, TIMED_OUT, VOIDED):
        assert TRANSITIONS[status] == set()
    # A paid payment is never made unpaid by accident.
    assert TRANSITIONS[APPROVED] == {VOIDED, UNKNOWN}
    for target in TRANSITIONS.values():
        assert target <= set(ALL_STATUSES)


def test_allowed_transition_writes_one_event(journal: Journal) -> None:
    journal.create("r1", "1.00", 100, "82")
    p = journal.transition("r1", APPROVED, "terminal said so", response_code="00",
                           transaction_id="T1")
    assert (p.status, p.response_code, p.transaction_id) == (APPROVED, "00", "T1")
    assert not p.active
    events = journal.events("r1")
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, RECEIVED), (RECEIVED, APPROVED),
    ]
    assert events[-1].detail == "terminal said so"


def test_forbidden_transition_leaves_the_row_alone(journal: Journal) -> None:
    journal.create("r1", "1.00", 100, "82")
    before = journal.transition("r1", DECLINED, response_code="05")
    events = journal.events("r1")
    with pytest.raises(IllegalTransition, match="r1: declined -> approved is not allowed"):
        journal.transition("r1", APPROVED, response_code="00", transaction_id="T1")
    assert journal.get("r1") == before
    assert journal.events("r1") == events


def test_same_status_fills_in_ids_without_an_event(journal: Journal) -> None:
    journal.create("r1", "1.00", 100, "82")
    journal.transition("r1", APPROVED)
    events = journal.events("r1")

    p = journal.transition("r1", APPROVED, "again", response_code="00", transaction_id="T1")
    assert (p.status, p.response_code, p.transaction_id) == (APPROVED, "00", "T1")
    # None / "" keep what is there: an id once known is not erased.
    p = journal.transition("r1", APPROVED, response_code=None, transaction_id="")
    assert (p.response_code, p.transaction_id) == ("00", "T1")
    p = journal.transition("r1", APPROVED)
    assert (p.response_code, p.transaction_id) == ("00", "T1")
    assert journal.events("r1") == events


def test_failed_request_can_restart(journal: Journal) -> None:
    journal.create("r1", "1.00", 100, "82")
    journal.transition("r1", FAILED, "terminal unplugged")
    p = journal.transition("r1", RECEIVED, "sent again")
    assert p.status == RECEIVED
    assert [e.to_status for e in journal.events("r1")] == [RECEIVED, FAILED, RECEIVED]


def test_transitions_follow_the_table(tmp_path: Path) -> None:
    """Random sequences of requested transitions: the status only moves along allowed
    edges, each move is one event, everything else is refused and changes nothing."""
    j = Journal(tmp_path / "property.sqlite3")
    refs = (f"p{n}" for n in itertools.count())

    step = st.tuples(
        st.sampled_from((*ALL_STATUSES, "bogus")),
        st.one_of(st.none(), st.sampled_from(["", "00", "05"])),
        st.sampled_from(["", "T1", "T2"]),
    )

    @settings(deadline=None, max_examples=200)
    @given(steps=st.lists(step, max_size=20))
    def check(steps: list[tuple[str, str | None, str]]) -> None:
        ref = next(refs)
        j.create(ref, "1.00", 100, "82")
        for n, (to_status, code, txn) in enumerate(steps):
            before = j.get(ref)
            assert before is not None
            events_before = j.events(ref)
            detail = f"step {n}"
            if to_status != before.status and to_status not in TRANSITIONS[before.status]:
                with pytest.raises(IllegalTransition):
                    j.transition(ref, to_status, detail, response_code=code,
                                 transaction_id=txn)
                assert j.get(ref) == before
                assert j.events(ref) == events_before
                continue

            after = j.transition(ref, to_status, detail, response_code=code,
                                 transaction_id=txn)
            assert after == j.get(ref)
            assert after.status == to_status
            assert after.response_code == (before.response_code if code is None else code)
            assert after.transaction_id == (txn or before.transaction_id)
            assert (after.ref, after.amount, after.created_at) == (
                before.ref, before.amount, before.created_at)
            events = j.events(ref)
            assert events[: len(events_before)] == events_before
            if to_status == before.status:
                assert events == events_before
            else:
                [new] = events[len(events_before):]
                assert (new.ref, new.from_status, new.to_status, new.detail) == (
                    ref, before.status, to_status, detail)

        # The whole history is a walk along the table's edges, ending at the status.
        history = j.events(ref)
        assert (history[0].from_status, history[0].to_status) == (None, RECEIVED)
        for prev, event in itertools.pairwise(history):
            assert event.from_status == prev.to_status
            assert event.to_status in TRANSITIONS[prev.to_status]
        final = j.get(ref)
        assert final is not None
        assert final.status == history[-1].to_status

    try:
        check()
    finally:
        j.close()


# -- delete, batches, queries -----------------------------------------------------------


def test_delete_removes_payment_and_events(journal: Journal) -> None:
    journal.create("r1", "1.00", 100, "82")
    journal.transition("r1", PENDING)
    journal.create("r2", "2.00", 200, "82")
    journal.delete("r1")
    assert journal.get("r1") is None
    assert journal.events("r1") == []
    assert journal.get("r2") is not None
    assert len(journal.events("r2")) == 1
    with raw(journal.path) as db:
        assert db.execute("SELECT count(*) FROM events WHERE ref = 'r1'").fetchone() == (0,)
    journal.delete("never-existed")  # harmless
    # The reference can be used again afterwards.
    assert journal.create("r1", "3.00", 300, "82").status == RECEIVED


def settle(journal: Journal, number: int, refs: list[str], total: int = 0,
           terminal: str = "T1") -> None:
    """A batch as the service records it: journaled as sent, then settled."""
    batch_id = f"b-{terminal}-{number}"
    op = journal.begin_batch(batch_id, terminal)
    journal.settle_batch(op.id, batch_id, number, len(refs), total, refs, "settled")


def _approve(journal: Journal, ref: str, minor: int = 100) -> None:
    journal.create(ref, f"{minor / 100:.2f}", minor, "82")
    journal.transition(ref, APPROVED, response_code="00", transaction_id=f"T-{ref}")


def test_record_batch_settles_each_payment_once(journal: Journal) -> None:
    assert journal.last_batch_number() == 0
    for ref in ("a", "b", "c"):
        _approve(journal, ref)
    journal.create("d", "1.00", 100, "82")  # still active: never settled
    assert {p.ref for p in journal.unsettled_approved()} == {"a", "b", "c"}

    settle(journal, 1, ["a", "b"], 200)
    assert journal.last_batch_number() == 1
    assert journal.get("a").batch_number == 1  # type: ignore[union-attr]
    assert journal.get("b").batch_number == 1  # type: ignore[union-attr]
    assert journal.get("c").batch_number is None  # type: ignore[union-attr]
    assert [p.ref for p in journal.unsettled_approved()] == ["c"]

    # A later batch naming an already settled payment does not move it.
    settle(journal, 2, ["b", "c"], 200)
    assert journal.get("b").batch_number == 1  # type: ignore[union-attr]
    assert journal.get("c").batch_number == 2  # type: ignore[union-attr]
    assert journal.unsettled_approved() == []
    assert journal.last_batch_number() == 2
    with raw(journal.path) as db:
        assert db.execute("SELECT terminal, batch_number, count, total_minor FROM batches "
                          "ORDER BY batch_number").fetchall() == [("T1", 1, 2, 200),
                                                                   ("T1", 2, 2, 200)]

    # Settling writes no status event.
    assert [e.to_status for e in journal.events("a")] == [RECEIVED, APPROVED]


def test_mark_settled_only_once(journal: Journal) -> None:
    _approve(journal, "a")
    journal.mark_settled("a", 4)
    journal.mark_settled("a", 5)
    assert journal.get("a").batch_number == 4  # type: ignore[union-attr]
    assert journal.unsettled_approved() == []


def test_unsettled_approved_ignores_other_statuses(journal: Journal) -> None:
    _approve(journal, "ok")
    for ref, status in (("dec", DECLINED), ("pend", PENDING), ("unk", UNKNOWN)):
        journal.create(ref, "1.00", 100, "82")
        journal.transition(ref, status)
    _approve(journal, "void")
    journal.transition("void", VOIDED)
    assert [p.ref for p in journal.unsettled_approved()] == ["ok"]


def test_active_returns_the_unfinished_payments_oldest_first(journal: Journal) -> None:
    statuses = {"r": RECEIVED, "p": PENDING, "u": UNKNOWN, "a": APPROVED, "d": DECLINED,
                "f": FAILED, "t": TIMED_OUT, "c": CANCELLED}
    for ref, status in statuses.items():
        journal.create(ref, "1.00", 100, "82")
        if status != RECEIVED:
            journal.transition(ref, status)
        time.sleep(0.002)  # created_at has millisecond resolution
    active = journal.active()
    assert [p.ref for p in active] == ["r", "p", "u"]
    assert all(p.active for p in active)
    assert [p.ref for p in journal.recent()] == list(reversed(statuses))
    assert [p.ref for p in journal.recent(limit=2)] == ["c", "t"]

    journal.transition("u", APPROVED)
    journal.transition("r", PENDING)
    assert [p.ref for p in journal.active()] == ["r", "p"]


def test_active_is_oldest_first_even_within_one_millisecond(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every write in the same millisecond (a fast machine, or a clock that stood still).
    monkeypatch.setattr("posbridge.journal._now", lambda: "2026-01-01T00:00:00.000+00:00")
    refs = [f"r{n}" for n in range(6)]
    for ref in refs:
        journal.create(ref, "1.00", 100, "82")
    for ref in refs[::2]:
        journal.transition(ref, PENDING)  # pending and received rows interleaved
    assert [p.ref for p in journal.active()] == refs  # got r0 r2 r4 r1 r3 r5


# -- other processes --------------------------------------------------------------------


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_committed_transition_survives_sigkill(journal_path: Path) -> None:
    j = Journal(journal_path)
    j.create("r1", "1.00", 100, "82")
    j.close()

    child = _python(
        """
        import sys, time
        from posbridge.journal import Journal
        j = Journal(sys.argv[1])
        j.transition("r1", "approved", "in the child", response_code="00",
                     transaction_id="T-child")
        print("done", flush=True)
        time.sleep(60)
        """
    )
    with subprocess.Popen([*child, str(journal_path)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        try:
            line = proc.stdout.readline()
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        assert line == b"done\n"
    assert proc.returncode == -signal.SIGKILL
    # Killed before any checkpoint: the change lives only in the WAL file.
    assert wal_file(journal_path).stat().st_size > 0

    j = Journal(journal_path)
    try:
        p = j.get("r1")
        assert p is not None
        assert (p.status, p.response_code, p.transaction_id) == (APPROVED, "00", "T-child")
        assert [(e.from_status, e.to_status, e.detail) for e in j.events("r1")][-1] == (
            RECEIVED, APPROVED, "in the child")
    finally:
        j.close()


def test_another_process_reads_while_journal_is_open(journal: Journal,
                                                     journal_path: Path) -> None:
    journal.create("r1", "1.00", 100, "82")
    journal.transition("r1", PENDING)
    child = _python(
        """
        import json, sys
        from posbridge.journal import Journal
        j = Journal(sys.argv[1], readonly=True)
        p = j.get("r1")
        print(json.dumps([p.status, [x.ref for x in j.active()], len(j.events("r1"))]))
        j.close()
        """
    )
    out = subprocess.run([*child, str(journal_path)], capture_output=True, check=True,
                         timeout=30)
    assert json.loads(out.stdout) == ["pending", ["r1"], 2]
    # The first process keeps working after the other one came and went.
    assert journal.transition("r1", APPROVED).status == APPROVED


def test_reader_is_not_blocked_by_an_open_write_transaction(journal: Journal,
                                                            journal_path: Path) -> None:
    journal.create("r1", "1.00", 100, "82")
    reader = _python(
        """
        import json, sqlite3, sys
        db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=0)
        rows = db.execute("SELECT ref, status FROM payments").fetchall()
        print(json.dumps(rows))
        db.close()
        """
    )
    db = journal._db
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("UPDATE payments SET status = 'approved' WHERE ref = 'r1'")
        # WAL: the reader sees the last committed state at once, without waiting.
        out = subprocess.run([*reader, str(journal_path)], capture_output=True, check=True,
                             timeout=30)
        assert json.loads(out.stdout) == [["r1", "received"]]
    finally:
        db.execute("ROLLBACK")
    assert journal.get("r1").status == RECEIVED  # type: ignore[union-attr]


def test_one_process_owns_a_journal_and_readers_may_look(journal: Journal,
                                                         journal_path: Path) -> None:
    journal.create("r1", "1.00", 100, "82")
    child = _python(
        """
        import sys
        from posbridge.journal import Journal, JournalInUse
        try:
            Journal(sys.argv[1])
        except JournalInUse as exc:
            print("refused:", exc)
        reader = Journal(sys.argv[1], readonly=True)
        print("reader sees", reader.get("r1").status)
        """
    )
    out = subprocess.run([*child, str(journal_path)], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    assert f"refused: {journal_path} is in use by another posbridge (process {os.getpid()})" \
        in out
    assert "reader sees received" in out
    journal.close()
    # Closed: the next owner may open it.
    Journal(journal_path).close()


def test_cached_reads_always_show_the_last_write(journal: Journal) -> None:
    journal.create("r1", "1.00", 100, "82")
    assert journal.get("r1") is journal.get("r1")  # the second read came from memory
    journal.transition("r1", PENDING)
    assert journal.get("r1").status == PENDING  # type: ignore[union-attr]
    journal.transition("r1", APPROVED, response_code="00", transaction_id="T1")
    assert journal.get("r1").status == APPROVED  # type: ignore[union-attr]
    settle(journal, 3, ["r1"], 100)
    assert journal.get("r1").batch_number == 3  # type: ignore[union-attr]
    # A write that fails leaves the cache consistent with the file.
    with pytest.raises(IllegalTransition):
        journal.transition("r1", PENDING)
    reader = Journal(journal.path, readonly=True)  # the file as another process sees it
    try:
        assert journal.get("r1") == reader.get("r1")
    finally:
        reader.close()


def test_recent_filters_by_a_part_of_the_reference_in_any_case(journal: Journal) -> None:
    for ref in ("Invoice-1", "invoice-2", "till%3", "till_4", "other"):
        journal.create(ref, "1.00", 100, "82")
        time.sleep(0.002)  # created_at has millisecond resolution
    assert [p.ref for p in journal.recent(ref_contains="INVOICE")] == ["invoice-2", "Invoice-1"]
    assert [p.ref for p in journal.recent(ref_contains="%")] == ["till%3"]  # not a wildcard
    assert [p.ref for p in journal.recent(ref_contains="_")] == ["till_4"]
    assert journal.recent(ref_contains="nothing") == []
    journal.transition("invoice-2", PENDING)
    assert [p.ref for p in journal.recent(status=PENDING, ref_contains="inv")] == ["invoice-2"]


def test_the_owner_lock_follows_the_file_and_is_not_kept_by_a_failed_open(
        tmp_path: Path) -> None:
    real = tmp_path / "journal.sqlite3"
    link = tmp_path / "link.sqlite3"
    link.symlink_to(real)
    owner = Journal(real)
    try:
        from posbridge.journal import JournalInUse

        with pytest.raises(JournalInUse):  # the same file under another name
            Journal(link)
    finally:
        owner.close()
    # A path SQLite cannot open (a folder): refused, and the lock is not kept, so the same
    # process can open it once the problem is fixed.
    folder = tmp_path / "folder.sqlite3"
    folder.mkdir()
    for _ in range(2):
        with pytest.raises(sqlite3.OperationalError):
            Journal(folder)
    folder.rmdir()
    Journal(folder).close()


def test_an_event_id_is_never_used_again_after_a_refused_sale_is_removed(
        journal: Journal) -> None:
    """/events hands event ids out as resume points: the newest events deleted (a sale the
    terminal refused) must not let the next event take the same id."""
    journal.create("kept", "1.00", 100, "82")
    journal.create("refused", "2.00", 200, "82")
    handed_out = journal.last_event_id()
    journal.delete("refused")
    journal.create("next", "3.00", 300, "82")
    [event] = journal.events("next")
    assert event.id > handed_out
    assert [e.ref for e in journal.events_after(handed_out)] == ["next"]


def test_a_version_2_journal_keeps_its_event_ids_through_migrations_3_and_4(
        journal_path: Path) -> None:
    from posbridge.journal import _MIGRATIONS

    with raw(journal_path) as db:
        db.executescript(_MIGRATIONS[0])
        for statement in _MIGRATIONS[1].split(";"):
            if statement.strip():
                db.execute(statement)
        db.executescript("""
            CREATE TABLE schema_version (version INTEGER NOT NULL);
            INSERT INTO schema_version VALUES (2);
            INSERT INTO events (id, ref, at, from_status, to_status, detail, kind)
                VALUES (41, 'b-1', 'a', NULL, 'sent', 'batch', 'batch');
        """)
    j = Journal(journal_path)
    try:
        [old] = j.events_after(0)
        assert (old.id, old.kind, old.ref) == (41, "batch", "b-1")
        j.create("r1", "1.00", 100, "82")
        assert j.last_event_id() == 42
    finally:
        j.close()
