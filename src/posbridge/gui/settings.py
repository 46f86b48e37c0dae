"""The panel's settings, remembered between runs as JSON in the user's config folder.

A missing, unreadable or half-valid file never stops the panel: each value that is not
usable falls back to its default, and ``load`` says what it ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path


def default_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("posbridge", appauthor=False)) / "gui.json"


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    #: The terminal spec last used ("simulator", "tcp://...", and later USB and serial ones).
    terminal: str = "simulator"
    #: The network address typed last, kept when another terminal is chosen.
    address: str = "tcp://127.0.0.1:9100"
    customer_delay: float = 2.0  # for the built-in simulator
    #: The built-in simulator opens its terminal window, where each payment waits for a
    #: click (posbridge simulator --window); off: the cents table decides.
    simulator_window: bool = False
    start_minimized: bool = False
    autostart: bool = False
    journal: str = ""  # "" is the default journal in the user's data folder
    geometry: str = ""  # the window's size and place, as Tk gives it


def load(path: Path) -> tuple[Settings, list[str]]:
    """The settings in ``path`` (defaults where it has none), and what was ignored and why."""
    settings = Settings()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return settings, []
    except (OSError, ValueError) as exc:
        return settings, [f"{path}: not readable ({exc}); using the defaults"]
    if not isinstance(raw, dict):
        return settings, [f"{path}: not a JSON object; using the defaults"]
    ignored = []
    for f in fields(Settings):
        if f.name not in raw:
            continue
        value, default = raw[f.name], getattr(settings, f.name)
        if isinstance(default, float) and isinstance(value, int) and \
                not isinstance(value, bool):
            value = float(value)
        if type(value) is not type(default):
            ignored.append(f"{path}: {f.name} {value!r} is not a {type(default).__name__}; "
                           f"using {default!r}")
            continue
        setattr(settings, f.name, value)
    return settings, ignored


def save(path: Path, settings: Settings) -> None:
    """Write atomically: a crash mid-write leaves the previous file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(settings), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
