"""posbridge.bundle in one process: the period's log lines and files, and the redaction of
secret-named settings wherever their values appear. tests/e2e/test_bundle.py makes a bundle
from a real bridge with a token."""

from __future__ import annotations

import json
import os
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from posbridge import __version__, about
from posbridge.bundle import REMOVED, _Scrubber, make_bundle, redact


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S") + ",000"


def test_only_the_periods_log_lines_and_files(tmp_path: Path) -> None:
    now = datetime.now()
    log = tmp_path / "posbridge.log"
    log.write_text(
        f"{_stamp(now - timedelta(days=3))} INFO    posbridge: old line\n"
        "Traceback (most recent call last): part of the old line\n"
        f"{_stamp(now - timedelta(hours=2))} WARNING posbridge.http: recent line\n"
        "  continued\n")
    rotated = tmp_path / "posbridge.log.1"
    rotated.write_text(f"{_stamp(now - timedelta(days=9))} INFO    posbridge: ancient\n")
    old = time.time() - 9 * 86400
    os.utime(rotated, (old, old))
    result = make_bundle(tmp_path / "b.zip", days=1, journal=tmp_path / "none.sqlite3",
                         log_file=log, settings_file=tmp_path / "gui.json", url=None,
                         devices=False)
    with zipfile.ZipFile(result.path) as zf:
        names = zf.namelist()
        text = zf.read("logs/posbridge.log").decode()
    assert "logs/posbridge.log.1" not in names
    assert "old line" not in text and "part of the old line" not in text
    assert "recent line\n  continued\n" in text
    assert any("no journal at" in note for note in result.notes)
    assert any("no running bridge" in note for note in result.notes)


def test_secret_named_values_are_removed_everywhere() -> None:
    scrub = _Scrubber(["short", "tok-1234567890"])
    settings = redact({"host": "127.0.0.1", "webhooks": [{"url": "https://x.example/hook",
                                                         "Secret": "whsec-abcdefgh"}],
                       "api_key": {"value": "key-value-123"}, "password": ""}, scrub)
    assert settings == {"host": "127.0.0.1",
                        "webhooks": [{"url": "https://x.example/hook", "Secret": REMOVED}],
                        "api_key": REMOVED, "password": ""}
    text = json.dumps({"log": "sent whsec-abcdefgh and key-value-123 and tok-1234567890"})
    assert scrub(text) == json.dumps({"log": f"sent {REMOVED} and {REMOVED} and {REMOVED}"})
    assert scrub("short stays: too short to search for") == \
        "short stays: too short to search for"


def test_it_says_which_posbridge_made_it(tmp_path: Path) -> None:
    """An installed package here; the bundle's own is made in tests/e2e/test_frozen.py."""
    result = make_bundle(tmp_path / "b.zip", journal=tmp_path / "none.sqlite3",
                         log_file=tmp_path / "posbridge.log", settings_file=tmp_path / "g.json",
                         url=None, devices=False)
    with zipfile.ZipFile(result.path) as zf:
        versions = json.loads(zf.read("versions.json"))
        readme = zf.read("README.txt").decode()
    assert (versions["posbridge"], versions["install"]) == (__version__, "package")
    assert readme.splitlines()[0].endswith(f"by {about.version_line()}")
    assert "(installed package, Python " in readme.splitlines()[0]
