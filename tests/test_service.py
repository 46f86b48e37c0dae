"""PaymentService against a scripted terminal, without HTTP.

The terminal is posbridge.testing.ScriptedTerminal (the simulator's model with faults on
cue) behind the real link over an in-process pipe; the journal is a real SQLite file. Each
test names the defect of issue 13 it guards against: every refusal, timeout, late answer,
lost answer and recovery branch of the money commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from posbridge import errors
from posbridge.journal import Journal
from posbridge.payments import OpState
from posbridge.service import FILE_CHECK_SECONDS, PaymentService, ServiceConfig
from posbridge.simulator import TerminalServer
from posbridge.simulator.model import SimPayment
from posbridge.terminal import TerminalClient
from posbridge.testing import ScriptedTerminal
from rig import FAST_TIMERS, run

CONFIG = ServiceConfig(terminal_timeout=0.5, query_timeout=0.5, recovery_interval=0.2,
                       connect_wait=1.0)


@dataclass
class Rig:
    service: PaymentService
    journal: Journal
    terminal: ScriptedTerminal
    client: TerminalClient
    server: TerminalServer

    async def until(self, check: Any, timeout: float = 5.0, what: str = "") -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            assert loop.time() < deadline, f"timed out waiting for {what or check}"
            await asyncio.sleep(0.02)

    def status(self, ref: str) -> str:
        payment = self.journal.get(ref)
        return payment.status if payment else "-"

    async def paid(self, ref: str, amount: str = "1.00") -> None:
        await self.service.create_payment(ref, amount, "82")
        await self.until(lambda: self.status(ref) == "approved", what=f"{ref} approved")

    async def reconnect_as_v1(self) -> None:
        """The terminal speaks only link protocol v1 from now on; the link reconnects."""
        self.server.identity = msgspec.structs.replace(self.server.identity, version=1)
        self.client._runner.close("test: reconnect as v1")  # type: ignore[union-attr]
        await self.until(lambda: self.client.terminal is not None
                         and self.client.terminal.version == 1, what="a v1 session")


@contextlib.asynccontextmanager
async def rig(path: Path, terminal: ScriptedTerminal | None = None, *, serial: str = "SIM-1",
              config: ServiceConfig = CONFIG) -> AsyncIterator[Rig]:
    terminal = terminal or ScriptedTerminal(customer_delay=0.1)
    server = TerminalServer(terminal, serial=serial, timers=FAST_TIMERS)
    journal = Journal(path)
    client = TerminalClient(server.connect_in_process, description="scripted",
                            timers=FAST_TIMERS, backoff_initial=0.02, backoff_max=0.1)
    service = PaymentService(journal, client, config)
    await service.start()
    try:
        await client.wait_connected(5)
        yield Rig(service, journal, terminal, client, server)
    finally:
        await service.stop()
        await server.close()
        journal.close()


def ops(journal: Journal, kind: str) -> list[tuple[str, str]]:
    with sqlite3.connect(journal.path) as db:
        return db.execute("SELECT ref, state FROM operations WHERE kind = ? ORDER BY id",
                          (kind,)).fetchall()


# -- voids --------------------------------------------------------------------------------


def test_a_void_whose_answer_is_lost_is_unknown_then_recovered_as_voided(
        journal_path: Path) -> None:
    """Defect: a void that reached the terminal was lost (nothing journaled before it was
    sent, recovery never asked about it)."""
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("v1")
            r.terminal.next("void", "lose")
            with pytest.raises(errors.TerminalTimeout) as info:
                await r.service.void_payment("v1")
            assert info.value.extra["status"] == "unknown"
            # Journaled before it was sent: unknown (never "approved", never "voided").
            assert r.status("v1") == "unknown"
            assert r.terminal.payments["v1"].status == "voided"
            await r.until(lambda: r.status("v1") == "voided", what="recovery")
            assert ops(r.journal, "void") == [("v1", "done")]

    run(main())


def test_a_void_sent_before_the_bridge_was_killed_is_found_after_restart(
        journal_path: Path) -> None:
    async def main() -> None:
        terminal = ScriptedTerminal(customer_delay=0.1)
        async with rig(journal_path, terminal) as r:
            await r.paid("v1")
            terminal.next("void", "lose")
            with pytest.raises(errors.TerminalTimeout):
                await r.service.void_payment("v1")
            # The bridge dies here, before recovery: what is on disk is the void as sent.
            await r.service.stop()
            assert r.status("v1") == "unknown"
            assert ops(r.journal, "void") == [("v1", "sent")]
        async with rig(journal_path, terminal) as r:  # the same journal, the same terminal
            await r.until(lambda: r.status("v1") == "voided", what="recovery at start-up")
            assert ops(r.journal, "void") == [("v1", "done")]
            query = await r.service.query_payment("v1")
            assert query.status == "voided"

    run(main())


def test_a_void_that_never_reached_the_terminal_leaves_the_payment_approved(
        journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("v1")
            r.terminal.next("void", "ignore")
            with pytest.raises(errors.TerminalTimeout):
                await r.service.void_payment("v1")
            assert r.status("v1") == "unknown"
            await r.until(lambda: r.status("v1") == "approved", what="recovery")
            assert ops(r.journal, "void") == [("v1", "not_done")]
            # And it can be voided now.
            voided = await r.service.void_payment("v1")
            assert voided.status == "voided"

    run(main())


def test_already_voided_on_the_terminal_brings_the_journal_to_voided(
        journal_path: Path) -> None:
    """Defect: a second VoidPayment got ALREADY_VOIDED while the journal said approved."""
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("v1")
            r.terminal.payments["v1"].status = "voided"  # voided on the terminal by hand
            with pytest.raises(errors.AlreadyVoided):
                await r.service.void_payment("v1")
            assert r.status("v1") == "voided"
            assert ops(r.journal, "void") == [("v1", "done")]

    run(main())


def test_already_settled_on_the_terminal_records_its_batch(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("v1")
            r.terminal.payments["v1"].batch_number = 4  # settled without the journal knowing
            with pytest.raises(errors.AlreadySettled) as info:
                await r.service.void_payment("v1")
            assert "batch 4" in info.value.message
            payment = r.journal.get("v1")
            assert payment is not None
            assert (payment.status, payment.batch_number) == ("approved", 4)
            assert ops(r.journal, "void") == [("v1", "refused")]

    run(main())


# -- batches ------------------------------------------------------------------------------


def test_a_late_batch_answer_is_applied_and_submitting_again_answers_with_it(
        journal_path: Path) -> None:
    """Defect: a batch answer that came after the timeout was dropped, and SubmitBatch again
    answered batch 2 with count 0 while batch 1 was missing from the journal."""
    async def main() -> None:
        terminal = ScriptedTerminal(customer_delay=0.1, settle_delay=1.0)
        async with rig(journal_path, terminal) as r:
            await r.paid("b1", "2.00")
            await r.paid("b2", "3.00")
            with pytest.raises(errors.TerminalTimeout):
                await r.service.submit_batch()
            await r.until(lambda: r.journal.get("b1").batch_number == 1,  # type: ignore[union-attr]
                          what="the late answer applied")
            again = await r.service.submit_batch()
            assert (again.batch_number, again.count, again.total_minor, again.replayed) == (
                1, 2, 500, True)
            assert terminal.batch_number == 1  # settled once
            assert [(b.batch_number, b.count, b.state) for b in r.journal.batches()] == [
                (1, 2, "done")]
            # Answered now: the next batch is a new one.
            terminal.settle_delay = 0
            nxt = await r.service.submit_batch()
            assert (nxt.batch_number, nxt.count, nxt.replayed) == (2, 0, False)

    run(main())


def test_a_batch_whose_answer_is_lost_is_asked_for_by_its_id(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("b1", "2.00")
            r.terminal.next("batch", "lose")
            with pytest.raises(errors.TerminalTimeout) as info:
                await r.service.submit_batch()
            batch_id = info.value.extra["batch_id"]
            await r.until(lambda: ops(r.journal, "batch") == [(batch_id, "done")],
                          what="recovery by batch_query")
            assert r.journal.get("b1").batch_number == 1  # type: ignore[union-attr]
            assert any(m.KIND == "batch_query" for m in r.terminal.received)

    run(main())


def test_submitting_again_before_recovery_sends_the_same_batch_id(journal_path: Path) -> None:
    async def main() -> None:
        slow = ServiceConfig(terminal_timeout=0.5, query_timeout=0.5, recovery_interval=60)
        async with rig(journal_path, config=slow) as r:
            await r.paid("b1", "2.00")
            r.terminal.next("batch", "lose")
            with pytest.raises(errors.TerminalTimeout):
                await r.service.submit_batch()
            again = await r.service.submit_batch()
            assert (again.batch_number, again.count, again.total_minor) == (1, 1, 200)
            batches = [m for m in r.terminal.received if m.KIND == "batch"]
            assert len(batches) == 2 and batches[0].batch_id == batches[1].batch_id  # type: ignore[attr-defined]
            assert r.terminal.batch_number == 1

    run(main())


def test_a_batch_that_never_reached_the_terminal_is_not_done(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("b1", "2.00")
            r.terminal.next("batch", "ignore")
            with pytest.raises(errors.TerminalTimeout) as info:
                await r.service.submit_batch()
            batch_id = info.value.extra["batch_id"]
            await r.until(lambda: ops(r.journal, "batch") == [(batch_id, "not_done")],
                          what="recovery")
            assert r.journal.get("b1").batch_number is None  # type: ignore[union-attr]
            summary = await r.service.submit_batch()
            assert (summary.count, summary.total_minor, summary.replayed) == (1, 200, False)
            assert summary.batch_id != batch_id

    run(main())


def test_a_replaced_terminal_does_not_overwrite_the_old_terminals_batches(
        journal_path: Path) -> None:
    """Defect: batches were keyed by the terminal's batch number alone."""
    async def main() -> None:
        async with rig(journal_path, serial="OLD-1") as r:
            await r.paid("a", "1.00")
            first = await r.service.submit_batch()
        async with rig(journal_path, serial="NEW-2") as r:  # a new terminal, its own numbers
            await r.paid("b", "2.00")
            second = await r.service.submit_batch()
            assert first.batch_number == second.batch_number == 1
            assert [(b.terminal, b.batch_number, b.total_minor) for b in r.journal.batches()] \
                == [("OLD-1", 1, 100), ("NEW-2", 1, 200)]

    run(main())


