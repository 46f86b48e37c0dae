"""Which posbridge this is: its version, and whether it runs as the self-contained bundle
(``make bundle``: PyInstaller, its own interpreter, no Python needed on the PC) or as an
installed Python package (pipx, pip). ``posbridge --version``, ``GET /health``, the serve
log and the support bundle all say it, so that a help desk knows what a shop runs.
"""

from __future__ import annotations

import os
import sys

from . import __version__

#: ``install`` in /health and the support bundle.
BUNDLE = "bundle"
PACKAGE = "package"
_SAID = {BUNDLE: "self-contained bundle", PACKAGE: "installed package"}


def install() -> str:
    """``bundle`` in the PyInstaller bundle (it sets ``sys.frozen``), else ``package``."""
    return BUNDLE if getattr(sys, "frozen", False) else PACKAGE


def python_version() -> str:
    return "{}.{}.{}".format(*sys.version_info[:3])


def describe() -> dict[str, str]:
    """The version, how it is installed and its Python, as /health shows them."""
    return {"version": __version__, "install": install(), "python": python_version()}


def version_line() -> str:
    """``posbridge 0.1.0 (self-contained bundle, Python 3.11.7)``: what --version prints."""
    return f"posbridge {__version__} ({_SAID[install()]}, Python {python_version()})"


def system_program_env() -> dict[str, str]:
    """The environment for a program of the system that posbridge starts (``xdg-open``).

    On Linux the bundle's launcher points LD_LIBRARY_PATH at the bundle's own libraries
    (keeping what it was in LD_LIBRARY_PATH_ORIG): a file manager started with it would load
    the bundle's copies of libX11 or fontconfig instead of its own. Outside the bundle this
    is the environment as it is."""
    env = dict(os.environ)
    if install() == BUNDLE and "LD_LIBRARY_PATH" in env:
        original = env.pop("LD_LIBRARY_PATH_ORIG", None)
        if original is None:
            del env["LD_LIBRARY_PATH"]
        else:
            env["LD_LIBRARY_PATH"] = original
    return env
