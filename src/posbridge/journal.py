"""The payment journal: SQLite in WAL mode, written before anything goes to the terminal.

Every payment is one row of ``payments``; every change of its status is one row of
``events`` written in the same transaction, with the time and why. ``synchronous=FULL``
makes each commit durable before the call returns, so a state the POS has been told about
survives a crash or a power cut. Batches are rows of ``batches``; a settled payment carries
its batch number.

The allowed status changes are the table ``TRANSITIONS`` below; anything else is refused
with ``IllegalTransition`` (a bug or a confused terminal, logged by the caller), so the
journal can never move a paid payment back to unpaid by accident.

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
import os
import sqlite3
import sys
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

SCHEMA_VERSION = 1

# Statuses kept in the journal. "received" is written before the sale is sent; the POS
# sees it as "unknown" (it may or may not have reached the terminal).
RECEIVED = "received"
PENDING = "pending"
UNKNOWN = "unknown"
APPROVED = "approved"
DECLINED = "declined"
CANCELLED = "cancelled"
TIMED_OUT = "timed_out"
VOIDED = "voided"
FAILED = "failed"

ACTIVE = (RECEIVED, PENDING, UNKNOWN)
FINAL = (APPROVED, DECLINED, CANCELLED, TIMED_OUT, VOIDED, FAILED)
_TERMINAL_OUTCOMES = {APPROVED, DECLINED, CANCELLED, TIMED_OUT}

TRANSITIONS: dict[str, set[str]] = {
    RECEIVED: {PENDING, UNKNOWN, FAILED} | _TERMINAL_OUTCOMES,
    PENDING: {UNKNOWN, FAILED} | _TERMINAL_OUTCOMES,  # FAILED: the terminal has no record
    UNKNOWN: {PENDING, FAILED, VOIDED} | _TERMINAL_OUTCOMES,
    APPROVED: {VOIDED, UNKNOWN},  # UNKNOWN: a void whose answer was lost
    FAILED: {RECEIVED},  # the same request sent again restarts it
    DECLINED: set(),
    CANCELLED: set(),
    TIMED_OUT: set(),
    VOIDED: set(),
}

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
]


# A payment is settled in one batch only: a later batch never moves it.
_SETTLE = (
    "UPDATE payments SET batch_number = ?, updated_at = ? WHERE ref = ? AND batch_number IS NULL"
)


class IllegalTransition(Exception):
    pass


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
        self._lock_fd: int | None = None
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
        self._lock_fd = _lock_owner(self.path.resolve())
        self._cache = {}
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per change.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except BaseException:
            self._release()
            raise
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA busy_timeout = 5000")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise RuntimeError(f"{self.path}: SQLite could not use WAL mode (got {mode})")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except BaseException:
            self._db.close()  # a refused file must not stay open (and locked on Windows)
            self._release()
            raise

    def close(self) -> None:
        self._db.close()
        self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            if sys.platform == "win32":  # pragma: no cover - Windows may drop it late on close
                import msvcrt

                with contextlib.suppress(OSError):
                    os.lseek(self._lock_fd, 0, os.SEEK_SET)
                    msvcrt.locking(self._lock_fd, msvcrt.LK_UNLCK, 1)
            os.close(self._lock_fd)  # closing the descriptor drops the lock
            self._lock_fd = None

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

    # -- reads ------------------------------------------------------------------------

    def get(self, ref: str) -> Payment | None:
        cache = self._cache
        if cache is not None and (hit := cache.get(ref)) is not None:
            return hit
        row = self._db.execute("SELECT * FROM payments WHERE ref = ?", (ref,)).fetchone()
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
        rows = self._db.execute(
            "SELECT * FROM payments WHERE status IN (?, ?, ?) ORDER BY created_at, rowid", ACTIVE
        ).fetchall()
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
        rows = self._db.execute(
            f"SELECT * FROM payments {where}ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
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
            "SELECT ref, at, from_status, to_status, detail FROM events WHERE ref = ? "
            "ORDER BY id",
            (ref,),
        )
        for row in cursor:
            yield JournalEvent(**row)

    def unsettled_approved(self) -> list[Payment]:
        rows = self._db.execute(
            "SELECT * FROM payments WHERE status = ? AND batch_number IS NULL", (APPROVED,)
        ).fetchall()
        return [Payment(**row) for row in rows]

    def last_batch_number(self) -> int:
        row = self._db.execute("SELECT max(batch_number) FROM batches").fetchone()
        return int(row[0] or 0)

    # -- writes -----------------------------------------------------------------------

    def create(self, ref: str, amount: str, amount_minor: int, condition_code: str) -> Payment:
        """Record a new payment as ``received`` (before the sale goes to the terminal)."""
        now = _now()
        with self._transaction():
            self._db.execute(
                "INSERT INTO payments (ref, amount, amount_minor, condition_code, status, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ref, amount, amount_minor, condition_code, RECEIVED, now, now),
            )
            self._event(ref, now, None, RECEIVED, f"amount {amount}, condition code "
                        f"{condition_code}")
        payment = self.get(ref)
        assert payment is not None
        return payment

    def delete(self, ref: str) -> None:
        """Remove a payment the terminal refused: a refused request leaves nothing behind."""
        with self._transaction():
            self._db.execute("DELETE FROM events WHERE ref = ?", (ref,))
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
        with self._transaction():
            row = self._db.execute(
                "SELECT status, response_code, transaction_id FROM payments WHERE ref = ?",
                (ref,),
            ).fetchone()
            if row is None:
                raise IllegalTransition(f"no payment {ref!r}")
            from_status = row["status"]
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

    def record_batch(
        self, batch_number: int, count: int, total_minor: int, refs: list[str]
    ) -> None:
        now = _now()
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO batches VALUES (?, ?, ?, ?)",
                (batch_number, now, count, total_minor),
            )
            for ref in refs:
                self._db.execute(_SETTLE, (batch_number, now, ref))

    def mark_settled(self, ref: str, batch_number: int) -> None:
        with self._transaction():
            self._db.execute(_SETTLE, (batch_number, _now(), ref))

    # -- helpers ----------------------------------------------------------------------

    def _event(
        self, ref: str, at: str, from_status: str | None, to_status: str, detail: str
    ) -> None:
        self._db.execute(
            "INSERT INTO events (ref, at, from_status, to_status, detail) VALUES (?, ?, ?, ?, ?)",
            (ref, at, from_status, to_status, detail),
        )

    class _Tx:
        """One write transaction; the cache of ``get`` is emptied when it ends, committed or
        not. (The journal is used from one thread, and ``get`` is never called inside a
        transaction, so nothing read while one is open can outlive it in the cache.)"""

        def __init__(self, journal: Journal) -> None:
            self.journal = journal

        def __enter__(self) -> None:
            self.journal._db.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            try:
                self.journal._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
            finally:
                if self.journal._cache is not None:
                    self.journal._cache.clear()

    def _transaction(self) -> Journal._Tx:
        return Journal._Tx(self)


def _lock_owner(path: Path) -> int:
    """Lock ``<path>.lock`` for this process, or raise JournalInUse naming the holder."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        except OSError:  # pragma: no cover - Windows refuses to read a locked range
            holder = "unknown"
        os.close(fd)
        raise JournalInUse(
            f"{path} is in use by another posbridge (process {holder}); stop it first, "
            "or give this one its own --journal"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd

