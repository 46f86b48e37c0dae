"""spec/vectors/terminal.json: what any terminal must make as the simulator makes it (the
QR payloads, the --state file, the totals, the printed receipts). Regenerating it changes
nothing, and the simulator replays it from the file alone; terminal/core's StateJsonTest and
terminal/demo's QR test replay the same file against the Java terminal."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from posbridge.simulator.model import TerminalModel, receipt_copies
from posbridge.simulator.qr import progress_for

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "spec" / "vectors" / "terminal.json"


@pytest.fixture(scope="module")
def vectors() -> Any:
    return json.loads(FILE.read_text(encoding="utf-8"))


def test_regenerating_it_changes_nothing() -> None:
    spec = importlib.util.spec_from_file_location("spec_generate", ROOT / "spec" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build()["terminal.json"] == FILE.read_bytes(), (
        "run `.venv/bin/python spec/generate.py` and commit spec/vectors/terminal.json")


def test_every_qr_payload(vectors: Any) -> None:
    assert len(vectors["qr"]) >= 8
    for case in vectors["qr"]:
        shown = progress_for(case["ref"], case["amount"], case["condition_code"])
        assert (shown.stage, shown.qr_payload) == (case["stage"], case["qr_payload"]), case


def test_the_state_file_loads_and_saves_back_byte_for_byte(vectors: Any, tmp_path: Path) -> None:
    state = vectors["state"]
    path = tmp_path / "terminal.json"
    path.write_text(state["file"])
    model = TerminalModel(state_path=path)  # loads, resolves the pending payment, saves
    assert model.payments['r\u00e9f-"6"\n'].status == "timed_out"
    model.payments['r\u00e9f-"6"\n'].status, model.payments['r\u00e9f-"6"\n'].response_code = (
        "pending", "09")
    model._save()
    assert path.read_text() == state["file"]
    assert list(model.totals(state["totals_rid"]).rows) == state["totals_rows"]


def test_the_receipt_copies(vectors: Any) -> None:
    receipt = vectors["state"]["receipt"]
    merchant, customer = receipt_copies(receipt["fields"])
    assert (list(merchant), list(customer)) == (receipt["merchant_copy"], receipt["customer_copy"])
