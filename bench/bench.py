"""Performance benchmark: the bridge against a bare Starlette app and a raw asyncio responder.

    .venv/bin/python bench/bench.py [--duration 3] [--rounds 5] [--cycles 300] [--json FILE]

Starts real processes: ``posbridge serve`` on a fresh journal with a ``posbridge simulator``
(TCP, --customer-delay 0) and the two baselines of bench/baselines.py. Servers run on CPU 0
(the simulator shares it with the bridge), the load generator on CPU 1. The load generator
is this file run as ``bench.py loadgen ...``: a separate process, raw keep-alive sockets on
uvloop and pre-built request bytes, N connections each with one request outstanding.

Measures QueryPayment req/s and latency at each concurrency (rounds interleaved between the
servers, median round reported), the bridge's payment cycle (CreatePayment, then
QueryPayment until approved) from one client, resident memory and the time from start to
the first answer; prints each against its target. Exit status: 0 whatever the figures,
1 when the harness itself fails, 130 on Ctrl+C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.client
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from baselines import content_length

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
SERVER_CPU, CLIENT_CPU = 0, 1
QUERY_REF = "bench-query"
API_HEADERS = {"x-api-version": "v1", "content-type": "application/json"}
SERVERS = ("bridge", "starlette", "raw")

# Targets, printed next to the figures with PASS/MISS (see targets()).
TARGET_QUERY_RATIO = 0.78  # bridge QueryPayment@64 req/s over Starlette's
TARGET_CYCLE_P99_MS = 25.0
TARGET_IDLE_RSS_MIB = 60.0
TARGET_FIRST_ANSWER_S = 1.0
TARGET_RSS_RATIO = 1.1  # bridge idle RSS over bare Starlette's
TARGET_START_RATIO = 1.3  # bridge start to first answer over bare Starlette's
TARGET_WORST_MS = 30.0  # the slowest QueryPayment at the top concurrency


class HarnessError(Exception):
    """The benchmark could not measure (a server did not start, a run failed)."""


def http_request(path: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {HOST}\r\nx-api-version: v1\r\n"
        f"content-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# == load generator (runs in its own process, pinned to CLIENT_CPU) =====================


class _HttpClient(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; hands each complete response to ``on_response``.
    Responses must carry Content-Length (uvicorn's and the raw responder's do)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            total = end + 4 + content_length(head)
            if len(buf) < total:
                return
            body = bytes(buf[end + 4 : total])
            del buf[:total]
            self.on_response(int(head[9:12]), body)

    def on_response(self, status: int, body: bytes) -> None:
        raise NotImplementedError


class _FloodClient(_HttpClient):
    """Sends ``request`` again as soon as each answer arrives, until ``stop_at``."""

    def __init__(self, run: _Flood) -> None:
        super().__init__()
        self.run = run
        self.sent_at = 0
        self.stopped = False

    def send(self) -> None:
        assert self.transport is not None
        self.sent_at = time.perf_counter_ns()
        self.transport.write(self.run.request)

    def on_response(self, status: int, body: bytes) -> None:
        run, now = self.run, time.perf_counter_ns()
        if self.sent_at >= run.measure_from:
            run.latencies.append(now - self.sent_at)
            if status != 200:
                run.errors += 1
        if now >= run.stop_at:
            run.finished(self)
        else:
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.run.done.done():
            self.run.errors += 1
            self.run.finished(self)


@dataclass
class _Flood:
    request: bytes
    measure_from: int
    stop_at: int
    done: asyncio.Future[None]
    active: int = 0
    errors: int = 0
    latencies: list[int] = field(default_factory=list)

    def finished(self, client: _FloodClient) -> None:
        if client.stopped:
            return
        client.stopped = True
        self.active -= 1
        if self.active == 0 and not self.done.done():
            self.done.set_result(None)


async def _connect(port: int, factory: Callable[[], _HttpClient]) -> _HttpClient:
    _, client = await asyncio.get_running_loop().create_connection(factory, HOST, port)
    return client


async def flood(port: int, request: bytes, connections: int, warmup: float,
                duration: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    run = _Flood(request, 0, 0, loop.create_future())
    clients = [await _connect(port, lambda: _FloodClient(run)) for _ in range(connections)]
    start = time.perf_counter_ns()
    run.measure_from = start + int(warmup * 1e9)
    run.stop_at = run.measure_from + int(duration * 1e9)
    run.active = connections
    for client in clients:
        assert isinstance(client, _FloodClient)
        client.send()
    await asyncio.sleep(warmup)
    cpu_start, busy_start = time.process_time(), cpu_busy_seconds(CLIENT_CPU)
    try:
        await asyncio.wait_for(run.done, duration + 30)
    except TimeoutError:
        raise HarnessError("the server stopped answering during the run") from None
    elapsed = (time.perf_counter_ns() - run.measure_from) / 1e9
    cpu = time.process_time() - cpu_start
    # What else ran on the generator's CPU (the harness samples a little; the rest is
    # other load on the machine), meaningful only when pinned there.
    other = cpu_busy_seconds(CLIENT_CPU) - busy_start - cpu
    pinned = os.sched_getaffinity(0) == {CLIENT_CPU}
    for client in clients:
        assert client.transport is not None
        client.transport.close()
    return {
        "count": len(run.latencies),
        "errors": run.errors,
        "seconds": elapsed,
        "loadgen_cpu": cpu / elapsed,
        "other_cpu1": max(0.0, other / elapsed) if pinned else math.nan,
        "latencies_us": [ns // 1000 for ns in run.latencies],
    }


class _SequentialClient(_HttpClient):
    """request() and await the answer; one at a time."""

    def __init__(self) -> None:
        super().__init__()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await asyncio.wait_for(self._waiter, 10)

    def on_response(self, status: int, body: bytes) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("the server closed the connection"))


async def payment_cycles(port: int, prefix: str, cycles: int, warmup: int) -> dict[str, Any]:
    """CreatePayment with a fresh reference, then QueryPayment until approved (at least one
    Query, as a POS polls); ``warmup`` cycles first, not counted."""
    client = await _connect(port, _SequentialClient)
    assert isinstance(client, _SequentialClient)
    latencies: list[int] = []
    queries = created_approved = 0
    for i in range(warmup + cycles):
        ref = f"{prefix}-{i}"
        create = http_request(
            "/CreatePayment",
            {"amount": "1.00", "retrieval_reference_number": ref, "condition_code": "82"},
        )
        query = http_request("/QueryPayment", {"retrieval_reference_number": ref})
        t0 = time.perf_counter_ns()
        status, body = await client.request(create)
        if status != 200:
            raise HarnessError(f"CreatePayment {ref}: HTTP {status}: {body[:300]!r}")
        first = json.loads(body)["status"]
        n = 0
        while True:
            status, body = await client.request(query)
            n += 1
            state = json.loads(body).get("status") if status == 200 else None
            if state == "approved":
                break
            if state != "pending" or n > 10_000:
                raise HarnessError(f"QueryPayment {ref}: HTTP {status}: {body[:300]!r}")
        elapsed = time.perf_counter_ns() - t0
        if i >= warmup:
            latencies.append(elapsed // 1000)
            queries += n
            created_approved += first == "approved"
    assert client.transport is not None
    client.transport.close()
    return {"count": cycles, "queries": queries, "created_approved": created_approved,
            "seconds": sum(latencies) / 1e6, "latencies_us": latencies}


def loadgen_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py loadgen")
    parser.add_argument("mode", choices=["flood", "cycle"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--ref", default=QUERY_REF)
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--warmup-cycles", type=int, default=10)
    parser.add_argument("--prefix", default="bench-cycle")
    parser.add_argument("--path", default="/QueryPayment",
                        help="flood: the path to POST to (bench/peers.py uses another)")
    parser.add_argument("--body", help="flood: the JSON body (default: a QueryPayment of --ref)")
    args = parser.parse_args(argv)
    if args.mode == "flood":
        body = json.loads(args.body) if args.body else {"retrieval_reference_number": args.ref}
        request = http_request(args.path, body)
        coro = flood(args.port, request, args.connections, args.warmup, args.duration)
    else:
        coro = payment_cycles(args.port, args.prefix, args.cycles, args.warmup_cycles)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(coro)
    else:
        result = uvloop.run(coro)
    Path(args.out).write_text(json.dumps(result))
    return 0


# == harness: processes, probes, memory ================================================


def byte_compile_posbridge() -> None:
    """Byte-compile posbridge's modules, as pip does when it installs the wheel. A checkout
    installed in editable mode under PYTHONDONTWRITEBYTECODE (which this machine sets) would
    compile every module from source at every start: a cost no installed bridge pays, and
    bare Starlette, installed and compiled, does not pay either."""
    import compileall

    import posbridge

    compileall.compile_dir(Path(posbridge.__file__).parent, quiet=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB (empty if it is gone)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_busy_seconds(cpu: int) -> float:
    """Time CPU ``cpu`` has run processes (user, nice, system) or been stolen by the
    hypervisor since boot; interrupts are left out (loopback traffic is ours)."""
    with open("/proc/stat") as f:
        for line in f:
            name, *ticks = line.split()
            if name == f"cpu{cpu}":
                user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(
                    int, ticks[:8])
                return (user + nice + system + steal) / os.sysconf("SC_CLK_TCK")
    return 0.0


class Processes:
    """Every child process, each pinned to one CPU when the machine has two; stop_all()
    ends them (SIGTERM, then SIGKILL after 5 s)."""

    def __init__(self, workdir: Path, pin: bool) -> None:
        self.workdir, self.pin = workdir, pin
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, name: str, argv: list[str], cpu: int) -> subprocess.Popen[bytes]:
        pin = self.pin

        def pin_cpu() -> None:
            if pin:
                os.sched_setaffinity(0, {cpu})

        # The child keeps its own copy of the log's descriptor. Its own session: Ctrl+C
        # reaches the harness only, which then stops every child in order.
        with open(self.workdir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=pin_cpu,
            )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(ValueError):
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(self.procs[:]):
            self.stop(proc)

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.workdir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def call(port: int, method: str, path: str, body: dict[str, Any] | None = None,
         timeout: float = 2.0) -> tuple[int, Any]:
    """One HTTP request on a new connection: (status, JSON body); (0, None) if refused."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=API_HEADERS)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    except (OSError, http.client.HTTPException, ValueError):
        return 0, None
    finally:
        conn.close()