# -- cancels --------------------------------------------------------------------------------


def test_a_cancel_whose_answer_is_lost_is_closed_by_the_payments_outcome(
        journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path, ScriptedTerminal(customer_delay=5)) as r:
            await r.service.create_payment("c1", "1.00", "82")
            r.terminal.next("cancel", "lose")
            with pytest.raises(errors.TerminalTimeout):
                await r.service.cancel_payment()
            assert ops(r.journal, "cancel") == [("c1", "sent")]
            await r.until(lambda: r.status("c1") == "cancelled", what="recovery")
            await r.until(lambda: ops(r.journal, "cancel") == [("c1", "done")], what="op")

    run(main())


def test_a_cancel_refused_because_the_customer_was_faster(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path, ScriptedTerminal(customer_delay=5)) as r:
            await r.service.create_payment("c1", "1.00", "82")
            r.terminal.next("cancel", "refuse", reason="not_in_progress")
            with pytest.raises(errors.NoPaymentInProgress):
                await r.service.cancel_payment()
            assert ops(r.journal, "cancel") == [("c1", "refused")]

    run(main())


# -- sales ----------------------------------------------------------------------------------


def test_a_late_sale_acknowledgement_is_applied(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path, ScriptedTerminal(customer_delay=2)) as r:
            r.terminal.next("sale", "late", delay=0.8)
            with pytest.raises(errors.TerminalTimeout):
                await r.service.create_payment("s1", "1.00", "82")
            assert r.status("s1") == "unknown"
            await r.until(lambda: r.status("s1") == "pending", what="late ack applied")

    run(main())


