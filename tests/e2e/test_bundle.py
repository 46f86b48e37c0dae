"""`posbridge support-bundle` as a real process against a real bridge that has a token: what
the zip holds, and that no token or secret is in any of its members, even where the token
reached the log and the journal."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from procs import HEADERS, Stack

pytestmark = pytest.mark.e2e

TOKEN = "bundle-test-token-9f8e7d6c5b4a3210"
WEBHOOK_SECRET = "whsec-do-not-ship-0123456789"
ENV_SECRET = "env-secret-value-abcdef"


def _env(tmp: Path) -> dict[str, str]:
    """platformdirs' folders (settings, logs, data) inside the test's own directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSBRIDGE_")}
    env.update(XDG_CONFIG_HOME=str(tmp / "config"), XDG_STATE_HOME=str(tmp / "state"),
               XDG_DATA_HOME=str(tmp / "data"), POSBRIDGE_WEBHOOK_SECRET=ENV_SECRET,
               POSBRIDGE_URL="http://127.0.0.1:1")
    return env


def bundle(tmp: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    out = tmp / "support.zip"
    done = subprocess.run([sys.executable, "-m", "posbridge", "support-bundle", "--output",
                           str(out), *args], env=_env(tmp), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        return done, {name: zf.read(name).decode() for name in zf.namelist()}


def test_the_bundle_has_what_the_help_desk_needs_and_no_secret(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    log_file = tmp_path / "bridge-file.log"
    settings = tmp_path / "config" / "posbridge" / "gui.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"host": "127.0.0.1", "port": 8080, "terminal": "usb",
                                    "webhook_secret": WEBHOOK_SECRET}))
    stack = Stack(tmp_path, bridge_args=("--token-file", str(token_file), "--log-file",
                                         str(log_file)),
                  client_headers={"Authorization": f"Bearer {TOKEN}"})
    with stack.running():
        for ref, amount in (("bundle-1", "1.00"), ("bundle-2", "2.05"), (TOKEN, "3.00")):
            r = stack.post("/CreatePayment", {"amount": amount, "condition_code": "82",
                                              "retrieval_reference_number": ref})
            assert r.status_code == 200, r.text
            stack.wait_status(ref, "declined" if amount == "2.05" else "approved")
        # A client that puts the token where it does not belong: the refusal is logged
        # with the Host it sent, so the token is now in the log file.
        refused = httpx.get(stack.url + "/health", headers={"Host": TOKEN, **HEADERS})
        assert refused.status_code == 403
        assert TOKEN in log_file.read_text()  # the bundle has something to remove

        done, members = bundle(tmp_path, "--days", "1", "--journal", str(stack.journal),
                               "--log-file", str(log_file), "--url", stack.url,
                               "--token-file", str(token_file))

    for name, text in members.items():
        for secret in (TOKEN, WEBHOOK_SECRET, ENV_SECRET):
            assert secret not in text, f"{secret!r} is in {name}"
    assert TOKEN not in done.stdout + done.stderr

    assert {"README.txt", "settings.json", "versions.json", "journal/payments.csv",
            "journal/history.csv", "journal/summary.json", "health.json", "metrics.txt",
            "devices.json", f"logs/{log_file.name}"} <= set(members)
    payments = list(csv.DictReader(io.StringIO(members["journal/payments.csv"])))
    assert [(p["ref"], p["status"]) for p in payments] == [
        ("bundle-1", "approved"), ("bundle-2", "declined"), ("[removed]", "approved")]
    history = list(csv.DictReader(io.StringIO(members["journal/history.csv"])))
    assert [h["to_status"] for h in history if h["ref"] == "bundle-1"] == [
        "received", "pending", "approved"]
    health = json.loads(members["health.json"])
    assert health["terminal"]["connected"] is True
    assert [e["event"] for e in health["terminal"]["history"]][:2] == ["up", "opened"]
    assert "posbridge_commands_total" in members["metrics.txt"]
    config = json.loads(members["settings.json"])
    assert config["panel_settings"]["webhook_secret"] == "[removed]"
    assert config["panel_settings"]["terminal"] == "usb"
    assert config["environment"]["POSBRIDGE_WEBHOOK_SECRET"] == "[removed]"
    assert config["bundle"]["token_files"] == [str(token_file)]
    versions = json.loads(members["versions.json"])
    assert versions["python"] == sys.version
    assert versions["libraries"]["prometheus_client"]
    assert "link: terminal connected" in members[f"logs/{log_file.name}"]
    assert "FORBIDDEN_HOST" in members[f"logs/{log_file.name}"]
    assert "usb" in json.loads(members["devices.json"])


def test_without_a_running_bridge_the_bundle_says_so(tmp_path: Path) -> None:
    done, members = bundle(tmp_path, "--journal", str(tmp_path / "none.sqlite3"))
    assert "health.json" not in members
    readme = members["README.txt"]
    assert "http://127.0.0.1:1: not reachable" in readme  # POSBRIDGE_URL
    assert "no journal at" in readme
    assert "not reachable" in done.stderr
