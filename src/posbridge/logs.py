"""Where posbridge logs, and in what form: one format for the console, the log file and the
panel's log pane, so the lines an operator reads in the window are the lines in the file.

Whatever a log line quotes from a request (a path, a header, a reference) is the client's
choice, and a line feed in it would start a line of the client's making ("... pending ->
approved"). ``Formatter`` escapes control characters in every message it writes, so no
call site can forget; the HTTP layer escapes what it quotes as well (``escape``).
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
#: The log file is rotated at this size, keeping this many old files beside it.
MAX_BYTES, BACKUPS = 5_000_000, 5

# C0 controls (CR, LF, ESC, ...), DEL, C1 controls (NEL, CSI, ...) and the Unicode line and
# paragraph separators: each could end a line, or move the cursor of a terminal showing it.
_UNSAFE = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]
_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
_ESCAPES = {c: _NAMED.get(c, f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}


def escape(text: str) -> str:
    """``text`` with control characters and line separators written as escapes
    (``\\n``, ``\\x1b``, ``\\u2028``): one line, inert in a terminal."""
    return text.translate(_ESCAPES)


class Formatter(logging.Formatter):
    """The log format, with every message on one line whatever it quotes.

    The message (the format string with its arguments) is escaped. A traceback keeps its
    lines, each indented, so no line of it can pass for a log record, and with its control
    characters other than the line feeds escaped.
    """

    def __init__(self, fmt: str = FORMAT) -> None:
        super().__init__(fmt)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: object) -> str:
        text = super().formatException(ei)  # type: ignore[arg-type]
        return "\n".join("    " + escape(line) for line in text.split("\n"))

    def formatStack(self, stack_info: str) -> str:
        return "\n".join("    " + escape(line) for line in stack_info.split("\n"))


def default_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_log_dir("posbridge", appauthor=False))


def default_file() -> Path:
    return default_dir() / "posbridge.log"


def file_handler(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES,
                                                   backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(Formatter())
    return handler
