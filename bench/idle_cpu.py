"""Idle CPU: what a bridge nobody uses costs, read from /proc/PID/stat (utime + stime).

    .venv/bin/python bench/idle_cpu.py [--seconds 60] [--json FILE]

Starts, side by side and idle for the same window: ``posbridge serve --terminal simulator``
(the in-process simulator), ``posbridge serve`` over TCP to a separate ``posbridge
simulator``, that simulator process, and bare Starlette on uvicorn (bench/baselines.py) for
scale. Each is waited for (the bridges until /health says the terminal is connected), left
to settle, then its CPU ticks are read at the start and at the end of the window. Prints
each process's share of one core beside the target (0.05% for the bridges). A script that
prints figures, never a timed test: the machine may be shared, and the figure of an idle
process is the one least disturbed by that (it counts only its own ticks).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
TARGET_IDLE_CPU = 0.0005  # share of one core, for each bridge
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (all held open while chosen, so none is given twice)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((HOST, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def get(port: int, path: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        conn.request("GET", path, headers={"x-api-version": "v1"})
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    except (OSError, http.client.HTTPException, ValueError):
        return 0, None
    finally:
        conn.close()


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
        return True
    return False


def bridge_connected(port: int) -> bool:
    status, body = get(port, "/health")
    return status == 200 and bool(body["terminal"]["connected"])


def wait_until(proc: subprocess.Popen[bytes], check: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            raise SystemExit(f"idle_cpu: {what} exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"idle_cpu: {what} not ready within {timeout:g} s")
        time.sleep(0.05)


def measure(seconds: float, settle: float = 3.0) -> dict[str, dict[str, float]]:
    """Start the four processes, wait, settle, and return each one's ticks and share."""
    py = sys.executable
    sim_port, tcp_port, inproc_port, star_port = free_ports(4)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="posbridge-idle-") as tmp:
        def spawn(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
            log = open(Path(tmp) / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            procs[name] = proc
            return proc

        serve = [py, "-m", "posbridge", "serve", "--log-level", "warning"]
        try:
            sim = spawn("simulator", [py, "-m", "posbridge", "simulator", "--listen",
                                      f"tcp://{HOST}:{sim_port}", "--log-level", "warning"])
            wait_until(sim, lambda: port_open(sim_port), "the simulator")
            tcp = spawn("bridge (TCP terminal)", [
                *serve, "--terminal", f"tcp://{HOST}:{sim_port}", "--port", str(tcp_port),
                "--journal", f"{tmp}/tcp.sqlite3"])
            inproc = spawn("bridge (in-process simulator)", [
                *serve, "--terminal", "simulator", "--port", str(inproc_port),
                "--journal", f"{tmp}/inproc.sqlite3"])
            star = spawn("bare Starlette", [py, str(HERE / "baselines.py"), "starlette",
                                            "--port", str(star_port)])
            wait_until(tcp, lambda: bridge_connected(tcp_port), "the TCP bridge")
            wait_until(inproc, lambda: bridge_connected(inproc_port), "the in-process bridge")
            wait_until(star, lambda: port_open(star_port), "bare Starlette")
            time.sleep(settle)  # start-up work (imports, first recovery pass) is not idling
            before = {name: cpu_ticks(p.pid) for name, p in procs.items()}
            t0 = time.monotonic()
            time.sleep(seconds)
            after = {name: cpu_ticks(p.pid) for name, p in procs.items()}
            wall = time.monotonic() - t0
            for name, proc in procs.items():
                if proc.poll() is not None:
                    raise SystemExit(f"idle_cpu: {name} exited during the window")
        finally:
            for proc in procs.values():
                proc.terminate()
            for proc in procs.values():
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    return {name: {"ticks": after[name] - before[name], "seconds": wall,
                   "share": (after[name] - before[name]) / CLK_TCK / wall}
            for name in procs}


def report(results: dict[str, dict[str, float]]) -> str:
    lines = [f"Idle CPU over {next(iter(results.values()))['seconds']:.0f} s "
             f"(utime+stime from /proc/PID/stat, {CLK_TCK} ticks/s; target for the bridges: "
             f"at most {TARGET_IDLE_CPU:.2%} of one core)"]
    for name, r in results.items():
        verdict = ""
        if name.startswith("bridge"):
            verdict = "PASS" if r["share"] <= TARGET_IDLE_CPU else "MISS"
        lines.append(f"  {name:<32}{r['ticks']:>5.0f} ticks {r['share']:>8.3%} of a core  "
                     f"{verdict}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="length of the idle window (default 60)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args(argv)
    results = measure(args.seconds)
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