def health_connected(port: int) -> bool:
    status, body = call(port, "GET", "/health", timeout=0.5)
    return status == 200 and bool(body["terminal"]["connected"])


def query_ok(port: int) -> bool:
    status, _ = call(port, "POST", "/QueryPayment", {"retrieval_reference_number": QUERY_REF},
                     timeout=0.5)
    return status == 200


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    idle_kib: int = 0
    peak_kib: int = 0
    after_kib: int = 0


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, cpus: set[int]) -> None:
        self.args = args
        self.workdir = workdir
        self.pinned = {SERVER_CPU, CLIENT_CPU} <= cpus
        self.procs = Processes(workdir, self.pinned)
        self.python = sys.executable
        self.sim_port = free_port()
        self.journal = workdir / "journal.sqlite3"
        self.servers: dict[str, Server] = {}
        self.simulator: Server | None = None
        self.results: dict[str, Any] = {"config": {
            "duration_s": args.duration, "warmup_s": args.warmup, "rounds": args.rounds,
            "connections": args.connections, "cycles": args.cycles, "starts": args.starts,
            "pinned": self.pinned, "cpus": sorted(cpus),
        }}

    # -- commands -------------------------------------------------------------------

    def bridge_argv(self, port: int) -> list[str]:
        return [self.python, "-m", "posbridge", "serve", "--terminal",
                f"tcp://{HOST}:{self.sim_port}", "--port", str(port), "--journal",
                str(self.journal), "--log-level", "warning"]

    def baseline_argv(self, kind: str, port: int) -> list[str]:
        return [self.python, str(HERE / "baselines.py"), kind, "--port", str(port)]

    def argv(self, name: str, port: int) -> list[str]:
        return self.bridge_argv(port) if name == "bridge" else self.baseline_argv(name, port)

    def ready(self, name: str, port: int) -> bool:
        return health_connected(port) if name == "bridge" else query_ok(port)

    def wait_for(self, name: str, proc: subprocess.Popen[bytes],
                 check: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if proc.poll() is not None:
                raise HarnessError(f"{name} exited with status {proc.returncode}:\n"
                                   f"{self.procs.log_tail(name)}")
            if time.monotonic() > deadline:
                raise HarnessError(f"{name} not ready within {timeout:g} s:\n"
                                   f"{self.procs.log_tail(name)}")
            time.sleep(0.005)

    # -- phases ---------------------------------------------------------------------

    def start_all(self) -> None:
        sim = self.procs.spawn("simulator", [
            self.python, "-m", "posbridge", "simulator", "--listen",
            f"tcp://{HOST}:{self.sim_port}", "--customer-delay", "0", "--log-level", "warning",
        ], SERVER_CPU)
        self.simulator = Server("simulator", self.sim_port, sim)
        for name in SERVERS:
            port = free_port()
            proc = self.procs.spawn(name, self.argv(name, port), SERVER_CPU)
            self.servers[name] = Server(name, port, proc)
        for name, server in self.servers.items():
            self.wait_for(name, server.proc, functools.partial(self.ready, name, server.port))
        time.sleep(1.0)  # let start-up work settle before reading idle memory
        for server in self.watched():
            server.idle_kib = server.peak_kib = proc_status(server.proc.pid).get("VmRSS", 0)

    def watched(self) -> list[Server]:
        extra = [self.simulator] if self.simulator else []
        return [*self.servers.values(), *extra]

    def create_query_reference(self) -> None:
        port = self.servers["bridge"].port
        status, body = call(port, "POST", "/CreatePayment", {
            "amount": "1.00", "retrieval_reference_number": QUERY_REF, "condition_code": "82"})
        if status != 200:
            raise HarnessError(f"CreatePayment {QUERY_REF}: HTTP {status}: {body}")
        deadline = time.monotonic() + 10
        while True:
            status, body = call(port, "POST", "/QueryPayment",
                                {"retrieval_reference_number": QUERY_REF})
            if status == 200 and body["status"] == "approved":
                break
            if time.monotonic() > deadline:
                raise HarnessError(f"{QUERY_REF} not approved: HTTP {status}: {body}")
            time.sleep(0.01)
        shape = sorted(body)
        for name in ("starlette", "raw"):
            status, other = call(self.servers[name].port, "POST", "/QueryPayment",
                                 {"retrieval_reference_number": QUERY_REF})
            if status != 200 or sorted(other) != shape:
                raise HarnessError(f"{name} answers {status} {other}, not the shape of {body}")

    def loadgen(self, port: int, mode: str, *extra: str) -> dict[str, Any]:
        """Run the load generator to its end, sampling the servers' memory meanwhile."""
        out = self.workdir / "loadgen.json"
        out.unlink(missing_ok=True)
        argv = [self.python, str(Path(__file__).resolve()), "loadgen", mode, "--port",
                str(port), "--out", str(out), *extra]
        proc = self.procs.spawn("loadgen", argv, CLIENT_CPU)
        try:
            while proc.poll() is None:
                self.sample_memory()
                time.sleep(0.05)
        finally:
            self.procs.stop(proc)
        self.sample_memory()
        if proc.returncode != 0 or not out.exists():
            raise HarnessError(f"load generator failed ({proc.returncode}):\n"
                               f"{self.procs.log_tail('loadgen')}")
        return dict(json.loads(out.read_text()))

    def sample_memory(self) -> None:
        for server in self.watched():
            status = proc_status(server.proc.pid)
            server.peak_kib = max(server.peak_kib, status.get("VmRSS", 0),
                                  status.get("VmHWM", 0))

    def query_rounds(self) -> None:
        args = self.args
        runs: dict[str, list[dict[str, Any]]] = {}
        for rnd in range(args.rounds):
            for conns in args.connections:
                for name in SERVERS:
                    server = self.servers[name]
                    before = self.cpu_snapshot(server)
                    run = self.loadgen(server.port, "flood", "--connections", str(conns),
                                       "--duration", str(args.duration),
                                       "--warmup", str(args.warmup))
                    server_cpu, other_cpu = self.cpu_shares(server, before)
                    lat = sorted(run.pop("latencies_us"))
                    summary = {
                        "round": rnd + 1, "rps": run["count"] / run["seconds"],
                        "p50_ms": percentile(lat, 0.50) / 1000,
                        "p99_ms": percentile(lat, 0.99) / 1000,
                        "max_ms": lat[-1] / 1000 if lat else math.nan,
                        "count": run["count"], "errors": run["errors"],
                        "loadgen_cpu": run["loadgen_cpu"], "server_cpu": server_cpu,
                        "other_cpu0": other_cpu, "other_cpu1": run["other_cpu1"],
                    }
                    runs.setdefault(f"{name}@{conns}", []).append(summary)
                    print(f"  round {rnd + 1} {name:<9} @{conns:<3} {summary['rps']:>9.0f} req/s",
                          file=sys.stderr, flush=True)
        query: dict[str, Any] = {}
        for key, rounds in runs.items():
            median = sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2]
            query[key] = {**median, "rounds_rps": [r["rps"] for r in rounds],
                          "errors": sum(r["errors"] for r in rounds)}
        self.results["query"] = query

    def cpu_snapshot(self, server: Server) -> tuple[float, float, float, float]:
        """(now, CPU 0 busy, this server's CPU, all our servers' CPU), in seconds."""
        ours = sum(cpu_seconds(s.proc.pid) for s in self.watched())
        return (time.perf_counter(), cpu_busy_seconds(SERVER_CPU),
                cpu_seconds(server.proc.pid), ours)

    def cpu_shares(self, server: Server, before: tuple[float, float, float, float]
                   ) -> tuple[float, float]:
        """Since ``before``: the server's share of one CPU, and the share of CPU 0 that
        went to processes other than ours (other load on the machine; should be ~0)."""
        after = self.cpu_snapshot(server)
        wall, busy, mine, ours = (a - b for a, b in zip(after, before, strict=True))
        other = busy - ours if self.pinned else math.nan
        return mine / wall, max(0.0, other / wall)

    def cycles(self) -> None:
        bridge = self.servers["bridge"]
        before = self.cpu_snapshot(bridge)
        run = self.loadgen(bridge.port, "cycle", "--cycles", str(self.args.cycles),
                           "--prefix", f"bench-{os.getpid()}")
        bridge_cpu, other_cpu = self.cpu_shares(bridge, before)
        lat = sorted(run.pop("latencies_us"))
        self.results["cycle"] = {
            "count": run["count"], "cycles_per_s": run["count"] / run["seconds"],
            "p50_ms": percentile(lat, 0.50) / 1000, "p99_ms": percentile(lat, 0.99) / 1000,
            "max_ms": lat[-1] / 1000, "queries_per_cycle": run["queries"] / run["count"],
            "created_approved": run["created_approved"], "server_cpu": bridge_cpu,
            "other_cpu0": other_cpu,
        }

    def record_memory(self) -> None:
        for server in self.watched():
            server.after_kib = proc_status(server.proc.pid).get("VmRSS", 0)
        self.results["memory_mib"] = {
            s.name: {"idle": s.idle_kib / 1024, "peak": s.peak_kib / 1024,
                     "after": s.after_kib / 1024}
            for s in self.watched()
        }

    def startup_times(self) -> None:
        """Start each server again (the bridge on the same journal, so that the query
        reference exists) and time Popen to its first answers; median of --starts."""
        for server in self.servers.values():
            self.procs.stop(server.proc)
        times: dict[str, list[float]] = {"bridge_health": [], "bridge_query": [],
                                         "starlette": [], "raw": []}
        # CPU each server used to its first answer: unlike the wall time, hardly moved by
        # other load on the machine.
        cpu: dict[str, list[float]] = {"bridge": [], "starlette": [], "raw": []}
        for _ in range(self.args.starts):
            for name in SERVERS:
                port = free_port()
                t0 = time.perf_counter()
                proc = self.procs.spawn(name, self.argv(name, port), SERVER_CPU)
                try:
                    if name == "bridge":
                        health, query = self.time_bridge_start(proc, port, t0)
                        times["bridge_health"].append(health)
                        times["bridge_query"].append(query)
                    else:
                        self.wait_for(name, proc, functools.partial(query_ok, port))
                        times[name].append(time.perf_counter() - t0)
                    cpu[name].append(cpu_seconds(proc.pid))
                finally:
                    self.procs.stop(proc)
        self.results["startup_s"] = {k: statistics.median(v) for k, v in times.items()}
        self.results["startup_cpu_s"] = {k: statistics.median(v) for k, v in cpu.items()}

    def time_bridge_start(self, proc: subprocess.Popen[bytes], port: int,
                          t0: float) -> tuple[float, float]:
        health: float | None = None
        query: float | None = None

        def both() -> bool:
            nonlocal health, query
            if health is None and health_connected(port):
                health = time.perf_counter() - t0
            if query is None and query_ok(port):
                query = time.perf_counter() - t0
            return health is not None and query is not None

        self.wait_for("bridge", proc, both)
        assert health is not None and query is not None
        return health, query

    def run(self) -> None:
        args = self.args
        byte_compile_posbridge()
        print(f"starting servers in {self.workdir}", file=sys.stderr, flush=True)
        self.start_all()
        self.create_query_reference()
        print(f"QueryPayment: {args.rounds} rounds x {len(args.connections)} concurrencies x "
              f"3 servers x {args.warmup + args.duration:g} s", file=sys.stderr, flush=True)
        self.query_rounds()
        print(f"payment cycle: {args.cycles} cycles", file=sys.stderr, flush=True)
        self.cycles()
        self.record_memory()
        print(f"start-up: {args.starts} starts of each server", file=sys.stderr, flush=True)
        self.startup_times()


