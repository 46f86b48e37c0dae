"""Where posbridge logs, and in what form: one format for the console, the log file and the
panel's log pane, so the lines an operator reads in the window are the lines in the file."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
#: The log file is rotated at this size, keeping this many old files beside it.
MAX_BYTES, BACKUPS = 5_000_000, 5


def default_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_log_dir("posbridge", appauthor=False))


def default_file() -> Path:
    return default_dir() / "posbridge.log"


def file_handler(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES,
                                                   backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    return handler