def test_a_late_sale_refusal_fails_the_payment(journal_path: Path) -> None:
    async def main() -> None:
        terminal = ScriptedTerminal(customer_delay=2)
        slow = ServiceConfig(terminal_timeout=0.3, query_timeout=0.5, recovery_interval=60)
        async with rig(journal_path, terminal, config=slow) as r:
            terminal.next("sale", "late", delay=0.6)
            terminal.payments["busy"] = SimPayment("busy", 100, "82")  # holds the terminal
            with pytest.raises(errors.TerminalTimeout):
                await r.service.create_payment("s1", "1.00", "82")
            await r.until(lambda: r.status("s1") == "failed", what="late refusal applied")

    run(main())


def test_the_same_create_while_the_first_waits_for_the_link_gets_its_answer(
        journal_path: Path) -> None:
    """Defect: the same CreatePayment sent again while the first waited for the link got a
    false TERMINAL_BUSY."""
    async def main() -> None:
        terminal = ScriptedTerminal(customer_delay=1)
        server = TerminalServer(terminal, timers=FAST_TIMERS)
        up = asyncio.Event()

        async def late_connector() -> Any:
            await up.wait()
            return await server.connect_in_process()

        journal = Journal(journal_path)
        client = TerminalClient(late_connector, timers=FAST_TIMERS, backoff_initial=0.02,
                                backoff_max=0.1)
        service = PaymentService(journal, client, ServiceConfig(connect_wait=3.0))
        await service.start()
        try:
            first = asyncio.create_task(service.create_payment("w1", "1.00", "82"))
            await asyncio.sleep(0.1)  # the first now waits for the link
            second = asyncio.create_task(service.create_payment("w1", "1.00", "82"))
            await asyncio.sleep(0.1)
            up.set()
            a, b = await asyncio.gather(first, second)
            assert (a.replayed, b.replayed) == (False, True)
            assert a.payment.ref == b.payment.ref == "w1"
            assert [m.KIND for m in terminal.received].count("sale") == 1
        finally:
            await service.stop()
            await server.close()
            journal.close()

    run(main())


