"""Start to first answer: the self-contained bundle beside the installed package.

    make bundle && .venv/bin/python bench/bundle_start.py [--bundle DIR ...] [--starts 11]

Runs ``posbridge serve --terminal simulator`` from the bundle (dist/posbridge/posbridge) and
from the installed package (this venv's ``posbridge`` script, byte-compiled as pip leaves
it), interleaved, each start in the same clean environment (a fresh HOME, the system's PATH)
on a journal that already holds the reference queried. For each start: the time from
Popen to the first answer of QueryPayment (200) and to /health saying the terminal is
connected, the CPU the process used to get there, and its resident memory then; also the
time ``posbridge --version`` takes (the bundle's launcher and interpreter start, no bridge).
Prints the median and the fastest of each, and bundle / package. A script that prints
figures, never a timed test: the machine may be shared (CPU time moves least with that).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import byte_compile_posbridge, call, cpu_seconds, free_port, proc_status

ROOT = Path(__file__).resolve().parent.parent
REF = "bench-start"


def clean_env(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "PATH": "/usr/bin:/bin"}


def serve(exe: list[str], port: int, journal: Path, home: Path, log: Path
          ) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [*exe, "serve", "--terminal", "simulator", "--port", str(port), "--journal",
             str(journal), "--customer-delay", "0", "--log-level", "warning"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=clean_env(home))


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait(check: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path,
         timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the bridge did not answer:\n{log.read_text(errors='replace')}")
        time.sleep(0.002)


def prepare(exe: list[str], journal: Path, home: Path, log: Path) -> None:
    """A journal holding REF, approved, so that every timed QueryPayment answers 200."""
    port = free_port()
    proc = serve(exe, port, journal, home, log)
    try:
        wait(lambda: call(port, "GET", "/health", timeout=0.5)[0] == 200, proc, log)
        status, body = call(port, "POST", "/CreatePayment", {
            "amount": "1.00", "retrieval_reference_number": REF, "condition_code": "82"})
        if status != 200:
            raise SystemExit(f"CreatePayment: HTTP {status}: {body}")
        wait(lambda: (call(port, "POST", "/QueryPayment",
                           {"retrieval_reference_number": REF})[1] or {}).get("status")
             == "approved", proc, log)
    finally:
        stop(proc)


def one_start(exe: list[str], journal: Path, home: Path, log: Path) -> dict[str, float]:
    port = free_port()
    t0 = time.perf_counter()
    proc = serve(exe, port, journal, home, log)
    got: dict[str, float] = {}

    def both() -> bool:
        if "query" not in got and call(port, "POST", "/QueryPayment",
                                       {"retrieval_reference_number": REF},
                                       timeout=0.5)[0] == 200:
            got["query"] = time.perf_counter() - t0
            got["cpu"] = cpu_seconds(proc.pid)
            got["rss"] = proc_status(proc.pid).get("VmRSS", 0) / 1024
        if "health" not in got:
            status, body = call(port, "GET", "/health", timeout=0.5)
            if status == 200 and body["terminal"]["connected"]:
                got["health"] = time.perf_counter() - t0
        return len(got) == 4

    try:
        wait(both, proc, log)
    finally:
        stop(proc)
    return got


def version_time(exe: list[str], home: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([*exe, "--version"], check=True, capture_output=True, env=clean_env(home))
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, action="append",
                        help="a bundle's folder (default dist/posbridge: make bundle); give "
                        "it more than once to compare bundles (POSBRIDGE_BUNDLE_PYZ=1 builds "
                        "the other layout)")
    parser.add_argument("--package", default=str(Path(sys.executable).parent / "posbridge"),
                        help="the installed package's posbridge script (default this venv's)")
    parser.add_argument("--starts", type=int, default=11)
    args = parser.parse_args()
    kinds: dict[str, list[str]] = {}
    for n, folder in enumerate(args.bundle or [ROOT / "dist" / "posbridge"]):
        exe = folder / "posbridge"
        if not exe.is_file():
            raise SystemExit(f"no bundle at {folder}: run `make bundle` first")
        kinds["bundle" if n == 0 else f"bundle {n + 1}"] = [str(exe)]
    kinds["package"] = [args.package]
    byte_compile_posbridge()
    results: dict[str, dict[str, list[float]]] = {k: {} for k in kinds}
    with tempfile.TemporaryDirectory(prefix="bundle-start-") as tmp:
        work = Path(tmp)
        for kind, command in kinds.items():
            (work / kind).mkdir()
            prepare(command, work / kind / "journal.sqlite3", work / kind, work / f"{kind}.log")
        for _ in range(args.starts):
            for kind, command in kinds.items():
                start = one_start(command, work / kind / "journal.sqlite3", work / kind,
                                  work / f"{kind}.log")
                start["version"] = version_time(command, work / kind)
                for key, value in start.items():
                    results[kind].setdefault(key, []).append(value)
    versions = {kind: subprocess.run([*command, "--version"], capture_output=True, text=True,
                                     check=True).stdout.strip()
                for kind, command in kinds.items()}
    print(f"{args.starts} starts of each, interleaved; median (fastest), and the median's "
          "ratio to the package's")
    for kind, command in kinds.items():
        print(f"  {kind}: {versions[kind]} ({command[0]})")
    rows = [("first QueryPayment (200), ms", "query", 1000),
            ("/health connected, ms", "health", 1000),
            ("CPU to the first answer, ms", "cpu", 1000),
            ("resident memory then, MiB", "rss", 1),
            ("posbridge --version, ms", "version", 1000)]
    print(f"{'':30}" + "".join(f"{kind:>24}" for kind in kinds))
    for label, key, scale in rows:
        package = statistics.median(results["package"][key]) * scale
        cells = []
        for kind in kinds:
            values = [v * scale for v in results[kind][key]]
            median = statistics.median(values)
            ratio = f" {median / package:4.2f}x" if kind != "package" else ""
            cells.append(f"{median:7.1f} ({min(values):6.1f}){ratio}")
        print(f"{label:30}" + "".join(f"{cell:>24}" for cell in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
