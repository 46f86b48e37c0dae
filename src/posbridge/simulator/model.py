"""What the simulated terminal does with each request: a payment lifecycle and scenarios.

The customer's part is chosen by the amount's cents (the convention of card-test systems):

    .05 .51 .55 .91  declined with that code
    .17              the customer cancels on the terminal
    .68              the customer never pays; the terminal times out
    .97              approved, but the result message to the PC is lost
    .98              the link drops mid-payment and comes back; approved
    anything else    approved after the customer delay

The model keeps its own record of every payment, as a real terminal does, in a JSON file
when given ``state_path`` (written atomically on every change), so the record survives a
restart of the simulator and the chaos harness can reconcile the bridge's journal with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..protocol.messages import (
    Batch,
    BatchQuery,
    BatchResult,
    Cancel,
    Message,
    PaymentResult,
    Query,
    QueryResult,
    Reply,
    Sale,
    Void,
)

log = logging.getLogger("posbridge.simulator")

DECLINE_CENTS = {5: "05", 51: "51", 55: "55", 91: "91"}
CANCEL_CENTS = 17
TIMEOUT_CENTS = 68
RESULT_LOST_CENTS = 97
LINK_DROP_CENTS = 98
DEFAULT_CONDITION_CODES = ("00", "01", "08", "59", "82")


@dataclass
class SimPayment:
    ref: str
    amount: int
    condition_code: str
    status: str = "pending"
    response_code: str = "09"
    transaction_id: str = ""
    batch_number: int = 0
    started_at: float = 0.0


class TerminalModel:
    def __init__(
        self,
        *,
        customer_delay: float = 2.0,
        condition_codes: tuple[str, ...] = DEFAULT_CONDITION_CODES,
        state_path: str | os.PathLike[str] | None = None,
        settle_delay: float = 0.0,
    ) -> None:
        self.customer_delay = customer_delay
        #: How long settling a batch with the acquirer takes before the answer is sent.
        self.settle_delay = settle_delay
        self.condition_codes = condition_codes
        self.state_path = Path(state_path) if state_path else None
        self.payments: dict[str, SimPayment] = {}
        self.batch_number = 0
        #: Every batch settled, by the id the PC gave it: a batch sent again is answered
        #: with the same result, never settled twice.
        self.batches: dict[str, dict[str, object]] = {}
        self._customers: dict[str, asyncio.Task[None]] = {}
        #: Sends a message to the PC if the link is up (set by the server).
        self.emit: Callable[[Message], None] = lambda message: None
        #: Drops the link to the PC (set by the server; the .98 scenario uses it).
        self.drop_link: Callable[[], None] = lambda: None
        self._load()

    # -- persistence ------------------------------------------------------------------

    def _load(self) -> None:
        if self.state_path is None or not self.state_path.exists():
            return
        state = json.loads(self.state_path.read_text())
        self.batch_number = state["batch_number"]
        self.batches = state.get("batches", {})
        for item in state["payments"]:
            payment = SimPayment(**item)
            if payment.status == "pending":
                # The terminal restarted while the customer was paying: the card session is
                # gone, as on a real terminal, and the payment ends unpaid.
                payment.status, payment.response_code = "timed_out", "68"
            self.payments[payment.ref] = payment
        self._save()

    def _save(self) -> None:
        if self.state_path is None:
            return
        data = json.dumps(
            {"batch_number": self.batch_number,
             "payments": [asdict(p) for p in self.payments.values()],
             "batches": self.batches},
            indent=1,
        )
        tmp = self.state_path.with_suffix(self.state_path.suffix + ".tmp")
        with open(tmp, "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

    # -- requests from the PC ---------------------------------------------------------

    def handle(self, message: Message) -> Message | None:
        """Answer one request from the PC (None for messages that need no answer)."""
        if isinstance(message, Sale):
            return self._sale(message)
        if isinstance(message, Cancel):
            return self._cancel(message)
        if isinstance(message, Query):
            return self._query(message)
        if isinstance(message, Void):
            return self._void(message)
        if isinstance(message, Batch):
            return self._batch(message)
        if isinstance(message, BatchQuery):
            return self._batch_query(message)
        log.warning("simulator: ignoring unexpected %s", message)
        return None

    def active(self) -> SimPayment | None:
        for payment in self.payments.values():
            if payment.status == "pending":
                return payment
        return None

    def _sale(self, sale: Sale) -> Reply:
        def refuse(reason: str, detail: str = "") -> Reply:
            return Reply(sale.rid, sale.ref, accepted=False, reason=reason, detail=detail)

        if sale.ref in self.payments:
            return refuse("duplicate_reference")
        active = self.active()
        if active is not None:
            return refuse("busy", f"payment {active.ref} is in progress")
        if sale.condition_code not in self.condition_codes:
            return refuse("unsupported_condition_code",
                          f"supported: {', '.join(self.condition_codes)}")
        if sale.amount <= 0:
            return refuse("invalid_amount")
        payment = SimPayment(sale.ref, sale.amount, sale.condition_code,
                             started_at=time.time())
        self.payments[sale.ref] = payment
        self._save()
        log.info("simulator: %s: sale of %d.%02d, waiting for the customer", sale.ref,
                 sale.amount // 100, sale.amount % 100)
        self._customers[sale.ref] = asyncio.get_running_loop().create_task(
            self._customer(payment)
        )
        return Reply(sale.rid, sale.ref, accepted=True)

    async def _customer(self, payment: SimPayment) -> None:
        cents = payment.amount % 100
        try:
            if cents == LINK_DROP_CENTS:
                await asyncio.sleep(self.customer_delay / 2)
                log.info("simulator: %s: scenario .98, dropping the link", payment.ref)
                self.drop_link()
                await asyncio.sleep(self.customer_delay / 2)
            else:
                await asyncio.sleep(self.customer_delay)
        finally:
            self._customers.pop(payment.ref, None)
        if cents in DECLINE_CENTS:
            self._finish(payment, "declined", DECLINE_CENTS[cents])
        elif cents == CANCEL_CENTS:
            self._finish(payment, "cancelled", "17")
        elif cents == TIMEOUT_CENTS:
            self._finish(payment, "timed_out", "68")
        else:
            self._finish(payment, "approved", "00", report=cents != RESULT_LOST_CENTS)

    def _finish(self, payment: SimPayment, status: str, code: str, report: bool = True) -> None:
        payment.status, payment.response_code = status, code
        if status in ("approved", "declined"):
            payment.transaction_id = _transaction_id()
        self._save()
        log.info("simulator: %s: %s (%s)%s", payment.ref, status, code,
                 "" if report else ", result message lost (scenario .97)")
        if report:
            self.emit(PaymentResult(payment.ref, status, code, payment.transaction_id))

    def _cancel(self, cancel: Cancel) -> Reply:
        payment = self.payments.get(cancel.ref)
        if payment is None:
            return Reply(cancel.rid, cancel.ref, accepted=False, reason="not_found")
        if payment.status != "pending":
            return Reply(cancel.rid, cancel.ref, accepted=False, reason="not_in_progress",
                         detail=f"the payment is {payment.status}")
        task = self._customers.pop(cancel.ref, None)
        if task is not None:
            task.cancel()
        payment.status, payment.response_code = "cancelled", "17"
        self._save()
        log.info("simulator: %s: cancelled by the PC", cancel.ref)
        return Reply(cancel.rid, cancel.ref, accepted=True)

    def _query(self, query: Query) -> QueryResult:
        p = self.payments.get(query.ref)
        if p is None:
            return QueryResult(query.rid, query.ref, found=False)
        return QueryResult(query.rid, p.ref, True, p.status, p.response_code, p.transaction_id,
                           p.amount, p.condition_code, p.batch_number)

    def _void(self, void: Void) -> Reply:
        def refuse(reason: str) -> Reply:
            return Reply(void.rid, void.ref, accepted=False, reason=reason)

        p = self.payments.get(void.ref)
        if p is None:
            return refuse("not_found")
        if p.status == "voided":
            return refuse("already_voided")
        if p.status != "approved":
            return refuse("not_approved")
        if p.batch_number:
            return refuse("already_settled")
        if self.active() is not None:
            return refuse("busy")
        p.status, p.response_code = "voided", "VD"
        self._save()
        log.info("simulator: %s: voided", void.ref)
        return Reply(void.rid, void.ref, accepted=True)

    def _batch(self, batch: Batch) -> BatchResult | None:
        done = self.batches.get(batch.batch_id) if batch.batch_id else None
        if done is not None:
            log.info("simulator: batch %s again: answering with batch %s", batch.batch_id,
                     done["batch_number"])
            return self._batch_answer(batch.rid, batch.batch_id, done)
        self.batch_number += 1
        settled = [p for p in self.payments.values()
                   if p.status == "approved" and not p.batch_number]
        for p in settled:
            p.batch_number = self.batch_number
        record: dict[str, object] = {
            "batch_number": self.batch_number, "count": len(settled),
            "total": sum(p.amount for p in settled), "refs": [p.ref for p in settled]}
        if batch.batch_id:
            self.batches[batch.batch_id] = record
        self._save()
        log.info("simulator: batch %d: %d payment(s)", self.batch_number, len(settled))
        answer = self._batch_answer(batch.rid, batch.batch_id, record)
        if self.settle_delay > 0:
            # Settling with the acquirer takes a while; the answer comes when it is done.
            loop = asyncio.get_running_loop()
            loop.call_later(self.settle_delay, self.emit, answer)
            return None
        return answer

    def _batch_query(self, query: BatchQuery) -> BatchResult:
        done = self.batches.get(query.batch_id)
        if done is None:
            return BatchResult(query.rid, 0, 0, 0, (), query.batch_id, found=False)
        return self._batch_answer(query.rid, query.batch_id, done)

    @staticmethod
    def _batch_answer(rid: int, batch_id: str, record: dict[str, object]) -> BatchResult:
        refs = record["refs"]
        assert isinstance(refs, list)
        return BatchResult(rid, int(str(record["batch_number"])), int(str(record["count"])),
                           int(str(record["total"])), tuple(refs), batch_id)

    async def close(self) -> None:
        tasks = list(self._customers.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _transaction_id() -> str:
    """24 digits like the reference's 100100090250128303091105."""
    return "1001" + time.strftime("%y%m%d") + f"{secrets.randbelow(10**14):014d}"
