"""The fake USB bus for the USB tests: one fake Android terminal process (fake_android.py in
Debian's /usr/bin/python3 with gi and umockdev) for the whole session, and the environment
that points a posbridge process at it (LD_PRELOAD of umockdev's preload library and the
testbed's folder). Without umockdev the tests skip with the reason, except in CI
(POSBRIDGE_CI=1), where a missing prerequisite fails them."""

from __future__ import annotations

import ctypes.util
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

HERE = Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"
PRELOAD = "libumockdev-preload.so.0"


def _missing() -> str:
    """Why the fake bus cannot run here, or ""."""
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} is missing"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('UMockdev', '1.0'); "
         "from gi.repository import UMockdev"], capture_output=True, text=True)
    if probe.returncode != 0:
        return ("umockdev's Python bindings are missing (Debian: apt install umockdev "
                "gir1.2-umockdev-1.0 python3-gi)")
    try:
        ctypes.CDLL(PRELOAD)
    except OSError:
        return f"{PRELOAD} is missing (Debian: apt install umockdev)"
    if ctypes.util.find_library("usb-1.0") is None:
        return "the system libusb is missing (Debian: apt install libusb-1.0-0)"
    return ""


class FakeAndroid:
    """The fake terminal process: commands on its stdin, events from its stdout."""

    def __init__(self, log: Path, customer_delay: float) -> None:
        self.log = log
        self.events: queue.Queue[str] = queue.Queue()
        self.lines: list[str] = []
        with open(log, "wb") as err:
            # The fake runs under the preload library too: umockdev's uevents are sent
            # through the testbed's fake sysfs, which only the preload library shows.
            self.p = subprocess.Popen(
                [SYSTEM_PYTHON, str(HERE / "fake_android.py"), "--customer-delay",
                 str(customer_delay)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                env={**os.environ, "LD_PRELOAD": PRELOAD,
                     # The link's codec needs msgspec, which Debian's python3 lacks: the
                     # fake takes it from this venv (same CPython 3.11 ABI).
                     "POSBRIDGE_DEPS": str(Path(msgspec.__file__).resolve().parents[1])})
        threading.Thread(target=self._read, daemon=True).start()
        self.root = self.expect("ROOT").split(" ", 1)[1]

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.events.put(line.rstrip("\n"))

    def expect(self, prefix: str, timeout: float = 10) -> str:
        """The next event starting with ``prefix`` (earlier ones are kept in ``lines``)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"fake terminal: no {prefix!r} within {timeout} s; "
                                     f"saw {self.lines[-20:]}\n{self.text()}") from None
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    def drain(self) -> list[str]:
        while True:
            try:
                self.lines.append(self.events.get_nowait())
            except queue.Empty:
                return self.lines

    def command(self, command: str) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(command + "\n")
        self.p.stdin.flush()
        self.expect(f"DONE {command}")

    def reset(self) -> None:
        """The phone plugged in afresh, in normal (not accessory) mode, behaving normally."""
        self.command("normal")
        self.command("unplug")
        self.command("plug")
        self.drain()
        self.lines.clear()

    @property
    def env(self) -> dict[str, str]:
        """What a posbridge process needs to see the fake bus through the real libusb."""
        return {"LD_PRELOAD": PRELOAD, "UMOCKDEV_DIR": self.root}

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def close(self) -> None:
        if self.p.poll() is None:
            assert self.p.stdin is not None
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.close()
                self.p.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        if self.p.stdout is not None:
            self.p.stdout.close()
        if os.path.isdir(self.root):  # finalising the testbed removes it; make sure
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def fake_bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAndroid]:
    reason = _missing()
    if reason:
        if os.environ.get("POSBRIDGE_CI") == "1":
            pytest.fail(f"USB tests cannot run: {reason}")
        pytest.skip(f"USB tests need umockdev: {reason}")
    fake = FakeAndroid(tmp_path_factory.mktemp("usb") / "fake_android.log", 1.0)
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def android(fake_bus: FakeAndroid) -> FakeAndroid:
    """The fake phone, plugged in afresh in normal mode for this test."""
    fake_bus.reset()
    return fake_bus