def test_busy_names_the_command_that_holds_the_terminal(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("v1")
            r.terminal.next("void", "late", delay=0.3)
            void = asyncio.create_task(r.service.void_payment("v1"))
            await asyncio.sleep(0.05)
            with pytest.raises(errors.TerminalBusy) as info:
                await r.service.create_payment("other", "1.00", "82")
            assert info.value.extra["held_by"] == {"command": "void",
                                                   "retrieval_reference_number": "v1"}
            assert "void of payment 'v1'" in info.value.message
            # The same void again waits for the first and gets its answer.
            same = await r.service.void_payment("v1")
            assert same.status == "voided"
            assert (await void).status == "voided"
            r.terminal.next("batch", "late", delay=0.3)
            batch = asyncio.create_task(r.service.submit_batch())
            await asyncio.sleep(0.05)
            with pytest.raises(errors.TerminalBusy) as info:
                await r.service.void_payment("v1")
            assert info.value.extra["held_by"]["command"] == "batch"
            await batch

    run(main())


def test_a_stale_pending_answer_writes_no_error(journal_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """Defect: a query's "pending", applied after the final result, logged "impossible
    change approved -> pending"."""
    async def main() -> None:
        terminal = ScriptedTerminal(customer_delay=0.3)
        async with rig(journal_path, terminal) as r:
            for n in range(5):
                ref = f"q{n}"
                await r.service.create_payment(ref, "1.00", "82")
                # Hammer it with queries across the moment the result arrives.
                for _ in range(40):
                    await asyncio.gather(*(r.service.query_payment(ref) for _ in range(3)))
                    if r.status(ref) == "approved":
                        break
                    await asyncio.sleep(0.01)
                await r.until(lambda ref=ref: r.status(ref) == "approved")  # type: ignore[misc]

    with caplog.at_level(logging.INFO):
        run(main())
    assert [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.ERROR] == []


# -- the terminal as the second witness -----------------------------------------------------


def test_a_reference_only_the_terminal_knows_is_recovered_from_it(journal_path: Path) -> None:
    """Defect: a journal that lost a payment answered 404, then REFERENCE_CONFLICT."""
    async def main() -> None:
        terminal = ScriptedTerminal(customer_delay=0.1)
        terminal.payments["lost"] = SimPayment("lost", 250, "82", "approved", "00", "T-1")
        terminal.payments["lost2"] = SimPayment("lost2", 300, "82", "approved", "00", "T-2")
        async with rig(journal_path, terminal) as r:
            payment = await r.service.query_payment("lost")
            assert (payment.status, payment.amount, payment.origin) == (
                "approved", "2.50", "terminal")
            assert "recovered from the terminal" in r.journal.events("lost")[0].detail
            # The same CreatePayment again: a replay of what the terminal has, not a conflict.
            again = await r.service.create_payment("lost2", "3.00", "82")
            assert again.replayed and again.payment.status == "approved"
            assert again.payment.origin == "terminal"
            # The terminal has another payment under this reference: a conflict that names it,
            # and nothing is left behind in the journal.
            r.terminal.payments["mine"] = SimPayment("mine", 999, "82", "approved", "00", "T3")
            with pytest.raises(errors.ReferenceConflict) as info:
                await r.service.create_payment("mine", "1.00", "82")
            assert "9.99" in info.value.message
            assert r.journal.get("mine") is None
            with pytest.raises(errors.PaymentNotFound):
                await r.service.query_payment("nobody")

    run(main())


# -- the journal's own failures -------------------------------------------------------------


def test_a_journal_write_failure_keeps_the_link_and_heals(journal_path: Path,
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    """Defect: a failed journal write when a result arrived ended the link for good, left
    the payment pending, and the process alive."""
    async def main() -> None:
        async with rig(journal_path, ScriptedTerminal(customer_delay=0.4)) as r:
            await r.service.create_payment("j1", "1.00", "82")
            other = sqlite3.connect(journal_path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
            try:
                await r.until(lambda: r.terminal.payments["j1"].status == "approved")
                await r.until(lambda: r.service.journal_problem() != "", what="noticed")
                assert r.client.connected  # the link stays up
                assert r.status("j1") == "pending"  # not written yet, and not guessed
                with pytest.raises(errors.JournalUnavailable) as info:
                    await r.service.create_payment("j2", "1.00", "82")
                assert str(journal_path) in info.value.message
                assert "locked" in info.value.message
                assert r.journal.get("j2") is None
                # A POS polling meanwhile is answered from the journal, and its polls do not
                # pile up in memory.
                kept = len(r.service._backlog)
                assert kept >= 1  # at least the result, kept in order
                for _ in range(20):
                    assert (await r.service.query_payment("j1")).status == "pending"
                assert len(r.service._backlog) == kept
            finally:
                other.execute("ROLLBACK")
                other.close()
            # It heals by itself and writes what it kept, in order.
            await r.until(lambda: r.status("j1") == "approved", what="healed")
            assert r.service.journal_problem() == ""
            await r.service.create_payment("j2", "1.00", "82")

    with caplog.at_level(logging.INFO):
        run(main())
    assert any("kept in memory" in rec.getMessage() for rec in caplog.records)


def test_a_deleted_journal_is_noticed_refused_and_stops_the_bridge(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            fatal: list[str] = []
            r.service.on_fatal = fatal.append
            await r.paid("d1")
            journal_path.unlink()
            # A read looks at the file once per FILE_CHECK_SECONDS at most: the next
            # QueryPayment after that is refused, and the bridge is told to stop.
            await asyncio.sleep(FILE_CHECK_SECONDS)
            with pytest.raises(errors.JournalUnavailable) as info:
                await r.service.query_payment("d1")
            assert "deleted" in info.value.message
            assert fatal and "deleted" in fatal[0]
            with pytest.raises(errors.JournalUnavailable):
                await r.service.create_payment("d2", "1.00", "82")
            assert "d2" not in r.terminal.payments

    run(main())


def test_a_money_command_right_after_a_deletion_never_reaches_the_terminal(
        journal_path: Path) -> None:
    """A write looks at the file every time, however recent the last look: the command
    that would journal first is refused and nothing goes to the terminal."""
    async def main() -> None:
        async with rig(journal_path) as r:
            fatal: list[str] = []
            r.service.on_fatal = fatal.append
            await r.paid("d1")
            await r.service.query_payment("d1")  # a look at the file, just now
            journal_path.unlink()
            with pytest.raises(errors.JournalUnavailable) as info:
                await r.service.create_payment("d2", "1.00", "82")
            assert "deleted" in info.value.message
            assert "d2" not in r.terminal.payments
            assert fatal and "deleted" in fatal[0]

    run(main())


def test_a_batch_sent_again_right_after_a_deletion_never_reaches_the_terminal(
        journal_path: Path) -> None:
    """A batch whose first answer was lost is sent again without a write first: the file
    is looked at just before, however recent the last look."""
    async def main() -> None:
        async with rig(journal_path) as r:
            fatal: list[str] = []
            r.service.on_fatal = fatal.append
            await r.paid("d1")
            r.journal.begin_batch("lost-batch", r.client.terminal.serial)  # as after a 504
            await r.service.query_payment("d1")  # a look at the file, just now
            journal_path.unlink()
            with pytest.raises(errors.JournalUnavailable) as info:
                await r.service.submit_batch()
            assert "deleted" in info.value.message
            assert "lost-batch" not in r.terminal.batches
            assert fatal and "deleted" in fatal[0]

    run(main())


def test_a_replaced_journal_is_noticed(journal_path: Path, tmp_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            fatal: list[str] = []
            r.service.on_fatal = fatal.append
            other = tmp_path / "other.sqlite3"
            Journal(other).close()
            other.replace(journal_path)
            with pytest.raises(errors.JournalUnavailable) as info:
                await r.service.submit_batch()
            assert "replaced" in info.value.message and fatal

    run(main())


def test_unknown_outcomes_are_never_reported_final_by_a_scripted_fault_table(
        journal_path: Path) -> None:
    """Every lost-answer fault on every command: the POS is told unknown (504) and the
    journal ends in the terminal's state."""
    async def main() -> None:
        async with rig(journal_path, ScriptedTerminal(customer_delay=0.2)) as r:
            for n, action in enumerate(("lose", "drop", "late")):
                ref = f"f{n}"
                r.terminal.next("sale", action, delay=0.8)
                with pytest.raises(errors.TerminalTimeout):
                    await r.service.create_payment(ref, "1.00", "82")
                await r.until(lambda ref=ref: r.status(ref) == "approved")  # type: ignore[misc]
                r.terminal.next("void", action, delay=0.8)
                with pytest.raises(errors.TerminalTimeout):
                    await r.service.void_payment(ref)
                await r.until(lambda ref=ref: r.status(ref) == "voided")  # type: ignore[misc]
            for p in r.journal.recent(-1):
                assert p.status == r.terminal.payments[p.ref].status
            assert all(state == OpState.DONE for _, state in ops(r.journal, "void"))

    run(main(), timeout=60)


def test_a_version_1_terminal_is_never_sent_a_batch_query(journal_path: Path,
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    """batch_query is link protocol v2; a v1 terminal would drop it without an
    acknowledgement and the link would go down."""
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.reconnect_as_v1()
            await r.paid("b1")
            # Nor does the terminal send a v1 host `progress` (also version 2).
            assert "b1" not in r.service.progress
            r.terminal.next("batch", "lose")
            with pytest.raises(errors.TerminalTimeout):
                await r.service.submit_batch()
            await asyncio.sleep(0.6)  # a few recovery rounds
            assert not any(m.KIND == "batch_query" for m in r.terminal.received)
            assert r.client.connected

    with caplog.at_level(logging.WARNING):
        run(main())
    assert any("cannot be asked about batch" in rec.getMessage() for rec in caplog.records)


def test_a_version_1_terminal_is_never_sent_a_refund(journal_path: Path) -> None:
    async def main() -> None:
        async with rig(journal_path) as r:
            await r.paid("r1")
            await r.reconnect_as_v1()
            with pytest.raises(errors.TerminalRefused) as info:
                await r.service.refund_payment("r1", "credit-1", "0.50")
            assert "v1" in info.value.message
            assert r.journal.refund("credit-1") is None  # nothing left behind
            assert not any(m.KIND == "refund" for m in r.terminal.received)
            assert r.client.connected

    run(main())
