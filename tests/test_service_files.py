"""The service files in packaging/ cannot rot silently: each one's command line is parsed by
the real `posbridge serve` parser (an option renamed or removed fails here), the launchd
plist is parsed by plistlib, and the systemd unit by `systemd-analyze verify` where it exists.
"""

from __future__ import annotations

import argparse
import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from posbridge import cli

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "packaging" / "systemd" / "posbridge.service"
PLIST = ROOT / "packaging" / "macos" / "org.posbridge.bridge.plist"


def serve_parser() -> argparse.ArgumentParser:
    parser = cli._build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    serve: argparse.ArgumentParser = sub.choices["serve"]
    return serve


def parse_serve(args: list[str]) -> argparse.Namespace:
    """`posbridge serve ARGS` as the real parser reads it; an unknown option fails the test."""
    parser = serve_parser()
    parser.exit_on_error = False
    try:
        namespace, unknown = parser.parse_known_args(args)
    except (argparse.ArgumentError, SystemExit) as exc:
        pytest.fail(f"posbridge serve does not take {args}: {exc}")
    if unknown:
        pytest.fail(f"posbridge serve has no option {unknown}")
    return namespace


def unit_sections(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_parse_serve_refuses_what_serve_does_not_take() -> None:
    """The checks below can fail: a made-up option, or a missing --terminal, is caught."""
    with pytest.raises(pytest.fail.Exception, match="no option"):
        parse_serve(["--terminal", "usb", "--journal-dir", "/var/lib/posbridge"])
    with pytest.raises(pytest.fail.Exception, match="does not take"):
        parse_serve(["--journal", "/var/lib/posbridge/journal.sqlite3"])


def test_the_systemd_unit_runs_posbridge_serve_with_real_options(tmp_path: Path) -> None:
    unit = unit_sections(UNIT.read_text())
    service = unit["Service"]
    (exec_start,) = service["ExecStart"]
    program, command, *args = shlex.split(exec_start)
    assert program.endswith("/bin/posbridge") and command == "serve"
    # The journal lives in the StateDirectory systemd makes for the service user (%S is
    # /var/lib), the token in the credential systemd hands over (%d). posbridge checks the
    # token file exists as it parses its options, so the specifiers are filled in as
    # systemd would, with folders here.
    (state,) = service["StateDirectory"]
    (credential,) = service["LoadCredential"]
    name, _, source = credential.partition(":")
    credentials, state_root = tmp_path / "credentials", tmp_path / "state"
    credentials.mkdir()
    (credentials / name).write_text("t" * 32 + "\n")
    options = parse_serve([a.replace("%d", str(credentials)).replace("%S", str(state_root))
                           for a in args])
    assert options.terminal == "usb"
    assert options.journal == f"{state_root}/{state}/journal.sqlite3"
    assert options.token_file == f"{credentials}/{name}" and source.startswith("/etc/")
    assert options.host == "127.0.0.1"  # the unit does not open the API to the network
    assert service["Restart"] == ["on-failure"]
    assert service["User"] and service["User"] != ["root"]
    # Nothing that hides the terminal's device files (see the comment in the unit).
    for hiding in ("PrivateDevices", "DevicePolicy", "ProtectClock", "PrivateUsers"):
        assert hiding not in service, hiding
    assert "AF_NETLINK" in service["RestrictAddressFamilies"][0].split()
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None and not os.environ.get("POSBRIDGE_CI"),
                    reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # verify insists that ExecStart's program exists: point it at this venv's posbridge.
    posbridge = Path(sys.executable).with_name("posbridge")
    assert posbridge.exists(), posbridge
    unit = tmp_path / "posbridge.service"
    unit.write_text(UNIT.read_text().replace("/opt/posbridge/bin/posbridge", str(posbridge)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    # verify exits 0 even for unknown keys and bad values: any output at all is a failure.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_launchd_plist_runs_posbridge_serve_with_real_options() -> None:
    with PLIST.open("rb") as f:
        plist = plistlib.load(f)
    assert plist["Label"] == PLIST.name.removesuffix(".plist")
    program, command, *args = plist["ProgramArguments"]
    assert program.endswith("/posbridge") and command == "serve"
    options = parse_serve(args)
    assert options.terminal == "usb" and options.host == "127.0.0.1"
    assert options.journal.endswith("/Library/Application Support/posbridge/journal.sqlite3")
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}  # restart after a crash only
    assert plist["StandardErrorPath"].endswith(".log")
