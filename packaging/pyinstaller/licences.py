"""The LICENSES folder of posbridge's bundle: the licence texts of everything it carries.

Used by posbridge.spec after PyInstaller has decided what goes in, so that the folder lists
exactly what ships: posbridge (MIT) and Swagger UI (Apache-2.0, with the licences of what it
bundles), the Python interpreter, each Python distribution whose modules are in the bundle
(its dist-info licence files, which the bundle also keeps beside its modules), the few texts
that the wheels do not carry (kept in ``licences/`` beside this file), PyInstaller's
bootloader, and on Debian and Ubuntu the copyright file of each system library the bundle
copied from the build machine. ``LICENSES/README.txt`` is the index.

Only the standard library: it runs inside PyInstaller, in the build venv.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
#: Licence files in a dist-info folder, where a wheel has no licenses/ folder.
LICENCE_NAME = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|AUTHORS)", re.IGNORECASE)
#: Texts a wheel does not carry: distribution -> files in licences/ (with what they cover).
EXTRA = {
    "pyserial": ["pyserial-LICENSE.txt"],
    "libusb-package": ["libusb-COPYING.txt"],
    "uvloop": ["libuv-LICENSE.txt"],
}


def bundled_distributions(module_names: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions that provide any of these modules (top-level names)."""
    tops = {name.split(".")[0] for name in module_names}
    owners = metadata.packages_distributions()
    names = sorted({dist for top in tops for dist in owners.get(top, [])} | {"posbridge"},
                   key=str.lower)
    return [metadata.distribution(name) for name in names]


def dist_info(dist: metadata.Distribution) -> Path:
    return Path(dist._path)  # type: ignore[attr-defined]  # what PyInstaller's copy_metadata reads


def _licence_files(dist: metadata.Distribution) -> list[tuple[Path, str]]:
    """(file, its name in the bundle's LICENSES folder): the dist-info's licenses/ folder
    (PEP 639, paths kept: httptools has vendor/llhttp/LICENSE beside its own LICENSE) and
    licence files at the top of the dist-info (older wheels)."""
    folder = dist_info(dist)
    found = [(p, p.relative_to(folder / "licenses").as_posix())
             for p in sorted((folder / "licenses").rglob("*")) if p.is_file()]
    found += [(p, p.name) for p in sorted(folder.iterdir())
              if p.is_file() and LICENCE_NAME.match(p.name)]
    return found


def _licence_of(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or []
                   if c.startswith("License ::")]
    text = (meta.get("License") or "").strip()
    if classifiers:
        return ", ".join(classifiers)
    return text.splitlines()[0] if text else "see its licence file"


def python_licence() -> Path | None:
    """CPython's LICENSE.txt: under lib/pythonX.Y on Linux and macOS, beside python.exe on
    Windows."""
    for candidate in (Path(sysconfig.get_path("stdlib")) / "LICENSE.txt",
                      Path(sys.base_prefix) / "LICENSE.txt"):
        if candidate.is_file():
            return candidate
    return None


def debian_copyrights(paths: Iterable[str]) -> dict[str, Path]:
    """Debian package -> its copyright file, for the system libraries among ``paths`` (the
    bundle's binaries as found on the build machine). Empty where dpkg is not there."""
    system = [p for p in paths if p.startswith(("/lib/", "/usr/lib/", "/lib64/", "/usr/lib64/"))]
    if not system or shutil.which("dpkg") is None:
        return {}
    found: dict[str, Path] = {}
    for path in system:
        resolved = str(Path(path).resolve())
        for candidate in dict.fromkeys([path, resolved]):
            out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if out.returncode == 0:
                package = out.stdout.split(":", 1)[0].strip()
                copyright_file = Path("/usr/share/doc") / package / "copyright"
                if copyright_file.is_file():
                    found[package] = copyright_file
                break
    return found


def write(target: Path, dists: list[metadata.Distribution], system_binaries: Iterable[str],
          pyinstaller_dist: metadata.Distribution | None) -> list[str]:
    """Fill ``target`` (the bundle's LICENSES folder) and return the index's lines."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    index = ["The licences of what this posbridge bundle carries.", "",
             "Component, version, licence: where its text is (in this folder).", ""]

    def copy(files: Iterable[Path | tuple[Path, str]], folder: str) -> str:
        names = []
        for entry in files:
            source, name = entry if isinstance(entry, tuple) else (entry, entry.name)
            (target / folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / folder / name)
            names.append(f"{folder}/{name}")
        return ", ".join(names) or "(no licence file)"

    swagger = ROOT / "src" / "posbridge" / "http" / "swagger_ui"
    index.append("posbridge, MIT: " + copy([ROOT / "LICENSE"], "posbridge"))
    index.append("Swagger UI (served at /docs), Apache-2.0, with the licences of what it "
                 "bundles: " + copy([swagger / "LICENSE", swagger / "NOTICE",
                                     swagger / "swagger-ui-bundle.js.LICENSE.txt"],
                                    "swagger-ui"))
    licence = python_licence()
    index.append(f"Python {sys.version.split()[0]} (the interpreter and its standard library), "
                 "PSF-2.0, with the licences of what it incorporates: "
                 + (copy([licence], "python") if licence else "(not found on this machine)"))
    for dist in dists:
        if dist.metadata["Name"].lower() == "posbridge":
            continue
        name, version = dist.metadata["Name"], dist.version
        files = _licence_files(dist) + [(HERE / "licences" / f, f)
                                        for f in EXTRA.get(name.lower(), [])]
        index.append(f"{name} {version}, {_licence_of(dist)}: "
                     + copy(files, f"{name}-{version}"))
    if pyinstaller_dist is not None:
        index.append(f"PyInstaller {pyinstaller_dist.version} (its bootloader starts the "
                     "bundle), GPL-2.0-or-later with an exception that lets the bootloader "
                     "ship with any program: "
                     + copy(_licence_files(pyinstaller_dist), "pyinstaller"))
    copyrights = debian_copyrights(system_binaries)
    if copyrights:
        index += ["", "System libraries copied from the build machine (Debian packages; "
                  "their copyright files):"]
        for package, path in sorted(copyrights.items()):
            shutil.copy2(path, _ensure(target / "system") / f"{package}.copyright")
            index.append(f"{package}: system/{package}.copyright")
    (target / "README.txt").write_text("\n".join(index) + "\n", encoding="utf-8")
    return index


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
