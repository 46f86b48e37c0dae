"""Receipts (issue 18): the terminal's receipt of each final payment, void and refund is
carried on the link, journaled, and in QueryPayment's answer once final; also when the
message that carried it was lost and recovery asked. Against a scripted terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from posbridge import errors
from posbridge.http import models
from posbridge.testing import ScriptedTerminal
from rig import run
from test_service import rig


def test_each_final_status_has_its_receipt(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path, serial="SIM-42") as r:
            await r.paid("p1", "2.00")
            receipt = r.journal.receipt("payment", "p1")
            assert receipt is not None
            payment = r.journal.get("p1")
            assert payment is not None
            assert receipt.fields["transaction_id"] == payment.transaction_id
            assert (receipt.fields["method"], receipt.fields["amount"],
                    receipt.fields["status"], receipt.fields["terminal_id"]) == (
                "PayNow", "2.00", "approved", "SIM-42")
            assert receipt.fields["account"].startswith("wallet ****")
            assert receipt.customer_copy[1] == "CUSTOMER COPY"
            assert receipt.merchant_copy[1] == "MERCHANT COPY"
            assert "AMOUNT     SGD 2.00" in receipt.customer_copy
            body = models.query_payment_response(payment, receipt=receipt)["receipt"]
            assert (body["kind"], body["status"], body["merchant_id"]) == (
                "payment", "approved", "SIM-MERCHANT-0001")

            await r.service.create_payment("d1", "1.51", "82")  # declined, code 51
            await r.until(lambda: r.status("d1") == "declined")
            declined = r.journal.receipt("payment", "d1")
            assert declined is not None and declined.fields["status"] == "declined"

            await r.service.void_payment("p1")
            void = r.journal.receipt("void", "p1")
            assert void is not None and void.fields["status"] == "voided"
            assert void.fields["kind"] == "void"

            await r.paid("p2", "3.00")
            await r.service.refund_payment("p2", "c1", "1.00")
            refund = r.journal.receipt("refund", "p2", "c1")
            assert refund is not None
            assert (refund.fields["amount"], refund.fields["status"]) == ("1.00", "approved")
            assert [x.kind for x in r.journal.receipts("p2")] == ["payment", "refund"]

    run(main())


def test_a_receipt_whose_message_was_lost_comes_with_the_answer_to_recovery(
        journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.service.create_payment("p1", "5.97", "82")  # .97: the result is lost
            await r.until(lambda: r.status("p1") == "approved", what="recovery by query")
            assert r.journal.receipt("payment", "p1") is not None
            r.terminal.next("refund", "lose")
            with pytest.raises(errors.TerminalTimeout):
                await r.service.refund_payment("p1", "c1", "1.00")
            assert r.journal.receipt("refund", "p1", "c1") is None
            await r.until(lambda: r.journal.receipt("refund", "p1", "c1") is not None,
                          what="recovery by refund_query")

    run(main())


def test_a_terminal_that_sends_no_receipt_leaves_none(journal_path: Path) -> None:
    class Plain(ScriptedTerminal):
        def _receipt(self, *args: object, **kwargs: object) -> list[str]:
            return []

    async def main() -> None:
        async with rig(journal_path, Plain(customer_delay=0.1)) as r:
            await r.paid("p1")
            assert r.journal.receipts("p1") == []
            payment = r.journal.get("p1")
            assert payment is not None
            assert models.query_payment_response(payment)["receipt"] is None

    run(main())


def test_a_payments_receipts_are_found_by_index_not_by_reading_every_receipt(
        journal_path: Path) -> None:
    """`posbridge receipt REF` on a journal of a busy year: SQLite's work for one payment's
    receipts must not grow with the table. Counted in VM steps (a progress handler every
    50 steps), not in time, so a loaded machine cannot make it pass or fail."""
    from posbridge.journal import Journal

    journal = Journal(journal_path)
    try:
        with journal.atomic():
            for i in range(4000):
                journal.save_receipt("payment", f"r-{i}", "", {"status": "approved"},
                                     [f"merchant {i}"], [f"customer {i}"])
        journal.save_receipt("refund", "r-7", "rf-1", {}, ["refund"], ["refund"])
        journal.save_receipt("void", "r-7", "", {}, ["void"], ["void"])
        steps = 0

        def count() -> int:
            nonlocal steps
            steps += 1
            return 0

        journal._db.set_progress_handler(count, 50)
        got = journal.receipts("r-7")
        journal._db.set_progress_handler(None, 0)
        assert [(r.kind, r.refund_ref) for r in got] == [
            ("payment", ""), ("refund", "rf-1"), ("void", "")]
        assert steps < 20, f"{steps * 50} VM steps for 3 receipts of 4,002: a table scan"
        with pytest.raises(ValueError, match="receipt kind"):
            journal.save_receipt("tip", "r-7", "", {}, [], [])
    finally:
        journal.close()
