"""The access settings of `posbridge serve` as an operator gives them: refusing to listen
beyond this PC without a token, the token from a file or the environment, and logs that
never hold it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from procs import HEADERS, Stack
from rig import free_port

pytestmark = pytest.mark.e2e

TOKEN = "e2e-token-Zm9vYmFyYmF6cXV4LTAxMjM0NTY3"


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `posbridge serve` expecting it to refuse to start."""
    return subprocess.run(
        [sys.executable, "-m", "posbridge", "serve", "--terminal", "tcp://127.0.0.1:9",
         "--port", str(free_port()), "--journal", "/nonexistent/never-opened.sqlite3", *args],
        capture_output=True, text=True, timeout=30, env=env,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_listening_beyond_this_pc_without_a_token_is_refused(host: str) -> None:
    out = serve("--host", host)
    assert out.returncode != 0
    assert f"refusing to listen on {host}" in out.stderr
    assert "--token-file" in out.stderr and "POSBRIDGE_TOKEN" in out.stderr


@pytest.mark.parametrize("args, text", [
    (("--token", "short"), "at least 16"),
    (("--allow-origin", "*"), "is not an origin"),
    (("--token", TOKEN, "--token-file", __file__), "not both"),  # a file that exists
    (("--token-file", "/nonexistent/token"), "--token-file"),
])
def test_bad_access_settings_stop_the_start_with_a_reason(
    args: tuple[str, ...], text: str
) -> None:
    out = serve(*args)
    assert out.returncode != 0
    assert text in out.stderr, out.stderr
    assert TOKEN not in out.stderr


def _use(stack: Stack, token: str) -> None:
    stack.sim.start()
    stack.bridge.start()
    stack.wait_connected()
    ref = "e2e-token-1"
    body = {"amount": "1.00", "retrieval_reference_number": ref, "condition_code": "82"}
    no = httpx.post(stack.url + "/CreatePayment", json=body, headers=HEADERS)
    assert no.status_code == 401
    wrong = httpx.post(stack.url + "/CreatePayment", json=body,
                       headers={**HEADERS, "Authorization": f"Bearer {token[:-2]}zz"})
    assert wrong.status_code == 401
    assert stack.post("/CreatePayment", body).status_code == 200
    stack.wait_status(ref, "approved")


def test_token_from_a_file_on_all_interfaces_and_never_logged(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    stack = Stack(tmp_path, customer_delay=0.1,
                  bridge_args=("--host", "0.0.0.0", "--token-file", str(token_file),
                               "--log-level", "debug"),
                  client_headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        _use(stack, TOKEN)
    finally:
        stack.close()
    log = stack.bridge.text()
    assert "token required (from " in log
    assert TOKEN not in log and TOKEN[:-2] not in log
    assert "Authorization" not in log and "Bearer" not in log


def test_token_from_the_environment(tmp_path: Path) -> None:
    stack = Stack(tmp_path, customer_delay=0.1, bridge_env={"POSBRIDGE_TOKEN": TOKEN},
                  client_headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        _use(stack, TOKEN)
    finally:
        stack.close()
    assert "token required (from POSBRIDGE_TOKEN)" in stack.bridge.text()
    assert TOKEN not in stack.bridge.text()
