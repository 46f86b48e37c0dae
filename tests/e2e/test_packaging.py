"""What a shop gets from `pipx install .`: the sdist and wheel built from a copy of this tree,
the wheel installed into a fresh venv (pipx is a venv, pip install and the script on PATH),
and that venv's own `posbridge` serving the simulator, /health and the offline /docs page.

The copy gets the junk a working tree collects (a venv, node_modules, caches, a journal), so
the sdist check fails if packing ever starts to pick it up again. `python -m build` builds the
wheel from the sdist, so the wheel installed here also proves the sdist is complete.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from posbridge import __version__
from posbridge.http import docs
from rig import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
NAME = f"posbridge-{__version__}"
#: Left in the copy of the tree: none of it may reach the sdist.
JUNK = [
    ".venv/bin/python", "clients/typescript/node_modules/typescript/index.js",
    "clients/typescript/dist/client.js", "src/posbridge/__pycache__/cli.cpython-311.pyc",
    ".pytest_cache/v/cache/nodeids", ".mypy_cache/3.11/cli.meta.json", ".ruff_cache/x",
    ".hypothesis/examples/x", "journal.sqlite3", "journal.sqlite3-wal", "build/lib/x.py",
    "dist/old.whl", "src/posbridge.egg-info/PKG-INFO",
]
JUNK_PARTS = {".venv", "node_modules", "__pycache__", ".pytest_cache", ".mypy_cache",
              ".ruff_cache", ".hypothesis", ".git", "build", "dist", "posbridge.egg-info"}


def _run(*args: str | Path, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                            timeout=timeout, **kw)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and wheel, built from a copy of the tree with junk planted in it."""
    tmp = tmp_path_factory.mktemp("packaging")
    tree = tmp / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "__pycache__", ".*_cache", ".hypothesis",
        "build", "dist", "*.egg-info", "*.sqlite3*"))
    for junk in JUNK:
        (tree / junk).parent.mkdir(parents=True, exist_ok=True)
        (tree / junk).write_text("junk\n")
    out = tmp / "dist"
    _run(sys.executable, "-m", "build", "--outdir", out, tree)
    return out


def test_the_sdist_has_the_sources_and_no_junk(dist: Path) -> None:
    with tarfile.open(dist / f"{NAME}.tar.gz") as sdist:
        names = {n.removeprefix(f"{NAME}/") for n in sdist.getnames()}
    junk = sorted(n for n in names
                  if JUNK_PARTS & set(n.split("/")) or ".sqlite3" in n)
    assert not junk, junk
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "src/posbridge/cli.py",
                   "src/posbridge/http/swagger_ui/swagger-ui-bundle.js", "docs/operations.md",
                   "packaging/systemd/posbridge.service",
                   "packaging/macos/org.posbridge.bridge.plist", "tests/procs.py",
                   "spec/vectors/frames.json"):
        assert needed in names, needed


def test_the_wheel_has_the_package_data_and_the_script(dist: Path) -> None:
    with zipfile.ZipFile(dist / f"{NAME}-py3-none-any.whl") as wheel:
        names = set(wheel.namelist())
        entry_points = wheel.read(f"{NAME}.dist-info/entry_points.txt").decode()
        metadata = wheel.read(f"{NAME}.dist-info/METADATA").decode()
    # Everything /docs serves, and the licence that must travel with Swagger UI.
    for _path, (asset, _media) in docs._ASSETS.items():
        assert f"posbridge/http/swagger_ui/{asset}" in names, asset
    assert "posbridge/http/swagger_ui/LICENSE" in names
    assert any(n.startswith(f"{NAME}.dist-info/licenses/") for n in names)
    assert "posbridge = posbridge.cli:main" in entry_points
    assert f"Version: {__version__}" in metadata and "Requires-Dist: uvicorn" in metadata
    assert not any(n.startswith(("tests/", "src/", "docs/")) for n in names), sorted(names)


@pytest.fixture(scope="module")
def venv(dist: Path) -> Path:
    """A fresh venv with only the built wheel (and its dependencies) installed: pipx's way."""
    venv = dist.parent / "venv"
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", dist / f"{NAME}-py3-none-any.whl", timeout=300)
    return venv


def _clean_env() -> dict[str, str]:
    """No PYTHONPATH or outer venv leaking this checkout's sources into the installed one."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_the_installed_script_is_the_installed_package(venv: Path, tmp_path: Path) -> None:
    posbridge = venv / "bin" / "posbridge"
    version = _run(posbridge, "--version", env=_clean_env(), cwd=tmp_path)
    python = "{}.{}.{}".format(*sys.version_info[:3])
    assert version.stdout.strip() == f"posbridge {__version__} (installed package, Python {python})"
    where = _run(venv / "bin" / "python", "-c", "import posbridge; print(posbridge.__file__)",
                 env=_clean_env(), cwd=tmp_path).stdout.strip()
    assert Path(where).is_relative_to(venv), where


def test_the_installed_bridge_serves_health_and_docs(venv: Path, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    journal = tmp_path / "journal.sqlite3"
    log = tmp_path / "bridge.log"
    with open(log, "wb") as out:
        bridge = subprocess.Popen(
            [venv / "bin" / "posbridge", "serve", "--terminal", "simulator", "--port", str(port),
             "--journal", journal, "--customer-delay", "0.2"],
            stdout=out, stderr=subprocess.STDOUT, env=_clean_env(), cwd=tmp_path)
    try:
        with httpx.Client(timeout=5) as http:
            health = _wait_connected(http, url, bridge, log)
            assert health["terminal"]["connected"] is True
            assert health["posbridge"]["install"] == "package"  # not the self-contained bundle
            page = http.get(url + "/docs")
            assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
            bundle = http.get(url + "/docs/swagger-ui-bundle.js")
            assert bundle.status_code == 200 and len(bundle.content) > 100_000
            # And it takes a (simulated) payment into the journal it was given.
            headers = {"x-api-version": "v1"}
            created = http.post(url + "/CreatePayment", headers=headers, json={
                "amount": "1.00", "retrieval_reference_number": "pkg-1", "condition_code": "82"})
            assert created.status_code == 200, created.text
            deadline = time.monotonic() + 10
            while True:
                status = http.post(url + "/QueryPayment", headers=headers,
                                   json={"retrieval_reference_number": "pkg-1"}).json()["status"]
                if status == "approved" or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert status == "approved"
        assert journal.exists()
    finally:
        bridge.send_signal(signal.SIGTERM)
        try:
            code = bridge.wait(15)
        except subprocess.TimeoutExpired:
            bridge.kill()
            raise
    # SIGTERM (how systemd stops a service) is a clean stop: exit status 0.
    assert code == 0, log.read_text()
    assert "Finished server process" in log.read_text()


def _wait_connected(http: httpx.Client, url: str, bridge: subprocess.Popen[bytes],
                    log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert bridge.poll() is None, log.read_text()
        try:
            health: dict[str, Any] = http.get(url + "/health", timeout=1).json()
        except httpx.TransportError:
            health = {}
        if health.get("terminal", {}).get("connected"):
            return health
        time.sleep(0.1)
    raise AssertionError(f"the installed bridge never connected:\n{log.read_text()}")

