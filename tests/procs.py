"""Real processes for end-to-end tests: `posbridge simulator` (or the Java demo terminal) and
`posbridge serve` on real ports, talked to over HTTP exactly as a POS would.

The terminal is a parameter: "python" runs `posbridge simulator`, "java" the Java demo
terminal (terminal/demo, built by `make test-java`) with the same options, so a test that
takes the `terminal` fixture (tests/e2e/conftest.py) proves the bridge against both ends."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from rig import free_port

HEADERS = {"x-api-version": "v1", "Content-Type": "application/json"}

ROOT = Path(__file__).resolve().parents[1]
DEMO_JAR = ROOT / "terminal" / "demo" / "target" / "posbridge-terminal-demo.jar"
#: The terminals a test can run against: posbridge's simulator and the Java demo terminal.
TERMINALS = ("python", "java")
POSBRIDGE = [sys.executable, "-m", "posbridge"]
#: What each terminal calls itself in its hello.
MODELS = {"python": "posbridge simulator", "java": "posbridge Java demo terminal"}
#: The Java demo: a small heap and a quick start, for a machine shared by many tests.
JAVA_DEMO = ["java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx128m", "-jar",
             str(DEMO_JAR)]


def java_terminal_missing() -> str:
    """Why the Java demo terminal cannot run here ("" when it can)."""
    if shutil.which("java") is None:
        return "no java on PATH (the Java demo terminal needs a JRE 11 or newer)"
    if not DEMO_JAR.exists():
        return (f"{DEMO_JAR.relative_to(ROOT)} is not built: run `make test-java` (make test "
                "does) or mvn -f terminal/pom.xml package")
    return ""


class Proc:
    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None,
                 program: list[str] | None = None) -> None:
        self.args, self.log, self.env = args, log, env
        self.program = POSBRIDGE if program is None else program
        self.prefix: list[str] = []  # a command that runs it (setpriv ...), or none
        self.p: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        out = open(self.log, "ab")  # noqa: SIM115 - lives as long as the process
        self.p = subprocess.Popen([*self.prefix, *self.program, *self.args],
                                  stdout=out, stderr=subprocess.STDOUT,
                                  env=None if self.env is None else {**os.environ, **self.env})
        out.close()
        return self

    def send(self, sig: int) -> None:
        assert self.p is not None
        self.p.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.p is None:
            return None
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        code, self.p = self.p.returncode, None
        return code

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Stack:
    """A terminal process (the simulator, or the Java demo with ``terminal="java"``) and a
    bridge process connected over TCP."""

    def __init__(self, tmp: Path, customer_delay: float = 0.5,
                 bridge_args: tuple[str, ...] = (), bridge_env: dict[str, str] | None = None,
                 client_headers: dict[str, str] | None = None,
                 terminal: str = "python") -> None:
        if terminal not in TERMINALS:
            raise ValueError(f"terminal {terminal!r}: one of {TERMINALS}")
        self.tmp = tmp
        self.terminal = terminal
        self.sim_port, self.port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.journal = tmp / "journal.sqlite3"
        options = ["--listen", f"tcp://127.0.0.1:{self.sim_port}", "--customer-delay",
                   str(customer_delay), "--state", str(tmp / "terminal.json")]
        if terminal == "java":
            self.sim = Proc(options, tmp / "simulator.log", program=JAVA_DEMO)
        else:
            self.sim = Proc(["simulator", *options], tmp / "simulator.log")
        self.bridge = Proc(["serve", "--terminal", f"tcp://127.0.0.1:{self.sim_port}",
                            "--port", str(self.port), "--journal", str(self.journal),
                            "--terminal-timeout", "1", *bridge_args], tmp / "bridge.log",
                           bridge_env)
        self.http = httpx.Client(timeout=10, headers=client_headers)

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.http.post(self.url + path, json=body, headers=kw.pop("headers", HEADERS),
                              **kw)

    def health(self) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = self.http.get(self.url + "/health", timeout=1).json()
            return body
        except httpx.TransportError:
            return None

    def wait_connected(self, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self.health()
            if health and health["terminal"]["connected"]:
                # The terminal asked for is the one that answered (its hello's model).
                model = health["terminal"]["model"]
                assert MODELS[self.terminal] in model, (self.terminal, model)
                return health
            time.sleep(0.05)
        raise AssertionError(f"bridge never connected:\n{self.bridge.text()}\n{self.sim.text()}")

    def wait_status(self, ref: str, status: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.post("/QueryPayment", {"retrieval_reference_number": ref}).json()
            if body.get("status") == status:
                return body
            time.sleep(0.1)
        raise AssertionError(f"{ref} never became {status}: {body}\n{self.bridge.text()}")

    @contextlib.contextmanager
    def running(self) -> Iterator[Stack]:
        """Both processes up and the link connected; both stopped on the way out."""
        self.sim.start()
        self.bridge.start()
        try:
            self.wait_connected()
            yield self
        finally:
            self.close()

    def close(self) -> None:
        self.http.close()
        self.bridge.stop()
        self.sim.stop()


@contextlib.contextmanager
def x_display(screen: str = "1280x900x24") -> Iterator[str]:
    """A private X server (Xvfb) for a window under test: its DISPLAY, e.g. ":3". Xvfb picks
    a free display number and tells it on a pipe."""
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", screen,
                             "-nolisten", "tcp"], pass_fds=(write,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        assert number.isdigit(), "Xvfb did not start"
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(10)
