"""Benchmark of GET /events: result-to-POS latency beside polling, and what idle subscribers
cost QueryPayment.

    .venv/bin/python bench/events.py [--payments 40] [--duration 5] [--rounds 3]

Starts real processes on 127.0.0.1: ``posbridge simulator`` (TCP, --customer-delay 0.2) and
``posbridge serve`` on a fresh journal. Prints figures; never fails on them (exit 0 whatever
they are, 1 when the harness itself fails).

1. Result-to-POS latency: for each payment, from the moment the bridge journaled the
   terminal's result (the event's ``at``, written within a millisecond of the result frame
   arriving over loopback) to the moment the POS has it in hand: with a subscriber of
   ``GET /events``, and with a POS polling QueryPayment every 250 ms. p50 and p99.
2. QueryPayment throughput (bench.py's load generator, 8 keep-alive connections) with no
   subscriber and with 50 idle subscribers connected, rounds interleaved, median reported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import QUERY_REF, free_port, percentile  # noqa: E402

HEADERS = {"x-api-version": "v1"}


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


class Stack:
    def __init__(self, work: Path) -> None:
        self.sim_port, self.port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.journal = work / "journal.sqlite3"
        log = open(work / "bench.log", "ab")  # noqa: SIM115 - closed with the processes
        run = [sys.executable, "-m", "posbridge"]
        self.procs = [
            subprocess.Popen([*run, "simulator", "--listen", f"tcp://127.0.0.1:{self.sim_port}",
                              "--customer-delay", "0.2", "--log-level", "warning"],
                             stdout=log, stderr=log),
            subprocess.Popen([*run, "serve", "--terminal", f"tcp://127.0.0.1:{self.sim_port}",
                              "--port", str(self.port), "--journal", str(self.journal),
                              "--log-level", "warning", "--events-max-subscribers", "128"],
                             stdout=log, stderr=log),
        ]
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).json()["terminal"]["connected"]:
                    return
            except (httpx.TransportError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        self.close()
        raise SystemExit("the bridge never connected to the simulator")

    def close(self) -> None:
        for p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

    def approved_at(self, ref: str) -> float:
        with sqlite3.connect(f"file:{self.journal}?mode=ro", uri=True) as db:
            row = db.execute("SELECT at FROM events WHERE ref = ? AND to_status = 'approved'",
                             (ref,)).fetchone()
        return _at(row[0])


def create(http: httpx.Client, url: str, ref: str) -> None:
    r = http.post(url + "/CreatePayment", headers=HEADERS, json={
        "amount": "1.00", "retrieval_reference_number": ref, "condition_code": "82"})
    r.raise_for_status()


def latency_events(stack: Stack, count: int) -> list[float]:
    """Each payment's result as a subscriber of /events gets it."""
    got: dict[str, float] = {}
    arrived = threading.Condition()
    ready = threading.Event()

    def listen() -> None:
        with httpx.Client(timeout=None) as http, http.stream(
                "GET", stack.url + "/events") as response:
            ready.set()
            for line in response.iter_lines():
                if line.startswith("data: ") and '"to_status":"approved"' in line:
                    now = time.time()
                    data = json.loads(line[6:])
                    with arrived:
                        got[data["ref"]] = now - _at(data["at"])
                        arrived.notify_all()
                        if len(got) >= count:
                            return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(10)
    with httpx.Client(timeout=10) as http:
        for i in range(count):
            ref = f"ev-{i}"
            create(http, stack.url, ref)
            with arrived:
                arrived.wait_for(lambda ref=ref: ref in got, 10)
    listener.join(10)
    return sorted(got.values())


def latency_polling(stack: Stack, count: int, every: float = 0.25) -> list[float]:
    """Each payment's result as a POS that polls QueryPayment every ``every`` s gets it. The
    polls start at a random phase: a POS's timer is not in step with the customer."""
    out: list[float] = []
    rng = random.Random(17)
    with httpx.Client(timeout=10) as http:
        for i in range(count):
            ref = f"poll-{i}"
            create(http, stack.url, ref)
            time.sleep(rng.uniform(0, every))
            while True:
                body = http.post(stack.url + "/QueryPayment", headers=HEADERS,
                                 json={"retrieval_reference_number": ref}).json()
                if body["status"] == "approved":
                    out.append(time.time() - stack.approved_at(ref))
                    break
                time.sleep(every)
    return sorted(out)


def flood(port: int, seconds: float, work: Path) -> float:
    out = work / "flood.json"
    subprocess.run([sys.executable, str(HERE / "bench.py"), "loadgen", "flood", "--port",
                    str(port), "--out", str(out), "--connections", "8", "--duration",
                    str(seconds), "--ref", QUERY_REF], check=True)
    result: dict[str, Any] = json.loads(out.read_text())
    return float(result["count"]) / float(result["seconds"])


def idle_subscribers(url: str, n: int) -> tuple[list[Any], list[Any]]:
    clients, streams = [], []
    for _ in range(n):
        client = httpx.Client(timeout=None)
        stream = client.stream("GET", url + "/events")
        response = stream.__enter__()
        assert response.status_code == 200
        clients.append(client)
        streams.append(stream)
    return clients, streams


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=40)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pb-bench-events-") as tmp:
        work = Path(tmp)
        stack = Stack(work)
        try:
            create(httpx.Client(), stack.url, QUERY_REF)
            time.sleep(0.5)
            pushed = latency_events(stack, args.payments)
            polled = latency_polling(stack, args.payments)
            print(f"result-to-POS latency over {args.payments} payments (ms):")
            for name, values in (("GET /events subscriber", pushed),
                                 ("polling every 250 ms", polled)):
                print(f"  {name:24} p50 {percentile(values, 0.5) * 1000:7.1f}   "
                      f"p99 {percentile(values, 0.99) * 1000:7.1f}   "
                      f"max {values[-1] * 1000:7.1f}")
            rates: dict[str, list[float]] = {"none": [], "50 idle": []}
            for _ in range(args.rounds):
                rates["none"].append(flood(stack.port, args.duration, work))
                clients, streams = idle_subscribers(stack.url, 50)
                try:
                    rates["50 idle"].append(flood(stack.port, args.duration, work))
                finally:
                    for stream in streams:
                        stream.__exit__(None, None, None)
                    for client in clients:
                        client.close()
                time.sleep(0.5)
            print(f"QueryPayment req/s, 8 connections, median of {args.rounds} rounds:")
            base = statistics.median(rates["none"])
            for name, values in rates.items():
                median = statistics.median(values)
                print(f"  subscribers {name:8} {median:9.0f} req/s  "
                      f"({(median / base - 1) * 100:+.1f} %)  rounds: "
                      + ", ".join(f"{v:.0f}" for v in values))
        finally:
            stack.close()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
