"""The TypeScript client in clients/typescript: its types are current with openapi.json and
type-check (`npm run check`), and, compiled with tsc, it takes real payments through a real
bridge, from Node and from a page in headless Chromium.

Needs node and npm; skipped without them, except in CI (POSBRIDGE_CI=1), where it fails.
`npm ci` runs only when package-lock.json changed since the last run (a stamp in
node_modules), so a repeated run costs no network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser import PageServer, chromium_path, run_page
from posbridge import journal
from procs import Stack
from rig import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TS = ROOT / "clients" / "typescript"
SOURCES = ("package.json", "package-lock.json", "tsconfig.json", "check.mjs", "client.ts",
           "example.ts", "posbridge.d.ts")
NODE_RUNNER = Path(__file__).with_name("typescript_node.mjs")
PAGE_PORT = free_port()
CI = bool(os.environ.get("POSBRIDGE_CI"))


def _tools() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        reason = "node and npm are needed for clients/typescript (apt-get install nodejs npm)"
        if CI:
            pytest.fail(f"{reason}; POSBRIDGE_CI=1 does not allow skipping")
        pytest.skip(reason)
    return node, npm


def _run(args: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1", "npm_config_update_notifier":
                               "false", "npm_config_fund": "false", "npm_config_audit": "false"})


@pytest.fixture(scope="module")
def npm() -> str:
    """npm, with clients/typescript/node_modules installed from package-lock.json."""
    _, npm = _tools()
    lock = hashlib.sha256((TS / "package-lock.json").read_bytes()
                          + (TS / "package.json").read_bytes()).hexdigest()
    stamp = TS / "node_modules" / ".posbridge-installed"
    if not stamp.exists() or stamp.read_text() != lock:
        out = _run([npm, "ci", "--prefer-offline"], TS)
        assert out.returncode == 0, f"npm ci failed:\n{out.stdout}\n{out.stderr}"
        stamp.write_text(lock)
    return npm


@pytest.fixture(scope="module")
def compiled(npm: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """client.js and example.js, compiled by tsc as ES modules."""
    out_dir = tmp_path_factory.mktemp("ts-dist")
    out = _run([str(TS / "node_modules" / ".bin" / "tsc"), "-p", ".", "--outDir",
                str(out_dir)], TS)
    assert out.returncode == 0, out.stdout + out.stderr
    assert {p.name for p in out_dir.iterdir()} == {"client.js", "example.js"}
    return out_dir


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    origin = f"http://localhost:{PAGE_PORT}"
    with Stack(tmp_path_factory.mktemp("ts-stack"), customer_delay=0.5,
               bridge_args=("--allow-origin", origin)).running() as s:
        yield s


def test_npm_check_passes(npm: str) -> None:
    out = _run([npm, "run", "check"], TS)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "posbridge.d.ts is current with openapi.json" in out.stdout


def _copy(tmp: Path, spec: dict[str, Any]) -> Path:
    """clients/typescript in tmp, against an openapi.json of our choosing."""
    copy = tmp / "clients" / "typescript"
    copy.mkdir(parents=True)
    (tmp / "openapi.json").write_text(json.dumps(spec, indent=2))
    for name in SOURCES:
        shutil.copy2(TS / name, copy / name)
    (copy / "node_modules").symlink_to(TS / "node_modules", target_is_directory=True)
    return copy


def test_check_fails_when_types_are_stale_or_the_client_no_longer_fits(
        npm: str, tmp_path: Path) -> None:
    spec = json.loads((ROOT / "openapi.json").read_text())
    query = spec["components"]["schemas"]["QueryPaymentResponse"]

    # A field added to the spec: the committed posbridge.d.ts is stale.
    query["properties"]["card_brand"] = {"type": "string", "title": "Card Brand"}
    copy = _copy(tmp_path / "added", spec)
    out = _run([npm, "run", "check"], copy)
    assert out.returncode != 0, out.stdout + out.stderr
    assert "posbridge.d.ts is out of date with openapi.json" in out.stderr
    # `npm run generate` brings it up to date.
    assert _run([npm, "run", "generate"], copy).returncode == 0
    assert "card_brand" in (copy / "posbridge.d.ts").read_text()

    # A field the client relies on removed: the types are current, tsc refuses the example.
    del query["properties"]["transaction_status"]
    query["required"].remove("transaction_status")
    copy = _copy(tmp_path / "removed", spec)
    assert _run([npm, "run", "generate"], copy).returncode == 0
    out = _run([npm, "run", "check"], copy)
    assert out.returncode != 0, out.stdout + out.stderr
    assert "posbridge.d.ts is current" in out.stdout
    assert "example.ts" in out.stdout and "transaction_status" in out.stdout, out.stdout


def test_compiled_client_takes_payments_from_node(compiled: Path, stack: Stack) -> None:
    node, _ = _tools()
    closed_port = free_port()  # nothing listens here
    # Listens but never accepts: a request is sent and never answered.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        out = _run([node, str(NODE_RUNNER), str(compiled), stack.url,
                    f"http://127.0.0.1:{silent.getsockname()[1]}",
                    f"http://127.0.0.1:{closed_port}"], ROOT, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr + stack.bridge.text()
    seen = json.loads(out.stdout)

    approved = seen["approved"]
    assert approved["paid"] is True and approved["status"] == "approved"
    assert approved["payment"]["transaction_status"] == "00"
    assert approved["payment"]["transaction_id"]
    assert seen["replayed"]["paid"] is True
    assert "ts-node-approved: approved (sent before)" in seen["log"]
    declined = seen["declined"]
    assert declined["paid"] is False and declined["status"] == "declined"
    assert declined["payment"]["transaction_status"] == "51"
    assert seen["conflict"] == {"paid": False, "status": "REFERENCE_CONFLICT",
                                "reference": "ts-node-approved"}

    def error(name: str, status: int, code: str) -> dict[str, Any]:
        got: dict[str, Any] = seen[name]
        assert got["thrown"] and got["isPosbridgeError"], got
        assert (got["status"], got["error_code"]) == (status, code), got
        assert got["name"] == "PosbridgeError" and got["success"] is False and got["message"]
        assert got["body"]["error_code"] == code
        return got

    assert error("notFound", 404, "PAYMENT_NOT_FOUND")["outcomeUnknown"] is False
    error("badAmount", 400, "INVALID_AMOUNT")
    error("voidAgain", 409, "ALREADY_VOIDED")
    error("cancelNothing", 409, "NO_PAYMENT_IN_PROGRESS")
    assert seen["void"]["status"] == "voided"
    assert (seen["afterVoid"]["status"], seen["afterVoid"]["transaction_status"]) == (
        "voided", "VD")
    assert "still pending" in error("waitTimeout", 0, "WAIT_TIMEOUT")["message"]
    assert seen["cancel"]["retrieval_reference_number"] == "ts-node-cancel"
    assert (seen["cancelled"]["status"], seen["cancelled"]["transaction_status"]) == (
        "cancelled", "17")
    assert error("clientTimeout", 0, "CLIENT_TIMEOUT")["outcomeUnknown"] is True
    assert error("networkError", 0, "NETWORK_ERROR")["outcomeUnknown"] is True

    # What the client said happened is what the bridge recorded.
    def query(ref: str) -> dict[str, Any]:
        body: dict[str, Any] = stack.post("/QueryPayment",
                                          {"retrieval_reference_number": ref}).json()
        return body

    assert query("ts-node-approved")["status"] == "voided"
    assert query("ts-node-declined")["transaction_status"] == "51"
    batched = query("ts-node-batched")
    assert batched["status"] == "approved"
    assert batched["batch_number"] == seen["batch"]["batch_number"]
    assert seen["batch"]["count"] >= 1


PAGE = """<!doctype html><title>working</title><script type="module">
import { PosbridgeClient } from "./client.js";
import { pay } from "./example.js";
const pos = new PosbridgeClient({ baseUrl: %(bridge)s, timeoutMs: 10000 });
pay(pos, "7.00", "ts-browser-" + location.hostname)
  .then(r => r.paid ? "paid:" + r.payment.transaction_status : "unpaid:" + r.status)
  .catch(e => "error:" + (e.error_code || e))
  .then(verdict => { document.title = "done:" + verdict; });
