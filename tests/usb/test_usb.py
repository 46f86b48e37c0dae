"""USB end to end: a real ``posbridge serve --terminal usb`` process, the real libusb and
pyusb, and a fake Android terminal on umockdev's fake bus (conftest.py, fake_android.py)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import FakeAndroid
from posbridge.journal import Journal
from procs import HEADERS, Proc
from rig import free_port

pytestmark = pytest.mark.usb


class UsbBridge:
    def __init__(self, tmp: Path, android: FakeAndroid, terminal: str = "usb") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.journal = tmp / "journal.sqlite3"
        self.proc = Proc(["serve", "--terminal", terminal, "--port", str(self.port),
                          "--journal", str(self.journal), "--terminal-timeout", "2"],
                         tmp / "bridge.log", android.env)
        self.http = httpx.Client(timeout=10, headers=HEADERS)
        self.android = android

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(self.url + path, json=body)

    def health(self) -> dict[str, Any] | None:
        with contextlib.suppress(httpx.TransportError):
            body: dict[str, Any] = self.http.get(self.url + "/health", timeout=1).json()
            return body
        return None

    def wait_link(self, connected: bool, timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        health = None
        while time.monotonic() < deadline:
            health = self.health()
            if health and health["terminal"]["connected"] is connected:
                return health
            time.sleep(0.05)
        raise AssertionError(f"link never {'up' if connected else 'down'}: {health}\n"
                             f"{self.proc.text()}\n{self.android.text()}")

    def wait_status(self, ref: str, status: str, timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.post("/QueryPayment", {"retrieval_reference_number": ref}).json()
            if body.get("status") == status:
                return body
            time.sleep(0.1)
        raise AssertionError(f"{ref} never became {status}: {body}\n{self.proc.text()}\n"
                             f"{self.android.text()}")

    @contextlib.contextmanager
    def running(self) -> Iterator[UsbBridge]:
        self.proc.start()
        try:
            self.wait_link(True)
            yield self
        finally:
            self.http.close()
            assert self.proc.stop() == 0, self.proc.text()  # SIGTERM: a clean stop


def pay(bridge: UsbBridge, ref: str, amount: str) -> dict[str, Any]:
    response = bridge.post("/CreatePayment", {"amount": amount, "retrieval_reference_number":
                                              ref, "condition_code": "82"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_payment_over_usb_is_approved(android: FakeAndroid, tmp_path: Path) -> None:
    with UsbBridge(tmp_path, android).running() as bridge:
        # The bridge found the phone by asking, switched it to accessory mode with the
        # documented default identity, and took it back under Google's accessory ids.
        identity = json.loads(android.expect("IDENTITY").split(" ", 1)[1])
        assert identity == ["posbridge", "posbridge", "posbridge payment link", "1", "", ""]
        assert android.expect("ADDED").startswith("ADDED 18d1:2d01 ")
        health = bridge.wait_link(True)
        assert health["terminal"]["serial"] == "FAKE0001"
        assert health["terminal"]["link"] == "usb"
        assert pay(bridge, "usb-1", "4.00")["status"] == "pending"
        assert bridge.wait_status("usb-1", "approved")["transaction_status"] == "00"
        assert pay(bridge, "usb-2", "4.51")["status"] == "pending"
        assert bridge.wait_status("usb-2", "declined")["transaction_status"] == "51"


def test_unplug_mid_payment_then_replug_recovers_the_payment(
        android: FakeAndroid, tmp_path: Path) -> None:
    spec = "usb:18d1:4ee1?manufacturer=Shop&model=Till 2&serial=T-9"
    with UsbBridge(tmp_path, android, spec).running() as bridge:
        identity = json.loads(android.expect("IDENTITY").split(" ", 1)[1])
        assert identity == ["Shop", "Till 2", "posbridge payment link", "1", "", "T-9"]
        assert pay(bridge, "plug-1", "7.00")["status"] == "pending"
        # The customer takes 1 s; the cable is pulled before they finish.
        android.command("unplug")
        health = bridge.wait_link(False, timeout=5)
        assert "gone" in health["terminal"]["last_error"]
        body = bridge.post("/QueryPayment", {"retrieval_reference_number": "plug-1"}).json()
        assert body["status"] in ("pending", "unknown")
        assert body["transaction_status"] == "09", body  # never "paid" or "declined" here
        time.sleep(1.5)  # the customer pays on the terminal while it is unplugged
        android.command("plug")
        # The phone comes back in normal mode: the bridge switches it again.
        assert android.expect("IDENTITY")
        assert android.expect("ADDED 18d1:2d01")
        health = bridge.wait_link(True)
        # /health's link history, oldest first: attached and up, the unplug, the replug.
        history = list(reversed(health["terminal"]["history"]))
        kinds = [e["event"] for e in history]
        lost = kinds.index("down")
        assert kinds[lost - 2:lost] == ["opened", "up"] and kinds[-2:] == ["opened", "up"]
        assert "gone" in history[lost]["detail"]
        assert history[-2]["detail"].startswith("USB accessory 18d1:2d01")
        assert health["terminal"]["link_attempts"] >= 2
        assert bridge.wait_status("plug-1", "approved")["transaction_status"] == "00"
    journal = Journal(bridge.journal, readonly=True)
    try:
        assert [(p.ref, p.status) for p in journal.recent()] == [("plug-1", "approved")]
    finally:
        journal.close()


def test_the_bridge_waits_for_a_terminal_that_is_not_there_yet(
        android: FakeAndroid, tmp_path: Path) -> None:
    android.command("unplug")
    bridge = UsbBridge(tmp_path, android)
    bridge.proc.start()
    try:
        deadline = time.monotonic() + 10
        health = bridge.health()
        while (health is None or not health["terminal"]["last_error"]) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
            health = bridge.health()
        assert health is not None and not health["terminal"]["connected"]
        assert "no terminal found on USB" in health["terminal"]["last_error"]
        response = bridge.post("/CreatePayment", {"amount": "1.00",
                                                  "retrieval_reference_number": "none-1",
                                                  "condition_code": "82"})
        assert response.status_code == 503, response.text
        android.command("plug")
        bridge.wait_link(True)
    finally:
        bridge.http.close()
        assert bridge.proc.stop() in (0, -15), bridge.proc.text()


def devices(android: FakeAndroid, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "posbridge", "devices", *args],
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, **android.env})


def test_devices_lists_the_phone_and_not_the_keyboard(android: FakeAndroid) -> None:
    done = devices(android, "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert listed["usb_error"] == ""
    assert listed["usb"] == [{
        "vid": 0x18D1, "pid": 0x4EE1, "bus": 1, "address": listed["usb"][0]["address"],
        "manufacturer": "Fake Phones", "product": "Payment Phone", "serial": "FAKE0001",
        "accessory": "can switch", "aoa_version": 2, "spec": "usb:18d1:4ee1", "error": "",
    }]
    assert isinstance(listed["serial"], list)
    everything = json.loads(devices(android, "--json", "--all").stdout)
    assert {(d["spec"], d["accessory"]) for d in everything["usb"]} == {
        ("usb:18d1:4ee1", "can switch"), ("usb:046d:c31c", "no")}
    text = devices(android)
    assert text.returncode == 0, text.stderr
    assert "18d1:4ee1" in text.stdout and "Fake Phones Payment Phone" in text.stdout
    assert "--terminal usb:18d1:4ee1" in text.stdout
    assert "046d:c31c" not in text.stdout
    # The control panel offers the same devices, phone first, keyboard not at all.
    panel = subprocess.run(
        [sys.executable, "-c", "from posbridge.gui.choices import terminal_options\n"
         "for o in terminal_options(): print(o.spec, '|', o.label)"],
        capture_output=True, text=True, timeout=30, env={**os.environ, **android.env})
    assert panel.returncode == 0, panel.stderr
    first = panel.stdout.splitlines()[0]
    assert first == "usb:18d1:4ee1 | Fake Phones Payment Phone (USB 18d1:4ee1, ready)", first
    assert "046d" not in panel.stdout
    # Listing switched nothing: the phone is still in normal mode.
    assert not any(line.startswith("IDENTITY") for line in android.drain())


def test_writes_go_one_packet_per_transfer_and_a_full_last_packet_gets_a_zlp(
        android: FakeAndroid, tmp_path: Path) -> None:
    # Through the real UsbTransport, pyusb and libusb: the fake logs each bulk OUT
    # transfer's length as libusb submitted it.
    writes = [1300, 1024, 512, 511, 1]
    done = subprocess.run([sys.executable, str(Path(__file__).parent / "usb_writes.py"),
                           *map(str, writes)], capture_output=True, text=True, timeout=30,
                          env={**os.environ, **android.env})
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{android.text()}"
    assert done.stdout.splitlines() == ["PACKET 512", *(f"WROTE {n}" for n in writes)]
    # The fake prints OUT before it completes the transfer, so this comes after them all.
    android.command("sync")
    outs = [int(line.split()[1]) for line in android.lines if line.startswith("OUT ")]
    assert outs == [
        512, 512, 276,  # 1300: split at wMaxPacketSize, the short last packet ends it
        512, 512, 0,    # 1024: an exact multiple, so a zero-length packet follows
        512, 0,         # 512: one full packet, and a zero-length packet
        511,            # 511: short, so no zero-length packet
        1,
    ], outs


def wait_error(bridge: UsbBridge, text: str, timeout: float = 10) -> dict[str, Any]:
    """/health once the link is down with ``text`` in its last_error."""
    deadline = time.monotonic() + timeout
    health = bridge.health()
    while time.monotonic() < deadline:
        if health and not health["terminal"]["connected"] and \
                text in health["terminal"]["last_error"]:
            return health
        time.sleep(0.05)
        health = bridge.health()
    raise AssertionError(f"no {text!r} in /health: {health}\n{bridge.proc.text()}\n"
                         f"{bridge.android.text()}")


def test_a_phone_that_never_becomes_an_accessory_times_out_with_advice(
        android: FakeAndroid, tmp_path: Path) -> None:
    # The phone takes the identity strings and START, then comes back in normal mode (no
    # app for the accessory, or its prompt refused): the bridge waits 1 s, not forever.
    android.command("stuck")
    bridge = UsbBridge(tmp_path, android, "usb:18d1:4ee1?timeout=1")
    bridge.proc.start()
    try:
        assert android.expect("IDENTITY")
        assert android.expect("ADDED 18d1:4ee1")  # back, but not as 18d1:2d01
        health = wait_error(bridge, "did not come back as 18d1:2d00/2d01 within 1 s")
        assert health["terminal"]["last_error"].endswith(
            "is the posbridge app installed on the terminal, and was the accessory prompt "
            "accepted?"), health
        assert bridge.proc.p is not None and bridge.proc.p.poll() is None, bridge.proc.text()
        response = bridge.post("/CreatePayment", {"amount": "1.00",
                                                  "retrieval_reference_number": "stuck-1",
                                                  "condition_code": "82"})
        assert response.status_code == 503, response.text
        assert response.json()["error_code"] == "TERMINAL_NOT_CONNECTED"
        assert "within 1 s" in response.json()["message"]
        query = bridge.post("/QueryPayment", {"retrieval_reference_number": "stuck-1"})
        assert query.status_code == 404, query.text
        # The app is installed and the prompt accepted: the next attempt switches it.
        android.command("normal")
        assert android.expect("ADDED 18d1:2d01", timeout=10)
        bridge.wait_link(True)
        assert pay(bridge, "stuck-2", "2.00")["status"] == "pending"
        assert bridge.wait_status("stuck-2", "approved")["transaction_status"] == "00"
    finally:
        bridge.http.close()
        assert bridge.proc.stop() == 0, bridge.proc.text()
    journal = Journal(bridge.journal, readonly=True)
    try:
        assert [(p.ref, p.status) for p in journal.recent()] == [("stuck-2", "approved")]
    finally:
        journal.close()


def without_dac_override() -> list[str]:
    """A command prefix that runs a process the way a user without a udev rule is: as root
    (the tests' user here) it drops CAP_DAC_OVERRIDE, so file modes apply again."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


LINUX_ADVICE = [
    "/etc/udev/rules.d/51-posbridge.rules",
    'SUBSYSTEM=="usb", ATTR{idVendor}=="18d1", MODE="0660", GROUP="plugdev"',
    "sudo usermod -aG plugdev $USER",
]


def test_a_device_without_permission_gets_the_udev_advice(
        android: FakeAndroid, tmp_path: Path) -> None:
    # The phone's device node refuses libusb's open (LIBUSB_ERROR_ACCESS, errno EACCES),
    # as /dev/bus/usb does for a user without a udev rule.
    android.command("deny")
    prefix = without_dac_override()
    listed = subprocess.run([*prefix, sys.executable, "-m", "posbridge", "devices"],
                            capture_output=True, text=True, timeout=30,
                            env={**os.environ, **android.env})
    assert listed.returncode == 0, listed.stderr
    assert "18d1:4ee1" in listed.stdout and "permission denied" in listed.stdout, listed.stdout
    for line in LINUX_ADVICE:
        assert line in listed.stdout, listed.stdout
    bridge = UsbBridge(tmp_path, android)
    bridge.proc.prefix = prefix
    bridge.proc.start()
    try:
        health = wait_error(bridge, "lack of permission")
        error = health["terminal"]["last_error"]
        assert "USB 18d1:4ee1" in error, error
        for line in LINUX_ADVICE:
            assert line in error, error
        # The rule is in place and the phone plugged in again: it connects.
        android.command("normal")
        bridge.wait_link(True)
    finally:
        bridge.http.close()
        assert bridge.proc.stop() == 0, bridge.proc.text()
