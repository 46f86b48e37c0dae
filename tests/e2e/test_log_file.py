"""`posbridge serve --log-file`: the same lines on the console and in the file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from procs import Proc
from rig import free_port

pytestmark = pytest.mark.e2e


def test_serve_writes_the_console_lines_to_the_log_file(tmp_path: Path) -> None:
    port, log_file = free_port(), tmp_path / "logs" / "posbridge.log"
    bridge = Proc(["serve", "--terminal", "simulator", "--port", str(port), "--journal",
                   str(tmp_path / "j.sqlite3"), "--log-file", str(log_file)],
                  tmp_path / "console.log")
    bridge.start()
    try:
        deadline = time.monotonic() + 10
        while f"listening on http://127.0.0.1:{port}" not in bridge.text():
            assert time.monotonic() < deadline, bridge.text()
            time.sleep(0.05)
    finally:
        bridge.stop()
    lines = log_file.read_text().splitlines()
    assert any(f"INFO    posbridge: listening on http://127.0.0.1:{port}" in line
               for line in lines)
    console = set(bridge.text().splitlines())
    assert len(lines) >= 3 and all(line in console for line in lines)


def test_an_unwritable_log_file_is_refused_plainly(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "file").write_text("")
    out = subprocess.run([sys.executable, "-m", "posbridge", "serve", "--terminal", "simulator",
                          "--log-file", str(tmp_path / "file" / "x.log")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "--log-file" in out.stderr and "Traceback" not in out.stderr
