"""Refunds (issue 18) against a scripted terminal, without HTTP: partial and several refunds,
over what remains, idempotent replays, and each with a lost answer, a late answer, a dropped
link, a request that never arrived and a killed bridge.

The terminal is posbridge.testing.ScriptedTerminal (the simulator's model with faults on
cue) behind the real link; the journal is a real SQLite file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from posbridge import errors
from posbridge.protocol.messages import Refund, RefundQuery
from posbridge.testing import ScriptedTerminal
from rig import run
from test_service import ops, rig


def refunds(r: object, ref: str) -> list[tuple[str, str, str]]:
    journal = r.journal  # type: ignore[attr-defined]
    return [(x.refund_ref, x.amount, x.status) for x in journal.refunds(ref)]


def test_partial_refunds_add_up_to_the_payment_and_no_further(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "10.00")
            first = await r.service.refund_payment("p1", "c1", "2.50")
            assert (first.refund.status, first.refunded_minor, first.replayed) == (
                "approved", 250, False)
            second = await r.service.refund_payment("p1", "c2", "7")
            assert second.refunded_minor == 950
            with pytest.raises(errors.RefundExceedsPayment) as info:
                await r.service.refund_payment("p1", "c3", "0.51")
            assert info.value.extra["remaining"] == "0.50"
            assert "at most 0.50 can still be refunded" in info.value.message
            assert "paid 10.00, refunded 9.50" in info.value.message
            # Refused before anything was journaled or sent: nothing left behind.
            assert r.journal.refund("c3") is None
            assert [m.refund_ref for m in r.terminal.received if isinstance(m, Refund)] == [
                "c1", "c2"]
            last = await r.service.refund_payment("p1", "c3", "0.50")
            assert last.refunded_minor == 1000
            with pytest.raises(errors.RefundExceedsPayment, match="nothing remains"):
                await r.service.refund_payment("p1", "c4", "0.01")
            assert refunds(r, "p1") == [("c1", "2.50", "approved"), ("c2", "7", "approved"),
                                        ("c3", "0.50", "approved")]
            assert r.terminal.refunded("p1") == 1000
            assert ops(r.journal, "refund") == [("p1", "done")] * 3
            # The payment itself stays approved: a refund is its own record.
            assert r.status("p1") == "approved"

    run(main())


def test_a_settled_payment_is_refunded_and_can_no_longer_be_voided(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "4.00")
            await r.service.submit_batch()
            outcome = await r.service.refund_payment("p1", "c1", "4.00")
            assert outcome.refund.status == "approved"
            await r.paid("p2", "3.00")
            await r.service.refund_payment("p2", "c2", "1.00")
            with pytest.raises(errors.AlreadyRefunded, match="Refund what remains"):
                await r.service.void_payment("p2")
            assert r.status("p2") == "approved"

    run(main())


def test_the_same_refund_again_is_answered_from_the_journal_and_never_made_twice(
        journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "5.00")
            await r.paid("p2", "5.00")
            await r.service.refund_payment("p1", "c1", "1.00")
            again = await r.service.refund_payment("p1", "c1", "1.0")  # same cents
            assert (again.replayed, again.refund.status, again.refunded_minor) == (
                True, "approved", 100)
            assert sum(isinstance(m, Refund) for m in r.terminal.received) == 1
            for other in (("p1", "c1", "2.00"), ("p2", "c1", "1.00")):
                with pytest.raises(errors.ReferenceConflict, match="use a new refund_ref"):
                    await r.service.refund_payment(*other)
            assert r.terminal.refunded("p1") == 100
            assert r.terminal.refunded("p2") == 0

    run(main())


def test_two_identical_refunds_at_once_share_one_answer(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "5.00")
            r.terminal.next("refund", "late", delay=0.2)
            a, b = await asyncio.gather(r.service.refund_payment("p1", "c1", "1.00"),
                                        r.service.refund_payment("p1", "c1", "1.00"))
            assert a.refund.status == b.refund.status == "approved"
            assert {a.replayed, b.replayed} == {False, True}
            assert sum(isinstance(m, Refund) for m in r.terminal.received) == 1

    run(main())


def test_a_refund_whose_answer_is_lost_is_unknown_then_recovered_by_asking(
        journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "5.00")
            r.terminal.next("refund", "lose")
            with pytest.raises(errors.TerminalTimeout) as info:
                await r.service.refund_payment("p1", "c1", "3.00")
            assert info.value.extra == {"status": "unknown", "refund_reference": "c1"}
            assert refunds(r, "p1") == [("c1", "3.00", "unknown")]
            assert r.terminal.refunds["c1"].amount == 300  # the terminal did refund it
            # While unknown it counts against what remains: it may have happened.
            with pytest.raises(errors.RefundExceedsPayment) as over:
                await r.service.refund_payment("p1", "c2", "2.01")
            assert "3.00 more in refunds whose outcome is not known yet" in over.value.message
            # The same refund again is answered from the journal: unknown, not sent again.
            replay = await r.service.refund_payment("p1", "c1", "3.00")
            assert (replay.replayed, replay.refund.status) in ((True, "unknown"),
                                                               (True, "approved"))
            await r.until(lambda: refunds(r, "p1") == [("c1", "3.00", "approved")],
                          what="recovery by refund_query")
            assert any(isinstance(m, RefundQuery) for m in r.terminal.received)
            assert ops(r.journal, "refund") == [("p1", "done")]
            record = r.journal.refund("c1")
            assert record is not None and record.transaction_id  # learned from the terminal

    run(main())


def test_a_late_refund_answer_is_applied(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "5.00")
            r.terminal.next("refund", "late", delay=0.8)  # the bridge waits 0.5 s
            r.terminal.next("refund_query", "ignore")  # recovery's first question is lost
            with pytest.raises(errors.TerminalTimeout):
                await r.service.refund_payment("p1", "c1", "1.00")
            await r.until(lambda: refunds(r, "p1") == [("c1", "1.00", "approved")],
                          what="the late answer")

    run(main())


def test_a_refund_that_never_reached_the_terminal_fails_and_may_be_sent_again(
        journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "5.00")
            r.terminal.next("refund", "ignore")
            with pytest.raises(errors.TerminalTimeout):
                await r.service.refund_payment("p1", "c1", "5.00")
            await r.until(lambda: refunds(r, "p1") == [("c1", "5.00", "failed")],
                          what="recovery: the terminal has no such refund")
            assert ops(r.journal, "refund") == [("p1", "not_done")]
            assert r.terminal.refunded("p1") == 0
            again = await r.service.refund_payment("p1", "c1", "5.00")
            assert (again.refund.status, again.replayed) == ("approved", False)
            assert ops(r.journal, "refund") == [("p1", "not_done"), ("p1", "done")]

    run(main())


def test_a_refund_whose_link_drops_is_recovered_after_the_reconnect(
        journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "5.00")
            r.terminal.next("refund", "drop")
            with pytest.raises(errors.TerminalTimeout):
                await r.service.refund_payment("p1", "c1", "2.00")
            await r.until(lambda: refunds(r, "p1") == [("c1", "2.00", "approved")],
                          what="recovery after the reconnect")

    run(main())


def test_a_refund_sent_before_the_bridge_was_killed_is_found_after_restart(
        journal_path: Path) -> None:
    async def main() -> None:
        terminal = ScriptedTerminal(customer_delay=0.1)
        async with rig(journal_path, terminal) as r:
            await r.paid("p1", "5.00")
            terminal.next("refund", "lose")
            with pytest.raises(errors.TerminalTimeout):
                await r.service.refund_payment("p1", "c1", "1.50")
            await r.service.stop()  # the bridge dies before recovery: the refund as sent
            assert refunds(r, "p1") == [("c1", "1.50", "unknown")]
            assert ops(r.journal, "refund") == [("p1", "sent")]
        async with rig(journal_path, terminal) as r:
            await r.until(lambda: refunds(r, "p1") == [("c1", "1.50", "approved")],
                          what="recovery at start-up")
            assert ops(r.journal, "refund") == [("p1", "done")]

    run(main())


def test_a_refused_refund_leaves_nothing_behind_and_a_late_refusal_is_shown(
        journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "5.00")
            r.terminal.next("refund", "refuse", reason="refund_declined")
            with pytest.raises(errors.TerminalRefused, match="nothing was refunded"):
                await r.service.refund_payment("p1", "c1", "1.00")
            assert r.journal.refund("c1") is None
            assert ops(r.journal, "refund") == [("p1", "refused")]  # its history stays
            # The simulator declines a refund whose cents are .44.
            with pytest.raises(errors.TerminalRefused, match=r"scenario \.44"):
                await r.service.refund_payment("p1", "c2", "1.44")
            assert r.journal.refund("c2") is None
            assert r.terminal.refunded("p1") == 0
            # .47: refunded, the answer lost: unknown, then recovered.
            with pytest.raises(errors.TerminalTimeout):
                await r.service.refund_payment("p1", "c3", "1.47")
            await r.until(lambda: refunds(r, "p1") == [("c3", "1.47", "approved")],
                          what="recovery of scenario .47")
            # A refusal that comes after the POS was told "unknown" is kept, as refused.
            r.terminal.next("refund", "late", delay=0.8)
            r.terminal.next("refund_query", "ignore")  # else recovery learns "failed" first
            with pytest.raises(errors.TerminalTimeout):
                await r.service.refund_payment("p1", "c4", "0.44")
            await r.until(lambda: ("c4", "0.44", "refused") in refunds(r, "p1"),
                          what="the late refusal")
            assert r.terminal.refunded("p1") == 147

    run(main())


def test_only_an_approved_payment_is_refunded(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.service.create_payment("d1", "1.05", "82")  # declined (.05)
            await r.until(lambda: r.status("d1") == "declined")
            with pytest.raises(errors.PaymentNotApproved, match="declined, not approved"):
                await r.service.refund_payment("d1", "c1", "1.05")
            await r.paid("v1", "2.00")
            await r.service.void_payment("v1")
            with pytest.raises(errors.AlreadyVoided, match="nothing to refund"):
                await r.service.refund_payment("v1", "c1", "1.00")
            with pytest.raises(errors.PaymentNotFound):
                await r.service.refund_payment("nope", "c1", "1.00")
            for bad in (("v1", "", "1.00"), ("v1", "x" * 65, "1.00"), ("v1", "c\n", "1.00")):
                with pytest.raises(errors.InvalidRequest, match="refund_reference must be"):
                    await r.service.refund_payment(*bad)
            with pytest.raises(errors.InvalidAmount):
                await r.service.refund_payment("v1", "c1", "-1")
            assert r.journal.refund("c1") is None
            assert not any(isinstance(m, Refund) for m in r.terminal.received)

    run(main())


def test_a_refund_while_a_payment_is_on_the_terminal_is_busy(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path, ScriptedTerminal(customer_delay=1.0)) as r:
            await r.service.create_payment("first", "1.00", "82")
            await r.until(lambda: r.status("first") == "approved", timeout=5)
            await r.service.create_payment("second", "1.00", "82")  # pending for a second
            with pytest.raises(errors.TerminalBusy) as info:
                await r.service.refund_payment("first", "c1", "1.00")
            assert info.value.extra["held_by"] == {"command": "payment",
                                                   "retrieval_reference_number": "second"}
            assert r.journal.refund("c1") is None

    run(main())


def test_a_second_refund_while_the_first_is_with_the_terminal_names_it(
        journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("p1", "5.00")
            r.terminal.next("refund", "late", delay=0.3)
            first = asyncio.ensure_future(r.service.refund_payment("p1", "c1", "1.00"))
            await r.until(lambda: r.service.holder is not None)
            with pytest.raises(errors.TerminalBusy, match="the refund 'c1' of payment 'p1'") \
                    as info:
                await r.service.refund_payment("p1", "c2", "1.00")
            assert info.value.extra["held_by"] == {
                "command": "refund", "retrieval_reference_number": "p1",
                "refund_reference": "c1"}
            assert (await first).refund.status == "approved"

    run(main())


def test_a_lost_refund_is_asked_of_the_terminal_it_was_sent_to_only(
        journal_path: Path) -> None:
    """A replacement terminal has no record of the refund; its "not found" must not make
    the refund "failed" (and invite a second refund of money already given back)."""
    async def main() -> None:
        old = ScriptedTerminal(customer_delay=0.1)
        async with rig(journal_path, old, serial="SIM-OLD") as r:
            await r.paid("p1", "5.00")
            old.next("refund", "lose")
            old.next("refund_query", "ignore")  # the bridge dies before it learns anything
            with pytest.raises(errors.TerminalTimeout):
                await r.service.refund_payment("p1", "c1", "2.00")
            await r.service.stop()
        async with rig(journal_path, ScriptedTerminal(customer_delay=0.1),
                       serial="SIM-NEW") as r:
            await asyncio.sleep(1.0)  # several recovery rounds
            assert refunds(r, "p1") == [("c1", "2.00", "unknown")]
            assert not any(isinstance(m, RefundQuery) for m in r.terminal.received)
        async with rig(journal_path, old, serial="SIM-OLD") as r:
            await r.until(lambda: refunds(r, "p1") == [("c1", "2.00", "approved")],
                          what="the old terminal back")

    run(main())
