"""The bundle's size, and what each trim buys.

    .venv/bin/python bench/bundle_size.py [--top 15]

Builds the bundle (``make bundle``, into a temporary folder) once with no trim, then adding
the trims of packaging/pyinstaller/posbridge.spec one at a time in the order below, and
once more in PyInstaller's default layout (modules zlib-compressed inside the executable)
with every trim. For each build: the folder's size on disk, its number of files, and its
size zipped (deflate, level 9: what a shop downloads). Then the largest parts of the bundle
that ships. Takes a few minutes: each build is a full PyInstaller run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Cumulative, in this order: strip first, so that each later trim is counted at the size
#: it has in the bundle that ships.
ORDER = ["strip", "uvicorn-extras", "dev", "stdlib", "encodings", "tcl"]
MIB = 1024 * 1024


def build(out: Path, trims: list[str], pyz: bool = False) -> Path:
    env = {**os.environ, "POSBRIDGE_BUNDLE_TRIMS": ",".join(trims)}
    if pyz:
        env["POSBRIDGE_BUNDLE_PYZ"] = "1"
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "bundle", f"BUNDLE_DIST={out}",
         f"BUNDLE_WORK={out.parent / (out.name + '-work')}"],
        env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"make bundle failed:\n{result.stdout}\n{result.stderr}")
    return out / "posbridge"


def files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in files(folder))


def zipped(folder: Path, target: Path) -> int:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for p in sorted(files(folder)):
            zf.write(p, p.relative_to(folder.parent))
    size = target.stat().st_size
    target.unlink()
    return size


def parts(folder: Path) -> dict[str, int]:
    """Size by top entry of _internal (a package folder, a library), plus the executable
    and LICENSES; the standard library's .pyc files together."""
    out: dict[str, int] = {}
    internal = folder / "_internal"
    for p in files(folder):
        rel = p.relative_to(folder)
        if rel.parts[0] != "_internal":
            key = f"{rel.parts[0]} (beside _internal)"  # the executable, LICENSES
        elif (len(rel.parts) == 2 and p.suffix == ".pyc") or rel.parts[1] == "base_library.zip":
            key = "the standard library's top modules (.pyc)"
        elif (internal / rel.parts[1]).is_dir() and rel.parts[1].endswith(".dist-info"):
            key = "dist-info metadata (all)"
        else:
            key = rel.parts[1]
        out[key] = out.get(key, 0) + p.stat().st_size
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=15, help="largest parts to list")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bundle-size-") as tmp:
        work = Path(tmp)
        steps = [("no trim", [])] + [(f"+ {t}", ORDER[:i + 1]) for i, t in enumerate(ORDER)]
        final = None
        for n, (label, trims) in enumerate(steps):
            print(f"building: {label} ...", file=sys.stderr, flush=True)
            folder = build(work / f"b{n}", trims)
            rows.append((label, size(folder), len(files(folder)),
                         zipped(folder, work / "z.zip")))
            final = folder
        print("building: every trim, modules inside the executable (PYZ) ...", file=sys.stderr,
              flush=True)
        pyz = build(work / "pyz", ORDER, pyz=True)
        pyz_row = ("every trim, PYZ layout", size(pyz), len(files(pyz)),
                   zipped(pyz, work / "z.zip"))
        assert final is not None
        top = sorted(parts(final).items(), key=lambda kv: -kv[1])[:args.top]
        total = rows[-1][1]

    print(f"{'build':32} {'on disk, MiB':>13} {'bought, MiB':>12} {'files':>6} "
          f"{'zipped, MiB':>12}")
    previous = None
    for label, on_disk, count, zsize in rows:
        bought = "" if previous is None else f"{(previous - on_disk) / MIB:12.2f}"
        print(f"{label:32} {on_disk / MIB:13.2f} {bought:>12} {count:6d} {zsize / MIB:12.2f}")
        previous = on_disk
    label, on_disk, count, zsize = pyz_row
    print(f"{label:32} {on_disk / MIB:13.2f} {'':>12} {count:6d} {zsize / MIB:12.2f}")
    print(f"\nthe largest parts of the bundle that ships ({total / MIB:.1f} MiB):")
    for name, part in top:
        print(f"  {part / MIB:7.2f} MiB  {100 * part / total:4.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