# == report ===========================================================================


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def targets(results: dict[str, Any], top: int) -> list[tuple[str, str, bool]]:
    query, cycle = results["query"], results["cycle"]
    out = []
    if f"bridge@{top}" in query:
        ratio = query[f"bridge@{top}"]["rps"] / query[f"starlette@{top}"]["rps"]
        out.append((f"QueryPayment@{top} >= {TARGET_QUERY_RATIO:.0%} of Starlette",
                    f"{ratio:.0%}", ratio >= TARGET_QUERY_RATIO))
    out.append((f"payment cycle p99 < {TARGET_CYCLE_P99_MS:g} ms", f"{cycle['p99_ms']:.2f} ms",
                cycle["p99_ms"] < TARGET_CYCLE_P99_MS))
    if f"bridge@{top}" in query:
        worst = query[f"bridge@{top}"]["max_ms"]
        out.append((f"slowest QueryPayment@{top} < {TARGET_WORST_MS:g} ms", f"{worst:.1f} ms",
                     worst < TARGET_WORST_MS))
    idle = results["memory_mib"]["bridge"]["idle"]
    out.append((f"bridge idle RSS < {TARGET_IDLE_RSS_MIB:g} MiB", f"{idle:.1f} MiB",
                idle < TARGET_IDLE_RSS_MIB))
    rss_ratio = idle / results["memory_mib"]["starlette"]["idle"]
    out.append((f"idle RSS <= {TARGET_RSS_RATIO:g}x Starlette", f"{rss_ratio:.2f}x",
                rss_ratio <= TARGET_RSS_RATIO))
    start = results["startup_s"]
    first = max(start["bridge_health"], start["bridge_query"])
    out.append((f"bridge first answer < {TARGET_FIRST_ANSWER_S:g} s", f"{first * 1000:.0f} ms",
                first < TARGET_FIRST_ANSWER_S))
    start_ratio = start["bridge_query"] / start["starlette"]
    out.append((f"first QueryPayment <= {TARGET_START_RATIO:g}x Starlette's start",
                f"{start_ratio:.2f}x", start_ratio <= TARGET_START_RATIO))
    return out


