"""PaymentService: the five commands and the rules that protect money.

Order of work for every command that moves money: validate, check the terminal is there and
free, write the journal, then talk to the terminal. A command refused before the journal is
written leaves nothing behind; a command whose answer never came leaves the payment
``unknown`` and the recovery loop asks the terminal what became of it. Nothing here ever
guesses an outcome.

Recovery runs when the link comes up (start-up, reconnect) and then every
``recovery_interval`` seconds while payments are not final: each one is asked for by
reference (a Query on the link) and the terminal's answer is journaled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from typing import TypeVar

from . import errors, methods
from .journal import (
    APPROVED,
    CANCELLED,
    DECLINED,
    FAILED,
    PENDING,
    RECEIVED,
    TIMED_OUT,
    UNKNOWN,
    VOIDED,
    IllegalTransition,
    Journal,
    Payment,
)
from .protocol.messages import (
    Batch,
    BatchResult,
    Cancel,
    Hello,
    Message,
    PaymentResult,
    Progress,
    Query,
    QueryResult,
    Reply,
    Sale,
    Void,
)
from .terminal import AnswerTimeout, LinkLost, TerminalClient

log = logging.getLogger("posbridge.payment")
_T = TypeVar("_T", bound=Message)

# The transaction_status the POS sees for each status (the reference's field).
TRANSACTION_STATUS = {
    RECEIVED: "09",
    PENDING: "09",
    UNKNOWN: "09",
    APPROVED: "00",
    CANCELLED: "17",
    TIMED_OUT: "68",
    VOIDED: "VD",
    FAILED: "96",
}

_TERMINAL_STATUS = {  # status on the link -> journal status
    "pending": PENDING,
    "approved": APPROVED,
    "declined": DECLINED,
    "cancelled": CANCELLED,
    "timed_out": TIMED_OUT,
    "voided": VOIDED,
}

_AMOUNT = re.compile(r"([0-9]{1,12})(?:\.([0-9]{1,2}))?")
_CONDITION_CODE = re.compile(r"[0-9]{2}")


def public_status(payment: Payment) -> str:
    """The status the POS sees: ``received`` is shown as ``unknown`` (it may or may not
    have reached the terminal)."""
    return UNKNOWN if payment.status == RECEIVED else payment.status


def transaction_status(payment: Payment) -> str:
    if payment.status == DECLINED:
        return payment.response_code or "05"
    return TRANSACTION_STATUS[payment.status]


def format_minor(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def shown(value: str, limit: int = 40) -> str:
    """``value`` quoted for an error message, cut short: messages never echo a whole body."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def parse_amount(text: str, max_minor: int) -> int:
    """A decimal string with at most two places, above zero, at most the maximum -> cents."""
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise errors.InvalidAmount(
            f"amount {shown(text)} is not a decimal string with at most two places, "
            'for example "1.00" or "12.5"'
        )
    whole, frac = match.group(1), match.group(2) or ""
    minor = int(whole) * 100 + int(frac.ljust(2, "0") or "0")
    if minor <= 0:
        raise errors.InvalidAmount(f"amount {text!r} must be greater than zero")
    if minor > max_minor:
        raise errors.InvalidAmount(
            f"amount {text!r} is above the maximum of {format_minor(max_minor)} "
            "(set with --max-amount)"
        )
    return minor


_REFERENCE = re.compile(r"[ -~]{1,64}")


def check_reference(ref: str) -> None:
    if _REFERENCE.fullmatch(ref) is None:
        raise errors.InvalidRequest(
            "retrieval_reference_number must be 1 to 64 printable ASCII characters, "
            f"got {shown(ref, 70)}"
        )


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


