"""End to end with real processes: `posbridge simulator` and `posbridge serve` on real ports,
talked to over HTTP exactly as a POS would. The tests that take the `stack` fixture, or the
`terminal` one, run twice: against the simulator and against the Java demo terminal."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from procs import Stack
from rig import free_port

pytestmark = pytest.mark.e2e

@pytest.fixture
def stack(tmp_path: Path, terminal: str) -> Iterator[Stack]:
    s = Stack(tmp_path, terminal=terminal)
    s.sim.start()
    s.bridge.start()
    try:
        yield s
    finally:
        s.close()


def create(ref: str, amount: str = "1.00", cc: str = "82") -> dict[str, str]:
    return {"amount": amount, "retrieval_reference_number": ref, "condition_code": cc}


def test_done_when_walkthrough(stack: Stack) -> None:
    """The issue's 'done when', with the reference's own request bodies."""
    stack.wait_connected()
    r = stack.post("/CreatePayment", create("invoice-123456789"))
    assert r.status_code == 200
    body = r.json()
    assert {k: body[k] for k in list(body)[:4]} == {
        "success": True,
        "message": "Create payment command processed",
        "retrieval_reference_number": "invoice-123456789",
        "condition_code": "82",
    }
    approved = stack.wait_status("invoice-123456789", "approved")
    assert approved["transaction_status"] == "00"
    assert re.fullmatch(r"[0-9]{24}", approved["transaction_id"])

    void = stack.post("/VoidPayment", {"retrieval_reference_number": "invoice-123456789"})
    assert void.json() == {"success": True, "message": "Void payment command processed",
                           "retrieval_reference_number": "invoice-123456789",
                           "status": "voided"}

    stack.post("/CreatePayment", create("invoice-2", "5.00"))
    stack.wait_status("invoice-2", "approved")
    batch = stack.post("/SubmitBatch", {}).json()
    assert batch["success"] is True and batch["message"] == "Submit batch command processed"
    assert (batch["count"], batch["total"]) == (1, "5.00")

    stack.post("/CreatePayment", create("invoice-3", "3.00"))
    cancel = stack.post("/CancelPayment", {}).json()
    assert cancel["success"] is True and cancel["message"] == "Cancel payment command processed"
    assert stack.wait_status("invoice-3", "cancelled")["transaction_status"] == "17"

    stack.post("/CreatePayment", create("invoice-151", "1.51"))
    declined = stack.wait_status("invoice-151", "declined")
    assert declined["transaction_status"] == "51"

    log = stack.bridge.text()
    assert "invoice-151: pending -> declined (51)" in log  # one log line per step
    assert "http://127.0.0.1:" in log  # loopback by default


def test_silent_terminal_is_504_unknown_and_then_recovered(stack: Stack) -> None:
    stack.wait_connected()
    stack.sim.send(signal.SIGSTOP)  # the terminal hangs: its kernel still takes bytes
    try:
        r = stack.post("/CreatePayment", create("hung", "2.00"))
        assert r.status_code == 504, r.text
        assert r.json()["error_code"] == "TERMINAL_TIMEOUT"
        assert r.json()["status"] == "unknown"
    finally:
        stack.sim.send(signal.SIGCONT)
    query = stack.post("/QueryPayment", {"retrieval_reference_number": "hung"}).json()
    assert query["status"] in ("unknown", "pending"), query  # never declined while unknown
    # Whatever became of the sale on the terminal, the journal ends up saying the same.
    final = wait_final(stack, "hung")
    record = terminal_record(stack).get("hung")
    if record is None:
        assert final["status"] == "failed"
    else:
        assert (final["status"], final["transaction_id"]) == (
            record["status"], record["transaction_id"])


def wait_final(stack: Stack, ref: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = stack.post(
            "/QueryPayment", {"retrieval_reference_number": ref}).json()
        if body["status"] not in ("unknown", "pending"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{ref} never reached a final status:\n{stack.bridge.text()}")


def terminal_record(stack: Stack) -> dict[str, dict[str, Any]]:
    path = stack.tmp / "terminal.json"
    if not path.exists():
        return {}
    return {p["ref"]: p for p in json.loads(path.read_text())["payments"]}


def test_no_terminal_is_503_then_the_bridge_reconnects(tmp_path: Path) -> None:
    s = Stack(tmp_path)
    s.bridge.start()
    try:
        deadline = time.monotonic() + 10
        while s.health() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        health = s.health()
        assert health is not None and health["terminal"]["connected"] is False
        assert "connecting to tcp://127.0.0.1" in health["terminal"]["last_error"]
        r = s.post("/CreatePayment", create("early"))
        assert r.status_code == 503 and r.json()["error_code"] == "TERMINAL_NOT_CONNECTED"
        assert s.post("/QueryPayment", {"retrieval_reference_number": "early"}).status_code == 404

        s.sim.start()
        s.wait_connected()
        assert s.post("/CreatePayment", create("early")).status_code == 200
        s.wait_status("early", "approved")
    finally:
        s.close()


def test_sigkill_mid_payment_then_restart_finishes_it(stack: Stack) -> None:
    stack.wait_connected()
    assert stack.post("/CreatePayment", create("crash", "7.00")).status_code == 200
    assert stack.bridge.stop(signal.SIGKILL) == -signal.SIGKILL
    time.sleep(0.6)  # the customer pays while the bridge is dead
    stack.bridge.start()
    stack.wait_connected()
    approved = stack.wait_status("crash", "approved")
    assert approved["amount"] == "7.00"
    # The same request after the crash starts nothing new.
    again = stack.post("/CreatePayment", create("crash", "7.00")).json()
    assert (again["status"], again["replayed"]) == ("approved", True)
    # A second bridge on the same journal would drive the same payments: refused.
    second = subprocess.run(
        [sys.executable, "-m", "posbridge", "serve", "--terminal", "simulator",
         "--port", str(free_port()), "--journal", str(stack.journal)],
        capture_output=True, text=True, timeout=30,
    )
    assert second.returncode != 0
    assert f"{stack.journal} is in use by another posbridge (process {stack.bridge.p.pid})" \
        in second.stderr


def test_every_outcome_of_the_cents_table(stack: Stack) -> None:
    """The customer's part of the cents table, each through the bridge: cancelled on the
    terminal, timed out, declined, approved with the result message lost (the bridge's
    recovery asks), and approved after the link dropped mid-payment."""
    stack.wait_connected()
    for ref, amount, status, code in (
            ("c17", "1.17", "cancelled", "17"), ("c68", "1.68", "timed_out", "68"),
            ("c05", "2.05", "declined", "05"), ("c97", "1.97", "approved", "00"),
            ("c98", "1.98", "approved", "00")):
        r = stack.post("/CreatePayment", create(ref, amount))
        assert r.status_code == 200, r.text
        body = stack.wait_status(ref, status)
        assert body["transaction_status"] == code, body
        assert terminal_record(stack)[ref]["status"] == status
    log = stack.bridge.text()
    assert "c97: pending -> approved (00)" in log
    assert "lost" in stack.sim.text()  # the terminal says it lost .97's result on purpose
    assert "link: down" in log  # .98 dropped it, and the bridge came back
    assert "c98: pending -> approved (00)" in log
    assert stack.post("/CreatePayment", create("after", "1.00")).status_code == 200
    stack.wait_status("after", "approved")


def test_a_terminal_killed_mid_payment_resolves_it_from_its_state(tmp_path: Path,
                                                                  terminal: str) -> None:
    """The terminal dies while its customer pays and restarts on its --state file: the
    payment ends timed out ("68"), on the terminal and at the POS, and the terminal takes
    the next one."""
    stack = Stack(tmp_path, customer_delay=3, terminal=terminal)
    with stack.running():
        assert stack.post("/CreatePayment", create("k1", "3.00")).status_code == 200
        assert terminal_record(stack)["k1"]["status"] == "pending"
        assert stack.sim.stop(signal.SIGKILL) == -signal.SIGKILL
        stack.sim.start()
        body = stack.wait_status("k1", "timed_out", timeout=20)
        assert (body["transaction_status"], body["amount"]) == ("68", "3.00")
        assert terminal_record(stack)["k1"]["status"] == "timed_out"
        assert stack.post("/CreatePayment", create("k2", "2.00")).status_code == 200
        stack.wait_status("k2", "approved")


def test_a_stop_signal_stops_the_terminal_cleanly(tmp_path: Path, terminal: str) -> None:
    """SIGTERM, as a service manager stops it: exit 0, its record saved, the bridge sees the
    link go and says the terminal is not connected."""
    stack = Stack(tmp_path, customer_delay=0.1, terminal=terminal)
    with stack.running():
        assert stack.post("/CreatePayment", create("t1")).status_code == 200
        stack.wait_status("t1", "approved")
        assert stack.sim.stop(signal.SIGTERM) == 0, stack.sim.text()
        assert "stopped" in stack.sim.text() and "Traceback" not in stack.sim.text()
        assert terminal_record(stack)["t1"]["status"] == "approved"
        deadline = time.monotonic() + 10
        while (stack.health() or {}).get("terminal", {}).get("connected"):
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_help_is_there_for_a_new_user() -> None:
    out = subprocess.run([sys.executable, "-m", "posbridge", "serve", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for option in ("--terminal", "--host", "--port", "--journal", "--log-level"):
        assert option in out
    sim = subprocess.run([sys.executable, "-m", "posbridge", "simulator", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert ".51" in sim and "--customer-delay" in sim


def test_bad_terminal_argument_is_refused_plainly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "posbridge", "serve", "--terminal", "carrier-pigeon",
         "--journal", str(tmp_path / "j.sqlite3")],
        capture_output=True, text=True, timeout=30, env={**os.environ},
    )
    assert result.returncode != 0
    assert "carrier-pigeon" in result.stderr and "simulator" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_closes_the_link_and_the_journal_then_exits_0(
        tmp_path: Path, sig: int) -> None:
    # systemd stops a service with SIGTERM, a person with Ctrl+C: both are a clean stop.
    with Stack(tmp_path).running() as stack:
        assert stack.post("/CreatePayment", create("stop-1", "2.00")).status_code == 200
        stack.wait_status("stop-1", "approved")
        assert stack.bridge.stop(sig) == 0, stack.bridge.text()
        log = stack.bridge.text()
        assert "listener: stopped" in log
        # The journal was closed: SQLite removes the WAL file when its last connection closes.
        assert not Path(f"{stack.journal}-wal").exists()
        assert "Traceback" not in log


def test_a_bridge_loads_only_what_its_command_needs(tmp_path: Path) -> None:
    """A `serve` over TCP, through a payment and a stop, never loads the HTTP client (only a
    webhook needs it), the panel's Tk, USB, serial, QR images, prometheus_client (until a
    scrape) or the test libraries: each would cost every cashier PC memory and start-up
    time (issue 20). Read from the real process's own import log (PYTHONPROFILEIMPORTTIME),
    so a new import anywhere, even a late one, is seen."""
    stack = Stack(tmp_path, customer_delay=0.1, bridge_env={"PYTHONPROFILEIMPORTTIME": "1"})
    with stack.running():
        ref = "lean-1"
        answer = stack.post("/CreatePayment", create(ref)).json()
        assert answer["success"] is True, answer
        stack.wait_status(ref, "approved")
    imported = {line.rsplit("|", 1)[1].strip() for line in stack.bridge.text().splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "posbridge.listener" in imported and "uvicorn" in imported  # the log is read
    # (click is not in the list: uvicorn's own package imports it.)
    unneeded = {"httpx", "tkinter", "usb", "serial", "segno", "hypothesis", "rich",
                # the other commands' modules: only `serve` is parsed for
                "posbridge.tools", "posbridge.bundle", "posbridge.devices", "posbridge.gui.app",
                # /metrics imports prometheus_client at its first scrape; this bridge has none
                "prometheus_client",
                # the default journal path (platformdirs) only for --help or no --journal
                "platformdirs"}
    assert imported & unneeded == set()
