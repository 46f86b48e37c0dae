"""The self-contained bundle as a shop gets it (``make bundle``, packaging/pyinstaller).

Once per session ``make bundle`` builds dist/posbridge/ into a temporary folder; each test
then runs its ``posbridge`` executable as a cashier PC without Python would: a clean
environment (as ``env -i``: a fresh HOME, the system's PATH and nothing else, so no venv and
no PYTHONPATH), started from a folder outside the checkout, over real sockets, with real
windows on a real X server. A process of the bundle must map no file of the checkout, its
venvs or the Python that built it (``/proc/PID/maps``): its interpreter and libraries are
its own.

Marked ``frozen``: the everyday ``make test`` leaves it out (the build takes a minute or
more); ``make test-bundle`` runs it, and so does .ci/run. The windows' tests skip without
Xvfb and xdotool, except in CI (POSBRIDGE_CI=1), where they are installed.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import httpx
import pytest

from posbridge import __version__
from posbridge.simulator.qr import paynow_payload
from procs import x_display
from rig import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.frozen]

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"x-api-version": "v1", "Content-Type": "application/json"}
# The reference's own examples (PC POS USB API: CreatePayment, QueryPayment), byte for byte
# as its curl lines send them.
CREATE = (b'{    "amount": "1.00",    "retrieval_reference_number": "invoice-123456789",'
          b'    "condition_code": "82"  }')
QUERY = b'{    "retrieval_reference_number": "invoice-123456789"  }'
X_MISSING = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
needs_x = pytest.mark.skipif(bool(X_MISSING) and not os.environ.get("POSBRIDGE_CI"),
                             reason=f"not installed: {', '.join(X_MISSING)} "
                             "(apt-get install xvfb xdotool)")


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/posbridge/ as ``make bundle`` makes it, built once per session."""
    out = tmp_path_factory.mktemp("frozen")
    # The bundle that ships: every trim, modules as files, whatever this shell has set.
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSBRIDGE_BUNDLE_")}
    build = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "bundle",
         f"BUNDLE_DIST={out / 'dist'}", f"BUNDLE_WORK={out / 'work'}"],
        capture_output=True, text=True, timeout=1200, env=env)
    assert build.returncode == 0, f"make bundle failed:\n{build.stdout}\n{build.stderr}"
    folder = out / "dist" / "posbridge"
    assert (folder / "posbridge").is_file(), sorted(p.name for p in folder.iterdir())
    return folder


