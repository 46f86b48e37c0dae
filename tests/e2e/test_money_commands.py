"""Void, batch and the journal's own failures with real processes, the way a shop's bad day
goes: a real `posbridge serve` and `posbridge simulator --state FILE` on real ports, the
bridge killed with SIGKILL, a terminal that takes longer to settle than the bridge waits, a
journal locked by another program or deleted under the running bridge. These are the
reproductions of issue 13's defects."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from procs import Stack

pytestmark = pytest.mark.e2e


def create(ref: str, amount: str = "1.00") -> dict[str, str]:
    return {"amount": amount, "retrieval_reference_number": ref, "condition_code": "82"}


def terminal_record(stack: Stack) -> dict[str, dict[str, object]]:
    state = json.loads((stack.tmp / "terminal.json").read_text())
    return {p["ref"]: p for p in state["payments"]}


def journal_rows(stack: Stack, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{stack.journal}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchall()


def test_a_void_that_reached_the_terminal_survives_a_killed_bridge(tmp_path: Path,
                                                                   terminal: str) -> None:
    """The terminal voids, the bridge is killed before it hears so: after the restart the
    journal and the POS say voided, never approved."""
    stack = Stack(tmp_path, customer_delay=0.2, terminal=terminal)
    with stack.running():
        assert stack.post("/CreatePayment", create("v1")).status_code == 200
        stack.wait_status("v1", "approved")
        stack.sim.send(signal.SIGSTOP)  # the terminal takes the void but answers nothing yet
        try:
            r = stack.post("/VoidPayment", {"retrieval_reference_number": "v1"})
            assert r.status_code == 504, r.text
            assert r.json()["status"] == "unknown"
            stack.bridge.stop(signal.SIGKILL)
        finally:
            stack.sim.send(signal.SIGCONT)  # reads the void still in its socket buffer
        deadline = time.monotonic() + 10
        while terminal_record(stack)["v1"]["status"] != "voided":
            assert time.monotonic() < deadline, "the simulator never acted on the void"
            time.sleep(0.05)
        # What was on disk when the bridge died: the void as sent, the payment unknown.
        assert journal_rows(stack, "SELECT status FROM payments") == [("unknown",)]
        assert journal_rows(stack, "SELECT kind, state FROM operations") == [("void", "sent")]
        stack.bridge.start()
        stack.wait_connected()
        body = stack.wait_status("v1", "voided")
        assert body["transaction_status"] == "VD"
        assert journal_rows(stack, "SELECT kind, state FROM operations") == [("void", "done")]
        again = stack.post("/VoidPayment", {"retrieval_reference_number": "v1"})
        assert (again.status_code, again.json()["error_code"]) == (409, "ALREADY_VOIDED")


def test_a_late_batch_answer_is_kept_and_submitting_again_answers_with_it(
        tmp_path: Path, terminal: str) -> None:
    """A terminal that takes a second to settle and a bridge that waits half a second."""
    stack = Stack(tmp_path, customer_delay=0.2, bridge_args=("--terminal-timeout", "0.5"),
                  terminal=terminal)
    stack.sim.args += ["--settle-delay", "1"]
    with stack.running():
        for ref, amount in (("b1", "2.00"), ("b2", "3.50")):
            assert stack.post("/CreatePayment", create(ref, amount)).status_code == 200
            stack.wait_status(ref, "approved")
        first = stack.post("/SubmitBatch", {})
        assert first.status_code == 504, first.text
        assert first.json()["error_code"] == "TERMINAL_TIMEOUT"
        time.sleep(1.5)  # the answer arrives late, and is applied
        again = stack.post("/SubmitBatch", {}).json()
        assert again["success"] is True, again
        assert (again["batch_number"], again["count"], again["total"], again["replayed"]) == (
            1, 2, "5.50", True)
        assert stack.wait_status("b1", "approved")["batch_number"] == 1
        assert journal_rows(stack, "SELECT terminal, batch_number, count, total_minor, state "
                            "FROM batches") == [("SIM-000001", 1, 2, 550, "done")]
        void = stack.post("/VoidPayment", {"retrieval_reference_number": "b2"}).json()
        assert void["error_code"] == "ALREADY_SETTLED" and "batch 1" in void["message"]
        log = stack.bridge.text()
        assert "late answer BatchResult (applied)" in log
        assert "ERROR" not in log and "Traceback" not in log


def test_a_journal_locked_by_another_program_refuses_money_and_heals(tmp_path: Path) -> None:
    stack = Stack(tmp_path, customer_delay=0.6)
    with stack.running():
        assert stack.post("/CreatePayment", create("j1")).status_code == 200
        other = sqlite3.connect(stack.journal, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # holds the write lock while the result arrives
        try:
            deadline = time.monotonic() + 10
            while not (stack.health() or {}).get("journal_error"):
                assert time.monotonic() < deadline, stack.bridge.text()
                time.sleep(0.05)
            health = stack.health()
            assert health is not None and health["terminal"]["connected"] is True
            assert str(stack.journal) in health["journal_error"]
            r = stack.post("/CreatePayment", create("j2"))
            assert r.status_code == 503
            assert r.json()["error_code"] == "JOURNAL_UNAVAILABLE"
            assert r.json()["journal"] == str(stack.journal)
            # Reads still answer, from what the journal has: not final, never guessed.
            assert stack.post("/QueryPayment", {"retrieval_reference_number": "j1"}
                              ).json()["status"] == "pending"
        finally:
            other.execute("ROLLBACK")
            other.close()
        stack.wait_status("j1", "approved")
        assert stack.post("/CreatePayment", create("j2")).status_code == 200
        assert (stack.health() or {}).get("journal_error") == ""
        assert stack.bridge.p is not None and stack.bridge.p.poll() is None  # still running


def test_a_journal_deleted_under_the_bridge_is_refused_and_the_bridge_exits(
        tmp_path: Path) -> None:
    stack = Stack(tmp_path, customer_delay=0.2)
    with stack.running():
        assert stack.post("/CreatePayment", create("d1")).status_code == 200
        stack.wait_status("d1", "approved")
        stack.journal.unlink()
        # A read looks at the file once per 10 ms at most (service.FILE_CHECK_SECONDS).
        time.sleep(0.05)
        r = stack.post("/QueryPayment", {"retrieval_reference_number": "d1"})
        assert r.status_code == 503
        body = r.json()
        assert body["error_code"] == "JOURNAL_UNAVAILABLE" and "deleted" in body["message"]
        assert stack.bridge.p is not None
        code = stack.bridge.p.wait(15)
        assert code == 1, stack.bridge.text()
        assert "was deleted" in stack.bridge.text()
