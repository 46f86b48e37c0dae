"""Every setting of `posbridge serve` and `posbridge simulator` is checked before anything
starts, refused with the option's name and exit status 2 (posbridge/checks.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from posbridge import cli


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    return capsys.readouterr().err


SERVE = ["serve", "--terminal", "simulator"]


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--port", "84536", "from 1 to 65535 (got '84536')"),
    ("--port", "0", "from 1 to 65535"),
    ("--port", "-1", "from 1 to 65535"),
    ("--port", "80a", "from 1 to 65535"),
    ("--terminal-timeout", "nan", "finite number of seconds"),
    ("--terminal-timeout", "inf", "finite number of seconds"),
    ("--terminal-timeout", "0", "greater than zero"),
    ("--terminal-timeout", "-1", "greater than zero"),
    ("--terminal-timeout", "soon", "such as 2 or 0.5"),
    ("--customer-delay", "nan", "finite number of seconds"),
    ("--customer-delay", "-0.5", "zero or more"),
    ("--max-amount", "0", "greater than zero"),
    ("--max-amount", "1.234", "at most two places"),
    ("--max-amount", "lots", "at most two places"),
    ("--journal", "{tmp}", "is a folder"),
    ("--journal", "{tmp}/file/j.sqlite3", "is a file, so"),
    ("--log-file", "{tmp}", "is a folder"),
    ("--token-file", "{tmp}/missing", "no such file"),
])
def test_serve_refuses_a_bad_setting_by_name(option: str, value: str, says: str,
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    err = _refused([*SERVE, option, value.format(tmp=tmp_path)], capsys)
    assert f"argument {option}: " in err and says in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--listen", "tcp://127.0.0.1:99999", "is not a tcp://HOST:PORT address"),
    ("--listen", "127.0.0.1:9100", "is not a tcp://HOST:PORT address"),
    ("--customer-delay", "inf", "finite number of seconds"),
    ("--condition-codes", "82,3", "is not two digits"),
    ("--condition-codes", ",", "at least one condition code"),
    ("--state", "{tmp}", "is a folder"),
])
def test_simulator_refuses_a_bad_setting_by_name(option: str, value: str, says: str,
                                                 tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(["simulator", option, value.format(tmp=tmp_path)], capsys)
    assert f"argument {option}: " in err and says in err, err


def test_good_settings_pass_unchanged() -> None:
    args = cli._build_parser().parse_args([
        *SERVE, "--port", "65535", "--terminal-timeout", "0.25", "--customer-delay", "0",
        "--max-amount", "10.5", "--journal", "/nonexistent-dir/j.sqlite3"])
    assert (args.port, args.terminal_timeout, args.customer_delay, args.max_amount) == (
        65535, 0.25, 0.0, "10.5")


@pytest.mark.parametrize("argv", [
    [*SERVE, "--port", "84536"],
    ["simulator", "--customer-delay", "nan"],
])
def test_the_program_exits_2_before_it_starts(argv: list[str]) -> None:
    out = subprocess.run([sys.executable, "-m", "posbridge", *argv], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2, out
    assert "error: argument" in out.stderr
    assert "listening" not in out.stderr and "Traceback" not in out.stderr