</script>"""


@pytest.mark.skipif(chromium_path() is None and not CI, reason="Chromium is not installed")
def test_compiled_example_pays_from_a_browser_page(compiled: Path, stack: Stack) -> None:
    html = PAGE % {"bridge": json.dumps(stack.url)}
    scripts = {name: (compiled / name).read_text() for name in ("client.js", "example.js")}
    with PageServer(PAGE_PORT, html, scripts=scripts) as url:
        # From http://localhost:PORT, the origin the bridge allows: a real payment.
        assert run_page(url.replace("127.0.0.1", "localhost")) == "paid:00"
        # From http://127.0.0.1:PORT, an origin it does not allow: the browser's CORS
        # preflight is refused, fetch fails, the client says NETWORK_ERROR; nothing is paid.
        assert run_page(url) == "error:NETWORK_ERROR"

    def query(ref: str) -> dict[str, Any]:
        body: dict[str, Any] = stack.post("/QueryPayment",
                                          {"retrieval_reference_number": ref}).json()
        return body

    paid = query("ts-browser-localhost")
    assert (paid["status"], paid["amount"]) == ("approved", "7.00")
    assert query("ts-browser-127.0.0.1")["error_code"] == "PAYMENT_NOT_FOUND"

def test_final_statuses_are_the_bridges() -> None:
    """waitForFinal stops on exactly the statuses the journal never leaves on its own."""
    text = (TS / "client.ts").read_text()
    match = re.search(r"FINAL_STATUSES: readonly PaymentStatus\[\] =\s*\[([^\]]*)\]", text)
    assert match, "FINAL_STATUSES not found in client.ts"
    assert re.findall(r'"(\w+)"', match.group(1)) == list(journal.FINAL)


SUBSCRIBE_PAGE = """<!doctype html><title>working</title><script type="module">
import { PosbridgeClient } from "./client.js";
const pos = new PosbridgeClient({ baseUrl: %(bridge)s, timeoutMs: 10000 });
const ref = "ts-events-" + location.hostname, seen = [];
const sub = pos.subscribe({ ref, after: 0, onEvent: (e) => {
  if (e.type === "link") { if (!seen.length) seen.push("link:" + e.data.state); return; }
  seen.push(e.type + ":" + e.data.to_status + ":" + (e.id > 0));
  if (e.data.to_status === "approved") {
    sub.close();
    document.title = "done:" + seen.join(",") + ":" + (sub.lastEventId === e.id);
  }
}, onError: (closed) => { if (closed) document.title = "done:closed"; } });
setTimeout(() => pos.createPayment({ amount: "2.00", retrieval_reference_number: ref,
                                     condition_code: "82" }).catch(() => {}), 500);
</script>"""


@pytest.mark.skipif(chromium_path() is None and not CI, reason="Chromium is not installed")
def test_compiled_subscribe_follows_a_payment_from_a_browser_page(compiled: Path,
                                                                  stack: Stack) -> None:
    html = SUBSCRIBE_PAGE % {"bridge": json.dumps(stack.url)}
    scripts = {"client.js": (compiled / "client.js").read_text()}
    with PageServer(PAGE_PORT, html, scripts=scripts) as url:
        assert run_page(url.replace("127.0.0.1", "localhost")) == (
            "link:connected,payment:unknown:true,payment:pending:true,"
            "payment:approved:true:true")
        # From an origin the bridge does not allow, EventSource is refused and gives up.
        assert run_page(url) == "closed"
