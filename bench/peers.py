"""The bridge beside the peer a shop would otherwise run: pywebdriver (Odoo's hardware proxy,
Flask on Werkzeug), measured in one run on the same machine.

    .venv/bin/python bench/peers.py --pywebdriver DIR [--duration 5] [--idle-seconds 30]

DIR is a local checkout of https://github.com/akretion/pywebdriver (never vendored here).
The script makes a scratch virtual environment in a temporary directory, installs what
pywebdriver's web side needs from PyPI with pip (Flask, Flask-Babel, Flask-Cors), and runs
its ``pywebdriverd`` with only the ``odoo8`` driver (no printer or terminal hardware), on
127.0.0.1. Without ``--pywebdriver`` (or with a DIR that is not a checkout) it prints a
note and exits 0.

Both servers answer a polled JSON POST: the bridge ``/QueryPayment`` of a payment in its
journal, pywebdriver ``/hw_proxy/status_json`` (what Odoo's POS polls). Measured for each:
start to first answer, idle RSS, idle CPU over ``--idle-seconds`` (ticks from
/proc/PID/stat), then requests per second and latency (p50, p99, the slowest) at 1 and 64
connections with one load generator for both (this file run as ``peers.py loadgen``, a
separate process on CPU 1): it keeps a connection while the server does (the bridge) and
connects again after each answer when the server closes it (Werkzeug's development server
answers Connection: close), as any client of each must. Prints figures side by side;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from baselines import content_length
from bench import (
    CLIENT_CPU,
    HOST,
    SERVER_CPU,
    Processes,
    byte_compile_posbridge,
    call,
    cpu_seconds,
    free_port,
    http_request,
    percentile,
    proc_status,
)

HERE = Path(__file__).resolve().parent
STATUS_BODY = {"jsonrpc": "2.0", "method": "call", "params": {}}
PYWEBDRIVER_PACKAGES = ["Flask", "Flask-Babel", "Flask-Cors"]

SHIM = """\
import pip

if not hasattr(pip, "get_installed_distributions"):
    def get_installed_distributions():
        import importlib.metadata
        return list(importlib.metadata.distributions())

    pip.get_installed_distributions = get_installed_distributions
"""

CONFIG = """\
[localization]
locale=fr

[flask]
host=127.0.0.1
port={port}
cors_origins=*
debug=false