class Frozen:
    """The bundle's executable, run in a clean environment from a folder of its own."""

    def __init__(self, bundle: Path, tmp: Path, **env: str) -> None:
        self.exe = bundle / "posbridge"
        self.home = tmp / "home"
        self.home.mkdir(exist_ok=True)
        self.cwd = tmp
        # What `env -i HOME=... PATH=/usr/bin:/bin` leaves: no venv, no PYTHONPATH, no LANG.
        self.env = {"HOME": str(self.home), "PATH": "/usr/bin:/bin", **env}
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(self.exe), *args], capture_output=True, text=True,
                                env=self.env, cwd=self.cwd, timeout=timeout)
        assert result.returncode == 0, f"posbridge {args}:\n{result.stdout}\n{result.stderr}"
        return result

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = self.cwd / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([str(self.exe), *args], stdout=out,
                                    stderr=subprocess.STDOUT, env={**self.env, **env},
                                    cwd=self.cwd)
        self.procs.append((proc, log))
        return proc

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        return next(log.read_text(errors="replace") for p, log in self.procs if p is proc)

    def stop(self, proc: subprocess.Popen[bytes]) -> int:
        """SIGTERM, as systemd and the tests of the installed package stop it."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def close(self) -> None:
        for proc, _log in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def frozen(bundle: Path, tmp_path: Path) -> Iterator[Frozen]:
    runner = Frozen(bundle, tmp_path)
    try:
        yield runner
    finally:
        runner.close()


def foreign_files(pid: int, bundle: Path) -> list[str]:
    """Files a process maps that are neither the bundle's nor the system's own libraries:
    anything of the checkout (its venvs, src/) or of the Python that built the bundle."""
    mapped = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].startswith("/"):
            mapped.add(parts[5].removesuffix(" (deleted)"))
    outside = [ROOT, Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()]
    return sorted(f for f in mapped if not Path(f).is_relative_to(bundle)
                  and any(Path(f).resolve().is_relative_to(o) for o in outside))


def test_the_self_containment_check_catches_a_python_of_this_machine(bundle: Path) -> None:
    """The check above, on this test's own process (the venv's Python): it must complain."""
    found = foreign_files(os.getpid(), bundle)
    assert any("python3" in f or "libpython" in f for f in found), found


def test_it_runs_its_own_modules_whatever_the_environment_says(frozen: Frozen) -> None:
    """PYTHONPATH and the folder it starts in cannot slip other modules into the bundle
    (the memory maps above see libraries only): a planted fake posbridge is taken by a
    Python of this machine, and not by the bundle."""
    fake = frozen.cwd / "fake" / "posbridge"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise SystemExit("the fake posbridge")\n')
    env = {**frozen.env, "PYTHONPATH": str(fake.parent)}
    leaked = subprocess.run([sys.executable, "-m", "posbridge", "--version"], env=env,
                            cwd=fake.parent, capture_output=True, text=True, timeout=60)
    assert "the fake posbridge" in leaked.stderr, leaked
    ours = subprocess.run([str(frozen.exe), "--version"], env=env, cwd=fake.parent,
                          capture_output=True, text=True, timeout=60)
    assert ours.returncode == 0 and "(self-contained bundle" in ours.stdout, ours


def wait_for(check: Callable[[], Any], what: str, proc: subprocess.Popen[bytes],
             frozen: Frozen, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited while waiting for {what}:\n{frozen.log(proc)}"
        try:
            got = check()
        except (httpx.TransportError, ValueError, KeyError, FileNotFoundError):
            got = None
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"never saw {what}:\n{frozen.log(proc)}")


def test_version_says_it_is_the_bundle(frozen: Frozen) -> None:
    line = frozen.run("--version").stdout.strip()
    assert re.fullmatch(rf"posbridge {re.escape(__version__)} \(self-contained bundle, "
                        r"Python 3\.\d+\.\d+\)", line), line


def test_serve_answers_the_references_create_and_query(frozen: Frozen, bundle: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bridge = frozen.start("serve", "serve", "--terminal", "simulator", "--port", str(port),
                          "--customer-delay", "0.3")
    with httpx.Client(base_url=url, timeout=10) as http:
        health = wait_for(lambda: (h := http.get("/health").json())["terminal"]["connected"]
                          and h, "the simulator connected", bridge, frozen)
        assert health["posbridge"] == {"version": __version__, "install": "bundle",
                                       "python": health["posbridge"]["python"]}
        # Its journal is where a shop's is: in the fresh HOME's data folder.
        assert Path(health["journal"]).is_relative_to(frozen.home), health["journal"]

        created = http.post("/CreatePayment", headers=HEADERS, content=CREATE)
        assert created.status_code == 200, created.text
        assert list(created.json().items())[:4] == [
            ("success", True), ("message", "Create payment command processed"),
            ("retrieval_reference_number", "invoice-123456789"), ("condition_code", "82")]
        query = wait_for(lambda: (q := http.post("/QueryPayment", headers=HEADERS,
                                                 content=QUERY).json())["status"] == "approved"
                         and q, "the payment approved", bridge, frozen)
        assert list(query)[:6] == ["success", "message", "retrieval_reference_number",
                                   "condition_code", "transaction_id", "transaction_status"]
        assert query["message"] == "Query payment command processed"
        assert query["transaction_status"] == "00"
        assert re.fullmatch(r"[0-9]{24}", query["transaction_id"])

        # Swagger UI's assets came along: the offline /docs page and its script.
        assert "swagger-ui-bundle.js" in http.get("/docs").text
        assert len(http.get("/docs/swagger-ui-bundle.js").content) > 100_000
        # prometheus_client, imported at the first scrape, is in the bundle too.
        assert f'posbridge_info{{version="{__version__}"}} 1.0' in http.get("/metrics").text

        # Its interpreter and libraries are its own.
        assert bridge.poll() is None
        assert foreign_files(bridge.pid, bundle) == []
        mapped = Path(f"/proc/{bridge.pid}/maps").read_text()
        assert f"{bundle}/_internal/libpython" in mapped

        # The support bundle says what runs, with the libraries' versions from the bundle's
        # own metadata.
        support = frozen.cwd / "support.zip"
        frozen.run("support-bundle", "--url", url, "--output", str(support))
        with zipfile.ZipFile(support) as zf:
            versions = json.loads(zf.read("versions.json"))
            readme = zf.read("README.txt").decode()
            assert "health.json" in zf.namelist()
        assert versions["install"] == "bundle" and versions["posbridge"] == __version__
        assert versions["python_executable"] == str(frozen.exe)
        assert all(versions["libraries"].values()), versions["libraries"]
        assert "(self-contained bundle, Python 3." in readme.splitlines()[0]

    listed = frozen.run("journal", "list").stdout
    assert "invoice-123456789" in listed and "approved" in listed
    assert frozen.stop(bridge) == 0, frozen.log(bridge)
    assert "(self-contained bundle, Python" in frozen.log(bridge)


def test_devices_finds_libusb(frozen: Frozen, bundle: Path) -> None:
    """The Linux bundle runs on the system's libusb when there is one (it follows plugging
    through udev), else on libusb-package's copy, which is the only libusb it carries."""
    listed = json.loads(frozen.run("devices", "--json").stdout)
    assert listed["usb_error"] == "", listed
    if ctypes.util.find_library("usb-1.0"):
        assert listed["libusb"].endswith("(the system's)"), listed["libusb"]
        assert not listed["libusb"].startswith(str(bundle)), listed["libusb"]
    else:
        assert listed["libusb"] == (f"{bundle}/_internal/libusb_package/libusb-1.0.so "
                                    "(libusb-package's)"), listed["libusb"]
    carried = sorted(p.relative_to(bundle).as_posix()
                     for p in (bundle / "_internal").rglob("libusb*")
                     if p.is_file() and re.search(r"\.(so|dll|dylib)\b", p.name))
    assert carried == ["_internal/libusb_package/libusb-1.0.so"], carried
    assert not list(bundle.rglob("libudev*"))  # the system's, matching its udev, or none


