"""The simulator's docs: the terminal window's screenshot is there and referenced, every
simulator flag and scenario outcome is explained, and every known payment method and
link message kind is documented."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path

from posbridge import methods
from posbridge.protocol.messages import PROGRESS_STAGES, Progress
from posbridge.simulator.customer import OUTCOMES
from posbridge.simulator.scenario import RefundStep, load

ROOT = Path(__file__).resolve().parents[2]


def test_the_terminal_window_screenshot_is_a_png_shown_in_readme_and_docs() -> None:
    assert (ROOT / "docs" / "terminal-window.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](docs/terminal-window.png)" in (ROOT / "README.md").read_text()
    assert "](terminal-window.png)" in (ROOT / "docs" / "simulator.md").read_text()


def test_every_simulator_flag_and_outcome_is_in_the_docs() -> None:
    out = subprocess.run([sys.executable, "-m", "posbridge", "simulator", "--help"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    text = (ROOT / "docs" / "simulator.md").read_text()
    for flag in ("--window", "--scenario", "--condition-codes", "--customer-delay", "--state"):
        assert flag in out and flag in text, flag
    for outcome in OUTCOMES:
        assert f"`{outcome}`" in text, outcome
    for outcome in typing.get_args(typing.get_type_hints(RefundStep)["outcome"]):
        assert f"`{outcome}`" in text, outcome
    example = load(ROOT / "examples" / "scenario.json")  # the example is valid
    assert example.payments and example.refunds


def test_every_known_method_and_the_progress_message_are_documented() -> None:
    api = (ROOT / "docs" / "api.md").read_text()
    for m in methods.KNOWN.values():
        assert f'| `"{m.code}"` | {m.name} |' in api, m
    protocol = (ROOT / "docs" / "link-protocol.md").read_text()
    assert f"**`{Progress.KIND}`** (version 2)" in protocol
    assert "Protocol version: **2**" in protocol
    for stage in PROGRESS_STAGES:
        assert f'`"{stage}"`' in protocol and f'`"{stage}"`' in api, stage
