"""The panel's docs: the screenshot is there and referenced, and every flag is explained."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_screenshot_is_a_png_referenced_from_the_docs() -> None:
    assert (ROOT / "docs" / "gui.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](docs/gui.png)" in (ROOT / "README.md").read_text()
    for page in ("gui.md", "operations.md"):
        assert "](gui.png)" in (ROOT / "docs" / page).read_text(), page


def test_every_gui_flag_is_in_the_docs() -> None:
    out = subprocess.run([sys.executable, "-m", "posbridge", "gui", "--help"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    text = (ROOT / "docs" / "gui.md").read_text()
    for flag in ("--minimized", "--autostart"):
        assert flag in out and flag in text, flag
