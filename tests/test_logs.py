"""The log format (posbridge/logs.py): one line per record, whatever a message quotes."""

from __future__ import annotations

import logging
import sys

from posbridge import logs


def _record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    return logging.LogRecord("posbridge.http", logging.WARNING, __file__, 1, msg, args,
                             sys.exc_info() if exc else None)


def test_every_control_character_and_line_separator_is_escaped() -> None:
    unsafe = [*map(chr, range(0x20)), "\x7f", *map(chr, range(0x80, 0xA0)), "\u2028",
              "\u2029"]
    line = logs.Formatter().format(_record("path %s", "".join(unsafe)))
    assert all(c not in line for c in unsafe)
    assert "\\n" in line and "\\r" in line and "\\x1b" in line and "\\u2028" in line
    assert "\\x85" in line and "\\x9b" in line
    # Printable text, Windows paths and non-Latin letters are left alone.
    assert logs.escape("C:\\journal\\j.sqlite3 café 付款") == "C:\\journal\\j.sqlite3 café 付款"


def test_a_traceback_keeps_its_lines_indented_and_escaped() -> None:
    try:
        raise ValueError("bad /x\r\n2026-12-01 10:00:00,000 INFO forged\x1b[2J")
    except ValueError:
        text = logs.Formatter().format(_record("crashed", exc=True))
    first, *rest = text.split("\n")
    assert first.endswith("crashed") and rest
    assert all(line.startswith("    ") for line in rest)
    assert "\x1b" not in text and "\r" not in text
