"""Refunds with real processes (issue 18): a real `posbridge serve` and `posbridge simulator
--state FILE` on real ports, over HTTP; partial refunds, replays, a refund over what
remains, and a refund that reached the terminal while the bridge was killed."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from posbridge.client import ApiError, Client
from procs import Stack

pytestmark = pytest.mark.e2e


def refund(ref: str, refund_ref: str, amount: str) -> dict[str, str]:
    return {"retrieval_reference_number": ref, "refund_reference": refund_ref,
            "amount": amount}


def terminal_refunds(stack: Stack) -> dict[str, dict[str, Any]]:
    state = json.loads((stack.tmp / "terminal.json").read_text())
    return {r["refund_ref"]: r for r in state.get("refunds", [])}


def journal_rows(stack: Stack, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{stack.journal}?mode=ro", uri=True) as db:
        return db.execute(sql).fetchall()


def query(stack: Stack, ref: str) -> dict[str, Any]:
    body: dict[str, Any] = stack.post("/QueryPayment",
                                      {"retrieval_reference_number": ref}).json()
    return body


def test_refunds_over_http_survive_a_killed_bridge(tmp_path: Path, terminal: str) -> None:
    stack = Stack(tmp_path, customer_delay=0.2, terminal=terminal)
    with stack.running():
        r = stack.post("/CreatePayment", {"amount": "10.00", "retrieval_reference_number": "p1",
                                          "condition_code": "82"})
        assert r.status_code == 200, r.text
        stack.wait_status("p1", "approved")

        first = stack.post("/RefundPayment", refund("p1", "c1", "2.50"))
        assert first.status_code == 200, first.text
        assert first.json() == {
            "success": True, "message": "Refund payment command processed",
            "retrieval_reference_number": "p1", "refund_reference": "c1", "amount": "2.50",
            "status": "approved", "refunded": "2.50", "remaining": "7.50", "replayed": False}
        with Client(stack.url) as client:  # the Python client's method, the same refund
            again = client.refund_payment("p1", "c1", "2.50")
            assert (again["replayed"], again["status"]) == (True, "approved")
            with pytest.raises(ApiError) as info:
                client.refund_payment("p1", "c1", "2.00")
            assert (info.value.status, info.value.body["error_code"]) == (
                409, "REFERENCE_CONFLICT")
        over = stack.post("/RefundPayment", refund("p1", "c9", "7.51"))
        assert over.status_code == 409
        assert (over.json()["error_code"], over.json()["remaining"]) == (
            "REFUND_EXCEEDS_PAYMENT", "7.50")

        # The terminal takes the refund but answers nothing yet; the bridge dies.
        stack.sim.send(signal.SIGSTOP)
        try:
            lost = stack.post("/RefundPayment", refund("p1", "c2", "3.00"))
            assert lost.status_code == 504, lost.text
            assert (lost.json()["status"], lost.json()["refund_reference"]) == ("unknown", "c2")
            stack.bridge.stop(signal.SIGKILL)
        finally:
            stack.sim.send(signal.SIGCONT)
        deadline = time.monotonic() + 10
        while "c2" not in terminal_refunds(stack):
            assert time.monotonic() < deadline, "the simulator never acted on the refund"
            time.sleep(0.05)
        # On disk when the bridge died: the refund as sent, its outcome unknown.
        assert journal_rows(stack, "SELECT refund_ref, status FROM refunds ORDER BY rowid") == [
            ("c1", "approved"), ("c2", "unknown")]
        assert journal_rows(stack, "SELECT state FROM operations WHERE kind = 'refund' "
                            "ORDER BY id") == [("done",), ("sent",)]

        stack.bridge.start()
        stack.wait_connected()
        deadline = time.monotonic() + 10
        while (body := query(stack, "p1"))["refunded"] != "5.50":
            assert time.monotonic() < deadline, f"recovery never learned the refund: {body}"
            time.sleep(0.1)
        assert body["refunds"] == [
            {"refund_reference": "c1", "amount": "2.50", "status": "approved"},
            {"refund_reference": "c2", "amount": "3.00", "status": "approved"}]
        assert (body["status"], body["transaction_status"]) == ("approved", "00")

        # Settled, the rest is refunded; nothing remains; a void is refused.
        assert stack.post("/SubmitBatch", {}).status_code == 200
        rest = stack.post("/RefundPayment", refund("p1", "c3", "4.50")).json()
        assert (rest["status"], rest["refunded"], rest["remaining"]) == (
            "approved", "10.00", "0.00")
        void = stack.post("/VoidPayment", {"retrieval_reference_number": "p1"})
        assert (void.status_code, void.json()["error_code"]) == (409, "ALREADY_SETTLED")
        assert sum(r["amount"] for r in terminal_refunds(stack).values()) == 1000

        # Receipts: in QueryPayment once final, and from `posbridge receipt`.
        final = query(stack, "p1")
        assert (final["receipt"]["kind"], final["receipt"]["status"],
                final["receipt"]["amount"]) == ("payment", "approved", "10.00")
        assert final["receipt"]["transaction_id"] == final["transaction_id"]

        def receipt_cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "posbridge", "receipt", "p1",
                                   "--journal", str(stack.journal), *args],
                                  capture_output=True, text=True, timeout=60)

        text = receipt_cli()
        assert text.returncode == 0, text.stderr
        assert text.stdout.count("CUSTOMER COPY") == 4  # the sale and its three refunds
        assert "REFUND APPROVED" in text.stdout and "SALE APPROVED" in text.stdout
        merchant = receipt_cli("--refund", "c2", "--merchant")
        assert merchant.stdout.count("MERCHANT COPY") == 1
        assert "AMOUNT     SGD 3.00" in merchant.stdout
        listed = json.loads(receipt_cli("--json").stdout)
        assert [(r["kind"], r["refund_reference"]) for r in listed] == [
            ("payment", ""), ("refund", "c1"), ("refund", "c2"), ("refund", "c3")]
        assert receipt_cli("--refund", "nope").returncode == 1


def test_a_scenario_file_scripts_each_refund_then_runs_out(tmp_path: Path) -> None:
    """`posbridge simulator --scenario` with a `refunds` list: the refunds play its steps in
    order, whatever their cents (decline, answer lost then found by asking, refunded); a
    replay plays no step; past the list a refund is refused and nothing is refunded."""
    script = tmp_path / "scenario.json"
    script.write_text(json.dumps({
        "payments": [{"outcome": "approve"}],
        "refunds": [{"outcome": "decline", "note": "acquirer says no"},
                    {"outcome": "answer_lost"}, {"outcome": "refund"}]}))
    stack = Stack(tmp_path, customer_delay=0.1)
    stack.sim.args += ["--scenario", str(script)]
    with stack.running():
        assert stack.post("/CreatePayment", {"amount": "10.00", "condition_code": "82",
                                             "retrieval_reference_number": "s1"}).is_success
        stack.wait_status("s1", "approved")

        declined = stack.post("/RefundPayment", refund("s1", "d1", "1.00"))
        assert (declined.status_code, declined.json()["error_code"]) == (
            409, "TERMINAL_REFUSED"), declined.text
        assert "declined" in declined.json()["message"]

        lost = stack.post("/RefundPayment", refund("s1", "l1", "1.00"))  # .00: cents say
        assert lost.status_code == 504, lost.text                      # refunded at once
        deadline = time.monotonic() + 10
        while query(stack, "s1")["refunded"] != "1.00":
            assert time.monotonic() < deadline, query(stack, "s1")
            time.sleep(0.1)

        made = stack.post("/RefundPayment", refund("s1", "r1", "2.44"))  # .44: cents say
        assert made.status_code == 200, made.text                       # declined
        assert (made.json()["status"], made.json()["refunded"]) == ("approved", "3.44")
        replay = stack.post("/RefundPayment", refund("s1", "r1", "2.44"))
        assert replay.json()["replayed"] is True

        out = stack.post("/RefundPayment", refund("s1", "x1", "1.00"))
        assert out.status_code != 200 and out.json()["success"] is False, out.text
        assert "played all of its refunds" in out.json()["message"]
        assert query(stack, "s1")["refunded"] == "3.44"
        assert set(terminal_refunds(stack)) == {"l1", "r1"}
    assert "scenario refund 1 of 3: decline (acquirer says no)" in stack.sim.text()


def test_closing_the_day_with_posbridge_report_against_real_processes(
        tmp_path: Path, terminal: str) -> None:
    """The end of day as staff run it (docs/operations.md): `posbridge report` asks the
    running bridge, which asks the terminal process; the batch; then `report --batch 1`
    from the journal, as text and CSV."""
    stack = Stack(tmp_path, customer_delay=0.1, terminal=terminal)

    def report(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "posbridge", "report", *args],
                              capture_output=True, text=True, timeout=60)

    with stack.running():
        for ref, amount in (("e1", "10.00"), ("e2", "2.50")):
            assert stack.post("/CreatePayment", {"amount": amount, "condition_code": "82",
                                                 "retrieval_reference_number": ref}).is_success
            stack.wait_status(ref, "approved")
        assert stack.post("/RefundPayment", refund("e1", "er1", "1.00")).is_success
        x = report("--url", stack.url, "--json")
        assert x.returncode == 0, x.stderr
        body = json.loads(x.stdout)
        assert (body["kind"], body["mismatch"], body["terminal_problem"]) == ("X", [], None), body
        assert {(ln["kind"], ln["status"], ln["count"], ln["total"]) for ln in body["lines"]} \
            == {("payment", "approved", 2, "12.50"), ("refund", "approved", 1, "1.00")}
        text = report("--url", stack.url)
        assert text.returncode == 0 and "MISMATCH" not in text.stdout, text.stdout
        batch = stack.post("/SubmitBatch", {}).json()
        assert batch["success"] is True and batch["report"]["kind"] == "Z", batch
    z = report("--batch", str(batch["batch_number"]), "--journal", str(stack.journal), "--csv")
    assert z.returncode == 0, z.stderr
    assert "12.50" in z.stdout and "PayNow" in z.stdout, z.stdout
