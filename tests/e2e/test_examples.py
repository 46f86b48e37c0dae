"""Each example in examples/ runs one full payment against the simulator, as a POS
developer would run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser import PageServer, chromium_path, run_page
from procs import Stack
from rig import free_port

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PAGE_PORT = free_port()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    origin = f"http://localhost:{PAGE_PORT}"
    with Stack(tmp_path_factory.mktemp("examples"), customer_delay=0.2,
               bridge_args=("--allow-origin", origin)).running() as s:
        yield s


def run(args: list[str], stack: Stack) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "POSBRIDGE_URL": stack.url})


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_example(stack: Stack) -> None:
    out = run(["sh", str(EXAMPLES / "curl.sh"), "3.10", "example-curl-1"], stack)
    assert out.returncode == 0, out.stdout + out.stderr
    assert '"transaction_status":"00"' in out.stdout
    declined = run(["sh", str(EXAMPLES / "curl.sh"), "3.51", "example-curl-2"], stack)
    assert declined.returncode == 3, declined.stdout + declined.stderr


def test_python_example(stack: Stack) -> None:
    out = run([sys.executable, str(EXAMPLES / "pay.py"), "4.20", "example-python-1"], stack)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "example-python-1: PAID (approved" in out.stdout
    declined = run([sys.executable, str(EXAMPLES / "pay.py"), "4.05", "example-python-2"],
                   stack)
    assert declined.returncode == 3 and "NOT PAID (declined" in declined.stdout


@pytest.mark.skipif(chromium_path() is None and not os.environ.get("POSBRIDGE_CI"),
                    reason="Chromium is not installed")
def test_browser_example(stack: Stack) -> None:
    html = (EXAMPLES / "browser.html").read_text()
    with PageServer(PAGE_PORT, html) as url:
        page = url.replace("127.0.0.1", "localhost") + f"?bridge={stack.url}&autopay"
        assert run_page(page) == "approved"
