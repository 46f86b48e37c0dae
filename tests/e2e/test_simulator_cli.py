"""`posbridge simulator` with its payment-method and scenario flags, as real processes with a
real `posbridge serve`, and `posbridge status` against the running bridge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from procs import Stack
from rig import free_port

pytestmark = pytest.mark.e2e


def create(ref: str, cc: str = "82") -> dict[str, str]:
    return {"amount": "2.00", "retrieval_reference_number": ref, "condition_code": cc}


def test_named_methods_a_scenario_and_its_end(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"delay": 0.2, "payments": [
        {"outcome": "decline", "code": "91"}, {"outcome": "approve"}]}))
    stack = Stack(tmp_path)
    stack.sim.args += ["--condition-codes", "82,30=Alipay+,99=Visa QR",
                       "--scenario", str(script)]
    with stack.running():
        health = stack.wait_connected()
        assert [(m["condition_code"], m["name"]) for m in health["terminal"]["payment_methods"]
                ] == [("82", "PayNow"), ("30", "Alipay+"), ("99", "Visa QR")]
        status = subprocess.run([sys.executable, "-m", "posbridge", "status", "--url",
                                 stack.url], capture_output=True, text=True, timeout=30)
        assert status.returncode == 0, status.stderr
        assert "terminal: connected" in status.stdout
        lines = status.stdout.splitlines()
        assert "  82  PayNow  QR" in lines and "  30  Alipay+  QR" in lines
        assert "  99  Visa QR" in lines  # a code posbridge does not know is not called QR

        assert stack.post("/CreatePayment", create("a", "99")).status_code == 200
        assert stack.wait_status("a", "declined")["transaction_status"] == "91"
        assert stack.post("/CreatePayment", create("b", "30")).status_code == 200
        assert stack.wait_status("b", "approved")["transaction_status"] == "00"
        r = stack.post("/CreatePayment", create("c"))
        assert r.status_code == 409 and r.json()["error_code"] == "TERMINAL_REFUSED"
        assert "has run out" in r.json()["message"]
        unsupported = stack.post("/CreatePayment", create("d", "20")).json()
        assert unsupported["message"].endswith("supported: 82 PayNow, 30 Alipay+, 99 Visa QR")
    log = stack.sim.text()
    assert "playing the scenario" in log and "scenario step 2 of 2: approve" in log
    assert "new sales will be refused" in log


@pytest.mark.parametrize(("args", "says"), [
    (["--condition-codes", "8"], "--condition-codes: condition code '8' is not two digits"),
    (["--scenario", "/nonexistent/s.json"], "--scenario: no such file: /nonexistent/s.json"),
    (["--listen", "tcp://127.0.0.1:0"], "--listen: 'tcp://127.0.0.1:0' is not a"),
])
def test_bad_flags_are_refused_with_the_reason(args: list[str], says: str) -> None:
    """Checked at start like every setting (posbridge.checks): exit status 2, the option
    named, no traceback."""
    listen = [] if "--listen" in args else ["--listen", f"tcp://127.0.0.1:{free_port()}"]
    out = subprocess.run([sys.executable, "-m", "posbridge", "simulator", *listen, *args],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and says in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


EXPECTED = {"approve": ("approved", "00"), "decline": ("declined", "51"),
            "cancel": ("cancelled", "17"), "timeout": ("timed_out", "68"),
            "result_lost": ("approved", "00"), "link_drop": ("approved", "00")}


def test_the_example_scenario_through_real_processes(tmp_path: Path) -> None:
    """examples/scenario.json, sped up, between a real simulator and a real bridge over TCP:
    the lost result and the dropped link are found by the bridge's recovery."""
    example = json.loads((Path(__file__).resolve().parents[2] / "examples" /
                          "scenario.json").read_text())
    steps = [{**step, "delay": 0.2} for step in example["payments"]]
    script = tmp_path / "quick.json"
    script.write_text(json.dumps({**example, "payments": steps}))
    stack = Stack(tmp_path)
    stack.sim.args += ["--scenario", str(script)]
    with stack.running():
        for i, step in enumerate(steps):
            ref = f"ex-{i}"
            r = stack.post("/CreatePayment", {"amount": "10.00", "retrieval_reference_number":
                                              ref, "condition_code": "82"})
            assert r.status_code == 200, r.json()
            status, code = EXPECTED[step["outcome"]]
            assert stack.wait_status(ref, status, timeout=15)["transaction_status"] == code
        assert stack.post("/CreatePayment", create("ex-more")).status_code == 409
    assert "dropping the link mid-payment" in stack.sim.text()
    assert "result message lost" in stack.sim.text()
