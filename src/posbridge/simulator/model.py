"""What the simulated terminal does with each request: a payment lifecycle and scenarios.

The customer's part is chosen by the amount's cents (the convention of card-test systems):

    .05 .51 .55 .91  declined with that code
    .17              the customer cancels on the terminal
    .68              the customer never pays; the terminal times out
    .97              approved, but the result message to the PC is lost
    .98              the link drops mid-payment and comes back; approved
    anything else    approved after the customer delay

Who decides is the model's ``customer`` (``simulator/customer.py``): this cents table by
default, a scenario file (``scenario.py``) or the clickable window (``window.py``).
A refund's part is chosen by the refund amount's cents:

    .44              the refund is declined (``refund_declined``); nothing is refunded
    .47              refunded, but the terminal's answer to the PC is lost
    anything else    refunded at once

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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import methods, reports
from ..protocol.messages import (
    Batch,
    BatchQuery,
    BatchResult,
    Cancel,
    Message,
    PaymentResult,
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
)
from . import customer as customers
from .qr import progress_for

log = logging.getLogger("posbridge.simulator")

DEFAULT_CONDITION_CODES = methods.DEFAULT_CODES
MERCHANT_ID = "SIM-MERCHANT-0001"


def receipt_copies(pairs: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The printable merchant and customer copies of a receipt, from its fields."""
    f = dict(p.partition("=")[::2] for p in pairs)
    body = (f"{f.get('kind', '').upper()} {f.get('status', '').upper()}",
            f"AMOUNT     SGD {f.get('amount', '')}",
            f"METHOD     {f.get('method', '')} {f.get('account', '')}".rstrip(),
            f"TXN        {f.get('transaction_id', '')}",
            f"TID {f.get('terminal_id', '')}  MID {f.get('merchant_id', '')}",
            f.get("time", ""))
    head = ("POSBRIDGE SIMULATOR - NO REAL MONEY",)
    return ((*head, "MERCHANT COPY", *body, "SIGNATURE NOT REQUIRED"),
            (*head, "CUSTOMER COPY", *body, "THANK YOU"))


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
    receipt: list[str] = field(default_factory=list)  # "key=value", once final
    void_receipt: list[str] = field(default_factory=list)
    #: The last batch settled when it was made: it counts in the totals until the next.
    period: int = 0


@dataclass
class SimRefund:
    refund_ref: str
    ref: str
    amount: int
    status: str = "approved"
    transaction_id: str = ""
    receipt: list[str] = field(default_factory=list)
    period: int = 0  # as SimPayment.period


