"""PaymentService: the commands, orchestrated. What an answer *means* is decided in
``payments.py``; this module owns the lock, "journal first, then the terminal", and recovery.

Order of work for every command that moves or settles money (sale, cancel, void, batch,
refund):
validate, check that the journal can be written and that the terminal is there and free,
journal the command as sent, then talk to the terminal. A command refused before the journal
is written leaves nothing behind. A command whose answer never came leaves its operation
``sent`` (and the payment ``unknown``), and recovery asks the terminal what became of it.
Nothing here ever guesses an outcome.

Every application message from the terminal is applied to the journal the moment the link
delivers it (``_on_message``), in the link's order, whether or not a request is still
waiting for it: a late answer is applied like a timely one, and an older answer can never
overwrite a newer one. A waiting command reads the journal after its answer came. When the
journal cannot be written, the messages wait in memory, in order, and are written when it
heals; meanwhile money commands are refused with JOURNAL_UNAVAILABLE.

Recovery runs when the link comes up (start-up, reconnect) and every ``recovery_interval``
seconds: every payment not final is asked for by reference, every batch whose answer was
lost is asked for by the id posbridge gave it, every refund whose answer was lost is asked
for by its refund reference, and every cancel or void still open is closed from its
payment's final state.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import errors, methods, payments, reports
from .journal import (
    IllegalTransition,
    Journal,
    JournalError,
    JournalReplaced,
    Payment,
    RefundRecord,
)
from .payments import (
    APPROVED,
    CANCELLED,
    FAILED,
    PENDING,
    RECEIVED,
    UNKNOWN,
    VOIDED,
    Known,
    OpKind,
    OpState,
    RefundStatus,
    Status,
    TerminalView,
    format_minor,
    shown,
)
from .protocol.messages import (
    Batch,
    BatchQuery,
    BatchResult,
    Cancel,
    Hello,
    Message,
    PaymentResult,
    Progress,
    Query,
    QueryResult,
    Refund,
    RefundQuery,
    RefundResult,
    Reply,
    Sale,
    Totals,
    TotalsResult,
    Void,
    receipt_fields,
)
from .terminal import AnswerTimeout, LinkLost, TerminalClient

log = logging.getLogger("posbridge.payment")
_T = TypeVar("_T", bound=Message)

# Kept importable from here for the modules that used to find them in this one.
TRANSACTION_STATUS = payments.TRANSACTION_STATUS


def public_status(payment: Payment) -> str:
    """The status the POS sees: ``received`` is shown as ``unknown`` (it may or may not
    have reached the terminal)."""
    return payments.public_status(payment.status)


def transaction_status(payment: Payment) -> str:
    return payments.transaction_status(payment.status, payment.response_code)


def parse_amount(text: str, max_minor: int) -> int:
    """A decimal string with at most two places, above zero, at most the maximum -> cents."""
    try:
        return payments.parse_amount(text, max_minor)
    except payments.InvalidInput as exc:
        raise errors.InvalidAmount(exc.message) from None


def check_reference(ref: str) -> None:
    try:
        payments.check_reference(ref)
    except payments.InvalidInput as exc:
        raise errors.InvalidRequest(exc.message) from None


__all__ = [
    "BatchSummary", "CreateResult", "PaymentService", "RefundOutcome", "ServiceConfig",
    "check_reference",
    "format_minor", "parse_amount", "public_status", "shown", "transaction_status",
]


@dataclass(frozen=True)
class ServiceConfig:
    max_amount_minor: int = 99_999_999
    terminal_timeout: float = 5.0  # for the terminal's answer to a command
    query_timeout: float = 2.0  # for a Query made to answer QueryPayment or to recover
    connect_wait: float = 0.5  # how long a command waits for a link that is coming up
    recovery_interval: float = 2.0


@dataclass(frozen=True)
class CreateResult:
    payment: Payment
    replayed: bool


@dataclass(frozen=True)
class BatchSummary:
    batch_number: int
    count: int
    total_minor: int
    replayed: bool = False
    batch_id: str = ""
    #: The batch's Z report as the journal keeps it (reports.build), None if none was kept.
    report: dict[str, Any] | None = None


@dataclass(frozen=True)
class RefundOutcome:
    """A refund as the journal has it, with its payment and all the payment's refunds."""

    refund: RefundRecord
    payment: Payment
    refunds: list[RefundRecord]
    replayed: bool

    @property
    def refunded_minor(self) -> int:
        return refunded_minor(self.refunds)


def refunded_minor(refunds: Sequence[RefundRecord]) -> int:
    """What the terminal has refunded of a payment (approved refunds only)."""
    return sum(r.amount_minor for r in refunds if r.status == RefundStatus.APPROVED)


@dataclass
class Holder:
    """What holds the terminal: one command at a time. ``done`` carries its outcome to an
    identical request that arrives meanwhile."""

    command: str  # "payment", "cancel", "void", "batch", "refund"
    ref: str = ""  # the payment's reference, or the batch's id
    refund_ref: str = ""  # a refund's refund_reference
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())

    def describe(self) -> str:
        if self.command == "payment":
            return f"payment {self.ref!r}"
        if self.command == "batch":
            return "submitting the batch"
        if self.command == "refund":
            return f"the refund {self.refund_ref!r} of payment {self.ref!r}"
        if self.command == "resolve":
            return f"settling payment {self.ref!r} by hand"
        if self.command == "report":
            return "the end-of-day report (asking the terminal for its totals)"
        return f"the {self.command} of payment {self.ref!r}" if self.ref else \
            f"a {self.command}"

    def body(self) -> dict[str, str]:
        held = {"command": self.command}
        if self.ref:
            held["batch_id" if self.command == "batch" else "retrieval_reference_number"] = (
                self.ref)
        if self.refund_ref:
            held["refund_reference"] = self.refund_ref
        return held


@dataclass
class _Sent:
    """A request on the link, kept by its rid so that its answer is applied when it comes,
    however late."""

    kind: str  # sale, cancel, void, query, probe, batch, refund, refund_query
    ref: str  # the payment's reference, or the batch's id
    op_id: int | None = None
    waiting: bool = True  # a command is still waiting for this answer


_SENT_KEPT = 4096  # requests remembered for their late answers
#: Seconds a look at the journal's file (still the one opened?) holds for the next answers.
FILE_CHECK_SECONDS = 0.01


