"""posbridge as on Windows (the usual cashier PC), on Linux: real processes started through
tests/e2e/as_windows.py, which gives posbridge ``sys.platform == "win32"``, event loops
without ``add_signal_handler``, no uvloop and Windows' folders from platformdirs. A bridge
and a simulator take a payment, stop cleanly at Ctrl+C and at Ctrl+Break, and a second
bridge on the same journal is refused with the first one's process id.

What this cannot test (docs/operations.md lists it): the Windows API itself (LockFileEx,
WinUSB, COM ports, the console's close button, services).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from procs import HEADERS
from rig import free_port

pytestmark = pytest.mark.e2e

LAUNCHER = Path(__file__).with_name("as_windows.py")


class WinProc:
    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.p = subprocess.Popen([sys.executable, str(LAUNCHER), *args], stdout=out,
                                      stderr=subprocess.STDOUT, env={**os.environ, **env})

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int) -> int:
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            return self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError(f"did not stop at signal {sig}:\n{self.text()}") from None

    def wait_for(self, text: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.text():
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"never logged {text!r}:\n{self.text()}")


def windows_env(tmp: Path) -> dict[str, str]:
    return {"LOCALAPPDATA": str(tmp / "AppData" / "Local"),
            "APPDATA": str(tmp / "AppData" / "Roaming"), "PYTHONWARNINGS": "error"}


def test_a_payment_and_a_clean_stop_as_on_windows(tmp_path: Path) -> None:
    env = windows_env(tmp_path)
    sim_port, port = free_port(), free_port()
    sim = WinProc(["simulator", "--listen", f"tcp://127.0.0.1:{sim_port}",
                   "--customer-delay", "0.2"], tmp_path / "sim.log", env)
    bridge = None
    try:
        sim.wait_for("simulator: listening")
        bridge = WinProc(["serve", "--terminal", f"tcp://127.0.0.1:{sim_port}", "--port",
                          str(port)], tmp_path / "bridge.log", env)
        bridge.wait_for("link: terminal connected")
        assert "as-windows: sys.platform=win32, loop=WindowsLikeLoop" in bridge.text()
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as http:
            r = http.post("/CreatePayment", json={"amount": "1.00", "condition_code": "82",
                                                  "retrieval_reference_number": "win-1"})
            assert r.status_code == 200, r.text
            deadline = time.monotonic() + 10
            while http.post("/QueryPayment", json={"retrieval_reference_number": "win-1"}
                            ).json()["status"] != "approved":
                assert time.monotonic() < deadline, bridge.text()
                time.sleep(0.1)
            health = http.get("/health").json()
        # Every path from platformdirs: the journal is in %LOCALAPPDATA%\posbridge.
        journal = Path(env["LOCALAPPDATA"]) / "posbridge" / "journal.sqlite3"
        assert health["journal"] == str(journal) and journal.exists()

        # One owner per journal, and the refusal names it (filelock, pid beside the lock).
        second = WinProc(["serve", "--terminal", f"tcp://127.0.0.1:{sim_port}", "--port",
                          str(free_port())], tmp_path / "second.log", env)
        assert second.p.wait(30) != 0
        assert f"is in use by another posbridge (process {bridge.p.pid})" in second.text()

        # Ctrl+C: uvicorn's signal.signal handler, then the listener closes link and journal.
        assert bridge.stop(signal.SIGINT) == 0, bridge.text()
        assert "listener: stopped" in bridge.text()
        bridge = None
        # Ctrl+Break to the simulator: posbridge.stopping's signal.signal fallback.
        assert sim.stop(signal.SIGUSR2) == 0, sim.text()
        assert "simulator: stopped" in sim.text()
    finally:
        if bridge is not None:
            bridge.stop(signal.SIGKILL)
        sim.stop(signal.SIGKILL)


def test_the_launcher_notices_a_stop_signal_nobody_handles(tmp_path: Path) -> None:
    """The harness can fail: with signal.signal broken in the launcher (the planted bug),
    Ctrl+Break kills the simulator instead of stopping it, and the test above would see it."""
    env = {**windows_env(tmp_path), "AS_WINDOWS_PLANT": "no-signal-fallback"}
    sim = WinProc(["simulator", "--listen", f"tcp://127.0.0.1:{free_port()}"],
                  tmp_path / "sim.log", env)
    sim.wait_for("simulator: listening")
    code = sim.stop(signal.SIGUSR2)
    assert code == -signal.SIGUSR2
    assert "simulator: stopped" not in sim.text()