def report(results: dict[str, Any]) -> str:
    cfg = results["config"]
    lines: list[str] = []
    add = lines.append
    pin = ("servers pinned to CPU 0 (the simulator shares CPU 0 with the bridge), "
           "load generator on CPU 1" if cfg["pinned"] else "NOT pinned (fewer than 2 CPUs)")
    add(f"posbridge benchmark, Python {sys.version.split()[0]}, CPUs {cfg['cpus']}: {pin}")
    add(f"each run {cfg['warmup_s']:g} s warm-up + {cfg['duration_s']:g} s measured; "
        f"{cfg['rounds']} rounds interleaved bridge/starlette/raw; the median round is shown")
    add("")
    add("QueryPayment (POST, keep-alive, one request outstanding per connection)")
    add(f"{'conns':>5}  {'server':<10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'srv cpu':>9}{'gen cpu':>9}{'other0':>8}{'other1':>8}{'errors':>8}  rounds req/s")
    query = results["query"]
    for conns in cfg["connections"]:
        for name in SERVERS:
            r = query[f"{name}@{conns}"]
            rounds = " ".join(f"{x:.0f}" for x in r["rounds_rps"])
            add(f"{conns:>5}  {name:<10}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                f"{r['max_ms']:>9.1f}"
                f"{r['server_cpu']:>9.0%}{r['loadgen_cpu']:>9.0%}{r['other_cpu0']:>8.0%}"
                f"{r['other_cpu1']:>8.0%}"
                f"{r['errors']:>8}  {rounds}")
        bridge = query[f"bridge@{conns}"]["rps"]
        add(f"{'':>5}  ratios @{conns}: bridge/starlette "
            f"{bridge / query[f'starlette@{conns}']['rps']:.2f}, "
            f"bridge/raw {bridge / query[f'raw@{conns}']['rps']:.2f}")
    add("srv cpu / gen cpu: share of one CPU used by the server / the load generator; "
        "other0 / other1: CPU 0 / CPU 1 taken by processes not ours (should be ~0%)")
    noisy = [k for k, r in query.items() if max(r["other_cpu0"], r["other_cpu1"]) > 0.10]
    if noisy:
        add(f"WARNING: other processes took over 10% of a benchmark CPU in {len(noisy)} of "
            f"{len(query)} median runs ({', '.join(noisy)}): those figures are noisy")
    top = max(cfg["connections"])
    raw = query[f"raw@{top}"]
    add(f"load generator check: raw responder @{top} = {raw['rps']:.0f} req/s with the "
        f"generator at {raw['loadgen_cpu']:.0%} of CPU 1 and the responder at "
        f"{raw['server_cpu']:.0%} of CPU 0")
    add("")
    c = results["cycle"]
    add(f"Payment cycle (bridge, 1 client, {c['count']} cycles: CreatePayment, then "
        "QueryPayment until approved)")
    add(f"  {c['cycles_per_s']:.1f} cycles/s, p50 {c['p50_ms']:.2f} ms, p99 {c['p99_ms']:.2f} ms, "
        f"max {c['max_ms']:.2f} ms; {c['queries_per_cycle']:.2f} queries per cycle; "
        f"CreatePayment already approved in {c['created_approved']} of {c['count']}")
    add(f"  bridge at {c['server_cpu']:.0%} of CPU 0, other load {c['other_cpu0']:.0%}")
    add("")
    add("Resident memory (VmRSS, MiB; peak = max of samples and VmHWM)")
    add(f"  {'process':<10}{'idle':>8}{'peak':>8}{'after':>8}")
    for name, m in results["memory_mib"].items():
        add(f"  {name:<10}{m['idle']:>8.1f}{m['peak']:>8.1f}{m['after']:>8.1f}")
    add("")
    s = results["startup_s"]
    add(f"Start-up, Popen to first answer (median of {cfg['starts']} starts, polled every ~5 ms)")
    add(f"  bridge: /health connected {s['bridge_health'] * 1000:.0f} ms, first QueryPayment "
        f"{s['bridge_query'] * 1000:.0f} ms")
    add(f"  starlette: {s['starlette'] * 1000:.0f} ms; raw: {s['raw'] * 1000:.0f} ms")
    c = results["startup_cpu_s"]
    add(f"  CPU used to the first answers: bridge {c['bridge'] * 1000:.0f} ms, starlette "
        f"{c['starlette'] * 1000:.0f} ms, raw {c['raw'] * 1000:.0f} ms (bridge / starlette "
        f"{c['bridge'] / c['starlette']:.2f}x)")
    add("")
    add("Targets")
    for text, value, ok in targets(results, top):
        add(f"  {text:<40}{value:>12}  {_verdict(ok)}")
    return "\n".join(lines)


