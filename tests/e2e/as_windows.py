"""Run ``posbridge ARGS`` as Windows would, as far as that can be done on Linux.

What differs on Windows and matters to posbridge, and how it is reproduced here:

- ``sys.platform == "win32"`` for posbridge and the libraries it uses (uvicorn then also
  handles SIGBREAK, platformdirs gives Windows' folders);
- the asyncio loop has no ``add_signal_handler`` (Windows' Proactor and Selector loops raise
  NotImplementedError): a loop policy whose loops do the same;
- no uvloop (it does not exist on Windows);
- platformdirs reads the folders from the environment (LOCALAPPDATA, APPDATA), as its
  fallback does on Windows where the Windows API is not reachable; the test sets them;
- SIGBREAK (Ctrl+Break) does not exist on Linux: SIGUSR2 stands in for it.

Modules that choose Windows-only C modules when they are imported (asyncio, subprocess,
multiprocessing, click's console, sysconfig, zoneinfo, filelock's lock) are imported first,
before ``sys.platform`` changes, so they keep the real system's: their Windows branches cannot
run on Linux at all, and docs/operations.md says so.

``AS_WINDOWS_PLANT=no-signal-fallback`` breaks this launcher on purpose (``signal.signal``
does nothing), so the test can show that it notices a stop signal nobody handles.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import signal
import subprocess
import sys
import sysconfig
import zoneinfo

import click
import filelock

del multiprocessing, subprocess, zoneinfo, click, filelock  # imported for their side effect
sysconfig.get_config_vars()  # cached now: with win32 it would look for Windows' build data


class WindowsLikeLoop(asyncio.SelectorEventLoop):
    def add_signal_handler(self, sig: int, callback: object, *args: object) -> None:
        raise NotImplementedError

    def remove_signal_handler(self, sig: int) -> bool:
        raise NotImplementedError


class WindowsLikePolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return WindowsLikeLoop()


asyncio.set_event_loop_policy(WindowsLikePolicy())
sys.modules["uvloop"] = None  # type: ignore[assignment]  # import uvloop -> ImportError
signal.SIGBREAK = signal.SIGUSR2  # type: ignore[attr-defined]
if os.environ.get("AS_WINDOWS_PLANT") == "no-signal-fallback":
    signal.signal = lambda sig, handler: signal.SIG_DFL  # type: ignore[assignment]
sys.platform = "win32"

import platformdirs  # noqa: E402
import platformdirs.windows  # noqa: E402

platformdirs.windows._RESOLVE_WIN_FOLDER = (  # type: ignore[misc]
    platformdirs.windows.get_win_folder_from_env_vars)

from posbridge.cli import main  # noqa: E402

loop = asyncio.new_event_loop()
kind = type(loop).__name__
try:
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    raise SystemExit("as-windows: the loop has add_signal_handler; not like Windows")
except NotImplementedError:
    pass
finally:
    loop.close()
print(f"as-windows: sys.platform={sys.platform}, loop={kind}, "
      f"data={platformdirs.user_data_dir('posbridge', appauthor=False)}", flush=True)
sys.exit(main(sys.argv[1:]))
