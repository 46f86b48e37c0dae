"""`posbridge simulator --window` as a real process on a real X server (Xvfb), with a real
`posbridge serve`: the window shows the QR of the payment the POS started, a real click on
Pay (xdotool) and the POS sees transaction_status "00".

The window writes what it shows and where its buttons are to POSBRIDGE_TERMINAL_STATE
(posbridge/simulator/window.py). Skipped without Xvfb and xdotool, except in CI
(POSBRIDGE_CI=1) where .ci/run installs them and a missing one fails the test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from posbridge.simulator.qr import paynow_payload
from procs import HEADERS, Proc, Stack, x_display
from rig import free_port

MISSING = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
try:
    import tkinter  # noqa: F401
except ImportError:
    MISSING.append("tkinter")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.gui,
    pytest.mark.skipif(bool(MISSING) and not os.environ.get("POSBRIDGE_CI"),
                       reason=f"not installed: {', '.join(MISSING)} (apt-get install xvfb "
                       "xdotool python3-tk)"),
]


@pytest.fixture
def display() -> Iterator[str]:
    with x_display("1024x768x24") as name:
        yield name


def test_click_pay_and_the_pos_gets_00(display: str, tmp_path: Path) -> None:
    state_file = tmp_path / "window.json"  # not terminal.json: the Stack's --state
    stack = Stack(tmp_path)
    stack.sim.args += ["--window"]
    stack.sim.env = {"DISPLAY": display, "POSBRIDGE_TERMINAL_STATE": str(state_file)}

    def state() -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = json.loads(state_file.read_text())
            return loaded
        except (FileNotFoundError, ValueError):
            return {}

    def wait(check: Callable[[dict[str, Any]], object], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            shown = state()
            if shown and check(shown):
                return shown
            assert stack.sim.p is not None and stack.sim.p.poll() is None, stack.sim.text()
            time.sleep(0.05)
        raise AssertionError(f"the window never showed {what}: {state()}\n{stack.sim.text()}")

    with stack.running():
        wait(lambda s: s["headline"] == "Ready", "the idle screen")
        body = {"amount": "12.50", "retrieval_reference_number": "invoice-1042",
                "condition_code": "82"}
        assert stack.post("/CreatePayment", body).status_code == 200
        shown = wait(lambda s: s["qr_drawn"], "the QR code")
        assert shown["headline"] == "SGD 12.50" and shown["method"].startswith("PayNow")
        assert shown["qr"] == paynow_payload(1250, "invoice-1042")
        pending = stack.wait_status("invoice-1042", "pending")
        assert pending["qr_payload"] == shown["qr"]  # what the POS can show is what is shown

        time.sleep(0.8)  # past the customer delay: nobody clicked, so it still waits
        assert stack.wait_status("invoice-1042", "pending")["transaction_status"] == "09"
        x, y, w, h = shown["widgets"]["pay"]
        subprocess.run(["xdotool", "mousemove", "--sync", str(x + w // 2), str(y + h // 2),
                        "click", "1"], check=True, timeout=10,
                       env={**os.environ, "DISPLAY": display})
        paid = stack.wait_status("invoice-1042", "approved")
        assert paid["transaction_status"] == "00"
        wait(lambda s: s["last"] == "Last payment: invoice-1042: paid (00)", "the result")

        assert stack.sim.p is not None
        stack.sim.p.send_signal(signal.SIGTERM)
        assert stack.sim.p.wait(15) == 0, stack.sim.text()
    assert "simulator: stopped" in stack.sim.text()


def test_the_panel_s_simulator_opens_the_terminal_window(display: str, tmp_path: Path) -> None:
    """posbridge gui with "Simulator: a terminal window to click": the window opens with the
    listener, and a click on Pay pays the POS's payment."""
    port = free_port()
    panel_state, window_state = tmp_path / "panel.json", tmp_path / "window.json"
    settings = tmp_path / "config" / "posbridge" / "gui.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"terminal": "simulator", "port": port,
                                    "customer_delay": 0.2, "simulator_window": True}))
    panel = Proc(["gui", "--autostart"], tmp_path / "gui.out", {
        "DISPLAY": display, "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_STATE_HOME": str(tmp_path / "state"),
        "POSBRIDGE_GUI_STATE": str(panel_state), "POSBRIDGE_TERMINAL_STATE": str(window_state)})

    def read(path: Path) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = json.loads(path.read_text())
            return loaded
        except (FileNotFoundError, ValueError):
            return {}

    def wait(path: Path, check: Callable[[dict[str, Any]], object], what: str
             ) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            shown = read(path)
            if shown and check(shown):
                return shown
            assert panel.p is not None and panel.p.poll() is None, panel.text()
            time.sleep(0.05)
        raise AssertionError(f"never showed {what}: {read(path)}\n{panel.text()}")

    panel.start()
    try:
        wait(panel_state, lambda s: s["terminal"].startswith("Connected"), "connected")
        assert read(panel_state)["enabled"]["simulator_window"] is False  # not while running
        wait(window_state, lambda s: s["headline"] == "Ready", "the terminal window")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=HEADERS,
                          timeout=10) as http:
            body = {"amount": "3.05", "retrieval_reference_number": "panel-1",
                    "condition_code": "30"}
            assert http.post("/CreatePayment", json=body).status_code == 200
            shown = wait(window_state, lambda s: s["qr_drawn"], "the QR")
            assert shown["method"] == "Alipay (condition code 30)"
            time.sleep(0.5)  # .05 would decline by the cents table; it waits for a click
            x, y, w, h = shown["widgets"]["pay"]
            subprocess.run(["xdotool", "mousemove", "--sync", str(x + w // 2),
                            str(y + h // 2), "click", "1"], check=True, timeout=10,
                           env={**os.environ, "DISPLAY": display})
            deadline = time.monotonic() + 10
            answer: dict[str, Any] = {}
            while time.monotonic() < deadline:
                answer = http.post("/QueryPayment", json={
                    "retrieval_reference_number": "panel-1"}).json()
                if answer["status"] != "pending":
                    break
                time.sleep(0.1)
            assert answer["transaction_status"] == "00", answer
    finally:
        panel.stop()