class TerminalModel:
    def __init__(
        self,
        *,
        customer_delay: float = 2.0,
        condition_codes: tuple[str, ...] = DEFAULT_CONDITION_CODES,
        state_path: str | os.PathLike[str] | None = None,
        settle_delay: float = 0.0,
        condition_code_names: tuple[str, ...] | None = None,
        customer: customers.Customer | None = None,
    ) -> None:
        self.customer_delay = customer_delay
        #: How long settling a batch with the acquirer takes before the answer is sent.
        self.settle_delay = settle_delay
        self.condition_codes = condition_codes
        #: The method of each code, parallel to condition_codes (the known names by default).
        self.condition_code_names = (tuple(methods.name_of(c) for c in condition_codes)
                                     if condition_code_names is None else condition_code_names)
        #: Decides each payment's outcome: the cents table unless a scenario or window is set.
        self.customer: customers.Customer = customer or customers.CentsTable(customer_delay)
        self.state_path = Path(state_path) if state_path else None
        self.payments: dict[str, SimPayment] = {}
        self.batch_number = 0
        #: Every batch settled, by the id the PC gave it: a batch sent again is answered
        #: with the same result, never settled twice.
        self.batches: dict[str, dict[str, object]] = {}
        #: Every refund made, by its refund reference (declined refunds leave nothing).
        self.refunds: dict[str, SimRefund] = {}
        self._customers: dict[str, asyncio.Task[None]] = {}
        #: Printed on receipts (the server sets it to the terminal's serial).
        self.terminal_id = "SIM-000001"
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
        for item in state.get("refunds", []):
            refund = SimRefund(**item)
            self.refunds[refund.refund_ref] = refund
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
             "batches": self.batches,
             "refunds": [asdict(r) for r in self.refunds.values()]},
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
        if isinstance(message, Refund):
            return self._refund(message)
        if isinstance(message, RefundQuery):
            return self._refund_query(message)
        if isinstance(message, Totals):
            return self.totals(message.rid)
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
            names = methods.names_by_code(self.condition_codes, self.condition_code_names)
            return refuse("unsupported_condition_code",
                          f"supported: {methods.describe(self.condition_codes, names)}")
        if sale.amount <= 0:
            return refuse("invalid_amount")
        why = self.customer.unavailable()
        if why:
            log.warning("simulator: %s: sale refused: %s", sale.ref, why)
            return refuse("customer_unavailable", why)
        payment = SimPayment(sale.ref, sale.amount, sale.condition_code,
                             started_at=time.time(), period=self.batch_number)
        self.payments[sale.ref] = payment
        self._save()
        log.info("simulator: %s: sale of %d.%02d, waiting for the customer", sale.ref,
                 sale.amount // 100, sale.amount % 100)
        self._customers[sale.ref] = asyncio.get_running_loop().create_task(
            self._customer(payment)
        )
        return Reply(sale.rid, sale.ref, accepted=True)

    async def _customer(self, payment: SimPayment) -> None:
        # Runs once the sale's Reply is on its way: what the terminal shows (the QR code)
        # reaches the PC after the acceptance, then the customer decides.
        shown = progress_for(payment.ref, payment.amount, payment.condition_code)
        self.emit(shown)
        try:
            outcome = await self.customer.decide(customers.Sale(
                payment.ref, payment.amount, payment.condition_code, shown))
            if outcome.kind == customers.LINK_DROP:
                log.info("simulator: %s: dropping the link mid-payment", payment.ref)
                self.drop_link()
                await asyncio.sleep(outcome.after)
        finally:
            self._customers.pop(payment.ref, None)
            self.customer.finished(payment.ref)
        if outcome.kind == customers.DECLINE:
            self._finish(payment, "declined", outcome.code or "05")
        elif outcome.kind == customers.CANCEL:
            self._finish(payment, "cancelled", "17")
        elif outcome.kind == customers.TIMEOUT:
            self._finish(payment, "timed_out", "68")
        else:
            self._finish(payment, "approved", "00", report=outcome.kind != customers.RESULT_LOST)

    def _receipt(self, kind: str, ref: str, amount: int, status: str, transaction_id: str,
                 condition_code: str) -> list[str]:
        method = dict(zip(self.condition_codes, self.condition_code_names, strict=False)
                      ).get(condition_code) or "card"
        account = "wallet ****" + ref[-4:].rjust(4, "0") if method != "card" else \
            "**** **** **** 4242"
        return [f"kind={kind}", f"method={method}", f"account={account}",
                f"transaction_id={transaction_id}", f"terminal_id={self.terminal_id}",
                f"merchant_id={MERCHANT_ID}",
                "time=" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                f"amount={amount // 100}.{amount % 100:02d}", f"status={status}"]

    @staticmethod
    def _with_receipt(pairs: list[str]) -> _Copies:
        if not pairs:
            return _Copies()
        merchant, customer = receipt_copies(pairs)
        return _Copies(tuple(pairs), merchant, customer)

    def _finish(self, payment: SimPayment, status: str, code: str, report: bool = True) -> None:
        payment.status, payment.response_code = status, code
        if status in ("approved", "declined"):
            payment.transaction_id = _transaction_id()
        payment.receipt = self._receipt("sale", payment.ref, payment.amount, status,
                                        payment.transaction_id, payment.condition_code)
        self._save()
        log.info("simulator: %s: %s (%s)%s", payment.ref, status, code,
                 "" if report else ", result message lost")
        if report:
            self.emit(PaymentResult(payment.ref, status, code, payment.transaction_id,
                                    **self._with_receipt(payment.receipt).fields()))

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
        receipt = p.void_receipt if p.status == "voided" else p.receipt
        return QueryResult(query.rid, p.ref, True, p.status, p.response_code, p.transaction_id,
                           p.amount, p.condition_code, p.batch_number,
                           **self._with_receipt(receipt).fields())

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
        if self.refunded(p.ref):
            return refuse("already_refunded")
        if self.active() is not None:
            return refuse("busy")
        p.status, p.response_code = "voided", "VD"
        p.void_receipt = self._receipt("void", p.ref, p.amount, "voided", p.transaction_id,
                                       p.condition_code)
        self._save()
        log.info("simulator: %s: voided", void.ref)
        return Reply(void.rid, void.ref, accepted=True,
                     **self._with_receipt(p.void_receipt).fields())

    def refunded(self, ref: str) -> int:
        """What this terminal has refunded of payment ``ref``, in cents."""
        return sum(r.amount for r in self.refunds.values() if r.ref == ref)

    def _refund(self, refund: Refund) -> Reply | None:
        def refuse(reason: str, detail: str = "") -> Reply:
            return Reply(refund.rid, refund.ref, accepted=False, reason=reason, detail=detail)

        done = self.refunds.get(refund.refund_ref)
        if done is not None:
            if (done.ref, done.amount) == (refund.ref, refund.amount):
                # The same refund again (its answer was lost): answered, never made twice.
                return Reply(refund.rid, refund.ref, accepted=True,
                             **self._with_receipt(done.receipt).fields())
            return refuse("duplicate_reference",
                          f"refund {refund.refund_ref} is of payment {done.ref}")
        p = self.payments.get(refund.ref)
        if p is None:
            return refuse("not_found")
        if p.status != "approved":
            return refuse("not_approved", f"the payment is {p.status}")
        if self.active() is not None:
            return refuse("busy")
        if refund.amount <= 0:
            return refuse("invalid_amount", f"the amount must be greater than 0 (got "
                          f"{refund.amount})")
        remaining = p.amount - self.refunded(p.ref)
        if refund.amount > remaining:
            return refuse("exceeds_payment",
                          f"{remaining // 100}.{remaining % 100:02d} remains")
        # The customer's scenario, if it scripts refunds; else the cents table.
        decide = getattr(self.customer, "refund_outcome", None)
        outcome = (decide(p.ref, refund.refund_ref, refund.amount) if decide is not None
                   else customers.refund_from_cents(refund.amount))
        if outcome == "":
            return refuse("customer_unavailable",
                          "the simulator's scenario has played all of its refunds; restart "
                          "the simulator to play it again")
        if outcome == "decline":
            why = ("scenario .44" if decide is None or refund.amount % 100
                   == customers.REFUND_DECLINE_CENTS else "the simulator's scenario file")
            log.info("simulator: %s: refund %s declined (%s)", p.ref, refund.refund_ref, why)
            return refuse("refund_declined", f"declined by the acquirer ({why})")
        txn = _transaction_id()
        made = self.refunds[refund.refund_ref] = SimRefund(
            refund.refund_ref, p.ref, refund.amount, transaction_id=txn,
            period=self.batch_number,
            receipt=self._receipt("refund", p.ref, refund.amount, "approved", txn,
                                  p.condition_code))
        self._save()
        log.info("simulator: %s: refund %s of %d.%02d%s", p.ref, refund.refund_ref,
                 refund.amount // 100, refund.amount % 100,
                 ", answer lost" if outcome == "answer_lost" else "")
        if outcome == "answer_lost":
            return None
        return Reply(refund.rid, refund.ref, accepted=True,
                     **self._with_receipt(made.receipt).fields())

    def _refund_query(self, query: RefundQuery) -> RefundResult:
        r = self.refunds.get(query.refund_ref)
        if r is None or r.ref != query.ref:
            return RefundResult(query.rid, query.ref, query.refund_ref, found=False)
        return RefundResult(query.rid, r.ref, r.refund_ref, True, r.amount, r.status,
                            r.transaction_id, **self._with_receipt(r.receipt).fields())

    def totals(self, rid: int = 0) -> TotalsResult:
        """This terminal's totals since its last batch, from its own records: what it
        made in this period, whatever the PC's journal says."""
        items = [reports.Item("payment", p.condition_code, p.status, p.amount)
                 for p in self.payments.values()
                 if p.period == self.batch_number
                 or (p.status == "approved" and not p.batch_number)]
        codes = {p.ref: p.condition_code for p in self.payments.values()}
        items += [reports.Item("refund", codes.get(r.ref, ""), r.status, r.amount)
                  for r in self.refunds.values() if r.period == self.batch_number]
        return TotalsResult(rid, self.batch_number,
                            reports.encode_lines(reports.tally(items)))

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


@dataclass(frozen=True)
class _Copies:
    receipt: tuple[str, ...] = ()
    merchant_copy: tuple[str, ...] = ()
    customer_copy: tuple[str, ...] = ()

    def fields(self) -> dict[str, Any]:
        return {"receipt": self.receipt, "merchant_copy": self.merchant_copy,
                "customer_copy": self.customer_copy}


def _transaction_id() -> str:
    """24 digits like the reference's 100100090250128303091105."""
    return "1001" + time.strftime("%y%m%d") + f"{secrets.randbelow(10**14):014d}"
