"""Through a real bridge (HTTP on a real socket, journal file, link over a pipe): what the
terminal shows while a payment is pending, and every scenario outcome."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import msgspec
import pytest

from posbridge.simulator import TerminalModel
from posbridge.simulator.qr import paynow_payload
from posbridge.simulator.scenario import Scenario, ScenarioError, ScenarioFile, load
from rig import bridge, create_body, run

ROOT = Path(__file__).resolve().parents[2]


def test_query_shows_the_qr_while_pending_and_not_once_final(journal_path: Path) -> None:
    async def main() -> None:
        async with bridge(journal_path, model=TerminalModel(customer_delay=0.6)) as b:
            assert (await b.post("/CreatePayment", create_body("qr-1", "12.50"))).json()[
                "success"]
            body = await b.wait_status("qr-1", "pending")
            for _ in range(40):  # the progress report follows the acceptance
                if "qr_payload" in body:
                    break
                await asyncio.sleep(0.02)
                body = (await b.post("/QueryPayment",
                                     {"retrieval_reference_number": "qr-1"})).json()
            assert body["stage"] == "qr_shown"
            assert body["qr_payload"] == paynow_payload(1250, "qr-1")
            assert body["transaction_status"] == "09"
            final = await b.wait_status("qr-1", "approved")
            assert "qr_payload" not in final and "stage" not in final

            # Alipay: a plainly fake URL.
            await b.post("/CreatePayment", create_body("qr-2", "3.00", "30"))
            await b.wait_status("qr-2", "pending")
            await asyncio.sleep(0.1)
            pending = (await b.post("/QueryPayment",
                                    {"retrieval_reference_number": "qr-2"})).json()
            assert pending["qr_payload"].startswith("https://simulator.posbridge.invalid/")

    run(main())


def test_every_scenario_outcome_through_a_real_bridge(journal_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    script = load(ROOT / "examples" / "scenario.json")
    kinds = [step.outcome for step in script.payments]
    assert set(kinds) == {"approve", "decline", "cancel", "timeout", "result_lost",
                          "link_drop"}, "the example plays every outcome"
    expected = {"approve": ("approved", "00"), "decline": ("declined", None),
                "cancel": ("cancelled", "17"), "timeout": ("timed_out", "68"),
                "result_lost": ("approved", "00"), "link_drop": ("approved", "00")}
    quick = msgspec.convert({
        **json.loads((ROOT / "examples" / "scenario.json").read_text()), "delay": 0.1},
        ScenarioFile)
    quick = msgspec.structs.replace(quick, payments=[
        msgspec.structs.replace(s, delay=None) for s in quick.payments])
    model = TerminalModel(customer=Scenario(quick, default_delay=0.1, name="example"))

    async def main() -> None:
        async with bridge(journal_path, model=model) as b:
            for i, step in enumerate(quick.payments):
                ref = f"s-{i}"
                r = await b.post("/CreatePayment", create_body(ref, "10.00"))
                assert r.status_code == 200, r.json()
                status, code = expected[step.outcome]
                body = await b.wait_status(ref, status, timeout=10)
                assert body["transaction_status"] == (code or step.code), (step, body)
            assert model.customer.unavailable()
            r = await b.post("/CreatePayment", create_body("s-more", "10.00"))
            assert r.status_code == 409
            refused = r.json()
            assert refused["error_code"] == "TERMINAL_REFUSED"
            assert "scenario example has run out" in refused["message"]
            assert f"all {len(quick.payments)} of its payments" in refused["message"]
            assert b.journal.get("s-more") is None

    with caplog.at_level(logging.INFO, "posbridge"):
        run(main(), timeout=60)
    logged = caplog.text
    assert "scenario example is finished" in logged
    assert "sale refused: the simulator's scenario example has run out" in logged


@pytest.mark.parametrize(("text", "says"), [
    ('{"payments": []}', "length >= 1 - at `\\$.payments`"),
    ('{"payments": [{"outcome": "explode"}]}', "explode' - at `\\$.payments\\[0\\].outcome`"),
    ('{"payments": [{"outcome": "decline", "code": "5"}]}', "at `\\$.payments\\[0\\].code`"),
    ('{"payments": [{"outcome": "approve", "delay": -1}]}', ">= 0.0 - at `\\$.payments\\[0\\]"),
    ('{"payments": [{"outcome": "approve"}], "extra": 1}', "unknown field `extra`"),
    ("[1, 2", "Expected `object`, got `array`"),
    ('{"payments": [{"outcome": "approve"}]', "not valid JSON"),
])
def test_a_bad_scenario_file_says_where(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=says):
        Scenario.from_file(path, default_delay=1)


def test_a_missing_scenario_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="No such file"):
        Scenario.from_file(tmp_path / "nope.json", default_delay=1)
