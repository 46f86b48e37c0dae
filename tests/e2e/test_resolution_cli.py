"""`posbridge journal resolve` with real processes (issue 18): through a running bridge,
which asks the terminal first; and without one, where the journal is opened directly only
with --without-terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from procs import Stack, free_port
from test_resolution import void_in_flight_on_a_lost_terminal

pytestmark = pytest.mark.e2e


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "posbridge", *args], capture_output=True,
                          text=True, timeout=60)


def test_resolve_goes_through_the_running_bridge(tmp_path: Path) -> None:
    stack = Stack(tmp_path, customer_delay=0.2)
    void_in_flight_on_a_lost_terminal(stack.journal)  # the simulator never had p1
    with stack.running():
        stack.wait_connected()
        before = stack.post("/QueryPayment", {"retrieval_reference_number": "p1"}).json()
        assert (before["status"], before["resolved_by_hand"]) == ("unknown", False)
        done = cli("journal", "--journal", str(stack.journal), "resolve", "p1", "--not-paid",
                   "--reason", "the old terminal's report lists the void", "--url", stack.url)
        assert done.returncode == 0, done.stderr
        assert "p1: voided" in done.stdout
        after = stack.post("/QueryPayment", {"retrieval_reference_number": "p1"}).json()
        assert (after["status"], after["transaction_status"], after["resolved_by_hand"]) == (
            "voided", "VD", True)
        again = cli("journal", "--journal", str(stack.journal), "resolve", "p1", "--paid",
                    "--reason", "x", "--url", stack.url)
        assert again.returncode == 1 and "409 NOT_RESOLVABLE" in again.stderr
        # The journal is owned by the bridge: nothing else wrote it.
        shown = cli("journal", "--journal", str(stack.journal), "show", "p1")
        assert "settled by hand by " in shown.stdout
        assert "the old terminal's report lists the void" in shown.stdout


def test_without_a_bridge_the_journal_is_settled_only_with_without_terminal(
        tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    void_in_flight_on_a_lost_terminal(journal)
    nobody = f"http://127.0.0.1:{free_port()}"
    refused = cli("journal", "--journal", str(journal), "resolve", "p1", "--paid",
                  "--reason", "slip", "--url", nobody)
    assert refused.returncode == 1
    assert "--without-terminal" in refused.stderr and "no bridge is running" in refused.stderr
    assert "unknown" in cli("journal", "--journal", str(journal), "show", "p1").stdout
    done = cli("journal", "--journal", str(journal), "resolve", "p1", "--paid", "--reason",
               "slip", "--url", nobody, "--without-terminal")
    assert done.returncode == 0, done.stderr
    shown = cli("journal", "--journal", str(journal), "show", "p1").stdout
    assert "approved" in shown and "without asking a terminal" in shown
