"""The support bundle: one zip a shop sends to its help desk (``posbridge support-bundle``,
and the panel's "Support bundle..." button).

It holds what the help desk asks for when a till calls: the recent log, the journal's recent
payments and each one's history (CSV, as ``posbridge journal export`` writes it), the
versions of posbridge, Python, its libraries and the OS, the settings, a running bridge's
``/health`` (the link's history) and ``/metrics``, and the USB devices and serial ports.

Nothing secret leaves the PC in it, by two rules applied to every member:

1. Settings and environment variables whose name says secret (token, secret, password, key,
   credential) are written as ``[removed]``; a token file is named, never read into it.
2. Every secret value posbridge knows of (the token it was given, the contents of token
   files, and each removed setting's value) is replaced by ``[removed]`` wherever it appears
   in any member, so that a token a client sent in the wrong place and that reached the log,
   or a reference that happens to contain it, does not leave either.

tests/e2e/test_bundle.py starts a bridge with a token, makes a bundle and searches every member
for it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import os
import platform
import re
import sqlite3
import sys
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import __version__, about

REMOVED = "[removed]"
#: A setting or environment variable with such a name is never written as it is.
SECRET_NAME = re.compile(r"token|secret|passw|key|credential|auth", re.IGNORECASE)
#: The libraries whose versions matter to a support case.
LIBRARIES = ("starlette", "uvicorn", "uvloop", "httptools", "h11", "msgspec", "httpx",
             "platformdirs", "pyusb", "pyserial", "libusb-package", "prometheus_client",
             "filelock")
#: A log line starts with its time (logs.FORMAT's asctime); other lines continue the last.
_LOG_TIME = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")
#: Shorter values are not searched for: "[removed]" in place of every "1" would ruin the text.
MIN_SECRET_LENGTH = 6


@dataclass
class BundleResult:
    path: Path
    members: list[str] = field(default_factory=list)
    #: What could not be included, and why (also in the bundle's README.txt).
    notes: list[str] = field(default_factory=list)


class _Scrubber:
    """Replaces every known secret value in a text by REMOVED."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if secret and len(secret) >= MIN_SECRET_LENGTH and secret not in self._secrets:
            self._secrets.add(secret)
            # Longest first: a secret that contains another is replaced whole.
            self._pattern = re.compile("|".join(
                re.escape(s) for s in sorted(self._secrets, key=len, reverse=True)))

    def __call__(self, text: str) -> str:
        return self._pattern.sub(REMOVED, text) if self._pattern else text


