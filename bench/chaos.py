"""Chaos run: real `posbridge serve` and `posbridge simulator` processes with a fault-
injecting TCP proxy between them. Runs N payments with random outcomes while injecting
faults, then reconciles the bridge's journal with the simulator's own record.

    python bench/chaos.py --payments 1000 --faults 100

Prints payments, faults by kind, lost, duplicated, mismatched; exits 1 on any of the last
three. Faults: kill_bridge (SIGKILL, restart on the same journal), cut_link (the proxy drops
every connection), corrupt (the proxy flips a byte in flight), restart_terminal (SIGKILL the
simulator, restart it on its state file).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HEADERS = {"x-api-version": "v1"}
FINAL = {"approved", "declined", "cancelled", "timed_out", "voided", "failed"}
# cents -> weight; most payments are plain approvals
OUTCOMES = {"00": 10, "51": 2, "05": 1, "17": 1, "68": 1, "97": 2, "98": 2}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proxy:
    """A TCP proxy on its own thread and loop; can cut all connections or corrupt a byte."""

    def __init__(self, listen: int, target: int) -> None:
        self.listen, self.target = listen, target
        self.loop = asyncio.new_event_loop()
        self.writers: set[asyncio.StreamWriter] = set()
        self.corrupt_next = False
        ready = threading.Event()
        threading.Thread(target=self._main, args=(ready,), daemon=True).start()
        ready.wait()

    def _main(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    if self.corrupt_next and len(data) > 4:
                        self.corrupt_next = False
                        i = random.randrange(len(data))
                        data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
                    w.write(data)
                    await w.drain()
            except OSError:
                pass
            finally:
                w.close()

        async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
            try:
                sr, sw = await asyncio.open_connection("127.0.0.1", self.target)
            except OSError:
                cw.close()
                return
            self.writers |= {cw, sw}
            await asyncio.gather(pipe(cr, sw), pipe(sr, cw))
            self.writers -= {cw, sw}

        async def start() -> None:
            await asyncio.start_server(handle, "127.0.0.1", self.listen)
            ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def cut(self) -> None:
        def close_all() -> None:
            for w in list(self.writers):
                w.transport.abort()

        self.loop.call_soon_threadsafe(close_all)

    def corrupt(self) -> None:
        self.corrupt_next = True


class Chaos:
    def __init__(self, workdir: Path, seed: int) -> None:
        self.dir = workdir
        self.rng = random.Random(seed)
        self.sim_port, self.proxy_port, self.http_port = free_port(), free_port(), free_port()
        self.state = workdir / "terminal.json"
        self.journal = workdir / "journal.sqlite3"
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.sim: subprocess.Popen[bytes] | None = None
        self.bridge: subprocess.Popen[bytes] | None = None
        self.proxy = Proxy(self.proxy_port, self.sim_port)
        self.faults: collections.Counter[str] = collections.Counter()
        self.client = httpx.Client(timeout=15)

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        with open(self.dir / log, "ab") as out:
            return subprocess.Popen([sys.executable, "-m", "posbridge", *args], stdout=out,
                                    stderr=subprocess.STDOUT)

    def start_sim(self) -> None:
        self.sim = self._spawn(["simulator", "--listen", f"tcp://127.0.0.1:{self.sim_port}",
                                "--customer-delay", "0.05", "--state", str(self.state),
                                "--log-level", "warning"], "simulator.log")

    def start_bridge(self) -> None:
        self.bridge = self._spawn(
            ["serve", "--terminal", f"tcp://127.0.0.1:{self.proxy_port}", "--port",
             str(self.http_port), "--journal", str(self.journal), "--terminal-timeout", "2"],
            "bridge.log")

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response | None:
        try:
            return self.client.post(self.url + path, json=body, headers=HEADERS)
        except httpx.TransportError:
            return None  # the bridge is down (killed): the POS retries

    def inject(self) -> None:
        kind = self.rng.choice(["kill_bridge", "cut_link", "corrupt", "restart_terminal"])
        self.faults[kind] += 1
        if kind == "kill_bridge":
            assert self.bridge is not None
            self.bridge.send_signal(signal.SIGKILL)
            self.bridge.wait()
            self.start_bridge()
        elif kind == "cut_link":
            self.proxy.cut()
        elif kind == "corrupt":
            self.proxy.corrupt()
        else:
            assert self.sim is not None
            self.sim.send_signal(signal.SIGKILL)
            self.sim.wait()
            self.start_sim()

    def pay(self, ref: str, amount: str, fault: bool) -> str:
        """Take one payment like a careful POS: same request until it is accepted, then
        query until final. Returns the final status the POS saw."""
        body = {"amount": amount, "retrieval_reference_number": ref, "condition_code": "82"}
        deadline = time.monotonic() + 120
        created = False
        while time.monotonic() < deadline:
            if fault and self.rng.random() < 0.5:  # at a random step of the payment
                self.inject()
                fault = False
            if not created:
                r = self.post("/CreatePayment", body)
                if r is not None and r.status_code in (200, 504):
                    created = True
                elif r is not None and r.status_code not in (503, 409):
                    raise SystemExit(f"undocumented answer {r.status_code}: {r.text}")
                else:
                    time.sleep(0.1)
                    continue
            r = self.post("/QueryPayment", {"retrieval_reference_number": ref})
            if r is not None and r.status_code == 200:
                status = str(r.json()["status"])
                if status in FINAL:
                    if status == "failed":  # never reached the terminal: send it again
                        created = False
                        continue
                    if fault:
                        self.inject()  # the payment beat the fault: inject it now
                    return status
            elif r is not None and r.status_code == 404:
                created = False  # refused and left nothing: send it again
            time.sleep(0.05)
        raise SystemExit(f"{ref} never finished")

    def run(self, payments: int, faults: int) -> dict[str, Any]:
        self.start_sim()
        self.start_bridge()
        faulty = set(self.rng.sample(range(payments), min(faults, payments)))
        seen: dict[str, str] = {}
        started = time.monotonic()
        for i in range(payments):
            cents = self.rng.choices(list(OUTCOMES), weights=list(OUTCOMES.values()))[0]
            amount = f"{self.rng.randint(1, 500)}.{cents}"
            ref = f"chaos-{i:05d}"
            seen[ref] = self.pay(ref, amount, i in faulty)
        elapsed = time.monotonic() - started
        # Let recovery settle, then stop cleanly and reconcile on disk.
        time.sleep(3)
        for proc in (self.bridge, self.sim):
            assert proc is not None
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        return self.reconcile(seen, elapsed)

    def reconcile(self, seen: dict[str, str], elapsed: float) -> dict[str, Any]:
        with sqlite3.connect(self.journal) as db:
            journal = {r[0]: r[1:] for r in db.execute(
                "SELECT ref, status, transaction_id, amount_minor FROM payments")}
        terminal = {p["ref"]: p for p in json.loads(self.state.read_text())["payments"]}
        lost = [r for r in seen if r not in journal or journal[r][0] not in FINAL]
        lost += [r for r, p in terminal.items()
                 if p["status"] == "approved" and journal.get(r, ("",))[0] != "approved"]
        duplicated = [r for r in terminal if r not in seen]
        mismatched = []
        for ref, (status, txn, minor) in journal.items():
            t = terminal.get(ref)
            if t is None:
                if status != "failed":
                    mismatched.append(ref)
            else:
                same = (t["status"], t["transaction_id"], t["amount"]) == (status, txn, minor)
                if not same or seen.get(ref) != status:
                    mismatched.append(ref)
        return {
            "payments": len(seen),
            "outcomes": dict(collections.Counter(seen.values())),
            "faults": dict(self.faults),
            "faults_total": sum(self.faults.values()),
            "lost": len(set(lost)),
            "duplicated": len(duplicated),
            "mismatched": len(mismatched),
            "examples": sorted(set(lost) | set(duplicated) | set(mismatched))[:10],
            "seconds": round(elapsed, 1),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--faults", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="posbridge-chaos-"))
    chaos = Chaos(workdir, args.seed)
    try:
        result = chaos.run(args.payments, args.faults)
    finally:
        for proc in (chaos.bridge, chaos.sim):
            if proc is not None and proc.poll() is None:
                proc.kill()
    print(json.dumps(result, indent=1))
    print(f"work folder: {workdir}")
    bad = result["lost"] or result["duplicated"] or result["mismatched"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
