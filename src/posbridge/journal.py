"""The payment journal: SQLite in WAL mode, written before anything goes to the terminal.

Every payment is one row of ``payments``; every change of its status is one row of
``events`` written in the same transaction, with the time and why. Every other command that
moves or settles money (cancel, void, batch) is a row of ``operations``, journaled as
``sent`` before it goes to the terminal and closed when its outcome is known; its changes
are ``events`` too (``kind`` names the operation), so the events table is the one ordered
history of everything, with a monotonic id (what ``/events`` streams). Batches are rows of
``batches``, keyed by the terminal's serial and its batch number, and by the id posbridge
chose for the batch before sending it. ``synchronous=FULL`` makes each commit durable before
the call returns, so a state the POS has been told about survives a crash or a power cut.

The allowed status changes are ``payments.TRANSITIONS``; anything else is refused with
``IllegalTransition`` (a bug or a confused terminal, logged by the caller).

Failures of the journal itself (disk full, a file size limit, another process holding a
write lock, the file deleted or replaced) are raised as ``JournalError`` naming the
file and the OS's error, never as a bare sqlite3 error: the service refuses money commands
while they last and retries. SQLite's busy wait is bounded (``BUSY_TIMEOUT_MS``) because the
journal is used on the event loop's thread.

One Journal object is used from one thread (the event loop's), and one process at a time
owns a journal file for writing: it holds a lock on ``<journal>.lock`` while open, and a
second ``posbridge serve`` on the same file is refused at start. Other processes (the
journal tools, the chaos harness, ``sqlite3`` in a support session) can read the file at
the same time with ``readonly=True``: WAL readers never block the writer.

Because the owner is the only writer, ``get`` keeps the payments it has read in memory and
every write transaction forgets them: a POS polling QueryPayment reads memory, not the disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import payments, reports
from .payments import OpKind, OpState, Status

SCHEMA_VERSION = 5

# The status vocabulary and its transition table live in payments.py (pure); they are
# re-exported here for the journal's readers.
ACTIVE = payments.ACTIVE
FINAL = payments.FINAL
TRANSITIONS = payments.TRANSITIONS
RECEIVED, PENDING, UNKNOWN = Status.RECEIVED, Status.PENDING, Status.UNKNOWN
APPROVED, DECLINED, CANCELLED = Status.APPROVED, Status.DECLINED, Status.CANCELLED
TIMED_OUT, VOIDED, FAILED = Status.TIMED_OUT, Status.VOIDED, Status.FAILED

#: The longest SQLite waits for another process's write lock, on the event loop's thread.
BUSY_TIMEOUT_MS = 100

_MIGRATIONS: list[str] = [
    # version 1
    """
    CREATE TABLE payments (
        ref             TEXT PRIMARY KEY,
        amount          TEXT NOT NULL,      -- as the POS sent it, e.g. "1.00"
        amount_minor    INTEGER NOT NULL,   -- in cents
        condition_code  TEXT NOT NULL,
        status          TEXT NOT NULL,
        response_code   TEXT NOT NULL DEFAULT '',
        transaction_id  TEXT NOT NULL DEFAULT '',
        batch_number    INTEGER,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE INDEX payments_status ON payments (status);
    CREATE INDEX payments_unsettled ON payments (batch_number) WHERE batch_number IS NULL;
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY,
        ref         TEXT NOT NULL,
        at          TEXT NOT NULL,
        from_status TEXT,
        to_status   TEXT NOT NULL,
        detail      TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_ref ON events (ref);
    CREATE TABLE batches (
        batch_number INTEGER PRIMARY KEY,
        submitted_at TEXT NOT NULL,
        count        INTEGER NOT NULL,
        total_minor  INTEGER NOT NULL
    );
    """,
    # version 2: operations journaled before they are sent; batches keyed by terminal.
    """
    ALTER TABLE payments ADD COLUMN origin TEXT NOT NULL DEFAULT 'pos';
    ALTER TABLE events ADD COLUMN kind TEXT NOT NULL DEFAULT 'payment';
    CREATE TABLE operations (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL,              -- cancel, void, batch
        ref         TEXT NOT NULL,              -- the payment's reference, or a batch's id
        state       TEXT NOT NULL,              -- sent, done, refused, not_done
        detail      TEXT NOT NULL DEFAULT '',
        answered    INTEGER NOT NULL DEFAULT 0, -- the POS was given its outcome
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX operations_open ON operations (state) WHERE state = 'sent';
    CREATE TABLE batches_v2 (
        id           INTEGER PRIMARY KEY,
        batch_id     TEXT NOT NULL UNIQUE,      -- chosen by posbridge before sending
        terminal     TEXT NOT NULL,             -- the terminal's serial
        batch_number INTEGER,                   -- the terminal's number, once known
        state        TEXT NOT NULL,             -- sent, done, not_done
        count        INTEGER NOT NULL DEFAULT 0,
        total_minor  INTEGER NOT NULL DEFAULT 0,
        submitted_at TEXT NOT NULL,
        settled_at   TEXT,
        UNIQUE (terminal, batch_number)
    );
    INSERT INTO batches_v2 (batch_id, terminal, batch_number, state, count, total_minor,
                            submitted_at, settled_at)
        SELECT 'v1-' || batch_number, '', batch_number, 'done', count, total_minor,
               submitted_at, submitted_at FROM batches;
    DROP TABLE batches;
    ALTER TABLE batches_v2 RENAME TO batches
    """,
    # version 3: refunds, each with the operation that sent it (kind 'refund'); payments
    # settled by a person (who, in resolved_by; why, in the history).
    """
    ALTER TABLE payments ADD COLUMN resolved_by TEXT NOT NULL DEFAULT '';
    CREATE TABLE refunds (
        refund_ref     TEXT PRIMARY KEY,        -- the POS's refund_reference
        ref            TEXT NOT NULL,           -- the payment refunded
        amount         TEXT NOT NULL,           -- as the POS sent it, e.g. "0.50"
        amount_minor   INTEGER NOT NULL,
        status         TEXT NOT NULL,           -- unknown, approved, refused, failed
        op_id          INTEGER NOT NULL,        -- the operation of its latest sending
        terminal       TEXT NOT NULL DEFAULT '',-- the serial of the terminal it was sent to
        transaction_id TEXT NOT NULL DEFAULT '',
        detail         TEXT NOT NULL DEFAULT '',
        created_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL
    );
    CREATE INDEX refunds_ref ON refunds (ref);
    CREATE TABLE receipts (
        id             INTEGER PRIMARY KEY,
        kind           TEXT NOT NULL,           -- payment, void, refund
        ref            TEXT NOT NULL,           -- the payment
        refund_ref     TEXT NOT NULL DEFAULT '',
        fields         TEXT NOT NULL,           -- JSON object: method, account, ...
        merchant_copy  TEXT NOT NULL,           -- JSON list of printable lines
        customer_copy  TEXT NOT NULL,
        at             TEXT NOT NULL,
        UNIQUE (kind, ref, refund_ref)
    )
    """,
    # version 4: an event id is never used twice, and the webhook's delivery cursor.
    # /events hands ids to subscribers as their resume point (Last-Event-ID); without
    # AUTOINCREMENT, deleting the newest events (a sale the terminal refused leaves nothing
    # behind) let the next event take the same id again, and a subscriber resuming after it
    # would miss that event.
    """
    CREATE TABLE events_v3 (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        ref         TEXT NOT NULL,
        at          TEXT NOT NULL,
        from_status TEXT,
        to_status   TEXT NOT NULL,
        detail      TEXT NOT NULL DEFAULT '',
        kind        TEXT NOT NULL DEFAULT 'payment'
    );
    INSERT INTO events_v3 (id, ref, at, from_status, to_status, detail, kind)
        SELECT id, ref, at, from_status, to_status, detail, kind FROM events;
    DROP TABLE events;
    ALTER TABLE events_v3 RENAME TO events;
    CREATE INDEX events_ref ON events (ref);
    CREATE TABLE webhook_cursor (
        url         TEXT PRIMARY KEY,
        last_id     INTEGER NOT NULL,           -- the last event id the receiver took
        updated_at  TEXT NOT NULL
    )
    """,
    # version 5: the Z report of each settled batch, as it was when the batch settled (the
    # journal's items of the batch's period and what the terminal answered), so that the
    # end of day can be printed again exactly as it was.
    """
    CREATE TABLE reports (
        batch_id     TEXT PRIMARY KEY,          -- the batch (batches.batch_id)
        batch_number INTEGER NOT NULL,
        terminal     TEXT NOT NULL DEFAULT '',
        report       TEXT NOT NULL,             -- JSON: reports.build's dict
        at           TEXT NOT NULL
    )
    """,
]


# A payment is settled in one batch only: a later batch never moves it.
_SETTLE = (
    "UPDATE payments SET batch_number = ?, updated_at = ? WHERE ref = ? AND batch_number IS NULL"
)
_PAYMENT_COLUMNS = ("ref, amount, amount_minor, condition_code, status, response_code, "
                    "transaction_id, batch_number, created_at, updated_at, origin, "
                    "resolved_by")


class IllegalTransition(Exception):
    pass


class JournalError(Exception):
    """The journal cannot be written (or read): the message names the file and the error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JournalReplaced(JournalError):
    """The journal file was deleted or replaced under the running bridge: what it holds is
    no longer what this process wrote. Not healable in place: the process must restart."""


@dataclass(frozen=True)
class Payment:
    ref: str
    amount: str
    amount_minor: int
    condition_code: str
    status: str
    response_code: str
    transaction_id: str
    batch_number: int | None
    created_at: str
    updated_at: str
    origin: str = "pos"  # "terminal": brought back into the journal from the terminal
    resolved_by: str = ""  # the person who settled it by hand (journal resolve), or ""

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class JournalEvent:
    ref: str
    at: str
    from_status: str | None
    to_status: str
    detail: str
    id: int = 0
    kind: str = "payment"  # payment, or the operation: cancel, void, batch, refund


@dataclass(frozen=True)
class Operation:
    id: int
    kind: str
    ref: str
    state: str
    detail: str
    answered: int
    created_at: str
    updated_at: str

    @property
    def open(self) -> bool:
        return self.state == OpState.SENT


@dataclass(frozen=True)
class BatchRecord:
    id: int
    batch_id: str
    terminal: str
    batch_number: int | None
    state: str
    count: int
    total_minor: int
    submitted_at: str
    settled_at: str | None


@dataclass(frozen=True)
class RefundRecord:
    refund_ref: str
    ref: str
    amount: str
    amount_minor: int
    status: str
    op_id: int
    terminal: str
    transaction_id: str
    detail: str
    created_at: str
    updated_at: str


#: What a receipt is for. ``receipts(ref)`` names them all so that SQLite finds a payment's
#: receipts through the (kind, ref, refund_ref) index instead of reading the whole table.
RECEIPT_KINDS = ("payment", "void", "refund")


@dataclass(frozen=True)
class Receipt:
    """The terminal's receipt for a final payment, a void or a refund."""

    kind: str  # payment, void, refund
    ref: str
    refund_ref: str
    fields: dict[str, str]
    merchant_copy: list[str]
    customer_copy: list[str]
    at: str


def _receipt(row: sqlite3.Row) -> Receipt:
    return Receipt(row["kind"], row["ref"], row["refund_ref"], json.loads(row["fields"]),
                   json.loads(row["merchant_copy"]), json.loads(row["customer_copy"]),
                   row["at"])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def default_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("posbridge", appauthor=False)) / "journal.sqlite3"


class JournalInUse(RuntimeError):
    """Another process owns this journal for writing."""


#: Payments ``get`` keeps in memory at most (each a few hundred bytes).
CACHE_SIZE = 4096


class Journal:
    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        """Open (and create or migrate) the journal. ``readonly`` opens an existing journal
        for reading only, beside a running bridge (support and reconciliation tools)."""
        self.path = Path(path)
        self._cache: dict[str, Payment] | None = None
        self._owner: _OwnerLock | None = None
        self._depth = 0  # nesting of atomic()
        self._identity: tuple[int, int] | None = None
        self._seen_at = -1e9  # time.monotonic() of the last check_file that found the file
        #: The last write failure, "" while writes succeed.
        self.last_error = ""
        #: Called after each committed write transaction (the events stream wakes on it).
        self.listeners: list[Callable[[], None]] = []
        #: Called after each write transaction with its seconds and whether SQLite failed it
        #: (disk full, locked, gone): metrics. Must not raise.
        self.on_write: Callable[[float, bool], None] = lambda seconds, failed: None
        #: Called with the reason when check_file finds the file deleted or replaced, by
        #: whichever read or write looked (the service stops the bridge). Must not raise.
        self.on_replaced: Callable[[str], None] = lambda reason: None
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no journal at {self.path}")
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                       isolation_level=None, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout = 5000")
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The lock is on the file itself, however it is named (a symlink, a relative path).
        self._owner = _OwnerLock(self.path.resolve())
        self._cache = {}
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per change.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except BaseException:
            self._release()
            raise
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise RuntimeError(f"{self.path}: SQLite could not use WAL mode (got {mode})")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
            self._identity = _identity(self.path)
        except BaseException:
            self._db.close()  # a refused file must not stay open (and locked on Windows)
            self._release()
            raise

    def close(self) -> None:
        self._db.close()
        self._release()

    def _release(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.release()

    def __del__(self) -> None:
        # A Journal dropped without close() must not keep its file locked for the process's
        # life (a GUI that starts the listener again would be refused by itself).
        with contextlib.suppress(Exception):
            self._release()

    # -- schema -----------------------------------------------------------------------

    def _migrate(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} was written by a newer posbridge (schema {version}, this "
                    f"one knows {SCHEMA_VERSION}); upgrade posbridge or use another --journal"
                )
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[number - 1].split(";"):
                    if statement.strip():
                        db.execute(statement)
            if row is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            else:
                db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- health -----------------------------------------------------------------------

    def check_file(self, within: float = 0.0) -> None:
        """Raise JournalReplaced if the file this journal opened was deleted or replaced.

        ``within`` seconds: a check that found the file this recently is taken as still true
        (a read answered that much after a deletion is the same answer given just before it).
        Every write transaction checks with 0, so nothing is written past a deletion."""
        if self._identity is None:
            return
        if within and time.monotonic() - self._seen_at < within:
            return
        try:
            now = _identity(self.path)
        except FileNotFoundError:
            raise self._replaced(f"the journal {self.path} was deleted while posbridge was "
                                 "running") from None
        except OSError as exc:
            raise JournalError(f"cannot see the journal {self.path}: {exc}") from None
        if now != self._identity:
            raise self._replaced(f"the journal {self.path} was replaced by another file while "
                                 "posbridge was running")
        self._seen_at = time.monotonic()

    def _replaced(self, reason: str) -> JournalReplaced:
        self.on_replaced(reason)
        return JournalReplaced(reason)

    def probe(self) -> None:
        """Write and commit a little, to learn whether the journal can be written again."""
        with self.atomic():
            self._db.execute("CREATE TABLE IF NOT EXISTS probe (at TEXT)")
            self._db.execute("DELETE FROM probe")
            self._db.execute("INSERT INTO probe VALUES (?)", (_now(),))

    # -- reads ------------------------------------------------------------------------

    def get(self, ref: str) -> Payment | None:
        # Inside a write transaction the file is changing under this very connection: read
        # it, and keep nothing (the cache is emptied when the transaction ends anyway).
        cache = self._cache if not self._depth else None
        if cache is not None and (hit := cache.get(ref)) is not None:
            return hit
        row = self._read_one(f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE ref = ?", (ref,))
        if row is None:
            return None
        payment = Payment(**row)
        if cache is not None:
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            cache[ref] = payment
        return payment

    def active(self) -> list[Payment]:
        """Payments whose outcome is not final, oldest first."""
        rows = self._read(
            f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE status IN (?, ?, ?) "
            "ORDER BY created_at, rowid", tuple(ACTIVE)
        )
        return [Payment(**row) for row in rows]

    def recent(
        self, limit: int = 100, status: str | None = None, ref_contains: str | None = None
    ) -> list[Payment]:
        """The latest payments first; all of them with ``limit`` -1. ``ref_contains`` keeps
        those whose reference contains that text, in any case."""
        conditions, params = [], []
        if status is not None:
            conditions.append("status = ?")
            params.append(status)
        if ref_contains:
            # instr, not LIKE: '%' and '_' in what the operator types are plain characters.
            conditions.append("instr(lower(ref), lower(?)) > 0")
            params.append(ref_contains)
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        rows = self._read(
            f"SELECT {_PAYMENT_COLUMNS} FROM payments {where}"
            "ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (*params, limit),
        )
        return [Payment(**row) for row in rows]

    # Streaming reads, for the tools: a journal of a million payments is listed, shown or
    # exported in the memory of a few rows. They go in the order payments were written
    # (rowid), which needs no sort: the newest 50 of a million are read as quickly as of
    # ten. (Creation times follow that order unless the PC's clock was set back.)

    def iter_payments(self, limit: int = -1, status: str | None = None
                      ) -> Iterator[Payment]:
        """The latest written first (all of them with ``limit`` -1), read from the cursor
        as they are used."""
        where, params = ("WHERE status = ? ", (status,)) if status is not None else ("", ())
        columns = ", ".join(f.name for f in fields(Payment))
        cursor = self._db.cursor()
        cursor.row_factory = None  # tuples in field order: Payment(*row), no name lookups
        for row in cursor.execute(
                f"SELECT {columns} FROM payments {where}ORDER BY rowid DESC LIMIT ?",
                (*params, limit)):
            yield Payment(*row)

    def export_rows(self, columns: Sequence[str], *, guard: Collection[str] = ()
                    ) -> Iterator[tuple[object, ...]]:
        """Every payment oldest first as a tuple of ``columns`` (Payment field names), read
        from the cursor as used; no Payment objects, so that a million rows take seconds.
        In the ``guard`` columns, a value that a spreadsheet would read as a formula (= + -
        @ tab CR first) gets an apostrophe before it, in SQL for the same reason."""
        names = {f.name for f in fields(Payment)}
        unknown = [c for c in (*columns, *guard) if c not in names]
        if unknown:
            raise ValueError(f"not payment columns: {', '.join(unknown)}")

        def select(column: str) -> str:
            if column not in guard:
                return column
            return (f"CASE WHEN unicode({column}) IN (61, 43, 45, 64, 9, 13) "
                    f"THEN char(39) || {column} ELSE {column} END")

        cursor = self._db.cursor()
        cursor.row_factory = None  # plain tuples, the quickest rows sqlite3 makes
        yield from cursor.execute(
            f"SELECT {', '.join(map(select, columns))} FROM payments ORDER BY rowid")

    def events(self, ref: str) -> list[JournalEvent]:
        return list(self.iter_events(ref))

    def iter_events(self, ref: str) -> Iterator[JournalEvent]:
        """A payment's history, oldest first, read from the cursor as it is used."""
        cursor = self._db.execute(
            "SELECT id, kind, ref, at, from_status, to_status, detail FROM events "
            "WHERE ref = ? ORDER BY id",
            (ref,),
        )
        for row in cursor:
            yield JournalEvent(**row)

    def events_after(
        self, after: int, limit: int = 500, ref: str | None = None
    ) -> list[JournalEvent]:
        """Events with an id above ``after``, in id order (the journal's one history)."""
        if ref is None:
            rows = self._read(
                "SELECT id, kind, ref, at, from_status, to_status, detail FROM events "
                "WHERE id > ? ORDER BY id LIMIT ?", (after, limit))
        else:
            rows = self._read(
                "SELECT id, kind, ref, at, from_status, to_status, detail FROM events "
                "WHERE id > ? AND ref = ? ORDER BY id LIMIT ?", (after, ref, limit))
        return [JournalEvent(**row) for row in rows]

    def last_event_id(self) -> int:
        row = self._read_one("SELECT max(id) FROM events", ())
        return int(row[0] or 0) if row else 0

    def webhook_cursor(self, url: str) -> int | None:
        """The id of the last event delivered to the webhook ``url``, None if never set."""
        row = self._read_one("SELECT last_id FROM webhook_cursor WHERE url = ?", (url,))
        return int(row[0]) if row else None

    def set_webhook_cursor(self, url: str, last_id: int) -> None:
        with self.atomic():
            self._db.execute(
                "INSERT INTO webhook_cursor (url, last_id, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (url) DO UPDATE SET last_id = excluded.last_id, "
                "updated_at = excluded.updated_at", (url, last_id, _now()))

    def unsettled_approved(self) -> list[Payment]:
        rows = self._read(
            f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE status = ? "
            "AND batch_number IS NULL", (APPROVED,)
        )
        return [Payment(**row) for row in rows]

    def last_batch_number(self) -> int:
        row = self._read_one(
            "SELECT batch_number FROM batches WHERE state = 'done' ORDER BY id DESC LIMIT 1", ())
        return int(row[0] or 0) if row else 0

    # -- operations -------------------------------------------------------------------

    def op(self, op_id: int) -> Operation | None:
        row = self._read_one("SELECT * FROM operations WHERE id = ?", (op_id,))
        return Operation(**row) if row else None

    def open_ops(self, kind: str | None = None) -> list[Operation]:
        """Operations whose outcome is not known yet, oldest first."""
        if kind is None:
            rows = self._read("SELECT * FROM operations WHERE state = 'sent' ORDER BY id", ())
        else:
            rows = self._read(
                "SELECT * FROM operations WHERE state = 'sent' AND kind = ? ORDER BY id",
                (kind,))
        return [Operation(**row) for row in rows]

    def last_op(self, kind: str) -> Operation | None:
        row = self._read_one(
            "SELECT * FROM operations WHERE kind = ? ORDER BY id DESC LIMIT 1", (kind,))
        return Operation(**row) if row else None

    def open_op(self, kind: OpKind, ref: str, detail: str) -> Operation:
        """Journal an operation as ``sent``, before it goes to the terminal."""
        now = _now()
        with self.atomic():
            cur = self._db.execute(
                "INSERT INTO operations (kind, ref, state, detail, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (kind, ref, OpState.SENT, detail, now, now))
            op_id = cur.lastrowid
            assert op_id is not None
            self._event(ref, now, None, OpState.SENT, detail, kind)
        op = self.op(op_id)
        assert op is not None
        return op

    def close_op(self, op_id: int, state: OpState, detail: str) -> Operation:
        """Record an operation's outcome; an operation already closed is left as it is."""
        now = _now()
        with self.atomic():
            row = self._db.execute("SELECT kind, ref, state FROM operations WHERE id = ?",
                                   (op_id,)).fetchone()
            if row is None:
                raise IllegalTransition(f"no operation {op_id}")
            if row["state"] == OpState.SENT and state != OpState.SENT:
                self._db.execute(
                    "UPDATE operations SET state = ?, detail = ?, updated_at = ? WHERE id = ?",
                    (state, detail, now, op_id))
                self._event(row["ref"], now, row["state"], state, detail, row["kind"])
        op = self.op(op_id)
        assert op is not None
        return op

    def mark_answered(self, op_id: int) -> None:
        with self.atomic():
            self._db.execute("UPDATE operations SET answered = 1 WHERE id = ?", (op_id,))

    # -- batches ----------------------------------------------------------------------

    def batch(self, batch_id: str) -> BatchRecord | None:
        row = self._read_one("SELECT * FROM batches WHERE batch_id = ?", (batch_id,))
        return BatchRecord(**row) if row else None

    def batches(self) -> list[BatchRecord]:
        return [BatchRecord(**row) for row in self._read("SELECT * FROM batches ORDER BY id",
                                                          ())]

    def begin_batch(self, batch_id: str, terminal: str) -> Operation:
        """Journal a batch as sent (its operation and its row), before it is sent."""
        now = _now()
        with self.atomic():
            self._db.execute(
                "INSERT INTO batches (batch_id, terminal, state, submitted_at) "
                "VALUES (?, ?, ?, ?)", (batch_id, terminal, OpState.SENT, now))
            return self.open_op(OpKind.BATCH, batch_id, f"batch {batch_id} sent to terminal "
                                f"{terminal or '?'}")

    def settle_batch(
        self, op_id: int, batch_id: str, batch_number: int, count: int, total_minor: int,
        refs: list[str], detail: str,
    ) -> BatchRecord:
        """Record what the terminal settled in the batch ``batch_id`` and close its
        operation. Applying the same result twice changes nothing."""
        now = _now()
        with self.atomic():
            row = self._db.execute("SELECT state FROM batches WHERE batch_id = ?",
                                   (batch_id,)).fetchone()
            if row is not None and row["state"] != OpState.DONE:
                self._db.execute(
                    "UPDATE batches SET batch_number = ?, state = ?, count = ?, "
                    "total_minor = ?, settled_at = ? WHERE batch_id = ?",
                    (batch_number, OpState.DONE, count, total_minor, now, batch_id))
                for ref in refs:
                    self._db.execute(_SETTLE, (batch_number, now, ref))
            self.close_op(op_id, OpState.DONE, detail)
        record = self.batch(batch_id)
        assert record is not None
        return record

    def batch_not_done(self, op_id: int, batch_id: str, detail: str) -> None:
        with self.atomic():
            self._db.execute("UPDATE batches SET state = ? WHERE batch_id = ? AND state = ?",
                             (OpState.NOT_DONE, batch_id, OpState.SENT))
            self.close_op(op_id, OpState.NOT_DONE, detail)

    # -- end of day -------------------------------------------------------------------

    def _batch_marks(self, batch_id: str) -> tuple[int, int]:
        """Where a settled batch closed its period: the id of its ``done`` event (payments
        are ordered by their first event) and of its operation (refunds by theirs)."""
        event = self._read_one("SELECT MAX(id) FROM events WHERE kind = 'batch' AND ref = ? "
                               "AND to_status = 'done'", (batch_id,))
        op = self._read_one("SELECT MAX(id) FROM operations WHERE kind = 'batch' AND ref = ?",
                            (batch_id,))
        return (int(event[0] or 0) if event else 0, int(op[0] or 0) if op else 0)

    def period_items(self, batch_number: int | None = None
                     ) -> tuple[int, list[reports.Item]] | None:
        """The payments and refunds of a period, with the number of the batch before it:
        since the last settled batch (``batch_number`` None: the X report's), or of the
        settled batch ``batch_number`` (its Z report's; None if there is no such batch)."""
        done = [b for b in self.batches() if b.state == OpState.DONE]
        if batch_number is None:
            before, end = (done[-1] if done else None), None
        else:
            at = [i for i, b in enumerate(done) if b.batch_number == batch_number]
            if not at:
                return None
            before, end = (done[at[-1] - 1] if at[-1] else None), done[at[-1]]
        start = self._batch_marks(before.batch_id) if before else (0, 0)
        stop = self._batch_marks(end.batch_id) if end else None
        first = ("(SELECT MIN(id) FROM events e WHERE e.ref = p.ref AND e.kind = 'payment')")
        if stop is None:
            rows = self._read(
                f"SELECT condition_code, status, amount_minor FROM payments p WHERE "
                f"batch_number IS NULL AND (status = ? OR {first} > ?)", (APPROVED, start[0]))
            refunds = self._read(
                "SELECT p.condition_code, r.status, r.amount_minor FROM refunds r "
                "LEFT JOIN payments p ON p.ref = r.ref WHERE r.op_id > ?", (start[1],))
        else:
            rows = self._read(
                f"SELECT condition_code, status, amount_minor FROM payments p WHERE "
                f"batch_number = ? OR (batch_number IS NULL AND status != ? AND {first} > ? "
                f"AND {first} <= ?)", (batch_number, APPROVED, start[0], stop[0]))
            refunds = self._read(
                "SELECT p.condition_code, r.status, r.amount_minor FROM refunds r "
                "LEFT JOIN payments p ON p.ref = r.ref WHERE r.op_id > ? AND r.op_id <= ?",
                (start[1], stop[1]))
        items = [reports.Item("payment", r[0], r[1], r[2]) for r in rows]
        items += [reports.Item("refund", r[0] or "", r[1], r[2]) for r in refunds]
        return (before.batch_number or 0) if before else 0, items

    def save_report(self, batch_id: str, batch_number: int, terminal: str,
                    report: dict[str, object]) -> None:
        """Keep a batch's Z report; the first one kept is the one that stays."""
        with self.atomic():
            self._db.execute(
                "INSERT OR IGNORE INTO reports (batch_id, batch_number, terminal, report, at) "
                "VALUES (?, ?, ?, ?, ?)", (batch_id, batch_number, terminal,
                                           json.dumps(report, ensure_ascii=False), _now()))

    def report(self, batch_number: int) -> dict[str, Any] | None:
        """The Z report kept for the batch ``batch_number`` (the latest batch of that
        number), or None."""
        row = self._read_one("SELECT report FROM reports WHERE batch_number = ? "
                             "ORDER BY rowid DESC LIMIT 1", (batch_number,))
        if row is None:
            return None
        value: dict[str, Any] = json.loads(row[0])
        return value

    # -- refunds ----------------------------------------------------------------------

    def refund(self, refund_ref: str) -> RefundRecord | None:
        row = self._read_one("SELECT * FROM refunds WHERE refund_ref = ?", (refund_ref,))
        return RefundRecord(**row) if row else None

    def refunds(self, ref: str) -> list[RefundRecord]:
        """The refunds of payment ``ref``, oldest first."""
        rows = self._read("SELECT * FROM refunds WHERE ref = ? ORDER BY created_at, rowid",
                          (ref,))
        return [RefundRecord(**row) for row in rows]

    def refund_of_op(self, op_id: int) -> RefundRecord | None:
        row = self._read_one("SELECT * FROM refunds WHERE op_id = ?", (op_id,))
        return RefundRecord(**row) if row else None

    def begin_refund(self, refund_ref: str, ref: str, amount: str, amount_minor: int,
                     terminal: str = "") -> tuple[Operation, RefundRecord]:
        """Journal a refund as sent (its operation, and its row as ``unknown``), before it
        goes to the terminal. A refund refused or failed before is sent again under the
        same reference: its row starts over with a new operation."""
        now = _now()
        with self.atomic():
            op = self.open_op(OpKind.REFUND, ref, f"refund {refund_ref} of {amount} sent to "
                              "the terminal")
            self._db.execute(
                "INSERT INTO refunds (refund_ref, ref, amount, amount_minor, status, op_id, "
                "terminal, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (refund_ref) DO UPDATE SET status = excluded.status, "
                "op_id = excluded.op_id, terminal = excluded.terminal, detail = '', "
                "updated_at = excluded.updated_at",
                (refund_ref, ref, amount, amount_minor, payments.RefundStatus.UNKNOWN, op.id,
                 terminal, now, now))
        record = self.refund(refund_ref)
        assert record is not None
        return op, record

    def finish_refund(self, refund_ref: str, status: payments.RefundStatus, detail: str,
                      *, transaction_id: str = "") -> RefundRecord:
        """Record a refund's outcome and close its operation. Only a refund whose outcome
        is unknown changes: applying the same answer twice changes nothing."""
        now = _now()
        state = {payments.RefundStatus.APPROVED: OpState.DONE,
                 payments.RefundStatus.REFUSED: OpState.REFUSED,
                 payments.RefundStatus.FAILED: OpState.NOT_DONE}[status]
        with self.atomic():
            row = self._db.execute("SELECT status, op_id FROM refunds WHERE refund_ref = ?",
                                   (refund_ref,)).fetchone()
            if row is None:
                raise IllegalTransition(f"no refund {refund_ref!r}")
            if row["status"] == payments.RefundStatus.UNKNOWN:
                self._db.execute(
                    "UPDATE refunds SET status = ?, detail = ?, transaction_id = ?, "
                    "updated_at = ? WHERE refund_ref = ?",
                    (status, detail, transaction_id, now, refund_ref))
                self.close_op(row["op_id"], state, f"refund {refund_ref}: {detail}")
        record = self.refund(refund_ref)
        assert record is not None
        return record

    def delete_refund(self, refund_ref: str) -> None:
        """Remove a refund the terminal refused while the POS waited: a refused request
        leaves nothing behind but its operation's history."""
        with self.atomic():
            self._db.execute("DELETE FROM refunds WHERE refund_ref = ?", (refund_ref,))

    # -- receipts ---------------------------------------------------------------------

    def save_receipt(self, kind: str, ref: str, refund_ref: str, fields: dict[str, str],
                     merchant_copy: list[str], customer_copy: list[str]) -> None:
        """Keep the terminal's receipt; the first one of each (kind, payment, refund) is
        kept: a receipt is what was printed, and does not change."""
        if kind not in RECEIPT_KINDS:
            raise ValueError(f"receipt kind {kind!r} is not one of {RECEIPT_KINDS}")
        with self.atomic():
            self._db.execute(
                "INSERT OR IGNORE INTO receipts (kind, ref, refund_ref, fields, merchant_copy, "
                "customer_copy, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, ref, refund_ref, json.dumps(fields, ensure_ascii=False),
                 json.dumps(merchant_copy, ensure_ascii=False),
                 json.dumps(customer_copy, ensure_ascii=False), _now()))

    def receipt(self, kind: str, ref: str, refund_ref: str = "") -> Receipt | None:
        row = self._read_one("SELECT * FROM receipts WHERE kind = ? AND ref = ? AND "
                             "refund_ref = ?", (kind, ref, refund_ref))
        return _receipt(row) if row else None

    def receipts(self, ref: str) -> list[Receipt]:
        """Every receipt of payment ``ref`` (its own, its void's, its refunds'), in order."""
        return [_receipt(row) for row in self._read(
            f"SELECT * FROM receipts WHERE kind IN ({', '.join('?' * len(RECEIPT_KINDS))}) "
            "AND ref = ? ORDER BY id", (*RECEIPT_KINDS, ref))]

    # -- payments: writes -------------------------------------------------------------

    def create(
        self, ref: str, amount: str, amount_minor: int, condition_code: str,
        *, origin: str = "pos", detail: str | None = None,
    ) -> Payment:
        """Record a new payment as ``received`` (before the sale goes to the terminal)."""
        now = _now()
        with self.atomic():
            self._db.execute(
                "INSERT INTO payments (ref, amount, amount_minor, condition_code, status, "
                "created_at, updated_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ref, amount, amount_minor, condition_code, RECEIVED, now, now, origin),
            )
            self._event(ref, now, None, RECEIVED, detail or f"amount {amount}, condition code "
                        f"{condition_code}")
        payment = self.get(ref)
        assert payment is not None
        return payment

    def delete(self, ref: str) -> None:
        """Remove a payment the terminal refused: a refused request leaves nothing behind."""
        with self.atomic():
            self._db.execute("DELETE FROM events WHERE ref = ? AND kind = 'payment'", (ref,))
            self._db.execute("DELETE FROM payments WHERE ref = ?", (ref,))

    def transition(
        self,
        ref: str,
        to_status: str,
        detail: str = "",
        *,
        response_code: str | None = None,
        transaction_id: str | None = None,
    ) -> Payment:
        """Move a payment to ``to_status``; raise IllegalTransition if the table forbids it.

        Setting the status it already has only fills in a missing transaction id or
        response code; it writes no event.
        """
        now = _now()
        try:
            to_status = Status(to_status)
        except ValueError:
            raise IllegalTransition(f"{ref}: {to_status!r} is not a status") from None
        with self.atomic():
            row = self._db.execute(
                "SELECT status, response_code, transaction_id FROM payments WHERE ref = ?",
                (ref,),
            ).fetchone()
            if row is None:
                raise IllegalTransition(f"no payment {ref!r}")
            from_status = Status(row["status"])
            code = row["response_code"] if response_code is None else response_code
            txn = transaction_id if transaction_id else row["transaction_id"]
            if from_status == to_status:
                if (code, txn) != (row["response_code"], row["transaction_id"]):
                    self._db.execute(
                        "UPDATE payments SET response_code = ?, transaction_id = ?, "
                        "updated_at = ? WHERE ref = ?",
                        (code, txn, now, ref),
                    )
            elif to_status not in TRANSITIONS[from_status]:
                raise IllegalTransition(f"{ref}: {from_status} -> {to_status} is not allowed")
            else:
                self._db.execute(
                    "UPDATE payments SET status = ?, response_code = ?, transaction_id = ?, "
                    "updated_at = ? WHERE ref = ?",
                    (to_status, code, txn, now, ref),
                )
                self._event(ref, now, from_status, to_status, detail)
        payment = self.get(ref)
        assert payment is not None
        return payment

    def resolve(self, ref: str, status: Status, by: str, detail: str) -> Payment:
        """A person settles a payment the terminal cannot answer for: its status, and who
        did it, in one transaction with the history line that says why."""
        with self.atomic():
            self.transition(ref, status, detail)
            self._db.execute("UPDATE payments SET resolved_by = ? WHERE ref = ?", (by, ref))
        payment = self.get(ref)
        assert payment is not None
        return payment

    def set_origin(self, ref: str, origin: str) -> None:
        with self.atomic():
            self._db.execute("UPDATE payments SET origin = ? WHERE ref = ?", (origin, ref))

    def mark_settled(self, ref: str, batch_number: int) -> None:
        with self.atomic():
            self._db.execute(_SETTLE, (batch_number, _now(), ref))

    # -- helpers ----------------------------------------------------------------------

    def _event(
        self, ref: str, at: str, from_status: str | None, to_status: str, detail: str,
        kind: str = "payment",
    ) -> None:
        self._db.execute(
            "INSERT INTO events (ref, at, from_status, to_status, detail, kind) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (ref, at, from_status, to_status, detail, kind),
        )

    def _read(self, sql: str, params: tuple[object, ...]) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise self._unavailable(exc, "read") from exc

    def _read_one(self, sql: str, params: tuple[object, ...]) -> sqlite3.Row | None:
        try:
            row: sqlite3.Row | None = self._db.execute(sql, params).fetchone()
            return row
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise self._unavailable(exc, "read") from exc

    def _unavailable(self, exc: BaseException, doing: str = "write") -> JournalError:
        reason = str(exc) or type(exc).__name__
        error = JournalError(f"cannot {doing} the journal {self.path}: {reason}")
        if doing == "write":
            self.last_error = error.message
        return error

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """One write transaction (nested calls join the outer one). The cache of ``get``
        is emptied when it ends, committed or not; listeners run after a commit. A failure
        of the database itself is raised as JournalError."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.check_file()
        db = self._db
        started = time.perf_counter()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self.on_write(time.perf_counter() - started, True)
            raise self._unavailable(exc) from exc
        self._depth = 1
        failed = False
        try:
            try:
                yield
            except BaseException as exc:
                failed = isinstance(exc, sqlite3.Error)
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error) and not isinstance(exc,
                                                                     sqlite3.IntegrityError):
                    raise self._unavailable(exc) from exc
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                failed = True
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise self._unavailable(exc) from exc
        finally:
            self._depth = 0
            if self._cache is not None:
                self._cache.clear()
            self.on_write(time.perf_counter() - started, failed)
        self.last_error = ""
        for listener in self.listeners:
            listener()

    # Kept for callers of the journal's first version.
    _transaction = atomic


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


class _OwnerLock:
    """This process's hold on ``<journal>.lock`` (filelock: flock on Linux and macOS,
    LockFileEx on Windows), with its process id in ``<journal>.lock.pid`` beside it so that
    a second posbridge can say who holds the journal. The pid is beside the lock, not in it:
    Windows refuses to read a locked file, and the lock file is filelock's to open."""

    def __init__(self, path: Path) -> None:
        import filelock

        self.path = path
        self._pid_path = path.with_name(path.name + ".lock.pid")
        # thread_local=False: the panel's listener thread opens the journal, and a Journal
        # dropped without close() may be collected on any thread.
        self._lock = filelock.FileLock(path.with_name(path.name + ".lock"), timeout=0,
                                       thread_local=False)
        try:
            self._lock.acquire(blocking=False)
        except filelock.Timeout:
            try:
                holder = self._pid_path.read_text(encoding="ascii").strip() or "unknown"
            except (OSError, UnicodeDecodeError):
                holder = "unknown"
            raise JournalInUse(
                f"{path} is in use by another posbridge (process {holder}); stop it first, "
                "or give this one its own --journal"
            ) from None
        with contextlib.suppress(OSError):  # only a second posbridge's message loses the pid
            self._pid_path.write_text(str(os.getpid()), encoding="ascii")

    def release(self) -> None:
        if self._lock.is_locked:
            with contextlib.suppress(OSError):
                self._pid_path.unlink()
            self._lock.release(force=True)
