"""`posbridge gui` as a real process on a real X server (Xvfb): real clicks and typing with
xdotool on its named widgets, real HTTP to the listener it starts.

The window writes what it shows, and where its widgets are, to POSBRIDGE_GUI_STATE (see
posbridge/gui/window.py); the test clicks at those places and reads the result back.
Skipped without Xvfb and xdotool, except in CI (POSBRIDGE_CI=1) where they are installed
by .ci/run and a missing one fails the test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from procs import HEADERS, Proc, x_display
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


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with x_display("1280x900x24") as name:
        yield name


class Panel:
    """A running `posbridge gui` and the means to click, type and read it."""

    def __init__(self, display: str, tmp: Path, settings: dict[str, Any],
                 *args: str) -> None:
        self.tmp, self.display = tmp, display
        self.state_file = tmp / "state.json"
        self.env = {"DISPLAY": display, "XDG_CONFIG_HOME": str(tmp / "config"),
                    "XDG_DATA_HOME": str(tmp / "data"), "XDG_STATE_HOME": str(tmp / "state"),
                    "POSBRIDGE_GUI_STATE": str(self.state_file)}
        self.settings_file = tmp / "config" / "posbridge" / "gui.json"
        self.settings_file.parent.mkdir(parents=True)
        self.settings_file.write_text(json.dumps(settings))
        self.log_file = tmp / "state" / "posbridge" / "log" / "posbridge.log"
        self.journal = tmp / "data" / "posbridge" / "journal.sqlite3"
        self.proc = Proc(["gui", *args], tmp / "gui.out", self.env)

    def state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self.state_file.read_text())
            return state
        except (FileNotFoundError, ValueError):
            return {}

    def wait(self, check: Callable[[dict[str, Any]], object], what: str,
             timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if state and check(state):
                return state
            assert self.proc.p is not None and self.proc.p.poll() is None, (
                f"the panel exited while waiting for {what}:\n{self.proc.text()}")
            time.sleep(0.05)
        raise AssertionError(f"the panel never showed {what}: {json.dumps(self.state())}\n"
                             f"{self.proc.text()}")

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], check=True, timeout=10,
                       env={**os.environ, "DISPLAY": self.display})

    def click(self, name: str) -> None:
        state = self.wait(lambda s: name in s.get("widgets", {}), f"the widget {name}")
        x, y, w, h = state["widgets"][name]
        self.xdotool("mousemove", "--sync", str(x + w // 2), str(y + h // 2), "click", "1")

    def type_into(self, name: str, text: str) -> None:
        self.click(name)
        self.xdotool("key", "--delay", "5", "End", *["BackSpace"] * 12)
        self.xdotool("type", "--delay", "5", text)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def create(ref: str, amount: str) -> dict[str, str]:
    return {"amount": amount, "retrieval_reference_number": ref, "condition_code": "82"}


def test_start_take_a_payment_watch_it_and_stop(display: str, tmp_path: Path) -> None:
    panel = Panel(display, tmp_path, {"terminal": "simulator", "customer_delay": 0.3})
    panel.proc.start()
    try:
        first = panel.wait(lambda s: "start" in s.get("widgets", {}), "the window")
        assert "no real money" in first["banner"]  # the simulator is chosen, and marked

        panel.type_into("port", "70000")
        panel.click("start")
        refused = panel.wait(lambda s: s["form_error"], "the bad port refused")
        assert "Port: give a whole number from 1 to 65535" in refused["form_error"]
        assert refused["listener_state"] == "stopped"

        port = free_port()
        panel.type_into("port", str(port))
        panel.click("start")
        url = f"http://127.0.0.1:{port}"
        running = panel.wait(lambda s: s["terminal"].startswith("Connected"), "connected")
        assert running["listener"] == f"Running on {url}" and running["form_error"] == ""
        assert "no real money" in running["terminal"] and "(SIMULATOR)" in running["title"]
        assert running["enabled"]["stop"] and not running["enabled"]["start"]
        assert not running["enabled"]["port"]  # no changing the port under a listener
        assert not running["enabled"]["resolve"]  # nothing selected: nothing to settle

        with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as http:
            assert http.get("/health").json()["terminal"]["connected"] is True
            for ref, amount in (("gui-1", "4.20"), ("other-2", "1.00")):
                assert http.post("/CreatePayment", json=create(ref, amount)).status_code == 200
                panel.wait(lambda s, r=ref: [r, "approved (00)"] in
                           [[row[1], row[4]] for row in s["rows"]], f"{ref} approved")
        rows = panel.state()["rows"]
        assert [row[1:] for row in rows] == [["other-2", "1.00", "82", "approved (00)"],
                                            ["gui-1", "4.20", "82", "approved (00)"]]

        # The link's history under the terminal's state; then a support bundle from the
        # button, saved through the real file dialog.
        assert "terminal connected: posbridge simulator" in panel.state()["link_history"]
        target = tmp_path / "panel-bundle.zip"
        panel.click("bundle")
        panel.xdotool("search", "--sync", "--name", "Save the support bundle", "windowfocus",
                      "--sync")
        panel.xdotool("key", "--delay", "5", "End", *["BackSpace"] * 60)
        panel.xdotool("type", "--delay", "5", str(target))
        panel.xdotool("key", "Return")
        panel.xdotool("search", "--sync", "--name", "^Support bundle$", "windowfocus", "--sync")
        panel.xdotool("key", "Return")
        with zipfile.ZipFile(target) as zf:
            health = json.loads(zf.read("health.json"))
            payments = zf.read("journal/payments.csv").decode()
            assert "posbridge.log" in " ".join(zf.namelist())
        assert health["terminal"]["connected"] is True
        assert "gui-1" in payments and "other-2" in payments

        panel.type_into("filter", "GUI")
        panel.wait(lambda s: [row[1] for row in s["rows"]] == ["gui-1"], "the filtered list")

        panel.click("stop")
        stopped = panel.wait(lambda s: s["listener_state"] == "stopped", "stopped")
        assert stopped["listener"] == "Stopped" and stopped["enabled"]["start"]
        assert not port_open(port)
        assert [row[1] for row in stopped["rows"]] == ["gui-1"]  # history stays on show

        # The log pane shows the lines of the log file.
        tail = panel.wait(lambda s: any("listener: stopped" in line for line in s["log_tail"]),
                          "the stop in the log pane")["log_tail"]
        in_file = panel.log_file.read_text().splitlines()
        assert any("gui-1: pending -> approved (00)" in line for line in in_file)
        assert tail and all(line in in_file for line in tail)
    finally:
        code = panel.proc.stop(signal.SIGTERM)
    assert code == 0, panel.proc.text()
    saved = json.loads(panel.settings_file.read_text())
    assert (saved["port"], saved["terminal"]) == (port, "simulator")


def test_autostart_and_stop_with_a_payment_on_the_terminal(display: str,
                                                           tmp_path: Path) -> None:
    port = free_port()
    panel = Panel(display, tmp_path, {"terminal": "simulator", "port": port,
                                      "customer_delay": 600}, "--autostart", "--minimized")
    panel.proc.start()
    try:
        panel.wait(lambda s: s["terminal"].startswith("Connected"), "started by itself")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=HEADERS) as http:
            assert http.post("/CreatePayment", json=create("held", "9.99")).status_code == 200
            panel.wait(lambda s: s["payment"].startswith("held: 9.99, waiting"), "held")
            # The window was opened minimised: show it to click on it.
            panel.xdotool("search", "--sync", "--name", "^posbridge", "windowmap", "--sync")
            panel.click("stop")
            panel.xdotool("search", "--sync", "--name", "Stop the listener", "windowfocus",
                          "--sync")
            panel.xdotool("key", "Return")  # the dialog's default answer: No
            # Tk handles events in order: once the filter shows, the answer has been acted on.
            panel.type_into("filter", "held")
            state = panel.wait(lambda s: [r[1] for r in s["rows"]] == ["held"], "filtered")
            assert state["listener_state"] == "running"
            assert http.get("/health").json()["payment_in_progress"] == {
                "retrieval_reference_number": "held", "status": "pending"}
            assert "panel: stopping the listener" not in panel.log_file.read_text()
    finally:
        code = panel.proc.stop(signal.SIGTERM)  # closing stops the listener without asking
    assert code == 0, panel.proc.text()
    assert not port_open(port)
    import sqlite3

    with sqlite3.connect(f"file:{panel.journal}?mode=ro", uri=True) as db:
        assert db.execute("SELECT status FROM payments WHERE ref = 'held'").fetchone() == (
            "pending",)
