"""posbridge.about: which posbridge this is, installed package or self-contained bundle.
The bundle's side runs for real in tests/e2e/test_frozen.py; here ``sys.frozen`` (what
PyInstaller's bootloader sets) is set by hand."""

from __future__ import annotations

import subprocess
import sys

import pytest

from posbridge import __version__, about

PYTHON = "{}.{}.{}".format(*sys.version_info[:3])


def test_an_installed_package_says_so() -> None:
    assert about.install() == "package"
    assert about.describe() == {"version": __version__, "install": "package", "python": PYTHON}
    assert about.version_line() == f"posbridge {__version__} (installed package, Python {PYTHON})"


def test_the_bundle_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert about.install() == "bundle"
    assert about.describe()["install"] == "bundle"
    assert about.version_line() == (f"posbridge {__version__} (self-contained bundle, "
                                    f"Python {PYTHON})")


def test_version_option_prints_the_line() -> None:
    out = subprocess.run([sys.executable, "-m", "posbridge", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == about.version_line()


def test_system_programs_get_the_systems_library_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """In the bundle, LD_LIBRARY_PATH is the bootloader's (the bundle's own libraries):
    a program of the system gets what the PC had, or none."""
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/posbridge/_internal")
    monkeypatch.delenv("LD_LIBRARY_PATH_ORIG", raising=False)
    assert about.system_program_env()["LD_LIBRARY_PATH"] == "/opt/posbridge/_internal"

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert "LD_LIBRARY_PATH" not in about.system_program_env()
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/usr/local/lib")
    env = about.system_program_env()
    assert env["LD_LIBRARY_PATH"] == "/usr/local/lib" and "LD_LIBRARY_PATH_ORIG" not in env