[application]
print_status_start=false
drivers=odoo8
"""


def pywebdriver_checkout(path: str | None) -> Path | None:
    if not path:
        return None
    root = Path(path)
    return root if (root / "pywebdriverd").is_file() and (root / "pywebdriver").is_dir() else None


def make_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PYWEBDRIVER_PACKAGES],
                   check=True)
    # pywebdriver's views import pip.get_installed_distributions, gone since pip 10 (its
    # own requirements ask for pip>=10): given back in the scratch venv only, without
    # touching the checkout.
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "sitecustomize.py").write_text(SHIM)
    return python


def answers(port: int, path: str, body: dict[str, Any]) -> bool:
    """Whether the server answers at all (the bridge's query is a 404 until the payment
    exists: an answer all the same)."""
    status, _ = call(port, "POST", path, body, timeout=0.5)
    return status != 0


class Peer:
    def __init__(self, name: str, argv: list[str], port: int, path: str,
                 body: dict[str, Any], cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.name, self.argv, self.port, self.path, self.body = name, argv, port, path, body
        self.cwd, self.env = cwd, env

    def ready(self) -> bool:
        return answers(self.port, self.path, self.body)


def start(procs: Processes, peer: Peer) -> tuple[subprocess.Popen[bytes], float]:
    """Start ``peer`` and wait for its first answer; (process, seconds)."""
    t0 = time.perf_counter()
    pin = procs.pin

    def on_server_cpu() -> None:
        if pin:
            os.sched_setaffinity(0, {SERVER_CPU})

    proc = subprocess.Popen(peer.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=peer.cwd, env=peer.env,
                            start_new_session=True, preexec_fn=on_server_cpu)
    procs.procs.append(proc)
    deadline = t0 + 60
    while not peer.ready():
        if proc.poll() is not None or time.perf_counter() > deadline:
            raise SystemExit(f"peers: {peer.name} did not start (status {proc.poll()})")
        time.sleep(0.005)
    return proc, time.perf_counter() - t0


async def _client(port: int, request: bytes, stop_at: float, latencies: list[float],
                  errors: list[int]) -> None:
    """One connection slot: requests one after another, on the same connection while the
    server keeps it open (the bridge), on a new one after each answer when it closes
    (Werkzeug's development server says Connection: close). A latency includes the
    connect when there is one, as any client of that server pays it."""
    reader = writer = None
    while time.perf_counter() < stop_at:
        t0 = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            assert reader is not None
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(content_length(head[:-4]))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            errors.append(1)
            writer = None
            continue
        latencies.append(time.perf_counter() - t0)
        if b"onnection: close" in head or not head.startswith(b"HTTP/1.1 200"):
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _flood(port: int, request: bytes, conns: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[int] = []
    stop_at = time.perf_counter() + duration
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, request, stop_at, latencies, errors)
                           for _ in range(conns)))
    return {"seconds": time.perf_counter() - t0, "errors": len(errors),
            "latencies": latencies}


def loadgen_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="peers.py loadgen")
    for name in ("--port", "--connections"):
        parser.add_argument(name, type=int, required=True)
    for name in ("--path", "--body", "--out"):
        parser.add_argument(name, required=True)
    parser.add_argument("--duration", type=float, required=True)
    args = parser.parse_args(argv)
    request = http_request(args.path, json.loads(args.body))
    import uvloop

    result = uvloop.run(_flood(args.port, request, args.connections, args.duration))
    Path(args.out).write_text(json.dumps(result))
    return 0


def flood(procs: Processes, workdir: Path, peer: Peer, conns: int,
          duration: float) -> dict[str, float]:
    out = workdir / "loadgen.json"
    out.unlink(missing_ok=True)
    argv = [sys.executable, str(Path(__file__).resolve()), "loadgen", "--port",
            str(peer.port), "--out", str(out), "--connections", str(conns), "--duration",
            str(duration), "--path", peer.path, "--body", json.dumps(peer.body)]
    proc = procs.spawn("loadgen", argv, CLIENT_CPU)
    proc.wait(duration + 120)
    run = json.loads(out.read_text())
    lat = sorted(run.pop("latencies"))
    return {"rps": len(lat) / run["seconds"], "p50_ms": percentile(lat, 0.5) * 1000,
            "p99_ms": percentile(lat, 0.99) * 1000, "max_ms": lat[-1] * 1000 if lat else 0,
            "errors": run["errors"]}


def main(argv: list[str]) -> int:
    if argv[:1] == ["loadgen"]:
        return loadgen_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pywebdriver", metavar="DIR", help="a checkout of pywebdriver")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    checkout = pywebdriver_checkout(args.pywebdriver)
    byte_compile_posbridge()
    if checkout is None:
        print("peers: pywebdriver skipped: give --pywebdriver DIR, a checkout of "
              "https://github.com/akretion/pywebdriver (with pywebdriverd in it)")
        return 0
    with tempfile.TemporaryDirectory(prefix="posbridge-peers-") as tmp:
        work = Path(tmp)
        print("peers: installing pywebdriver's web dependencies into a scratch venv",
              file=sys.stderr, flush=True)
        python = make_venv(work / "venv")
        pwd_port, bridge_port = free_port(), free_port()
        (work / "config.ini").write_text(CONFIG.format(port=pwd_port))
        journal = work / "journal.sqlite3"
        peers = [
            Peer("posbridge", [sys.executable, "-m", "posbridge", "serve", "--terminal",
                               "simulator", "--customer-delay", "0", "--port",
                               str(bridge_port), "--journal", str(journal), "--log-level",
                               "warning"], bridge_port, "/QueryPayment",
                 {"retrieval_reference_number": "peers-query"}),
            Peer("pywebdriver", [str(python), str(checkout / "pywebdriverd")], pwd_port,
                 "/hw_proxy/status_json", STATUS_BODY, cwd=work,
                 env={"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"}),
        ]
        procs = Processes(work, pin={SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0))
        results: dict[str, dict[str, Any]] = {p.name: {} for p in peers}
        try:
            running = {}
            for peer in peers:
                proc, started = start(procs, peer)
                running[peer.name] = proc
                results[peer.name]["start_ms"] = started * 1000
            # The bridge's query answers 200 only for a payment it has.
            call(bridge_port, "POST", "/CreatePayment", {
                "amount": "1.00", "retrieval_reference_number": "peers-query",
                "condition_code": "82"})
            time.sleep(2.0)
            before = {n: cpu_seconds(p.pid) for n, p in running.items()}
            t0 = time.monotonic()
            time.sleep(args.idle_seconds)
            wall = time.monotonic() - t0
            for name, proc in running.items():
                results[name]["idle_cpu"] = (cpu_seconds(proc.pid) - before[name]) / wall
                results[name]["idle_rss_mib"] = proc_status(proc.pid).get("VmRSS", 0) / 1024
            for conns in (1, 64):
                for peer in peers:
                    results[peer.name][f"@{conns}"] = flood(procs, work, peer, conns,
                                                            args.duration)
        finally:
            procs.stop_all()
    print(f"posbridge beside pywebdriver (one run; servers on CPU {SERVER_CPU}, load "
          f"generator on CPU {CLIENT_CPU}; host {HOST})")
    print(f"  {'':<12}{'start ms':>9}{'idle RSS':>10}{'idle CPU':>10}"
          f"{'req/s @1':>10}{'p99/max @1':>14}{'req/s @64':>11}{'p99/max @64':>15}")
    for name, r in results.items():
        one, many = r["@1"], r["@64"]
        print(f"  {name:<12}{r['start_ms']:>9.0f}{r['idle_rss_mib']:>9.1f}M"
              f"{r['idle_cpu']:>10.3%}{one['rps']:>10.0f}"
              f"{one['p99_ms']:>7.1f}/{one['max_ms']:<6.1f}{many['rps']:>11.0f}"
              f"{many['p99_ms']:>7.1f}/{many['max_ms']:<7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
