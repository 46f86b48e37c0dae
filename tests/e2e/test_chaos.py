"""The short chaos run: real processes, a fault-injecting proxy, reconciliation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CHAOS = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"


def test_short_chaos_run_loses_and_duplicates_nothing() -> None:
    result = subprocess.run(
        [sys.executable, str(CHAOS), "--payments", "50", "--faults", "10", "--seed", "3"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert figures["payments"] == 50
    assert figures["faults_total"] == 10
    assert (figures["lost"], figures["duplicated"], figures["mismatched"]) == (0, 0, 0)