def test_the_licences_and_the_trims(bundle: Path) -> None:
    index = (bundle / "LICENSES" / "README.txt").read_text()
    for needed in ("posbridge, MIT: posbridge/LICENSE", "Swagger UI", "Python 3.",
                   "PyInstaller", "libusb-COPYING.txt", "pyserial-LICENSE.txt"):
        assert needed in index, needed
    # Every file the index names is there, and every distribution the bundle carries has
    # its licence texts in it.
    for named in re.findall(r"(?:: |, )([\w.+-]+(?:/[\w.+-]+)+)", index):
        assert (bundle / "LICENSES" / named).is_file(), named
    internal = bundle / "_internal"
    # Each third-party package the bundle carries (by this venv's record of who installs
    # which top-level name) brought its metadata: its licences, and the version the
    # support bundle reports.
    def normal(name: str) -> str:
        return re.sub(r"[-_.]+", "_", name).lower()

    owners = packages_distributions()
    carried = {p.name.removesuffix(".pyc") for p in internal.iterdir()
               if not p.name.endswith(".dist-info")}
    infos = {normal(p.name.removesuffix(".dist-info").rsplit("-", 1)[0])
             for p in internal.glob("*.dist-info")}
    for top in sorted(carried & set(owners)):
        for dist in owners[top]:
            assert normal(dist) in infos, (top, dist, sorted(infos))
    for info in internal.glob("*.dist-info"):
        name_version = info.name.removesuffix(".dist-info")
        if name_version.startswith("posbridge-"):
            continue
        folder = next((bundle / "LICENSES").glob(f"{name_version.replace('_', '?')}"), None)
        assert folder is not None and any(folder.rglob("*")), name_version
    assert (internal / "posbridge" / "http" / "swagger_ui" / "LICENSE").is_file()
    # What the trims leave out (the tests above show that nothing the bridge runs missed it).
    for gone in ("yaml", "websockets", "watchfiles", "_tcl_data/msgs", "_tk_data/images"):
        assert not (internal / gone).exists(), gone
    assert not list(internal.rglob("readline*")) and not list(internal.rglob("_lzma*"))