class PaymentService:
    def __init__(
        self, journal: Journal, terminal: TerminalClient, config: ServiceConfig | None = None
    ) -> None:
        self.journal = journal
        self.terminal = terminal
        self.config = config or ServiceConfig()
        self._lock = asyncio.Lock()  # one money-moving command at a time
        self._inflight_ref: str | None = None
        self._queries: dict[str, asyncio.Future[Payment]] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[object]] = set()
        self._recovery: asyncio.Task[None] | None = None
        #: The latest Progress per pending payment (what the customer is shown, the QR
        #: payload): informational, so in memory only; QueryPayment shows it while pending.
        self.progress: dict[str, Progress] = {}
        terminal.on_result = self._on_result
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

    # -- commands ---------------------------------------------------------------------

    async def create_payment(self, ref: str, amount: str, condition_code: str) -> CreateResult:
        check_reference(ref)
        minor = parse_amount(amount, self.config.max_amount_minor)
        if not _CONDITION_CODE.fullmatch(condition_code):
            raise errors.InvalidRequest(
                "condition_code must be two digits, for example \"82\"; "
                f"got {shown(condition_code)}"
            )
        if self._lock.locked() and self._inflight_ref != ref:
            raise self._busy()
        async with self._lock:
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
            await self._require_terminal()
            if self.journal.active():
                raise self._busy()
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
            self._inflight_ref = ref
            try:
                return CreateResult(await self._sale(ref, amount, minor, condition_code,
                                                     existing), replayed=False)
            finally:
                self._inflight_ref = None

    async def _sale(
        self, ref: str, amount: str, minor: int, condition_code: str, retry: Payment | None
    ) -> Payment:
        if retry is not None:  # a failed payment sent again: it starts over
            self._move(ref, RECEIVED, "sent again after it failed")
        else:
            self.journal.create(ref, amount, minor, condition_code)
            log.info("%s: received, amount %s, condition code %s", ref, amount, condition_code)
        try:
            answer = await self.terminal.request(
                lambda rid: Sale(rid, ref, minor, condition_code), self.config.terminal_timeout
            )
        except (LinkLost, AnswerTimeout) as exc:
            self._move(ref, UNKNOWN, f"sale sent, no acknowledgement: {exc}")
            self._wake.set()
            raise errors.TerminalTimeout(
                f"the terminal did not acknowledge payment {ref!r} ({exc}); its outcome is "
                "unknown and posbridge is asking the terminal. Query it with QueryPayment; do "
                "not start a new payment for the same sale",
                status=UNKNOWN,
            ) from None
        reply = _expect(answer, Reply)
        if not reply.accepted:
            if retry is not None:
                self._move(ref, FAILED, f"terminal refused the sale again: {reply.reason}")
            else:
                self.journal.delete(ref)
            log.info("%s: terminal refused the sale (%s); nothing recorded", ref, reply.reason)
            raise _refusal(reply, ref)
        return self._move(ref, PENDING, "terminal accepted the sale; waiting for the customer")

    async def cancel_payment(self) -> Payment:
        payment = self.in_progress()
        if payment is None:
            raise errors.NoPaymentInProgress("there is no payment in progress to cancel")
        await self._require_terminal()
        ref = payment.ref
        log.info("%s: cancel requested", ref)
        try:
            answer = await self.terminal.request(
                lambda rid: Cancel(rid, ref), self.config.terminal_timeout
            )
        except (LinkLost, AnswerTimeout) as exc:
            self._wake.set()
            raise errors.TerminalTimeout(
                f"the terminal did not answer the cancel of {ref!r} ({exc}); query the "
                "payment to see whether it was cancelled",
                retrieval_reference_number=ref,
            ) from None
        reply = _expect(answer, Reply)
        if not reply.accepted:
            self._wake.set()  # it likely just finished: learn its outcome now
            if reply.reason == "not_in_progress":
                raise errors.NoPaymentInProgress(
                    f"payment {ref!r} already finished on the terminal and cannot be "
                    "cancelled; query it for its outcome",
                    retrieval_reference_number=ref,
                )
            raise _refusal(reply, ref)
        return self._move(ref, CANCELLED, "cancelled by CancelPayment", response_code="17")

    async def query_payment(self, ref: str) -> Payment:
        check_reference(ref)
        payment = self.journal.get(ref)
        if payment is None:
            raise errors.PaymentNotFound(f"no payment with reference {ref!r}")
        if payment.active and self.terminal.connected:
            try:
                return await self._ask_terminal(payment)
            except (LinkLost, AnswerTimeout) as exc:
                log.info("%s: could not ask the terminal (%s); answering from the journal",
                         ref, exc)
            return self.journal.get(ref) or payment
        return payment

    async def void_payment(self, ref: str) -> Payment:
        check_reference(ref)
        if self._lock.locked():
            raise self._busy()
        async with self._lock:
            payment = self.journal.get(ref)
            if payment is None:
                raise errors.PaymentNotFound(f"no payment with reference {ref!r}")
            _check_voidable(payment)
            await self._require_terminal()
            other = self.in_progress()
            if other is not None:
                raise self._busy()
            log.info("%s: void requested", ref)
            try:
                answer = await self.terminal.request(
                    lambda rid: Void(rid, ref), self.config.terminal_timeout
                )
            except (LinkLost, AnswerTimeout) as exc:
                self._move(ref, UNKNOWN, f"void sent, no answer: {exc}")
                self._wake.set()
                raise errors.TerminalTimeout(
                    f"the terminal did not answer the void of {ref!r} ({exc}); whether it was "
                    "voided is unknown and posbridge is asking the terminal. Query it before "
                    "voiding again",
                    status=UNKNOWN,
                ) from None
            reply = _expect(answer, Reply)
            if not reply.accepted:
                log.info("%s: terminal refused the void (%s)", ref, reply.reason)
                raise _refusal(reply, ref)
            return self._move(ref, VOIDED, "voided by VoidPayment", response_code="VD")

    async def submit_batch(self) -> BatchSummary:
        if self._lock.locked():
            raise self._busy()
        async with self._lock:
            await self._require_terminal()
            if self.in_progress() is not None:
                raise self._busy("submit the batch when it is finished")
            log.info("batch: submitting")
            try:
                answer = await self.terminal.request(Batch, self.config.terminal_timeout)
            except (LinkLost, AnswerTimeout) as exc:
                raise errors.TerminalTimeout(
                    f"the terminal did not answer the batch ({exc}); submitting it again is "
                    "safe: a payment is settled in one batch only"
                ) from None
            result = _expect(answer, BatchResult)
            self.journal.record_batch(
                result.batch_number, result.count, result.total, list(result.refs)
            )
            log.info("batch %d: %d payment(s), total %s", result.batch_number, result.count,
                     format_minor(result.total))
            return BatchSummary(result.batch_number, result.count, result.total)

    # -- recovery ---------------------------------------------------------------------

    async def _ask_terminal(self, payment: Payment) -> Payment:
        """Ask the terminal for one payment and journal its answer. Concurrent callers for
        the same reference share one Query."""
        ref = payment.ref
        shared = self._queries.get(ref)
        if shared is not None:
            return await asyncio.shield(shared)
        future: asyncio.Future[Payment] = asyncio.get_running_loop().create_future()
        self._queries[ref] = future
        try:
            answer = await self.terminal.request(
                lambda rid: Query(rid, ref), self.config.query_timeout
            )
            result = self._apply_query(ref, _expect(answer, QueryResult))
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

    def _apply_query(self, ref: str, result: QueryResult) -> Payment:
        payment = self.journal.get(ref)
        assert payment is not None
        if not result.found:
            if payment.status in (RECEIVED, UNKNOWN) and not payment.transaction_id:
                return self._move(ref, FAILED, "the terminal has no record of it: the sale "
                                  "never reached the terminal; not paid")
            if payment.status == PENDING:
                # The terminal accepted it once and has forgotten it: it lost its records
                # (a terminal must keep them, docs/link-protocol.md). No payment can be
                # finished there, so it is not paid; staying pending would block the till.
                log.error("%s: the terminal accepted this payment but no longer has any "
                          "record of it; recording it as failed (not paid)", ref)
                return self._move(ref, FAILED, "the terminal lost its record of it; not paid")
            log.error("%s: the terminal has no record of this %s payment", ref, payment.status)
            return payment
        status = _TERMINAL_STATUS.get(result.status)
        if status is None:
            log.error("%s: the terminal reported an unknown status %r", ref, result.status)
            return payment
        if result.amount and result.amount != payment.amount_minor:
            log.error("%s: the terminal has amount %s, the journal %s", ref,
                      format_minor(result.amount), payment.amount)
        payment = self._move(ref, status, "as the terminal reports it",
                             response_code=result.response_code,
                             transaction_id=result.transaction_id)
        if result.batch_number and payment.batch_number is None:
            self.journal.mark_settled(ref, result.batch_number)
            payment = self.journal.get(ref) or payment
        return payment

    def _on_result(self, result: PaymentResult) -> None:
        status = _TERMINAL_STATUS.get(result.status)
        if self.journal.get(result.ref) is None or status is None:
            log.error("terminal reported %s for a payment the journal does not have",
                      result)
            return
        self._move(result.ref, status, "reported by the terminal",
                   response_code=result.response_code, transaction_id=result.transaction_id)

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
            if not self.terminal.connected:
                continue
            for payment in self.journal.active():
                if payment.ref == self._inflight_ref:
                    continue  # its command is still waiting for the terminal's answer
                try:
                    await self._ask_terminal(payment)
                except (LinkLost, AnswerTimeout) as exc:
                    log.info("recovery: could not ask about %s yet: %s", payment.ref, exc)
                    break
                except Exception:  # never let one bad answer stop recovery
                    log.exception("recovery: asking about %s failed", payment.ref)

    # -- helpers ----------------------------------------------------------------------

    def _move(
        self,
        ref: str,
        status: str,
        detail: str,
        *,
        response_code: str | None = None,
        transaction_id: str | None = None,
    ) -> Payment:
        """Journal a status change and log it in one line. An illegal change (a confused
        terminal) is logged and the journal keeps what it had."""
        before = self.journal.get(ref)
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
            if payment.status in (APPROVED, DECLINED, VOIDED) and payment.transaction_id:
                extra = f", transaction {payment.transaction_id}"
            log.info("%s: %s -> %s (%s)%s: %s", ref, before.status if before else "-",
                     payment.status, transaction_status(payment), extra, detail)
        return payment

    async def _require_terminal(self) -> None:
        if not await self.terminal.wait_connected(self.config.connect_wait):
            status = self.terminal.status()
            why = f": {status.last_error}" if status.last_error else ""
            raise errors.TerminalNotConnected(
                f"the payment terminal is not connected{why}. Check the cable and that the "
                "payment app is open on the terminal; posbridge reconnects by itself"
            )

    def _busy(self, hint: str = "wait for it to finish or cancel it") -> errors.TerminalBusy:
        payment = self.in_progress()
        ref = payment.ref if payment else self._inflight_ref
        if ref is None:
            return errors.TerminalBusy(
                "the terminal is busy with another command (a void or a batch); try again "
                "in a moment"
            )
        if payment is not None and payment.status == UNKNOWN:
            return errors.TerminalBusy(
                f"payment {ref!r} is unknown while posbridge asks the terminal about it; "
                "try again in a few seconds",
                retrieval_reference_number=ref,
            )
        return errors.TerminalBusy(
            f"the terminal is busy with payment {ref!r}; {hint}",
            retrieval_reference_number=ref,
        )


def _expect(answer: Message, kind: type[_T]) -> _T:
    if not isinstance(answer, kind):
        raise errors.InternalError(
            f"the terminal answered with {type(answer).__name__}, expected {kind.__name__}"
        )
    return answer


def _check_voidable(payment: Payment) -> None:
    ref = payment.ref
    if payment.status == VOIDED:
        raise errors.AlreadyVoided(f"payment {ref!r} is already voided")
    if payment.status == APPROVED and payment.batch_number is not None:
        raise errors.AlreadySettled(
            f"payment {ref!r} was settled in batch {payment.batch_number} and can no longer "
            "be voided; refund it instead"
        )
    if payment.status != APPROVED:
        raise errors.PaymentNotApproved(
            f"payment {ref!r} is {public_status(payment)}, not approved; only an approved "
            "payment can be voided"
        )


def _refusal(reply: Reply, ref: str) -> errors.PosBridgeError:
    detail = f" ({reply.detail})" if reply.detail else ""
    reason = reply.reason
    if reason == "busy":
        return errors.TerminalBusy(f"the terminal is busy with another payment{detail}")
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
