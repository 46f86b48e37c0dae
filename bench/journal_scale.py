"""Scale: the bridge and the journal tools on an empty journal and on one of N payments.

    .venv/bin/python bench/journal_scale.py [--size 1000000] [--requests 500] [--json FILE]

For each journal size (0 and ``--size``) it builds a journal quickly (the schema through
``Journal``, then the payments and their histories with ``executemany`` in one
transaction), then measures in real processes:

* ``posbridge journal export --csv`` to /dev/null: wall time and peak memory (the child's
  ru_maxrss from wait4), against the targets (under 10 s, under 150 MB at 1,000,000);
* ``posbridge journal list --limit -1`` and ``show`` the same way;
* ``posbridge serve --terminal simulator --customer-delay 0`` on that journal: time from
  start to the first QueryPayment answer, idle memory, then QueryPayment latency (of a
  payment in the journal, one client, keep-alive) and CreatePayment latency (a new
  reference each time; the in-process simulator approves at once).

So growth with the journal's size is visible side by side. A script that prints figures,
never a timed test. The journal has the current schema (``Journal`` makes it); the rows fill
the columns every schema version has, and later columns (origin, kind, resolved_by) take
their defaults, which is what a journal migrated from an old bridge holds. No refunds or
receipts: their tables are keyed by payment and read only for the payment asked for.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import byte_compile_posbridge

HOST = "127.0.0.1"
HEADERS = {"x-api-version": "v1", "content-type": "application/json"}
TARGET_EXPORT_S = 10.0
TARGET_EXPORT_MB = 150.0
STATUSES = ("approved",) * 8 + ("declined", "cancelled")


def build_journal(path: Path, size: int) -> float:
    """A journal of ``size`` payments, each with two events; returns seconds taken."""
    from posbridge.journal import Journal

    t0 = time.perf_counter()
    Journal(path).close()  # the schema, as the bridge makes it
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    base = 1_700_000_000.0

    def stamp(i: int) -> str:
        t = time.gmtime(base + i)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{i % 1000:03d}+00:00"

    def payments() -> Any:
        for i in range(size):
            status = STATUSES[i % len(STATUSES)]
            at = stamp(i)
            yield (f"scale-{i:07d}", f"{1 + i % 500}.{i % 100:02d}", (1 + i % 500) * 100
                   + i % 100, "82", status, "00" if status == "approved" else "05",
                   f"T{i:013d}", i // 1000 + 1 if status == "approved" else None, at, at)

    db.executemany("INSERT INTO payments (ref, amount, amount_minor, condition_code, status, "
                   "response_code, transaction_id, batch_number, created_at, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", payments())

    def events() -> Any:
        for i in range(size):
            at = stamp(i)
            yield (f"scale-{i:07d}", at, None, "received", "")
            yield (f"scale-{i:07d}", at, "received", STATUSES[i % len(STATUSES)],
                   "reported by the terminal")

    db.executemany("INSERT INTO events (ref, at, from_status, to_status, detail) "
                   "VALUES (?, ?, ?, ?, ?)", events())
    db.execute("COMMIT")
    db.close()
    return time.perf_counter() - t0


def timed_child(argv: list[str]) -> dict[str, float]:
    """Run ``argv`` to its end with stdout to /dev/null: seconds and peak RSS in MB."""
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(argv, stdout=null, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"journal_scale: {argv[3:]} failed ({proc.returncode}): {err}")
    if proc.stderr:
        proc.stderr.close()
    # ru_maxrss is in KiB on Linux. CPU seconds as well as wall: on a shared machine the
    # wall time says as much about the others as about this command.
    return {"seconds": elapsed, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss * 1024 / 1e6}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def post(conn: http.client.HTTPConnection, path: str, body: dict[str, str]) -> tuple[int, Any]:
    conn.request("POST", path, body=json.dumps(body), headers=HEADERS)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def bridge_figures(path: Path, existing: str | None, requests: int) -> dict[str, float]:
    port = free_port()
    argv = [sys.executable, "-m", "posbridge", "serve", "--terminal", "simulator",
            "--customer-delay", "0", "--port", str(port), "--journal", str(path),
            "--log-level", "warning"]
    ref = existing or "scale-first"
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        started: float | None = None
        start_cpu = 0.0
        while started is None:
            if proc.poll() is not None:
                raise SystemExit(f"journal_scale: the bridge exited ({proc.returncode})")
            if time.perf_counter() - t0 > 60:
                raise SystemExit("journal_scale: the bridge did not answer within 60 s")
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=2)
                status, _ = post(conn, "/QueryPayment", {"retrieval_reference_number": ref})
                conn.close()
                if status in (200, 404):
                    started = time.perf_counter() - t0
                    start_cpu = cpu_seconds(proc.pid)
            except OSError:
                time.sleep(0.005)
        time.sleep(1.0)
        idle = rss_mib(proc.pid)
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        create: list[float] = []
        for i in range(requests // 5):
            t = time.perf_counter()
            status, body = post(conn, "/CreatePayment", {
                "amount": "1.00", "retrieval_reference_number": f"scale-new-{i}",
                "condition_code": "82"})
            create.append(time.perf_counter() - t)
            if status != 200:
                raise SystemExit(f"journal_scale: CreatePayment: {status} {body}")
            # One payment at a time: wait until the terminal is done with this one.
            while body.get("status") not in ("approved", "declined"):
                status, body = post(conn, "/QueryPayment",
                                    {"retrieval_reference_number": f"scale-new-{i}"})
        if existing is None:
            ref = "scale-new-0"
        query: list[float] = []
        for _ in range(requests):
            t = time.perf_counter()
            status, _ = post(conn, "/QueryPayment", {"retrieval_reference_number": ref})
            query.append(time.perf_counter() - t)
            if status != 200:
                raise SystemExit(f"journal_scale: QueryPayment: {status}")
        conn.close()
    finally:
        proc.terminate()
        proc.wait(10)
    query.sort()
    create.sort()
    return {"start_s": started, "start_cpu_s": start_cpu, "idle_rss_mib": idle,
            "query_p50_ms": statistics.median(query) * 1e3,
            "query_p99_ms": query[int(len(query) * 0.99) - 1] * 1e3,
            "create_p50_ms": statistics.median(create) * 1e3,
            "create_max_ms": create[-1] * 1e3}


def measure(size: int, requests: int, tmp: Path) -> dict[str, Any]:
    path = tmp / f"journal-{size}.sqlite3"
    built = build_journal(path, size)
    py = [sys.executable, "-m", "posbridge", "journal", "--journal", str(path)]
    figures: dict[str, Any] = {"size": size, "build_s": built,
                               "file_mb": path.stat().st_size / 1e6}
    figures["export"] = timed_child([*py, "export", "--csv"])
    figures["list_all"] = timed_child([*py, "list", "--limit", "-1"])
    figures["show"] = timed_child([*py, "show", f"scale-{size // 2:07d}"]) if size else None
    figures["bridge"] = bridge_figures(path, f"scale-{size // 2:07d}" if size else None,
                                       requests)
    return figures


def report(results: list[dict[str, Any]]) -> str:
    lines = ["Scale (one run; figures at each journal size side by side; s = wall / CPU)",
             f"  {'payments':>10}{'export s':>14}{'export MB':>11}{'list all s':>14}"
             f"{'list MB':>9}{'start ms':>12}{'idle MiB':>10}{'Query p50/p99 ms':>18}"
             f"{'Create p50/max ms':>19}"]
    for r in results:
        b, e, a = r["bridge"], r["export"], r["list_all"]
        lines.append(
            f"  {r['size']:>10,}{e['seconds']:>8.2f} / {e['cpu_s']:<5.2f}{e['peak_mb']:>9.1f}"
            f"{a['seconds']:>8.2f} / {a['cpu_s']:<5.2f}{a['peak_mb']:>7.1f}"
            f"{b['start_s'] * 1e3:>6.0f} / {b['start_cpu_s'] * 1e3:<5.0f}"
            f"{b['idle_rss_mib']:>8.1f}"
            f"{b['query_p50_ms']:>10.2f} / {b['query_p99_ms']:<5.2f}"
            f"{b['create_p50_ms']:>10.2f} / {b['create_max_ms']:<6.1f}")
    big = results[-1]
    if big["size"] >= 1_000_000:
        e = big["export"]
        lines.append(f"  targets at {big['size']:,}: export under {TARGET_EXPORT_S:g} s: "
                     f"{e['seconds']:.2f} s wall, {e['cpu_s']:.2f} s CPU "
                     f"{'PASS' if e['seconds'] < TARGET_EXPORT_S else 'MISS'}"
                     f"; under {TARGET_EXPORT_MB:g} MB peak: {e['peak_mb']:.1f} MB "
                     f"{'PASS' if e['peak_mb'] < TARGET_EXPORT_MB else 'MISS'}")
    for r in results:
        if r["show"]:
            lines.append(f"  show of one payment at {r['size']:,}: {r['show']['seconds']:.2f} s, "
                         f"{r['show']['peak_mb']:.1f} MB; journal built in {r['build_s']:.1f} s, "
                         f"{r['file_mb']:.0f} MB on disk")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000,
                        help="payments in the large journal (default 1,000,000)")
    parser.add_argument("--requests", type=int, default=500,
                        help="QueryPayment requests per size (a fifth as many CreatePayment)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    byte_compile_posbridge()
    with tempfile.TemporaryDirectory(prefix="posbridge-scale-") as tmp:
        results = [measure(size, args.requests, Path(tmp)) for size in (0, args.size)]
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
