"""The `terminal` fixture: an end-to-end test that takes it runs once against posbridge's
simulator and once against the Java demo terminal (terminal/demo), through the same
`procs.Stack`. Without java or the demo's jar the Java run is skipped with the reason, except
in CI (POSBRIDGE_CI=1), where it fails."""

from __future__ import annotations

import os

import pytest

from procs import TERMINALS, java_terminal_missing


@pytest.fixture(params=TERMINALS)
def terminal(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "java":
        missing = java_terminal_missing()
        if missing:
            if os.environ.get("POSBRIDGE_CI") == "1":
                pytest.fail(f"{missing}; POSBRIDGE_CI=1 does not allow skipping")
            pytest.skip(missing)
    return name
