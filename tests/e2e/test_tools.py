"""posbridge.client and the command-line tools against real `posbridge serve` and simulator
processes: the sync and async clients, pay/query/void/cancel/batch with their exit codes,
and the read-only journal tools beside a running bridge."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from posbridge.client import ApiError, AsyncClient, Client
from procs import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(tmp_path_factory.mktemp("tools"), customer_delay=0.3).running() as s:
        yield s


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "posbridge", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_sync_client_takes_voids_and_settles(stack: Stack) -> None:
    with Client(stack.url) as pos:
        created = pos.create_payment("4.00", "client-1")
        assert created["status"] == "pending" and created["replayed"] is False
        assert pos.create_payment("4.00", "client-1")["replayed"] is True
        seen: list[str] = []
        final = pos.wait_final("client-1", poll=0.05, progress=lambda a: seen.append(a["status"]))
        assert final["status"] == "approved" and final["transaction_status"] == "00"
        assert seen[-1] == "approved"
        with pytest.raises(ApiError) as err:
            pos.query_payment("no-such-ref")
        assert (err.value.status, err.value.code) == (404, "PAYMENT_NOT_FOUND")
        with pytest.raises(ApiError) as err:
            pos.create_payment("5.00", "client-1")
        assert err.value.code == "REFERENCE_CONFLICT"
        assert pos.void_payment("client-1")["status"] == "voided"
        assert pos.health()["terminal"]["connected"] is True
        batch = pos.submit_batch()
        assert batch["success"] is True and batch["batch_number"] >= 1


def test_async_client_and_its_timeout(stack: Stack) -> None:
    async def go() -> None:
        async with AsyncClient(stack.url) as pos:
            await pos.create_payment("6.00", "client-async-1")
            with pytest.raises(TimeoutError, match="still pending"):
                await pos.wait_final("client-async-1", poll=0.01, timeout=0.0)
            final = await pos.wait_final("client-async-1", poll=0.05, timeout=10)
            assert final["status"] == "approved"
            with pytest.raises(ApiError) as err:
                await pos.void_payment("nope")
            assert err.value.code == "PAYMENT_NOT_FOUND"

    asyncio.run(go())


def test_client_sends_the_token(tmp_path: Path) -> None:
    token = "client-token-0123456789abcdef"
    with Stack(tmp_path, customer_delay=0.1, bridge_env={"POSBRIDGE_TOKEN": token},
               client_headers={"Authorization": f"Bearer {token}"}).running() as s:
        with Client(s.url) as anonymous, pytest.raises(ApiError) as err:
            anonymous.query_payment("x")
        assert (err.value.status, err.value.code) == (401, "UNAUTHORIZED")
        with Client(s.url, token=token) as pos:
            with pytest.raises(ApiError) as err:
                pos.query_payment("x")
            assert err.value.code == "PAYMENT_NOT_FOUND"
        token_file = tmp_path / "token"
        token_file.write_text(token + "\n")
        out = cli("pay", "1.00", "--ref", "cli-token-1", "--wait", "--url", s.url,
                  "--token-file", str(token_file))
        assert out.returncode == 0, out.stderr


def test_cli_pay_wait_exit_codes(stack: Stack) -> None:
    url = ("--url", stack.url)
    out = cli("pay", "2.00", "--ref", "cli-1", "--wait", *url)
    assert out.returncode == 0, out.stderr
    assert "status: approved" in out.stdout and "transaction_status: 00" in out.stdout
    assert "cli-1: pending" in out.stderr  # the progress line
    assert "cli-1: pending, QR shown" in out.stderr  # PayNow: the terminal shows its QR

    out = cli("pay", "1.51", "--ref", "cli-2", "--wait", "--json", *url)
    assert out.returncode == 3, out.stderr
    answer = json.loads(out.stdout)
    assert answer["status"] == "declined" and answer["transaction_status"] == "51"

    out = cli("pay", "2.00", "--ref", "cli-3", "--wait", "--timeout", "0", *url)
    assert out.returncode == 4, out.stderr
    assert "still pending" in out.stderr and "do not start a new payment" in out.stderr
    stack.wait_status("cli-3", "approved")

    out = cli("query", "cli-1", "--json", *url)
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "approved"
    out = cli("void", "cli-1", *url)
    assert out.returncode == 0 and "status: voided" in out.stdout
    out = cli("cancel", *url)
    assert out.returncode == 1 and "NO_PAYMENT_IN_PROGRESS" in out.stderr
    out = cli("batch", *url)
    assert out.returncode == 0 and "batch_number" in out.stdout
    out = cli("query", "missing", *url)
    assert out.returncode == 1 and "404 PAYMENT_NOT_FOUND" in out.stderr


def test_cli_says_when_the_bridge_is_not_there() -> None:
    from rig import free_port

    out = cli("query", "x", "--url", f"http://127.0.0.1:{free_port()}")
    assert out.returncode == 1
    assert "cannot reach the bridge" in out.stderr and "posbridge serve" in out.stderr


def test_journal_tools_read_beside_a_running_bridge(stack: Stack) -> None:
    with Client(stack.url) as pos:
        pos.create_payment("7.25", "=HYPERLINK(1)")
        pos.wait_final("=HYPERLINK(1)", poll=0.05)
        pos.create_payment("1.05", "journal-declined")
        pos.wait_final("journal-declined", poll=0.05)
    journal = ("--journal", str(stack.journal))

    out = cli("journal", *journal, "list", "--limit", "2")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "journal-declined" in lines[1] and "declined" in lines[1]
    assert "=HYPERLINK(1)" in lines[2] and "approved" in lines[2]
    assert lines[-1] == "2 payment(s)"
    out = cli("journal", *journal, "list", "--status", "declined")
    assert "journal-declined" in out.stdout and "HYPERLINK" not in out.stdout

    out = cli("journal", *journal, "show", "journal-declined")
    assert out.returncode == 0
    assert "status          declined" in out.stdout
    assert "received  -> pending" in out.stdout and "pending   -> declined" in out.stdout

    out = cli("journal", *journal, "export", "--csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    by_ref = {r["ref"]: r for r in rows}
    assert by_ref["'=HYPERLINK(1)"]["amount"] == "7.25"  # never a formula in a spreadsheet
    assert by_ref["journal-declined"]["response_code"] == "05"
    assert [r["created_at"] for r in rows] == sorted(r["created_at"] for r in rows)

    assert cli("journal", *journal, "show", "nope").returncode == 1
    missing = cli("journal", "--journal", "/nonexistent/j.sqlite3", "list")
    assert missing.returncode == 1 and "no journal" in missing.stderr
    not_a_journal = stack.tmp / "notes.txt"
    not_a_journal.write_text("not a database, " * 100)
    wrong = cli("journal", "--journal", str(not_a_journal), "list")
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert "cannot read" in wrong.stderr and "as a posbridge journal" in wrong.stderr
    # The other journal readers say the same, the same way.
    for command in (("receipt", "r1", "--journal"), ("report", "--batch", "1", "--journal")):
        for path, says in (("/nonexistent/j.sqlite3", "no journal"),
                           (str(not_a_journal), "as a posbridge journal")):
            out = cli(*command, path)
            assert out.returncode == 1 and says in out.stderr, (command, path, out.stderr)
            assert "Traceback" not in out.stderr
    # The bridge was never disturbed: it still answers.
    assert httpx.get(stack.url + "/health").json()["terminal"]["connected"]


class _UnsureBridge:
    """A stand-in bridge whose CreatePayment does not know the outcome (a 504, or the
    connection dropped after the request), and whose QueryPayment later says approved:
    what a real bridge does when the terminal answers late."""

    def __init__(self, create: str) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.creates = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path == "/CreatePayment":
                    outer.creates += 1
                    if create == "drop":
                        self.close_connection = True
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        return
                    self._answer(504, {"success": False, "error_code": "TERMINAL_TIMEOUT",
                                       "message": "the terminal did not answer",
                                       "status": "unknown"})
                else:
                    self._answer(200, {"success": True, "message": "Query payment command "
                                       "processed", "retrieval_reference_number": "u-1",
                                       "condition_code": "82", "transaction_id": "T1",
                                       "transaction_status": "00", "status": "approved",
                                       "amount": "1.00", "batch_number": None})

            def _answer(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("create", ["504", "drop"])
def test_pay_with_an_unknown_outcome_never_says_refused(create: str) -> None:
    # Exit 1 means "refused, nothing started": a script may send the payment again. When
    # the outcome is unknown, pay must say 4 (keep querying), and pay --wait must query.
    unsure = _UnsureBridge(create)
    try:
        out = cli("pay", "1.00", "--ref", "u-1", "--url", unsure.url)
        assert out.returncode == 4, out.stderr
        assert "not known" in out.stderr and "do not start a new payment" in out.stderr
        out = cli("pay", "1.00", "--ref", "u-1", "--wait", "--url", unsure.url)
        assert out.returncode == 0, out.stderr
        assert "status: approved" in out.stdout
        assert unsure.creates == 2  # one CreatePayment per command; the rest were queries
    finally:
        unsure.close()