class PaymentService:
    def __init__(
        self, journal: Journal, terminal: TerminalClient, config: ServiceConfig | None = None
    ) -> None:
        self.journal = journal
        # A deleted or replaced journal, found by any read or write: refuse all, stop.
        journal.on_replaced = self._die
        self.terminal = terminal
        self.config = config or ServiceConfig()
        self._lock = asyncio.Lock()  # one money-moving command at a time
        self._holder: Holder | None = None
        self._sent: collections.OrderedDict[int, _Sent] = collections.OrderedDict()
        self._queries: dict[str, asyncio.Future[Payment]] = {}
        self._backlog: list[Message] = []  # terminal messages not yet journaled, in order
        self._fatal = ""
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recovery: asyncio.Task[None] | None = None
        #: Called once when the journal is gone for good (deleted or replaced): the listener
        #: stops serving, so that the process exits non-zero and is restarted.
        self.on_fatal: Callable[[str], None] = lambda reason: None
        #: The latest Progress per pending payment (what the customer is shown, the QR
        #: payload): informational, so in memory only; QueryPayment shows it while pending.
        self.progress: dict[str, Progress] = {}
        #: Called with each payment and its new Progress (the events stream's "progress").
        self.progress_listeners: list[Callable[[Payment, Progress], None]] = []
        terminal.on_message = self._on_message
        terminal.on_progress = self._on_progress
        terminal.on_connected = self._on_connected

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        pending = self.journal.active()
        if pending:
            log.info(
                "start-up: %d payment(s) not final in the journal (%s); will ask the terminal",
                len(pending), ", ".join(p.ref for p in pending),
            )
        ops = self.journal.open_ops()
        if ops:
            log.info("start-up: %d command(s) whose outcome is not known (%s); will ask the "
                     "terminal", len(ops), ", ".join(f"{o.kind} {o.ref}" for o in ops))
        self._recovery = asyncio.create_task(self._recovery_loop(), name="recovery")
        await self.terminal.start()

    async def stop(self) -> None:
        await self.terminal.stop()
        tasks = [t for t in (self._recovery, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def in_progress(self) -> Payment | None:
        """The payment holding the terminal, if any."""
        active = self.journal.active()
        return active[0] if active else None

    @property
    def holder(self) -> Holder | None:
        """The command with the terminal right now, if any."""
        return self._holder

    def journal_problem(self) -> str:
        """Why money commands are refused because of the journal, or ""."""
        if self._fatal:
            return self._fatal
        if self._backlog or self.journal.last_error:
            return self.journal.last_error or "the journal could not be written"
        return ""

    # -- commands ---------------------------------------------------------------------

    async def create_payment(self, ref: str, amount: str, condition_code: str) -> CreateResult:
        check_reference(ref)
        minor = parse_amount(amount, self.config.max_amount_minor)
        try:
            payments.check_condition_code(condition_code)
        except payments.InvalidInput as exc:
            raise errors.InvalidRequest(exc.message) from None
        self.check_journal()
        # The same request while the first is still with the terminal: wait for it, then
        # answer from the journal like any repeat.
        while (held := self._holder) is not None and held.command == "payment" \
                and held.ref == ref:
            await asyncio.wait([held.done])
        return await self._exclusive(
            Holder("payment", ref), lambda: self._create(ref, amount, minor, condition_code))

    async def _create(self, ref: str, amount: str, minor: int, condition_code: str
                      ) -> CreateResult:
        existing = self.journal.get(ref)
        if existing is not None:
            if (existing.amount_minor, existing.condition_code) != (minor, condition_code):
                raise errors.ReferenceConflict(
                    f"reference {ref!r} is already used by a payment of {existing.amount} "
                    f"with condition code {existing.condition_code}; use a new "
                    "retrieval_reference_number for a new payment"
                )
            if existing.status != FAILED:
                log.info("%s: same request again; answering with its status %s",
                         ref, public_status(existing))
                return CreateResult(existing, replayed=True)
        self._require_writable()
        await self._require_terminal()
        if self.journal.active():
            raise self._busy_payment()
        peer = self.terminal.terminal
        supported = peer.condition_codes if peer else ()
        if condition_code not in supported:
            names = peer.condition_code_names if peer else ()
            raise errors.UnsupportedConditionCode(
                f"condition code {condition_code!r} is not a payment method of the "
                "terminal; supported: "
                f"{methods.describe(supported, methods.names_by_code(supported, names))}",
                supported_condition_codes=list(supported),
                supported_payment_methods=methods.listing(supported, names),
            )
        retry = existing is not None
        if retry:  # a failed payment sent again: it starts over
            self._move(ref, RECEIVED, "sent again after it failed")
        else:
            self.journal.create(ref, amount, minor, condition_code)
            log.info("%s: received, amount %s, condition code %s", ref, amount, condition_code)
        # Nothing is awaited between the journal and the send: the sale is on the link before
        # any later query can be.
        try:
            answer = await self._request(_Sent("sale", ref),
                                         lambda rid: Sale(rid, ref, minor, condition_code),
                                         self.config.terminal_timeout)
        except (LinkLost, AnswerTimeout) as exc:
            with contextlib.suppress(JournalError):
                self._move(ref, UNKNOWN, f"sale sent, no acknowledgement: {exc}",
                           only_from=(RECEIVED,))
            self._wake.set()
            raise errors.TerminalTimeout(
                f"the terminal did not acknowledge payment {ref!r} ({exc}); its outcome is "
                "unknown and posbridge is asking the terminal. Query it with QueryPayment; do "
                "not start a new payment for the same sale",
                status=UNKNOWN,
            ) from None
        reply = _expect(answer, Reply)
        self._check_applied(ref)
        if reply.accepted:
            payment = self.journal.get(ref)
            assert payment is not None
            return CreateResult(payment, replayed=False)
        if reply.reason == "duplicate_reference":
            return await self._already_on_terminal(ref, minor, condition_code, retry)
        if retry:
            self._move(ref, FAILED, f"terminal refused the sale again: {reply.reason}")
        else:
            self.journal.delete(ref)
        log.info("%s: terminal refused the sale (%s); nothing recorded", ref,
                 _printable(reply.reason))
        raise _refusal(reply, ref)

    async def _already_on_terminal(self, ref: str, minor: int, condition_code: str,
                                   retry: bool) -> CreateResult:
        """The terminal has a payment with this reference that the journal did not know
        (a lost journal, another PC): it is the second witness, so ask it. The same
        payment is brought into the journal and answered as a repeat; another is a
        conflict, and the journal entry made for this request is removed."""
        view = await self._probe(ref)
        if view is not None and view.found and (view.amount_minor, view.condition_code) == (
                minor, condition_code):
            payment = self._adopt_view(ref, view, "the terminal already had this payment "
                                       "(recovered from the terminal)")
            log.warning("%s: the terminal already had this payment; recovered it from the "
                        "terminal as %s", ref, payment.status)
            return CreateResult(payment, replayed=True)
        if retry:
            self._move(ref, FAILED, "the terminal has another payment with this reference")
        else:
            self.journal.delete(ref)
        if view is None or not view.found:
            raise errors.ReferenceConflict(
                f"the terminal already has a payment with reference {ref!r}; use a new "
                "retrieval_reference_number")
        raise errors.ReferenceConflict(
            f"the terminal already has a payment with reference {ref!r} of "
            f"{format_minor(view.amount_minor)} with condition code {view.condition_code}; "
            "use a new retrieval_reference_number for a new payment")

    async def cancel_payment(self) -> Payment:
        self.check_journal()
        held = self._holder
        if held is not None and held.command == "cancel":
            return await _outcome_of(held)  # type: ignore[no-any-return]
        return await self._exclusive(Holder("cancel"), self._cancel)

    async def _cancel(self) -> Payment:
        payment = self._cancellable()
        if payment is None:
            raise errors.NoPaymentInProgress("there is no payment in progress to cancel")
        ref = payment.ref
        assert self._holder is not None
        self._holder.ref = ref
        self._require_writable()
        await self._require_terminal()
        op = self.journal.open_op(OpKind.CANCEL, ref, "cancel sent to the terminal")
        log.info("%s: cancel requested", ref)
        try:
            answer = await self._request(_Sent("cancel", ref, op.id),
                                         lambda rid: Cancel(rid, ref),
                                         self.config.terminal_timeout)
        except (LinkLost, AnswerTimeout) as exc:
            self._wake.set()
            raise errors.TerminalTimeout(
                f"the terminal did not answer the cancel of {ref!r} ({exc}); query the "
                "payment to see whether it was cancelled",
                retrieval_reference_number=ref,
            ) from None
        reply = _expect(answer, Reply)
        self._check_applied(ref)
        if not reply.accepted:
            self._wake.set()  # it likely just finished: learn its outcome now
            if reply.reason == "not_in_progress":
                raise errors.NoPaymentInProgress(
                    f"payment {ref!r} already finished on the terminal and cannot be "
                    "cancelled; query it for its outcome",
                    retrieval_reference_number=ref,
                )
            raise _refusal(reply, ref)
        after = self.journal.get(ref)
        assert after is not None
        return after

    async def query_payment(self, ref: str) -> Payment:
        check_reference(ref)
        self.check_journal()
        payment = self.journal.get(ref)
        if payment is None:
            return await self._from_terminal(ref)
        if payment.active and self.terminal.connected and not self._backlog:
            try:
                return await self._ask_terminal(payment)
            except (LinkLost, AnswerTimeout) as exc:
                log.info("%s: could not ask the terminal (%s); answering from the journal",
                         ref, exc)
            except JournalError as exc:
                log.error("%s: the terminal's answer could not be journaled: %s", ref, exc)
            return self.journal.get(ref) or payment
        return payment

    async def void_payment(self, ref: str) -> Payment:
        check_reference(ref)
        self.check_journal()
        held = self._holder
        if held is not None and held.command == "void" and held.ref == ref:
            return await _outcome_of(held)  # type: ignore[no-any-return]
        return await self._exclusive(Holder("void", ref), lambda: self._void(ref))

    async def _void(self, ref: str) -> Payment:
        payment = self.journal.get(ref)
        if payment is None:
            payment = await self._from_terminal(ref)
        self._check_voidable(payment)
        self._require_writable()
        await self._require_terminal()
        if self.journal.active():
            raise self._busy_payment()
        # Journal first: the void as sent and the payment as unknown (it may be voided any
        # moment now), in one transaction.
        with self.journal.atomic():
            op = self.journal.open_op(OpKind.VOID, ref, "void sent to the terminal")
            self._move(ref, UNKNOWN, "void sent to the terminal; whether it is voided is not "
                       "known until the terminal answers")
        log.info("%s: void requested", ref)
        try:
            answer = await self._request(_Sent("void", ref, op.id), lambda rid: Void(rid, ref),
                                         self.config.terminal_timeout)
        except (LinkLost, AnswerTimeout) as exc:
            self._wake.set()
            raise errors.TerminalTimeout(
                f"the terminal did not answer the void of {ref!r} ({exc}); whether it was "
                "voided is unknown and posbridge is asking the terminal. Query it before "
                "voiding again",
                status=UNKNOWN,
            ) from None
        reply = _expect(answer, Reply)
        self._check_applied(ref)
        if not reply.accepted:
            log.info("%s: terminal refused the void (%s)", ref, _printable(reply.reason))
            if reply.reason != "already_voided":
                # The refusal tells something of the payment's state but not all of it (in
                # which batch it was settled): ask, so the journal shows the terminal's truth.
                with contextlib.suppress(LinkLost, AnswerTimeout, JournalError):
                    now = self.journal.get(ref)
                    if now is not None and now.active:
                        await self._ask_terminal(now)
            after = self.journal.get(ref)
            if reply.reason == "already_settled" and after is not None and after.batch_number:
                raise errors.AlreadySettled(
                    f"payment {ref!r} was settled in batch {after.batch_number} and can no "
                    "longer be voided; refund it instead")
            raise _refusal(reply, ref)
        after = self.journal.get(ref)
        assert after is not None
        return after

    async def submit_batch(self) -> BatchSummary:
        self.check_journal()
        held = self._holder
        if held is not None and held.command == "batch":
            return await _outcome_of(held)  # type: ignore[no-any-return]
        return await self._exclusive(Holder("batch"), self._batch)

    async def _batch(self) -> BatchSummary:
        self._require_writable()
        await self._require_terminal()
        if self.journal.active():
            raise self._busy_payment("submit the batch when it is finished")
        replay = self._unanswered_batch()
        if replay is not None:
            return replay
        serial = self.terminal.terminal.serial if self.terminal.terminal else ""
        open_batches = self.journal.open_ops(OpKind.BATCH)
        if open_batches:
            # A batch whose answer was lost: send it again under the same id. A terminal that
            # settled it answers with that batch; one that never saw it settles it now.
            op = open_batches[-1]
            batch_id = op.ref
            # Nothing is journaled before this send, so the file is looked at now, not
            # within FILE_CHECK_SECONDS as check_journal does.
            try:
                self.journal.check_file()
            except JournalError as exc:
                raise self._journal_unavailable(exc.message) from None
            log.info("batch %s: sending again (its first answer was lost)", batch_id)
        else:
            batch_id = uuid.uuid4().hex[:16]
            op = self.journal.begin_batch(batch_id, serial)
            log.info("batch %s: submitting", batch_id)
        assert self._holder is not None
        self._holder.ref = batch_id
        try:
            answer = await self._request(_Sent("batch", batch_id, op.id),
                                         lambda rid: Batch(rid, batch_id),
                                         self.config.terminal_timeout)
        except (LinkLost, AnswerTimeout) as exc:
            self._wake.set()
            raise errors.TerminalTimeout(
                f"the terminal did not answer the batch ({exc}); whether it settled is not "
                "known yet and posbridge is asking the terminal. Submitting it again is safe: "
                "it answers with the batch that was settled, and a payment is settled in one "
                "batch only",
                batch_id=batch_id,
            ) from None
        _expect(answer, BatchResult)
        self._check_applied(batch_id)
        record = self.journal.batch(batch_id)
        if record is None or record.state != OpState.DONE or record.batch_number is None:
            raise errors.InternalError(f"the terminal's answer to batch {batch_id} could not "
                                       "be recorded; see the log")
        self.journal.mark_answered(op.id)
        return BatchSummary(record.batch_number, record.count, record.total_minor,
                            batch_id=batch_id, report=self.journal.report(record.batch_number))

    def _unanswered_batch(self) -> BatchSummary | None:
        """A batch settled while its answer was lost (a 504, then recovery or a late answer
        learned it) is what a SubmitBatch sent again gets, as long as nothing new waits to
        be settled: the same request again returns what the first one got."""
        last = self.journal.last_op(OpKind.BATCH)
        if last is None or last.state != OpState.DONE or last.answered:
            return None
        self.journal.mark_answered(last.id)  # answered now, or superseded by a new batch
        record = self.journal.batch(last.ref)
        if record is None or record.batch_number is None or self.journal.unsettled_approved():
            return None
        log.info("batch %s: answering with batch %d, settled while its answer was lost",
                 record.batch_id, record.batch_number)
        return BatchSummary(record.batch_number, record.count, record.total_minor,
                            replayed=True, batch_id=record.batch_id,
                            report=self.journal.report(record.batch_number))

    # -- end of day -------------------------------------------------------------------

    async def x_report(self) -> dict[str, Any]:
        """The X report: the journal's payments and refunds since the last batch, compared
        with the terminal's own totals (asked over the link; version 2). Read-only, but it
        takes the terminal like a command: the totals are asked when nothing else is."""
        self.check_journal()
        return await self._exclusive(Holder("report"), self._x_report)

    async def _x_report(self) -> dict[str, Any]:
        await self._require_terminal()
        peer = self.terminal.terminal
        version = peer.version if peer else 0
        if version < 2:
            # totals is version 2: a v1 terminal would drop it unacknowledged and the link
            # would go down. Refused before anything is sent.
            raise errors.TerminalRefused(
                f"the terminal speaks link protocol v{version}, which has no totals; print "
                "the terminal's own report on the terminal and compare it with the journal's "
                "(posbridge report --batch N once the batch is settled), or update its "
                "payment app")
        try:
            answer = await self._request(_Sent("totals", ""), lambda rid: Totals(rid),
                                         self.config.query_timeout)
        except (LinkLost, AnswerTimeout) as exc:
            raise errors.TerminalTimeout(
                f"the terminal did not answer the request for its totals ({exc}); nothing "
                "was changed, ask for the report again") from None
        result = _expect(answer, TotalsResult)
        try:
            lines = reports.decode_lines(result.rows)
        except ValueError as exc:
            raise errors.InternalError(f"the terminal's totals cannot be read: "
                                       f"{_printable(str(exc))}") from None
        names = methods.names_by_code(peer.condition_codes, peer.condition_code_names) \
            if peer else {}
        report = journal_report(self.journal, names=names, terminal=lines,
                                terminal_batch=result.since_batch)
        if report["mismatch"]:
            log.error("X report: the journal and the terminal do not agree: %s",
                      _printable("; ".join(report["mismatch"])))
        return report

    def _keep_z_report(self, batch_id: str, result: BatchResult) -> None:
        """The Z report of a batch just settled, kept in the journal: its period's items,
        checked against the count and total the terminal settled."""
        found = self.journal.period_items(result.batch_number)
        if found is None:
            return
        since, items = found
        peer = self.terminal.terminal
        names = methods.names_by_code(peer.condition_codes, peer.condition_code_names) \
            if peer else {}
        mismatch = reports.compare_batch(items, result.count, result.total)
        report = reports.build(items, kind="Z", batch_number=result.batch_number,
                               since_batch=since, mismatch=mismatch, names=names)
        if mismatch:
            log.error("Z report of batch %d: the journal and the terminal do not agree: %s",
                      result.batch_number, "; ".join(mismatch))
        self.journal.save_report(batch_id, result.batch_number, peer.serial if peer else "",
                                 report)

    # -- refunds ----------------------------------------------------------------------

    async def refund_payment(self, ref: str, refund_ref: str, amount: str) -> RefundOutcome:
        """Refund ``amount`` of the approved payment ``ref`` (settled or not), once per
        ``refund_ref``: the same refund again answers with what the first one got."""
        check_reference(ref)
        try:
            payments.check_refund_reference(refund_ref)
        except payments.InvalidInput as exc:
            raise errors.InvalidRequest(exc.message) from None
        minor = parse_amount(amount, self.config.max_amount_minor)
        self.check_journal()
        # The same refund while the first is with the terminal: wait for it, then answer
        # from the journal like any repeat.
        while (held := self._holder) is not None and held.command == "refund" \
                and held.refund_ref == refund_ref:
            await asyncio.wait([held.done])
        return await self._exclusive(Holder("refund", ref, refund_ref),
                                     lambda: self._refund(ref, refund_ref, amount, minor))

    async def _refund(self, ref: str, refund_ref: str, amount: str, minor: int
                      ) -> RefundOutcome:
        existing = self.journal.refund(refund_ref)
        if existing is not None:
            if (existing.ref, existing.amount_minor) != (ref, minor):
                raise errors.ReferenceConflict(
                    f"refund_reference {refund_ref!r} is already used by a refund of "
                    f"{existing.amount} of payment {existing.ref!r}; use a new "
                    "refund_reference for a new refund")
            if existing.status not in payments.REFUND_RESENDABLE:
                log.info("%s: refund %s: same request again; answering with its status %s",
                         ref, refund_ref, existing.status)
                return self._refund_outcome(existing, replayed=True)
        payment = self.journal.get(ref)
        if payment is None:
            payment = await self._from_terminal(ref)
        self._check_refundable(payment, refund_ref, minor, amount)
        self._require_writable()
        await self._require_terminal()
        version = self.terminal.terminal.version if self.terminal.terminal else 0
        if version < 2:
            # refund is version 2: a v1 terminal would drop it unacknowledged and the link
            # would go down. Refused before anything is journaled.
            raise errors.TerminalRefused(
                f"the terminal speaks link protocol v{version}, which has no refunds; refund "
                "the payment on the terminal itself, or update its payment app")
        if self.journal.active():
            raise self._busy_payment("refund when it is finished")
        # Journal first: the refund as sent and unknown; nothing awaited before the send.
        serial = self.terminal.terminal.serial if self.terminal.terminal else ""
        op, _ = self.journal.begin_refund(refund_ref, ref, amount, minor, serial)
        log.info("%s: refund %s of %s requested", ref, refund_ref, amount)
        try:
            answer = await self._request(
                _Sent("refund", ref, op.id), lambda rid: Refund(rid, ref, refund_ref, minor),
                self.config.terminal_timeout)
        except (LinkLost, AnswerTimeout) as exc:
            self._wake.set()
            raise errors.TerminalTimeout(
                f"the terminal did not answer the refund {refund_ref!r} of payment {ref!r} "
                f"({exc}); whether it was refunded is unknown and posbridge is asking the "
                "terminal. Query the payment, or send the same refund again: a refund "
                "reference is never refunded twice",
                status=UNKNOWN, refund_reference=refund_ref,
            ) from None
        reply = _expect(answer, Reply)
        self._check_applied(ref)
        record = self.journal.refund(refund_ref)
        assert record is not None
        if reply.accepted:
            return self._refund_outcome(record, replayed=False)
        if existing is None:
            self.journal.delete_refund(refund_ref)  # a refused request leaves nothing behind
        log.info("%s: terminal refused the refund %s (%s)", ref, refund_ref,
                 _printable(reply.reason))
        detail = f" ({reply.detail})" if reply.detail else ""
        if reply.reason == "exceeds_payment":
            log.error("%s: the terminal says refund %s is more than remains of the payment, "
                      "the journal says it is not%s", ref, refund_ref, _printable(detail))
            raise errors.RefundExceedsPayment(
                f"the terminal refused the refund {refund_ref!r}: it is more than remains of "
                f"payment {ref!r}{detail}; nothing was refunded", refund_reference=refund_ref)
        if reply.reason == "refund_declined":
            raise errors.TerminalRefused(
                f"the refund {refund_ref!r} of payment {ref!r} was declined{detail}; nothing "
                "was refunded", refund_reference=refund_ref)
        raise _refusal(reply, ref)

    def _check_refundable(self, payment: Payment, refund_ref: str, minor: int,
                          amount: str) -> None:
        ref = payment.ref
        if payment.status == VOIDED:
            raise errors.AlreadyVoided(f"payment {ref!r} is voided: it was never charged, so "
                                       "there is nothing to refund")
        if payment.status != APPROVED:
            raise errors.PaymentNotApproved(
                f"payment {ref!r} is {public_status(payment)}, not approved; only an "
                "approved payment can be refunded")
        refunds = [r for r in self.journal.refunds(ref) if r.refund_ref != refund_ref]
        counted = sum(r.amount_minor for r in refunds if r.status in payments.REFUND_COUNTED)
        remaining = payments.refund_room(payment.amount_minor, counted)
        if minor <= remaining:
            return
        unknown = sum(r.amount_minor for r in refunds if r.status == RefundStatus.UNKNOWN)
        told = (f"paid {payment.amount}, refunded {format_minor(refunded_minor(refunds))}"
                + (f", {format_minor(unknown)} more in refunds whose outcome is not known yet"
                   if unknown else ""))
        if remaining == 0:
            what = "nothing remains to refund"
        else:
            what = f"at most {format_minor(remaining)} can still be refunded"
        raise errors.RefundExceedsPayment(
            f"a refund of {amount} is more than remains of payment {ref!r} ({told}); {what}",
            remaining=format_minor(remaining), retrieval_reference_number=ref)

    def _refund_outcome(self, record: RefundRecord, *, replayed: bool) -> RefundOutcome:
        payment = self.journal.get(record.ref)
        assert payment is not None
        return RefundOutcome(record, payment, self.journal.refunds(record.ref), replayed)

    def _apply_refund_reply(self, reply: Reply, sent: _Sent) -> None:
        assert sent.op_id is not None
        record = self.journal.refund_of_op(sent.op_id)
        if record is None:
            log.warning("link: an answer to a refund posbridge no longer knows: %s", reply)
            return
        if reply.accepted:
            with self.journal.atomic():
                after = self.journal.finish_refund(record.refund_ref, RefundStatus.APPROVED,
                                                   "refunded by the terminal")
                self._keep_receipt("refund", record.ref, record.refund_ref, reply)
        else:
            after = self.journal.finish_refund(
                record.refund_ref, RefundStatus.REFUSED,
                f"the terminal refused: {reply.reason}" + (
                    f" ({reply.detail})" if reply.detail else ""))
        if after.status != record.status:
            log.info("%s: refund %s of %s: %s -> %s", record.ref, record.refund_ref,
                     record.amount, record.status, after.status)

    def _apply_refund_result(self, result: RefundResult) -> None:
        record = self.journal.refund(result.refund_ref)
        if record is None or record.ref != result.ref:
            log.warning("link: the terminal reports a refund posbridge did not ask for: %s",
                        result)
            return
        status = payments.on_refund_view(RefundStatus(record.status), result.found,
                                         result.status)
        if status is None:
            return
        if result.found and result.amount and result.amount != record.amount_minor:
            log.error("%s: refund %s: the terminal has amount %s, the journal %s", record.ref,
                      record.refund_ref, format_minor(result.amount), record.amount)
        detail = {
            RefundStatus.APPROVED: "the terminal reports it refunded",
            RefundStatus.REFUSED: f"the terminal reports it {_printable(result.status)}",
            RefundStatus.FAILED: "the terminal has no record of it: it never reached the "
                                 "terminal; nothing was refunded",
        }[status]
        with self.journal.atomic():
            self.journal.finish_refund(record.refund_ref, status, detail,
                                       transaction_id=result.transaction_id)
            if status == RefundStatus.APPROVED:
                self._keep_receipt("refund", record.ref, record.refund_ref, result)
        log.info("%s: refund %s of %s: unknown -> %s (%s)", record.ref, record.refund_ref,
                 record.amount, status, detail)

    # -- resolution by hand -------------------------------------------------------------

    async def resolve_payment(self, ref: str, *, paid: bool, reason: str, by: str) -> Payment:
        """A person settles a payment the terminal can never answer for (a replaced
        terminal, lost records) as paid or not paid. Never automatic; refused while the
        terminal still answers for the payment (it is asked first)."""
        check_reference(ref)
        try:
            payments.check_reason(reason)
        except payments.InvalidInput as exc:
            raise errors.InvalidRequest(exc.message) from None
        if not by or len(by) > 64 or not by.isprintable():
            raise errors.InvalidRequest(f"by must name the person, 1 to 64 printable "
                                        f"characters, got {shown(by)}")
        self.check_journal()
        return await self._exclusive(Holder("resolve", ref),
                                     lambda: self._resolve(ref, paid, reason, by))

    async def _resolve(self, ref: str, paid: bool, reason: str, by: str) -> Payment:
        payment = self.journal.get(ref)
        if payment is None:
            raise errors.PaymentNotFound(f"no payment with reference {ref!r} in the journal")
        if not payment.active:
            raise errors.NotResolvable(
                f"payment {ref!r} is {public_status(payment)}: its outcome is known, there is "
                "nothing to settle by hand")
        self._require_writable()
        await self._require_terminal()
        view = await self._probe(ref)
        if view is None:
            raise errors.TerminalTimeout(
                f"the terminal did not answer about payment {ref!r}, so it was not settled "
                "by hand: posbridge asks the terminal first. Try again")
        # Whatever the terminal says is applied first, by the usual rules.
        after = self._apply_view(ref, view, "as the terminal reports it") or payment
        serial = self.terminal.terminal.serial if self.terminal.terminal else "?"
        if view.found:
            raise errors.NotResolvable(
                f"the terminal ({serial}) still has payment {ref!r} ({view.status}); it is "
                f"{public_status(after)} in the journal now. posbridge settles it from the "
                "terminal's answer; it cannot be settled by hand", status=public_status(after))
        if not after.active:
            raise errors.NotResolvable(
                f"the terminal ({serial}) has no record of payment {ref!r}, which means it "
                f"never reached the terminal: it is {public_status(after)} now; nothing to "
                "settle by hand", status=public_status(after))
        void_in_flight = ref in self._voids_in_flight()
        status = payments.resolved_status(Status(after.status), void_in_flight, paid)
        assert status is not None
        outcome = "paid" if paid else "not paid"
        detail = (f"settled by hand by {by} as {outcome} (the terminal {serial} has no record "
                  f"of it): {reason}")
        with self.journal.atomic():
            resolved = self.journal.resolve(ref, status, by, detail)
            self._close_ops_of(resolved)
        log.warning("%s: %s -> %s: %s", ref, after.status, resolved.status, _printable(detail))
        return resolved

    # -- the journal's health -------------------------------------------------------------

    def check_journal(self) -> None:
        """Before every answer: a journal deleted or replaced under the running bridge is
        noticed here, refused, and makes the bridge stop (non-zero, so it is restarted).
        The file is looked at once per FILE_CHECK_SECONDS at most (a stat is about 2 us, a
        sixth of a QueryPayment in process); every write looks again (Journal.atomic), so
        no command reaches the terminal past a deletion."""
        if self._fatal:
            raise errors.JournalUnavailable(self._fatal_message())
        try:
            self.journal.check_file(within=FILE_CHECK_SECONDS)
        except JournalReplaced:  # the journal has called _die (on_replaced)
            raise errors.JournalUnavailable(self._fatal_message()) from None
        except JournalError as exc:
            raise self._journal_unavailable(exc.message) from None

    def _fatal_message(self) -> str:
        return (f"{self._fatal}; posbridge refuses every command and is stopping, so that it "
                "is restarted on a journal it can trust. Restore the file or start it again")

    def _die(self, reason: str) -> None:
        if self._fatal:
            return
        self._fatal = reason
        log.error("journal: %s; refusing every command and stopping (exit status 1)", reason)
        self.on_fatal(reason)

    def _require_writable(self) -> None:
        if self._backlog or self.journal.last_error:
            self._heal()
        problem = self.journal_problem()
        if problem:
            raise self._journal_unavailable(problem)

    def _journal_unavailable(self, problem: str, **extra: Any) -> errors.JournalUnavailable:
        return errors.JournalUnavailable(
            f"posbridge cannot write its journal ({problem}); no payment command is sent to "
            "the terminal until it can. Free disk space or stop the program holding the "
            "file; posbridge retries by itself",
            journal=str(self.journal.path), **extra,
        )

    def _heal(self) -> None:
        """Write what waits in memory, in order; with nothing waiting, probe the file."""
        try:
            while self._backlog:
                self._apply(self._backlog[0])
                self._backlog.pop(0)
            if self.journal.last_error:
                self.journal.probe()
        except JournalError:  # a deleted or replaced one has called _die (on_replaced)
            return
        except Exception:
            log.exception("journal: applying a kept answer failed; dropping it")
            if self._backlog:
                self._backlog.pop(0)
            return
        log.warning("journal: %s can be written again; every answer kept in memory is "
                    "written", self.journal.path)

    def _check_applied(self, ref: str) -> None:
        """After a command's answer came: if it could not be journaled, say so rather than
        answer from a journal that does not know it yet."""
        if self._backlog:
            raise self._journal_unavailable(
                self.journal.last_error or "the terminal's answer could not be written",
                status=UNKNOWN)

    # -- applying what the terminal says ----------------------------------------------

    def _on_message(self, message: Message) -> None:
        if self._backlog:  # keep the order: nothing is applied past a message still waiting
            if isinstance(message, QueryResult):
                # A query's answer can be asked for again once the journal heals (recovery
                # does): keeping it would only grow the backlog with every poll.
                return
            self._backlog.append(message)
            return
        try:
            self._apply(message)
        except JournalReplaced:  # the journal has called _die (on_replaced)
            self._backlog.append(message)
        except JournalError as exc:
            self._backlog.append(message)
            log.error("journal: could not record %s from the terminal (%s); kept in memory "
                      "and retried; payment commands are refused until it is written",
                      type(message).__name__, exc)
            self._wake.set()

    def _apply(self, message: Message) -> None:
        if isinstance(message, PaymentResult):
            after = self._apply_view(message.ref, TerminalView(
                True, message.status, message.response_code, message.transaction_id),
                "reported by the terminal")
            if after is not None and not after.active:
                self._keep_receipt("void" if after.status == VOIDED else "payment",
                                   message.ref, "", message)
            return
        sent = self._sent.get(message.rid) if isinstance(
            message, Reply | QueryResult | BatchResult | RefundResult) else None
        if isinstance(message, QueryResult):
            if sent is not None and sent.kind == "probe":
                return  # the asker decides what it means (the journal lacks the payment)
            after = self._apply_view(message.ref, _view(message), "as the terminal reports it")
            if after is not None and not after.active and message.found:
                self._keep_receipt("void" if after.status == VOIDED else "payment",
                                   message.ref, "", message)
        elif isinstance(message, Reply):
            self._apply_reply(message, sent)
        elif isinstance(message, BatchResult):
            self._apply_batch(message, sent)
        elif isinstance(message, RefundResult):
            self._apply_refund_result(message)

    def _apply_view(self, ref: str, view: TerminalView, source: str) -> Payment | None:
        known = self.journal.get(ref)
        if known is None:
            if view.found:
                log.warning("%s: the terminal reports a payment the journal does not have; "
                            "asking the terminal for it", _printable(ref))
                self._spawn(self._recover_unknown(ref))
            return None
        change = payments.on_terminal_view(_known(known), view, source)
        payment = known
        if change is not None:
            if change.problem:
                log.error("%s: %s", ref, change.problem)
            if change.status != known.status or change.response_code or \
                    change.transaction_id:
                payment = self._move(ref, change.status, change.detail,
                                     response_code=change.response_code,
                                     transaction_id=change.transaction_id)
            if change.settled_in is not None:
                self.journal.mark_settled(ref, change.settled_in)
                payment = self.journal.get(ref) or payment
        self._close_ops_of(payment)
        return payment

    def _apply_reply(self, reply: Reply, sent: _Sent | None) -> None:
        if sent is None:
            log.warning("link: an answer to a request posbridge no longer knows: %s", reply)
            return
        ref = sent.ref
        if sent.kind == "sale":
            payment = self.journal.get(ref)
            if payment is None or payment.transaction_id or any(
                    op.ref == ref for op in self.journal.open_ops()):
                # The payment has gone past its sale (a result, a void in flight): an
                # acknowledgement, however late, has nothing newer to say.
                return
            if reply.accepted:
                self._move(ref, PENDING, "terminal accepted the sale; waiting for the customer",
                           only_from=(RECEIVED, UNKNOWN))
            elif not sent.waiting:
                # A late refusal: the POS was told "unknown"; the sale never started.
                if reply.reason == "duplicate_reference":
                    self._wake.set()  # recovery asks the terminal for it
                else:
                    self._move(ref, FAILED, f"the terminal refused the sale: {reply.reason}",
                               only_from=(RECEIVED, UNKNOWN))
        elif sent.kind == "cancel":
            assert sent.op_id is not None
            if reply.accepted:
                with self.journal.atomic():
                    self._move(ref, CANCELLED, "cancelled by CancelPayment", response_code="17")
                    self.journal.close_op(sent.op_id, OpState.DONE, "the terminal cancelled it")
            else:
                self.journal.close_op(sent.op_id, OpState.REFUSED,
                                      f"the terminal refused: {reply.reason}")
                self._wake.set()
        elif sent.kind == "refund":
            self._apply_refund_reply(reply, sent)
        elif sent.kind == "void":
            assert sent.op_id is not None
            if reply.accepted or payments.on_void_refused(reply.reason) == VOIDED:
                detail = ("voided by VoidPayment" if reply.accepted
                          else "the terminal had already voided it")
                with self.journal.atomic():
                    self._move(ref, VOIDED, detail, response_code="VD")
                    self.journal.close_op(sent.op_id, OpState.DONE, detail)
                    self._keep_receipt("void", ref, "", reply)
            else:
                self.journal.close_op(sent.op_id, OpState.REFUSED,
                                      f"the terminal refused: {reply.reason}")
                self._wake.set()  # the payment is unknown until the terminal is asked

    def _apply_batch(self, result: BatchResult, sent: _Sent | None) -> None:
        batch_id = result.batch_id or (sent.ref if sent else "")
        op_id = sent.op_id if sent else None
        if op_id is None:
            for op in self.journal.open_ops(OpKind.BATCH):
                if op.ref == batch_id:
                    op_id = op.id
        if op_id is None or not batch_id:
            log.warning("link: a batch result posbridge did not ask for: %s", result)
            return
        if not result.found:
            self.journal.batch_not_done(op_id, batch_id, "the terminal has no such batch: it "
                                        "never reached the terminal; nothing was settled")
            log.info("batch %s: the terminal never received it; nothing was settled", batch_id)
            return
        detail = (f"settled as batch {result.batch_number}: {result.count} payment(s), "
                  f"total {format_minor(result.total)}")
        try:
            self.journal.settle_batch(op_id, batch_id, result.batch_number, result.count,
                                      result.total, list(result.refs), detail)
        except Exception as exc:  # sqlite3.IntegrityError: the terminal reused a number
            if isinstance(exc, JournalError):
                raise
            log.error("batch %s: the terminal's batch %d is already in the journal under "
                      "another id (%s); recorded nothing", batch_id, result.batch_number, exc)
            return
        try:
            self._keep_z_report(batch_id, result)
        except Exception:  # the settle above is kept whatever becomes of its report
            log.exception("batch %d: settled and journaled, but its Z report could not be "
                          "kept", result.batch_number)
        log.info("batch %d: %d payment(s), total %s", result.batch_number, result.count,
                 format_minor(result.total))

    def _keep_receipt(self, kind: str, ref: str, refund_ref: str,
                      message: Reply | QueryResult | RefundResult | PaymentResult) -> None:
        """Journal the receipt a terminal message carries, if any (a terminal of the first
        version 2 sends none)."""
        if not (message.receipt or message.merchant_copy or message.customer_copy):
            return
        self.journal.save_receipt(kind, ref, refund_ref, receipt_fields(message.receipt),
                                  list(message.merchant_copy), list(message.customer_copy))

    def _close_ops_of(self, payment: Payment) -> None:
        """A cancel or void still open is closed by its payment's final state."""
        if payment.active:
            return
        for op in self.journal.open_ops():
            if op.ref != payment.ref or op.kind in (OpKind.BATCH, OpKind.REFUND):
                continue
            outcome = (payments.cancel_outcome if op.kind == OpKind.CANCEL
                       else payments.void_outcome)(Status(payment.status))
            if outcome is not None:
                self.journal.close_op(op.id, outcome, f"the payment is {payment.status}")

    # -- asking the terminal ----------------------------------------------------------

    async def _request(self, sent: _Sent, build: Callable[[int], Message],
                       timeout: float) -> Message:
        def register(rid: int) -> Message:
            self._sent[rid] = sent
            while len(self._sent) > _SENT_KEPT:
                self._sent.popitem(last=False)
            return build(rid)

        try:
            return await self.terminal.request(register, timeout)
        finally:
            sent.waiting = False

    async def _ask_terminal(self, payment: Payment) -> Payment:
        """Ask the terminal for one payment; its answer is journaled as it arrives.
        Concurrent callers for the same reference share one Query."""
        ref = payment.ref
        shared = self._queries.get(ref)
        if shared is not None:
            return await asyncio.shield(shared)
        future: asyncio.Future[Payment] = asyncio.get_running_loop().create_future()
        self._queries[ref] = future
        try:
            answer = await self._request(_Sent("query", ref), lambda rid: Query(rid, ref),
                                         self.config.query_timeout)
            _expect(answer, QueryResult)
            if self._backlog:
                raise JournalError(self.journal.last_error or "the answer waits to be written")
            result = self.journal.get(ref) or payment
            future.set_result(result)
            return result
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: sharers re-raise it, no "never retrieved" noise
            raise
        finally:
            del self._queries[ref]

    async def _probe(self, ref: str) -> TerminalView | None:
        """What the terminal has under ``ref``, without applying it; None if it cannot be
        asked."""
        if not self.terminal.connected:
            return None
        try:
            answer = await self._request(_Sent("probe", ref), lambda rid: Query(rid, ref),
                                         self.config.query_timeout)
        except (LinkLost, AnswerTimeout) as exc:
            log.info("%s: could not ask the terminal: %s", _printable(ref), exc)
            return None
        return _view(_expect(answer, QueryResult))

    async def _from_terminal(self, ref: str) -> Payment:
        """A reference the journal does not have: the terminal is the second witness. A
        payment it knows is brought back into the journal, marked as recovered from the
        terminal."""
        view = await self._probe(ref)
        if view is None:
            raise errors.PaymentNotFound(
                f"no payment with reference {ref!r} in the journal, and the terminal could "
                "not be asked (it is not connected); try again when it is")
        if not view.found:
            raise errors.PaymentNotFound(
                f"no payment with reference {ref!r}: neither the journal nor the terminal "
                "has one")
        if self.journal.get(ref) is None:
            self._require_writable()
            try:
                return self._adopt_view(ref, view, "recovered from the terminal: the journal "
                                        "had no record of it")
            except JournalError as exc:
                raise self._journal_unavailable(exc.message) from None
        payment = self.journal.get(ref)
        assert payment is not None
        return payment

    def _adopt_view(self, ref: str, view: TerminalView, detail: str) -> Payment:
        with self.journal.atomic():
            if self.journal.get(ref) is None:
                self.journal.create(ref, format_minor(view.amount_minor), view.amount_minor,
                                    view.condition_code, origin="terminal", detail=detail)
            else:
                self.journal.set_origin(ref, "terminal")
            payment = self._apply_view(ref, view, detail)
        log.warning("%s: %s (%s)", ref, detail, payment.status if payment else "?")
        assert payment is not None
        return payment

    async def _recover_unknown(self, ref: str) -> None:
        view = await self._probe(ref)
        if view is not None and view.found and self.journal.get(ref) is None:
            try:
                self._adopt_view(ref, view, "recovered from the terminal: it reported a "
                                 "payment the journal had no record of")
            except JournalError as exc:
                log.error("%s: could not journal the payment recovered from the terminal: %s",
                          _printable(ref), exc)

    def _on_progress(self, progress: Progress) -> None:
        payment = self.journal.get(progress.ref)
        if payment is None or not payment.active:
            log.info("terminal reported progress for %r, which is not pending; ignored",
                     progress.ref)
            return
        # One payment at a time: what ended is dropped here, so the map stays small.
        for ref in [r for r in self.progress if r != progress.ref]:
            done = self.journal.get(ref)
            if done is None or not done.active:
                del self.progress[ref]
        self.progress[progress.ref] = progress
        for listener in self.progress_listeners:
            try:
                listener(payment, progress)
            except Exception:  # an events subscriber must never stop the link
                log.exception("%s: a progress listener failed", progress.ref)
        log.info("%s: the terminal shows the customer: %s", progress.ref, progress.stage)

    def progress_of(self, payment: Payment) -> Progress | None:
        """What the terminal last showed for ``payment``, while it is not final."""
        return self.progress.get(payment.ref) if payment.active else None

    def _on_connected(self, hello: Hello) -> None:
        self._wake.set()

    async def _recovery_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.recovery_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._recover_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one bad answer or a journal failure stop recovery
                log.exception("recovery: a round failed; trying again")

    async def _recover_once(self) -> None:
        if self._backlog or self.journal.last_error:
            self._heal()
            if self._backlog:
                return
        if not self.terminal.connected:
            return
        held = self._holder
        for payment in self.journal.active():
            if held is not None and held.ref == payment.ref:
                continue  # its command is still waiting for the terminal's answer
            try:
                await self._ask_terminal(payment)
            except (LinkLost, AnswerTimeout) as exc:
                log.info("recovery: could not ask about %s yet: %s", payment.ref, exc)
                return
        serial = self.terminal.terminal.serial if self.terminal.terminal else ""
        for op in self.journal.open_ops():
            if op.kind == OpKind.BATCH:
                if held is not None and held.command == "batch":
                    continue
                batch_id = op.ref
                record = self.journal.batch(batch_id)
                version = self.terminal.terminal.version if self.terminal.terminal else 0
                if version < 2:
                    # batch_query is version 2: a v1 terminal would drop it unread. The
                    # batch stays unknown until SubmitBatch is sent again (docs/api.md).
                    log.warning("recovery: the terminal speaks link protocol v%d and cannot "
                                "be asked about batch %s; submit the batch again", version,
                                batch_id)
                    continue
                if record is not None and record.terminal and record.terminal != serial:
                    log.warning("recovery: batch %s was sent to terminal %s, not to the one "
                                "connected (%s); it is asked for when that terminal is back",
                                batch_id, record.terminal, serial or "?")
                    continue
                try:
                    await self._request(_Sent("batch", batch_id, op.id),
                                        functools.partial(BatchQuery, batch_id=batch_id),
                                        self.config.query_timeout)
                except (LinkLost, AnswerTimeout) as exc:
                    log.info("recovery: could not ask about batch %s yet: %s", batch_id, exc)
                    return
            elif op.kind == OpKind.REFUND:
                if (self.terminal.terminal.version if self.terminal.terminal else 0) < 2:
                    continue  # refund_query is version 2 (and a v1 terminal took no refund)
                refund = self.journal.refund_of_op(op.id)
                if refund is None or (held is not None and held.command == "refund"
                                      and held.refund_ref == refund.refund_ref):
                    continue
                if refund.terminal and refund.terminal != serial:
                    # Another terminal's "no such refund" would read as "never made" and
                    # invite a second refund: only the terminal it was sent to is asked.
                    log.warning("recovery: refund %s was sent to terminal %s, not to the one "
                                "connected (%s); it is asked for when that terminal is back",
                                _printable(refund.refund_ref), refund.terminal, serial or "?")
                    continue
                try:
                    await self._request(
                        _Sent("refund_query", refund.ref, op.id),
                        functools.partial(RefundQuery, ref=refund.ref,
                                          refund_ref=refund.refund_ref),
                        self.config.query_timeout)
                except (LinkLost, AnswerTimeout) as exc:
                    log.info("recovery: could not ask about refund %s yet: %s",
                             _printable(refund.refund_ref), exc)
                    return
            else:
                found = self.journal.get(op.ref)
                if found is not None:
                    self._close_ops_of(found)

    # -- helpers ----------------------------------------------------------------------

    async def _exclusive(self, holder: Holder, run: Callable[[], Awaitable[_R]]) -> _R:
        """Run one command with the terminal to itself, or refuse with a busy error that
        names what holds it."""
        if self._lock.locked():
            raise self._busy()
        async with self._lock:
            self._holder = holder
            try:
                result = await run()
            except JournalError as exc:
                holder.done.set_exception(self._journal_unavailable(exc.message))
                holder.done.exception()
                raise self._journal_unavailable(exc.message) from None
            except BaseException as exc:
                if isinstance(exc, Exception):
                    holder.done.set_exception(exc)
                    holder.done.exception()  # retrieved: sharers re-raise it
                else:
                    holder.done.cancel()
                raise
            else:
                holder.done.set_result(result)
                return result
            finally:
                self._holder = None

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _move(
        self,
        ref: str,
        status: str,
        detail: str,
        *,
        response_code: str | None = None,
        transaction_id: str | None = None,
        only_from: tuple[Status, ...] | None = None,
    ) -> Payment:
        """Journal a status change and log it in one line. An illegal change (a confused
        terminal) is logged and the journal keeps what it had. ``only_from``: change only
        a payment still in one of these statuses (quietly keep any other)."""
        before = self.journal.get(ref)
        if before is not None and only_from is not None and before.status not in only_from:
            return before
        try:
            payment = self.journal.transition(ref, status, detail, response_code=response_code,
                                              transaction_id=transaction_id)
        except IllegalTransition as exc:
            log.error("%s: ignored an impossible change (%s); journal keeps %s", ref, exc,
                      before.status if before else "nothing")
            assert before is not None
            return before
        if before is None or before.status != payment.status:
            extra = ""
            if payment.status in (APPROVED, payments.DECLINED, VOIDED) and \
                    payment.transaction_id:
                extra = f", transaction {payment.transaction_id}"
            log.info("%s: %s -> %s (%s)%s: %s", ref, before.status if before else "-",
                     payment.status, transaction_status(payment),
                     extra, detail)
        return payment

    async def _require_terminal(self) -> None:
        if not await self.terminal.wait_connected(self.config.connect_wait):
            status = self.terminal.status()
            why = f": {status.last_error}" if status.last_error else ""
            raise errors.TerminalNotConnected(
                f"the payment terminal is not connected{why}. Check the cable and that the "
                "payment app is open on the terminal; posbridge reconnects by itself"
            )

    def _voids_in_flight(self) -> set[str]:
        """The payments whose void was sent and whose outcome is not known yet."""
        return {op.ref for op in self.journal.open_ops(OpKind.VOID)}

    def _cancellable(self) -> Payment | None:
        """The sale on the terminal (not a payment made unknown by a void in flight)."""
        voids = self._voids_in_flight()
        for payment in self.journal.active():
            if payment.ref not in voids:
                return payment
        return None

    def _check_voidable(self, payment: Payment) -> None:
        ref = payment.ref
        if payment.status == VOIDED:
            raise errors.AlreadyVoided(f"payment {ref!r} is already voided")
        if payment.status == APPROVED and payment.batch_number is not None:
            raise errors.AlreadySettled(
                f"payment {ref!r} was settled in batch {payment.batch_number} and can no "
                "longer be voided; refund it instead"
            )
        if payment.status == UNKNOWN and ref in self._voids_in_flight():
            raise errors.TerminalBusy(
                f"the void of payment {ref!r} was sent and its outcome is not known yet; "
                "posbridge is asking the terminal. Query the payment before voiding again",
                retrieval_reference_number=ref,
                held_by={"command": "void", "retrieval_reference_number": ref},
            )
        if payment.status != APPROVED:
            raise errors.PaymentNotApproved(
                f"payment {ref!r} is {public_status(payment)}, not approved; only an "
                "approved payment can be voided"
            )
        counted = [r for r in self.journal.refunds(ref) if r.status in payments.REFUND_COUNTED]
        if counted:
            listed = ", ".join(f"{r.refund_ref!r} of {r.amount}, {r.status}" for r in counted)
            raise errors.AlreadyRefunded(
                f"payment {ref!r} has refunds ({listed}); a void would pay it back twice. "
                "Refund what remains instead", retrieval_reference_number=ref)

    def _busy(self) -> errors.TerminalBusy:
        """Another command holds the terminal (refused before this one started)."""
        held = self._holder
        assert held is not None
        extra: dict[str, Any] = {"held_by": held.body()}
        if held.command != "batch" and held.ref:
            extra["retrieval_reference_number"] = held.ref
        return errors.TerminalBusy(
            f"the terminal is busy with {held.describe()}; try again when it has answered",
            **extra)

    def _busy_payment(self, hint: str = "wait for it to finish or cancel it"
                      ) -> errors.TerminalBusy:
        """A payment that is not final holds the terminal (found by a running command)."""
        payment = self.in_progress()
        assert payment is not None
        ref = payment.ref
        command = "void" if ref in self._voids_in_flight() else "payment"
        extra: dict[str, Any] = {"retrieval_reference_number": ref,
                 "held_by": {"command": command, "retrieval_reference_number": ref}}
        if command == "void":
            return errors.TerminalBusy(
                f"the void of payment {ref!r} is unknown while posbridge asks the terminal "
                "about it; try again in a few seconds", **extra)
        if payment.status in (UNKNOWN, RECEIVED):
            return errors.TerminalBusy(
                f"payment {ref!r} is unknown while posbridge asks the terminal about it; "
                "try again in a few seconds", **extra)
        return errors.TerminalBusy(f"the terminal is busy with payment {ref!r}; {hint}",
                                   **extra)


_R = TypeVar("_R")


def journal_report(journal: Journal, *, names: dict[str, str] | None = None,
                   terminal: Sequence[reports.Line] | None = None, terminal_batch: int = 0,
                   terminal_problem: str = "") -> dict[str, Any]:
    """The X report from the journal (since its last batch), compared with the terminal's
    lines when given (``terminal_batch``: the last batch the terminal settled)."""
    since, items = journal.period_items() or (0, [])
    mismatch = []
    if terminal is not None and terminal_batch != since:
        mismatch.append(f"last batch: journal {since}, terminal {terminal_batch}")
    return reports.build(items, kind="X", since_batch=since, terminal=terminal,
                         mismatch=mismatch, names=names, terminal_problem=terminal_problem)


async def _outcome_of(held: Holder) -> Any:
    """The outcome of the identical command in flight: its answer, or its error."""
    await asyncio.wait([held.done])
    if held.done.cancelled():
        raise errors.TerminalBusy(f"{held.describe()} was interrupted; try again",
                                  held_by=held.body())
    return held.done.result()


def _known(payment: Payment) -> Known:
    return Known(Status(payment.status), payment.amount_minor, payment.transaction_id,
                 payment.batch_number)


def _view(result: QueryResult) -> TerminalView:
    return TerminalView(result.found, result.status, result.response_code,
                        result.transaction_id, result.amount, result.batch_number,
                        result.condition_code)


def _printable(text: str) -> str:
    """Text from the terminal or a request, safe for one log line."""
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


def _expect(answer: Message, kind: type[_T]) -> _T:
    if not isinstance(answer, kind):
        raise errors.InternalError(
            f"the terminal answered with {type(answer).__name__}, expected {kind.__name__}"
        )
    return answer


def _refusal(reply: Reply, ref: str) -> errors.PosBridgeError:
    detail = f" ({reply.detail})" if reply.detail else ""
    reason = reply.reason
    if reason == "busy":
        return errors.TerminalBusy(f"the terminal is busy with another payment{detail}",
                                   held_by={"command": "terminal"})
    if reason == "unsupported_condition_code":
        return errors.UnsupportedConditionCode(f"the terminal refused the condition code{detail}")
    if reason == "customer_unavailable":
        return errors.TerminalRefused(f"the terminal cannot take a payment now{detail}")
    if reason == "duplicate_reference":
        return errors.ReferenceConflict(
            f"the terminal already has a payment with reference {ref!r}{detail}"
        )
    if reason == "already_voided":
        return errors.AlreadyVoided(f"payment {ref!r} is already voided{detail}")
    if reason == "already_settled":
        return errors.AlreadySettled(f"payment {ref!r} is already settled{detail}")
    if reason == "not_approved":
        return errors.PaymentNotApproved(f"payment {ref!r} is not approved{detail}")
    if reason == "not_in_progress":
        return errors.NoPaymentInProgress(f"payment {ref!r} is not in progress{detail}")
    return errors.TerminalRefused(f"the terminal refused: {reason or 'no reason given'}{detail}")