def redact(value: Any, scrub: _Scrubber) -> Any:
    """``value`` (JSON-like) with every secret-named entry replaced; their values are added to
    ``scrub`` so that they are removed from every other member too."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if SECRET_NAME.search(str(k)) and v not in (None, "", [], {}):
                for leaf in _leaves(v):
                    scrub.add(leaf)
                out[k] = REMOVED
            else:
                out[k] = redact(v, scrub)
        return out
    if isinstance(value, list):
        return [redact(v, scrub) for v in value]
    return value


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    elif value is not None:
        yield str(value)


def make_bundle(
    output: Path,
    *,
    days: float = 7.0,
    journal: Path | None = None,
    log_file: Path | None = None,
    settings_file: Path | None = None,
    url: str | None = "http://localhost:8080",
    token: str | None = None,
    token_files: Iterable[Path] = (),
    devices: bool = True,
) -> BundleResult:
    """Write the support bundle to ``output`` (a zip) and say what is in it.

    ``days``: how far back the log and the payments go. ``url``: a running bridge to ask for
    /health and /metrics (``token`` if it needs one); None skips that. Defaults are the
    user's journal, the panel's log file and the panel's settings.
    """
    from . import logs
    from .gui import settings as gui_settings
    from .journal import default_path

    journal = journal or default_path()
    log_file = log_file or logs.default_file()
    settings_file = settings_file or gui_settings.default_path()
    token_files = list(token_files)
    secrets = [token or ""]
    for path in token_files:
        with contextlib.suppress(OSError):  # a token file it cannot read holds nothing to hide
            secrets += [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    if os.environ.get("POSBRIDGE_TOKEN"):
        secrets.append(os.environ["POSBRIDGE_TOKEN"])
    scrub = _Scrubber(secrets)
    result = BundleResult(output)
    since = datetime.now(UTC) - timedelta(days=days)
    made = datetime.now(UTC).isoformat(timespec="seconds")

    # Settings first: the secret values they hold are then scrubbed from everything after.
    settings = redact({
        "panel_settings_file": str(settings_file),
        "panel_settings": _read_json(settings_file, result.notes),
        "environment": {k: v for k, v in os.environ.items() if k.startswith("POSBRIDGE_")},
    }, scrub)
    # The bundle's own options: where a token came from is named, its value never.
    settings["bundle"] = {"made_at": made, "days": days, "journal": str(journal),
                          "log_file": str(log_file), "bridge_url": url,
                          "token_files": [str(p) for p in token_files],
                          "token_given": token is not None}
    members: list[tuple[str, str]] = [("settings.json", _dumps(settings))]
    members.append(("versions.json", _dumps(versions())))
    members += _payments(journal, since, result.notes)
    members += _logs(log_file, since, result.notes)
    if url:
        members += _bridge(url, token, result.notes)
    else:
        result.notes.append("no running bridge was asked (no URL)")
    if devices:
        from .devices import list_devices

        members.append(("devices.json", _dumps(asdict(list_devices(all_usb=True)))))
    readme = _readme(made, days, [name for name, _ in members], result.notes)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in [("README.txt", readme), *members]:
            zf.writestr(name, scrub(text))
            result.members.append(name)
    os.replace(tmp, output)
    return result


def versions() -> dict[str, Any]:
    libraries: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            libraries[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            libraries[name] = None
    return {
        "posbridge": __version__,
        # "bundle" (the self-contained bundle) or "package" (pipx, pip): docs/operations.md.
        "install": about.install(),
        "python": sys.version,
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "sys_platform": sys.platform,
        "libraries": libraries,
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"


def _read_json(path: Path, notes: list[str]) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        notes.append(f"{path}: not readable ({exc})")
        return None


def _payments(journal_path: Path, since: datetime, notes: list[str]) -> list[tuple[str, str]]:
    from .journal import Journal
    from .tools import write_events_csv, write_payments_csv

    try:
        journal = Journal(journal_path, readonly=True)
    except (FileNotFoundError, OSError, sqlite3.Error) as exc:
        notes.append(f"journal: {exc}")
        return []
    try:
        cutoff = since.isoformat(timespec="milliseconds")
        # Every payment changed in the period, oldest first, and all of its history.
        payments = [p for p in reversed(journal.recent(-1)) if p.updated_at >= cutoff]
        active = journal.active()
        payments_csv, events_csv = io.StringIO(), io.StringIO()
        write_payments_csv(payments_csv, payments)
        write_events_csv(events_csv, (e for p in payments for e in journal.events(p.ref)))
        summary = {"journal": str(journal_path), "payments_in_period": len(payments),
                   "not_final": [p.ref for p in active]}
    except sqlite3.Error as exc:
        notes.append(f"journal {journal_path}: not readable as a posbridge journal: {exc}")
        return []
    finally:
        journal.close()
    return [("journal/payments.csv", payments_csv.getvalue()),
            ("journal/history.csv", events_csv.getvalue()),
            ("journal/summary.json", _dumps(summary))]


def _logs(log_file: Path, since: datetime, notes: list[str]) -> list[tuple[str, str]]:
    from . import logs

    files = [log_file] + [log_file.with_name(f"{log_file.name}.{n}")
                          for n in range(1, logs.BACKUPS + 1)]
    cutoff = since.astimezone().strftime("%Y-%m-%d %H:%M:%S")  # asctime is local time
    members = []
    for path in files:
        try:
            if path.stat().st_mtime < since.timestamp():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue
        except OSError as exc:
            notes.append(f"log {path}: {exc}")
            continue
        members.append((f"logs/{path.name}", "".join(_lines_since(text, cutoff))))
    if not members:
        notes.append(f"no log file changed in the period at {log_file} (posbridge serve logs "
                     "to a file only with --log-file; give it with --log-file)")
    return members


def _lines_since(text: str, cutoff: str) -> Iterator[str]:
    keep = True
    for line in text.splitlines(keepends=True):
        match = _LOG_TIME.match(line)
        if match:
            keep = match.group(1) >= cutoff
        if keep:
            yield line


def _bridge(url: str, token: str | None, notes: list[str]) -> list[tuple[str, str]]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    members = []
    for path, name in (("/health", "health.json"), ("/metrics", "metrics.txt")):
        try:
            r = httpx.get(url.rstrip("/") + path, headers=headers, timeout=3)
        except httpx.HTTPError as exc:
            notes.append(f"bridge at {url}: not reachable for {path} ({exc}); health and the "
                         "link's history are not in this bundle")
            break
        if r.status_code != 200:
            notes.append(f"bridge at {url}{path}: HTTP {r.status_code} "
                         f"({r.text[:200]!r}); give its token with --token-file")
            continue
        text = r.text
        if name.endswith(".json"):
            text = _dumps(r.json())
        members.append((name, text))
    return members


def _readme(made: str, days: float, names: list[str], notes: list[str]) -> str:
    lines = [f"posbridge support bundle, made {made} by {about.version_line()}",
             f"Covers the last {days:g} day(s).", "", "Contents:"]
    described = {
        "settings.json": "the panel's settings and POSBRIDGE_* variables (secrets removed)",
        "versions.json": "posbridge, Python, libraries, operating system",
        "journal/payments.csv": "payments changed in the period (as `journal export --csv`)",
        "journal/history.csv": "every status change of those payments",
        "journal/summary.json": "counts, and the payments whose outcome is not final",
        "health.json": "the running bridge's /health: the link, its history, the payment",
        "metrics.txt": "the running bridge's /metrics",
        "devices.json": "USB devices and serial ports (as `posbridge devices --all --json`)",
    }
    for name in names:
        what = described.get(name, "the log" if name.startswith("logs/") else "")
        lines.append(f"  {name}: {what}")
    lines += ["", "Secrets (tokens, token files' contents, settings named like a secret) are "
              f"replaced by {REMOVED} everywhere."]
    if notes:
        lines += ["", "Not included:", *(f"  - {note}" for note in notes)]
    return "\n".join(lines) + "\n"


def default_output() -> Path:
    return Path(f"posbridge-support-{time.strftime('%Y%m%d-%H%M%S')}.zip")


# -- the command -----------------------------------------------------------------------------


def add_command(sub: Any) -> None:
    from . import logs
    from .journal import default_path

    p = sub.add_parser(
        "support-bundle", help="make a zip for the help desk: logs, recent payments, "
        "versions, settings (no secrets), health, devices",
        description="Make one zip with what a help desk needs: the recent log, the journal's "
        "recent payments and their history as CSV, versions, settings with secrets removed, "
        "the running bridge's /health and /metrics, and the device list. No token or secret "
        "is written into it.")
    p.add_argument("--days", type=float, default=7.0,
                   help="how many days of log and payments (default 7)")
    p.add_argument("--output", metavar="FILE",
                   help="the zip to write (default posbridge-support-DATE-TIME.zip here)")
    p.add_argument("--journal", metavar="PATH", default=None,
                   help=f"the journal (default {default_path()})")
    p.add_argument("--log-file", metavar="PATH", default=None,
                   help=f"the log file, as given to serve --log-file (default the panel's, "
                   f"{logs.default_file()})")
    p.add_argument("--url", default=os.environ.get("POSBRIDGE_URL", "http://localhost:8080"),
                   help="the running bridge to ask for /health (default "
                   "http://localhost:8080, or POSBRIDGE_URL)")
    p.add_argument("--token-file", metavar="PATH",
                   help="the bridge's access token, if it needs one (or POSBRIDGE_TOKEN); "
                   "used to ask it, never written into the bundle")
    p.set_defaults(func=_command)


def _command(args: Any) -> int:
    token_files = [Path(args.token_file)] if args.token_file else []
    token = None
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            print(f"posbridge: --token-file: {exc}", file=sys.stderr)
            return 1
    token = token or os.environ.get("POSBRIDGE_TOKEN") or None
    output = Path(args.output) if args.output else default_output()
    try:
        result = make_bundle(output, days=args.days,
                             journal=Path(args.journal) if args.journal else None,
                             log_file=Path(args.log_file) if args.log_file else None,
                             url=args.url, token=token, token_files=token_files)
    except OSError as exc:
        print(f"posbridge: cannot write {output}: {exc}", file=sys.stderr)
        return 1
    for note in result.notes:
        print(f"posbridge: not included: {note}", file=sys.stderr)
    print(f"{result.path}: {len(result.members)} files ({', '.join(result.members)})")
    return 0