@pytest.fixture
def display() -> Iterator[str]:
    with x_display() as name:
        yield name


def xdotool(display: str, *args: str) -> str:
    return subprocess.run(["xdotool", *args], check=True, capture_output=True, text=True,
                          timeout=20, env={**os.environ, "DISPLAY": display}).stdout


def read_json(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


@needs_x
def test_gui_opens_its_window(frozen: Frozen, display: str) -> None:
    port = free_port()
    settings = frozen.home / ".config" / "posbridge" / "gui.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"terminal": "simulator", "port": port,
                                    "customer_delay": 0.2}))
    state = frozen.cwd / "panel.json"
    panel = frozen.start("gui", "gui", "--autostart", DISPLAY=display,
                         POSBRIDGE_GUI_STATE=str(state))
    # The real X window, found by its title as tests/e2e/test_gui.py finds the panel's.
    title = xdotool(display, "search", "--sync", "--name", "^posbridge", "getwindowname")
    assert title.startswith("posbridge"), title
    shown = wait_for(lambda: (s := read_json(state))["terminal"].startswith("Connected")
                     and s, "the panel's listener connected", panel, frozen)
    assert shown["listener"] == f"Running on http://127.0.0.1:{port}"
    health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
    assert health["posbridge"]["install"] == "bundle"
    assert frozen.stop(panel) == 0, frozen.log(panel)


@needs_x
def test_simulator_window_draws_its_qr_code(frozen: Frozen, display: str) -> None:
    sim_port, port = free_port(), free_port()
    state = frozen.cwd / "window.json"
    window = frozen.start("simulator", "simulator", "--window", "--listen",
                          f"tcp://127.0.0.1:{sim_port}", DISPLAY=display,
                          POSBRIDGE_TERMINAL_STATE=str(state))
    bridge = frozen.start("serve", "serve", "--terminal", f"tcp://127.0.0.1:{sim_port}",
                          "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=10) as http:
        wait_for(lambda: http.get("/health").json()["terminal"]["connected"],
                 "the bridge connected to the window's terminal", bridge, frozen)
        body = {"amount": "12.50", "retrieval_reference_number": "invoice-1042",
                "condition_code": "82"}
        assert http.post("/CreatePayment", headers=HEADERS, json=body).status_code == 200
        shown = wait_for(lambda: (s := read_json(state))["qr_drawn"] and s, "the QR code",
                         window, frozen)
        assert shown["headline"] == "SGD 12.50"
        assert shown["qr"] == paynow_payload(1250, "invoice-1042")
        # A real click on the window's Pay button, and the POS sees it paid.
        x, y, w, h = shown["widgets"]["pay"]
        xdotool(display, "mousemove", "--sync", str(x + w // 2), str(y + h // 2), "click", "1")
        paid = wait_for(lambda: (q := http.post("/QueryPayment", headers=HEADERS, json={
            "retrieval_reference_number": "invoice-1042"}).json())["status"] == "approved"
            and q, "the payment approved", bridge, frozen)
        assert paid["transaction_status"] == "00"
    assert frozen.stop(window) == 0, frozen.log(window)
    assert frozen.stop(bridge) == 0, frozen.log(bridge)