# == main ============================================================================


def _connections(text: str) -> list[int]:
    values = [int(x) for x in text.split(",") if x.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return values


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0,
                        help="measured seconds per QueryPayment run (default 3)")
    parser.add_argument("--warmup", type=float, default=0.5,
                        help="unmeasured seconds before each run (default 0.5)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds per server and concurrency, the median shown "
                        "(default 5: five short runs give a steadier median on a shared "
                        "machine than three long ones, in about the same time)")
    parser.add_argument("--connections", type=_connections, default=[1, 64],
                        help="concurrent connections, comma-separated (default 1,64)")
    parser.add_argument("--cycles", type=int, default=300,
                        help="payment cycles for the cycle figure (default 300)")
    parser.add_argument("--starts", type=int, default=11,
                        help="starts of each server for the start-up figure, interleaved; "
                        "the median is shown (default 11: with 3 the ratio moved by 0.15 "
                        "between runs on a shared machine)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    return parser.parse_args(argv)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _cleanup_on_signals() -> Iterator[None]:
    previous = {sig: signal.signal(sig, _exit_on_signal)
                for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str]) -> int:
    if argv[:1] == ["loadgen"]:
        return loadgen_main(argv[1:])
    args = parse_args(argv)
    cpus = os.sched_getaffinity(0)
    if {SERVER_CPU, CLIENT_CPU} <= cpus:
        os.sched_setaffinity(0, {CLIENT_CPU})  # keep the harness itself off the servers' CPU
    with tempfile.TemporaryDirectory(prefix="posbridge-bench-") as tmp, _cleanup_on_signals():
        bench = Bench(args, Path(tmp), cpus)
        try:
            bench.run()
        except HarnessError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("bench: interrupted", file=sys.stderr)
            return 130
        finally:
            bench.procs.stop_all()
    print(report(bench.results))
    if args.json:
        Path(args.json).write_text(json.dumps(bench.results, indent=2))
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
