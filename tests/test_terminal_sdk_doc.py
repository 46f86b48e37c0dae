"""docs/terminal-sdk.md quotes its worked example exactly as the file that the Java build
compiles and tests, and names every method a payment app implements."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "terminal-sdk.md"
ENGINE = ROOT / "terminal" / "core" / "src" / "main" / "java" / "dev" / "posbridge" / "terminal" \
    / "engine"


def test_the_worked_example_is_the_file_the_build_tests() -> None:
    text = DOC.read_text()
    quoted = re.findall(r"<!-- example: (\S+) -->\n```java\n(.*?)```\n", text, re.S)
    assert len(quoted) == 1
    path, code = quoted[0]
    assert (ROOT / path).read_text() == code, f"docs/terminal-sdk.md's copy of {path} differs"
    assert (ROOT / path.replace("/main/", "/test/").replace(".java", "Test.java")).exists()


def test_every_method_of_the_apps_interface_and_its_callbacks_is_documented() -> None:
    text = DOC.read_text()
    for name in ("PaymentApp", "PaymentCallback", "VoidCallback", "RefundCallback",
                 "SettleCallback"):
        source = (ENGINE / f"{name}.java").read_text()
        methods = re.findall(r"^  (?:default )?[\w<>]+ (\w+)\(", source, re.M)
        assert methods, name
        for method in methods:
            assert f"{method}(" in text, f"{name}.{method} is not in docs/terminal-sdk.md"
