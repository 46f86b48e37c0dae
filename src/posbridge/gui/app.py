"""``posbridge gui``: the command, its logging and settings; the window is ``window.py``.

Nothing here imports Tk until the command runs, so ``posbridge --help`` and ``serve`` work
on a Python without tkinter.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import queue
import sys
from pathlib import Path
from typing import Any

from .. import about, logs
from . import settings as gui_settings

log = logging.getLogger("posbridge.gui")

#: Test hook: the window writes what it shows to this file (see window.py).
STATE_ENV = "POSBRIDGE_GUI_STATE"


def add_command(sub: Any) -> None:
    gui = sub.add_parser(
        "gui",
        help="open the control panel: start and stop the listener, watch payments",
        description="Open the desktop control panel: choose the port and the terminal, start "
        "and stop the listener, see the terminal's state and the recent payments, submit "
        "the day's batch. It runs the same bridge as 'posbridge serve', on this PC only. "
        f"Settings are kept in {gui_settings.default_path()}; the log is written to "
        f"{logs.default_file()}.",
    )
    gui.add_argument("--minimized", action="store_true",
                     help="open the window minimised (also a setting in the window)")
    gui.add_argument("--autostart", action="store_true",
                     help="start the listener as soon as the window opens (also a setting)")
    gui.set_defaults(func=main)


def _setup_logging(lines: queue.Queue[logging.LogRecord]) -> list[str]:
    """Log to the console, the log file and the window's pane, all in one format. Returns
    problems to report once the log works."""
    problems = []
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logs.Formatter())
    root.addHandler(console)
    # The window's pane: the stdlib's QueueHandler formats each record (its message becomes
    # the whole line) and never blocks the logger.
    pane = logging.handlers.QueueHandler(lines)
    pane.setFormatter(logs.Formatter())
    root.addHandler(pane)
    try:
        root.addHandler(logs.file_handler(logs.default_file()))
    except OSError as exc:
        problems.append(f"panel: cannot write the log file {logs.default_file()}: {exc}; "
                        "logging to the window and the console only")
    return problems


def main(args: argparse.Namespace) -> int:
    lines: queue.Queue[logging.LogRecord] = queue.Queue()
    problems = _setup_logging(lines)
    try:
        import tkinter as tk
    except ImportError:
        log.error("posbridge gui needs Tk, which this Python lacks (on Debian and Ubuntu: "
                  "apt-get install python3-tk); 'posbridge serve' works without it")
        return 1
    path = gui_settings.default_path()
    settings, notes = gui_settings.load(path)
    for problem in (*problems, *notes):
        log.warning("%s", problem)
    try:
        root = tk.Tk(className="posbridge")
    except tk.TclError as exc:
        log.error("posbridge gui cannot open a window (%s); is there a display? "
                  "'posbridge serve' runs without one", exc)
        return 1
    from .window import PanelWindow

    state_file = os.environ.get(STATE_ENV)
    window = PanelWindow(root, settings, path, lines, logs.default_dir(),
                         state_file=Path(state_file) if state_file else None)
    log.info("panel: %s; settings %s; log file %s", about.version_line(), path,
             logs.default_file())
    if args.minimized or settings.start_minimized:
        root.iconify()
    if args.autostart or settings.autostart:
        root.after_idle(window.start)
    root.mainloop()
    # The window closes only once the listener has stopped; this is a last guard.
    window.listener.stop()
    window.listener.join(30)
    log.info("panel: closed")
    return 0
