"""Serial end to end with real processes: `posbridge serve --terminal serial:PORT` and the
simulated terminal on the far end of a pty in another process (pty_terminal.py), talked to
over HTTP as a POS would. PORT is a symlink to the pty, as /dev/serial/by-id links are to a
USB serial terminal, so the terminal can be unplugged and plugged back in under the same
name (a pty's own path changes each time)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from posbridge.journal import Journal
from procs import HEADERS, Proc
from rig import free_port

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent


class PtyTerminal:
    """The pty_terminal.py process: started is plugged in, stopped is unplugged."""

    def __init__(self, tmp: Path) -> None:
        self.link = tmp / "ttyPOS"
        self.state = tmp / "terminal.json"
        self.log = tmp / "terminal.log"
        self.p: subprocess.Popen[str] | None = None

    def plug(self) -> str:
        with open(self.log, "a") as err:
            self.p = subprocess.Popen(
                [sys.executable, str(HERE / "pty_terminal.py"), str(self.link), "--state",
                 str(self.state)], stdout=subprocess.PIPE, stderr=err, text=True)
        assert self.p.stdout is not None
        line = self.p.stdout.readline()  # the process ends (EOF) if it cannot start
        assert line.startswith("READY /dev/"), f"{line!r}\n{self.log.read_text()}"
        return line.split()[1]

    def unplug(self) -> None:
        if self.p is not None:
            self.p.terminate()
            assert self.p.wait(10) == 0, self.log.read_text()
            assert self.p.stdout is not None
            self.p.stdout.close()
            self.p = None


def test_payments_over_a_serial_port_survive_an_unplug(tmp_path: Path) -> None:
    terminal = PtyTerminal(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    journal = tmp_path / "journal.sqlite3"
    bridge = Proc(["serve", "--terminal", f"serial:{terminal.link}", "--port", str(port),
                   "--journal", str(journal), "--terminal-timeout", "2"],
                  tmp_path / "bridge.log")
    http = httpx.Client(timeout=10, headers=HEADERS)

    def post(path: str, body: Any) -> httpx.Response:
        return http.post(url + path, json=body)

    def health() -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = http.get(url + "/health", timeout=1).json()
            return body
        except httpx.TransportError:
            return None

    def wait_link(connected: bool, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = health()
            if last and last["terminal"]["connected"] is connected:
                return last
            time.sleep(0.05)
        raise AssertionError(f"link never {'up' if connected else 'down'}: {last}\n"
                             f"{bridge.text()}")

    def pay(ref: str, amount: str, status: str) -> dict[str, Any]:
        response = post("/CreatePayment", {"amount": amount,
                                           "retrieval_reference_number": ref,
                                           "condition_code": "82"})
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + 10
        body: dict[str, Any] = response.json()
        while body.get("status") != status and time.monotonic() < deadline:
            time.sleep(0.1)
            body = post("/QueryPayment", {"retrieval_reference_number": ref}).json()
        assert body.get("status") == status, f"{body}\n{bridge.text()}"
        return body

    terminal.plug()
    bridge.start()
    try:
        health_up = wait_link(True)
        assert health_up["terminal"]["serial"] == "PTY-0001"
        assert pay("ser-1", "4.00", "approved")["transaction_status"] == "00"
        assert pay("ser-2", "4.51", "declined")["transaction_status"] == "51"

        # Unplugged: the master end closes, the bridge's read fails, and the port's name
        # goes away; the link is down at once, not after missed heartbeats.
        unplugged = time.monotonic()
        terminal.unplug()
        down = wait_link(False, timeout=5)
        assert time.monotonic() - unplugged < 2, down
        assert f"serial:{terminal.link}" in down["terminal"]["last_error"], down
        response = post("/CreatePayment", {"amount": "1.00",
                                           "retrieval_reference_number": "ser-3",
                                           "condition_code": "82"})
        assert response.status_code == 503, response.text
        assert response.json()["error_code"] == "TERMINAL_NOT_CONNECTED"
        assert post("/QueryPayment",
                    {"retrieval_reference_number": "ser-3"}).status_code == 404

        # Plugged back in: a new pty (the kernel may reuse the number) under the same
        # name; the bridge opens it again.
        terminal.plug()
        wait_link(True)
        assert pay("ser-4", "2.00", "approved")["transaction_status"] == "00"
    finally:
        http.close()
        code = bridge.stop()
        terminal.unplug()
    assert code == 0, bridge.text()
    done = Journal(journal, readonly=True)
    try:
        assert sorted((p.ref, p.status) for p in done.recent()) == [
            ("ser-1", "approved"), ("ser-2", "declined"), ("ser-4", "approved")]
    finally:
        done.close()
