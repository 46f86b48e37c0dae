"""Chaos run: a shop's bad day against real `posbridge serve` and `posbridge simulator`
processes, with faults injected at chosen moments of every command, and every answer the
POS got reconciled with the bridge's journal and the terminal's own record.

    python bench/chaos.py --commands 2000 --seed 7            # the full run
    python bench/chaos.py --commands 60 --seed 3               # the short run (make test)
    python bench/chaos.py --bug failed_at_startup --only-moments sale_sent \\
        --only-kinds kill_bridge --commands 12                 # a planted bug (self-test)

The POS follows docs/api.md to the letter: sales with random outcomes (the simulator's cents
table), cancels while the customer pays, voids of approved payments, refunds of approved
payments (full, several partials, one over what remains that must be refused with 409, the
same refund_reference sent again after a fault), batches; a second client polls
QueryPayment at the same time. A `failed` payment is sent again under a NEW reference, so a
wrong `failed` becomes a second charge on the terminal; a refund told `failed` or `refused`
(nothing refunded) is sent again under a NEW refund reference, so a wrong one becomes a
second refund.

Faults are fired by the proxy (bench/chaos_proxy.py) when it sees the moment's link message,
and counted only then. Prints the commands, the fault tables (kind x moment), lost /
duplicated / mismatched with the view that disagreed and examples, and the bridge log's
tracebacks and ERROR lines; exits 1 if any of lost, duplicated, mismatched is not 0.
See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import random
import re
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chaos_proxy import KINDS, MOMENTS, Fault, Proxy

HEADERS = {"x-api-version": "v1"}
FINAL = {"approved", "declined", "cancelled", "timed_out", "voided", "failed"}
ACTIVE = {"received", "pending", "unknown"}
#: transaction_status for each status (docs/api.md "Payment statuses"); declined: its code.
TXN_STATUS = {"pending": "09", "unknown": "09", "approved": "00", "cancelled": "17",
              "timed_out": "68", "voided": "VD", "failed": "96"}
#: cents -> weight: approved mostly; declines, customer cancel, timeout, lost result (.97),
#: link dropped mid-payment (.98). See docs/api.md "Testing with the simulator".
OUTCOMES = {"00": 12, "51": 2, "05": 1, "17": 1, "68": 1, "97": 2, "98": 1}
#: outcomes whose payment reports a `result` on the link (needed for result_lost)
REPORTED = ("00", "51", "05", "17", "68")
COMMAND_MOMENTS = {
    "sale": ("sale_sent", "sale_reply_lost", "result_lost", "query_answer_lost"),
    "cancel": ("cancel_sent",),
    "void": ("void_sent", "void_answer_lost"),
    "batch": ("batch_sent", "batch_answer_lost"),
    "refund": ("refund_sent", "refund_answer_lost"),
    "idle": ("between",),
}
#: How long a journal write failure lasts before the harness lets the bridge write again.
JOURNAL_FAIL_SECONDS = 2.5
LAUNCHER = Path(__file__).resolve().parent / "chaos_launcher.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the plan: every random choice of the run, drawn from one seeded RNG up front ------------


@dataclass(frozen=True)
class RefundStep:
    amount: str
    over: bool = False  # more than remains of the payment: must be refused with 409
    fault: tuple[str, str] | None = None
    #: after a fault, send the same refund_reference again at once (idempotent) rather than
    #: ask QueryPayment first; after an approval, send it once more (it must be a replay)
    replay: bool = False


#: refund cents the simulator gives a part to (.44 declined, .47 answer lost): avoided, the
#: proxy's faults make those moments
REFUND_SCENARIO_CENTS = (44, 47)


@dataclass(frozen=True)
class Step:
    kind: str  # "sale", "batch" or "idle"
    amount: str = ""
    cancel: bool = False  # cancel while the customer is paying
    void: bool = False  # void it if it ends approved
    fault: tuple[str, str] | None = None  # (moment, kind) for the sale / cancel / batch / idle
    void_fault: tuple[str, str] | None = None
    refunds: tuple[RefundStep, ...] = ()  # refund it (in this order) if it ends approved


@dataclass(frozen=True)
class Mix:
    batch: float = 0.06
    idle: float = 0.03
    cancel: float = 0.09
    void: float = 0.22
    fault_sale: float = 0.35
    fault_cancel: float = 0.8
    fault_void: float = 0.7
    fault_batch: float = 0.9
    refund: float = 0.15  # of the sales not cancelled or voided
    refund_full: float = 0.35  # one refund of all of it; else 2 or 3 partial refunds
    refund_rest: float = 0.3  # after the partials, one refund of exactly what remains
    refund_over: float = 0.4  # then one more, over what remains (refused with 409)
    fault_refund: float = 0.6
    replay: float = 0.5


def make_plan(seed: int, commands: int, mix: Mix, moments: tuple[str, ...],
              kinds: tuple[str, ...]) -> list[Step]:
    """The run's steps. Faults cycle through the (moment, kind) cells of each command in a
    seeded order, so every cell is planned about equally often."""
    rng = random.Random(seed)
    cycles: dict[str, list[tuple[str, str]]] = {}

    def cell(command: str) -> tuple[str, str] | None:
        cells = [(m, k) for m in COMMAND_MOMENTS[command] if m in moments for k in kinds]
        if not cells:
            return None
        queue = cycles.setdefault(command, [])
        if not queue:
            queue.extend(cells)
            rng.shuffle(queue)
        return queue.pop()

    steps: list[Step] = []
    planned = 0
    while planned < commands:
        r = rng.random()
        if r < mix.batch:
            fault = cell("batch") if rng.random() < mix.fault_batch else None
            steps.append(Step("batch", fault=fault))
            planned += 1
        elif r < mix.batch + mix.idle:
            fault = cell("idle")
            if fault is not None:
                steps.append(Step("idle", fault=fault))
        else:
            cents = rng.choices(list(OUTCOMES), weights=list(OUTCOMES.values()))[0]
            cancel = rng.random() < mix.cancel
            void = not cancel and rng.random() < mix.void
            if cancel:
                fault = cell("cancel") if rng.random() < mix.fault_cancel else None
            else:
                fault = cell("sale") if rng.random() < mix.fault_sale else None
            if fault is not None and fault[0] == "result_lost" and cents not in REPORTED:
                cents = "00"  # the moment needs a result message
            if void:
                cents = "00"
            void_fault = cell("void") if void and rng.random() < mix.fault_void else None
            # (no draw at all with refund=0: the plans of older schedules stay as they were)
            refund = mix.refund > 0 and not cancel and not void and rng.random() < mix.refund
            if refund:
                cents = "00"
            amount = f"{rng.randint(1, 300)}.{cents}"
            refunds = refund_plan(rng, minor(amount), mix, cell) if refund else ()
            steps.append(Step("sale", amount, cancel, void, fault, void_fault, refunds))
            planned += 1 + cancel + void + len(refunds)
    return steps


def refund_plan(rng: random.Random, paid: int, mix: Mix,
                cell: Callable[[str], tuple[str, str] | None]) -> tuple[RefundStep, ...]:
    """The refunds of one approved payment of ``paid`` cents (at least 1.00)."""
    def step(cents: int) -> RefundStep:
        fault = cell("refund") if rng.random() < mix.fault_refund else None
        return RefundStep(cents_text(cents), False, fault, rng.random() < mix.replay)

    if rng.random() < mix.refund_full:
        steps = [step(paid)]
    else:
        n = rng.randint(2, 3)
        parts = [rng.randint(1, paid // (n + 1)) for _ in range(n)]
        parts = [p + 1 if p % 100 in REFUND_SCENARIO_CENTS else p for p in parts]
        steps = [step(p) for p in parts]
        rest = paid - sum(parts)
        if rng.random() < mix.refund_rest and rest % 100 not in REFUND_SCENARIO_CENTS:
            steps.append(step(rest))
    if rng.random() < mix.refund_over:
        rest = paid - sum(minor(s.amount) for s in steps)
        steps.append(RefundStep(cents_text(rest + rng.randint(1, 500)), over=True))
    return tuple(steps)


def cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def plan_digest(steps: list[Step]) -> str:
    return hashlib.sha256(json.dumps([asdict(s) for s in steps]).encode()).hexdigest()[:16]


# -- the processes ---------------------------------------------------------------------------


class Procs:
    """The bridge and the simulator, killed and restarted on demand (from any thread)."""

    def __init__(self, workdir: Path, bug: str, customer_delay: float,
                 settle_delay: float = 0.0) -> None:
        self.dir = workdir
        self.bug = bug
        self.customer_delay = customer_delay
        self.settle_delay = settle_delay
        self.sim_port, self.proxy_port, self.http_port = free_port(), free_port(), free_port()
        self.state = workdir / "terminal.json"
        self.journal = workdir / "journal.sqlite3"
        self.bridge_log = workdir / "bridge.log"
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.sim: subprocess.Popen[bytes] | None = None
        self.bridge: subprocess.Popen[bytes] | None = None
        self.lock = threading.RLock()
        self.log_lock = threading.Lock()
        self.log_lines: list[str] = []
        self.restarts = collections.Counter[str]()
        self.heals: list[threading.Timer] = []

    def start_sim(self) -> None:
        with open(self.dir / "simulator.log", "ab") as out:
            self.sim = subprocess.Popen(
                [sys.executable, "-m", "posbridge", "simulator", "--listen",
                 f"tcp://127.0.0.1:{self.sim_port}", "--customer-delay",
                 str(self.customer_delay), "--state", str(self.state), "--log-level", "info",
                 *(["--settle-delay", str(self.settle_delay)] if self.settle_delay else [])],
                stdout=out, stderr=subprocess.STDOUT)

    def start_bridge(self) -> None:
        # The bridge's output goes through a pipe, not straight to a file: a journal write
        # failure is made with RLIMIT_FSIZE, which would stop a log file too.
        env = {**os.environ, "POSBRIDGE_CHAOS_BUG": self.bug}
        proc = subprocess.Popen(
            [sys.executable, str(LAUNCHER), "serve", "--terminal",
             f"tcp://127.0.0.1:{self.proxy_port}", "--port", str(self.http_port),
             "--journal", str(self.journal), "--terminal-timeout", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        self.bridge = proc
        threading.Thread(target=self._read_log, args=(proc,), daemon=True).start()

    def _read_log(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with open(self.bridge_log, "ab") as out:
            for raw in proc.stdout:
                out.write(raw)
                with self.log_lock:
                    self.log_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def kill_bridge(self) -> None:
        with self.lock:
            assert self.bridge is not None
            self.bridge.send_signal(signal.SIGKILL)
            self.bridge.wait()
            self.restarts["bridge"] += 1
            self.start_bridge()

    def kill_terminal(self) -> None:
        with self.lock:
            assert self.sim is not None
            self.sim.send_signal(signal.SIGKILL)
            self.sim.wait()
            self.restarts["terminal"] += 1
            self.start_sim()

    def fail_journal(self) -> None:
        """Make every write of the running bridge to a regular file fail (EFBIG: Python
        ignores SIGXFSZ) for JOURNAL_FAIL_SECONDS, then let it write again. Its log goes
        through a pipe, which the limit does not touch."""
        with self.lock:
            assert self.bridge is not None
            pid = self.bridge.pid
            _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, hard))

        def heal() -> None:
            # ProcessLookupError: killed meanwhile; the restarted bridge never had the limit.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))

        timer = threading.Timer(JOURNAL_FAIL_SECONDS, heal)
        timer.daemon = True
        timer.start()
        self.heals.append(timer)

    def act(self, fault: Fault) -> None:
        """The process-level part of a fault, called from the proxy's thread."""
        if fault.kind == "kill_bridge":
            threading.Thread(target=self.kill_bridge, daemon=True).start()
        elif fault.kind == "kill_terminal":
            threading.Thread(target=self.kill_terminal, daemon=True).start()
        elif fault.kind == "journal_fail":
            self.fail_journal()

    def stop(self) -> None:
        for timer in self.heals:
            timer.join()
        with self.lock:
            for proc in (self.bridge, self.sim):
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in (self.bridge, self.sim):
                if proc is not None:
                    try:
                        proc.wait(20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()


# -- the POS ---------------------------------------------------------------------------------


@dataclass
class Answer:
    who: str  # "pos" or "poller"
    path: str
    ref: str
    code: int | None  # HTTP status, None when no HTTP answer came
    body: dict[str, Any] | None
    at: float  # when the answer came
    sent: float  # when the request was sent


@dataclass
class PosPayment:
    ref: str
    sale: int
    amount: str
    accepted: bool = False  # the bridge showed it has it (200, 504 or a query 200)
    final: str = ""  # the last final status the POS was told
    voided: bool = False
    #: each refund the POS meant to make: the refund references it tried for it (a new
    #: one after "nothing was refunded"), with the amount in cents
    refunds: list[tuple[list[str], int]] = field(default_factory=list)
    refunded_told: int | None = None  # QueryPayment's `refunded` once its refunds were done


@dataclass
class Finding:
    category: str  # lost, duplicated, mismatched
    view: str  # which view disagreed: journal, terminal, pos
    ref: str
    text: str


class Stuck(Exception):
    pass


@dataclass
class Run:
    procs: Procs
    proxy: Proxy
    step_timeout: float = 60.0
    max_seconds: float = float("inf")
    unfinished: int = 0  # steps not run because --max-seconds ran out
    answers: list[Answer] = field(default_factory=list)
    payments: dict[str, PosPayment] = field(default_factory=dict)
    commands: collections.Counter[str] = field(default_factory=collections.Counter)
    missed: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    stuck: list[str] = field(default_factory=list)
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    unexpected: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=lambda: collections.defaultdict(float))
    timing_n: collections.Counter[str] = field(default_factory=collections.Counter)

    def __post_init__(self) -> None:
        self.http = httpx.Client(timeout=15)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.refs: list[str] = []  # in creation order, for the second client

    # -- HTTP -------------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any], ref: str = "", who: str = "pos",
             client: httpx.Client | None = None) -> tuple[int | None, dict[str, Any]]:
        sent = time.monotonic()
        try:
            r = (client or self.http).post(self.procs.url + path, json=body, headers=HEADERS)
            code: int | None = r.status_code
            js: dict[str, Any] = r.json()
        except (httpx.TransportError, ValueError) as exc:
            code, js = None, {"no_answer": f"{type(exc).__name__}: {exc}"}
        with self.lock:
            self.answers.append(Answer(who, path, ref, code, js,
                                       time.monotonic(), sent))
        return code, js

    def query(self, ref: str) -> tuple[int | None, dict[str, Any]]:
        code, js = self.post("/QueryPayment", {"retrieval_reference_number": ref}, ref)
        if code == 200:
            pay = self.payments[ref]
            pay.accepted = True
            if js.get("status") in FINAL:
                pay.final = str(js["status"])
        return code, js

    def poll_final(self, ref: str, deadline: float) -> str:
        """QueryPayment until the status is final (docs/api.md step 3)."""
        while time.monotonic() < deadline:
            code, js = self.query(ref)
            if code == 200 and js.get("status") in FINAL:
                return str(js["status"])
            if code == 404 and not self.payments[ref].accepted:
                return "not_found"  # never recorded: the caller may send it again
            time.sleep(0.2)
        raise Stuck(f"{ref}: no final status within {self.step_timeout:.0f} s")

    # -- faults -----------------------------------------------------------------------

    def arm(self, fault: tuple[str, str] | None, command: str) -> None:
        self.proxy.arm(Fault(fault[0], fault[1], command) if fault else None)

    def disarm(self) -> None:
        fault = self.proxy.disarm()
        if fault is not None:
            self.missed[(fault.kind, fault.moment)] += 1

    # -- commands ---------------------------------------------------------------------

    def sale(self, sale: int, step: Step) -> None:
        attempt = 1
        while attempt <= 5:
            ref = f"s{sale:05d}-{attempt}"
            self.payments[ref] = PosPayment(ref, sale, step.amount)
            self.refs.append(ref)
            self.commands["sale"] += 1
            first = attempt == 1
            if first and not step.cancel:
                self.arm(step.fault, f"{ref} sale")
            status = self._create_and_wait(ref, step, first and step.cancel)
            self.disarm()
            self.outcomes[status] += 1
            if status != "failed":
                break
            attempt += 1  # not paid: a fresh attempt under a NEW reference (docs/api.md)
        if step.void and status == "approved":
            self.void(ref, step.void_fault)
        if step.refunds and status == "approved":
            for n, plan in enumerate(step.refunds, 1):
                self.refund(ref, n, plan)
            self.refunds_told(ref)

    def _create_and_wait(self, ref: str, step: Step, cancel: bool) -> str:
        body = {"amount": step.amount, "retrieval_reference_number": ref,
                "condition_code": "82"}
        deadline = time.monotonic() + self.step_timeout
        pay = self.payments[ref]
        while time.monotonic() < deadline:
            code, js = self.post("/CreatePayment", body, ref)
            err = js.get("error_code")
            if code in (200, 504):
                pay.accepted = True
                break
            if code == 503 or (code == 409 and err == "TERMINAL_BUSY"):
                time.sleep(0.3)  # not connected / busy: nothing recorded; try again later
                continue
            if code is None or code == 500:
                # No answer (the bridge died?): ask; PAYMENT_NOT_FOUND means send it again.
                status = self._poll_after_silence(ref, deadline)
                if status == "not_found":
                    continue
                if status in FINAL:
                    return status
                break
            self.unexpected.append(f"CreatePayment {ref}: {code} {err}")
            return self.poll_final(ref, deadline) if code == 409 else "refused"
        else:
            raise Stuck(f"{ref}: CreatePayment never accepted")
        if cancel and js.get("status") == "pending":
            self.arm(step.fault, f"{ref} cancel")
            self.cancel(ref, deadline)
        status = self.poll_final(ref, deadline)
        if status == "not_found":  # a 504 or 200 for a payment the bridge then lost
            raise Stuck(f"{ref}: accepted, then not found")
        return status

    def _poll_after_silence(self, ref: str, deadline: float) -> str:
        while time.monotonic() < deadline:
            code, _ = self.query(ref)
            if code == 404:
                return "not_found"
            if code == 200:
                return self.poll_final(ref, deadline)
            time.sleep(0.3)
        raise Stuck(f"{ref}: the bridge did not come back")

    def cancel(self, ref: str, deadline: float) -> None:
        self.commands["cancel"] += 1
        tries = 0
        while time.monotonic() < deadline and tries < 10:
            tries += 1
            code, _ = self.post("/CancelPayment", {}, ref)
            if code == 503:
                time.sleep(0.3)
                continue
            return  # 200 cancelled, 409 finished already, 504 unknown: the query tells

    def void(self, ref: str, fault: tuple[str, str] | None) -> None:
        self.commands["void"] += 1
        self.arm(fault, f"{ref} void")
        deadline = time.monotonic() + self.step_timeout
        body = {"retrieval_reference_number": ref}
        try:
            while time.monotonic() < deadline:
                code, js = self.post("/VoidPayment", body, ref)
                err = js.get("error_code")
                if code == 200 or err in ("ALREADY_VOIDED", "ALREADY_SETTLED",
                                          "TERMINAL_REFUSED"):
                    if code == 200 or err == "ALREADY_VOIDED":
                        self.payments[ref].final = "voided"
                    return
                if code == 503 or err == "TERMINAL_BUSY":
                    time.sleep(0.3)
                    continue
                if code == 409 and err != "PAYMENT_NOT_APPROVED":
                    self.unexpected.append(f"VoidPayment {ref}: {code} {err}")
                    return
                # 504, no answer, 500, not approved (unknown): query before voiding again.
                status = self.poll_final(ref, deadline)
                if status != "approved":
                    return
                self.commands["void_again"] += 1
            raise Stuck(f"{ref}: void never finished")
        finally:
            self.disarm()

    def refund(self, ref: str, n: int, plan: RefundStep) -> None:
        """One refund the POS means to make (docs/api.md, RefundPayment): the same
        refund_reference until it is known; a new one only when nothing was refunded."""
        self.commands["refund_over" if plan.over else "refund"] += 1
        tried: list[str] = []
        self.payments[ref].refunds.append((tried, minor(plan.amount)))
        deadline = time.monotonic() + self.step_timeout
        sent_again = False
        self.arm(plan.fault, f"{ref} refund {n}")
        try:
            while time.monotonic() < deadline and len(tried) <= 5:
                if not tried:
                    tried.append(f"{ref}-r{n}-1")
                rref = tried[-1]
                body = {"retrieval_reference_number": ref, "refund_reference": rref,
                        "amount": plan.amount}
                code, js = self.post("/RefundPayment", body, ref)
                err = js.get("error_code")
                if code == 200 and js.get("status") == "approved":
                    if plan.over:
                        self.unexpected.append(f"RefundPayment {rref}: over what remains, "
                                               "approved")
                    if plan.replay and not sent_again:
                        sent_again = True  # once: the same refund again must be a replay
                        self.commands["refund_replay"] += 1
                        continue
                    return
                if code == 200 and js.get("status") == "unknown":
                    time.sleep(0.3)  # its answer was lost: the bridge is asking the terminal
                    continue
                if code == 200:  # refused or failed: nothing was refunded; a new reference
                    tried.append(f"{ref}-r{n}-{len(tried) + 1}")
                    continue
                if code == 409 and err == "REFUND_EXCEEDS_PAYMENT":
                    if not plan.over:
                        self.unexpected.append(f"RefundPayment {rref}: {code} {err}")
                    return
                if code == 503 or err == "TERMINAL_BUSY":
                    time.sleep(0.3)
                    continue
                if code not in (None, 500, 504):
                    self.unexpected.append(f"RefundPayment {rref}: {code} {err}")
                    return
                # No answer, 500 or 504: its outcome is not known to the POS.
                sent_again = True
                self.commands["refund_again"] += 1
                if plan.replay:
                    time.sleep(0.3)  # the same refund again: never refunded twice
                    continue
                status = self._refund_status(ref, rref, deadline)
                if status == "approved":
                    return
                if status in ("refused", "failed"):
                    tried.append(f"{ref}-r{n}-{len(tried) + 1}")
                # not in the journal: it never arrived; send the same one again
            raise Stuck(f"{ref}: refund {n} never finished")
        finally:
            self.disarm()

    def _refund_status(self, ref: str, rref: str, deadline: float) -> str | None:
        """QueryPayment until the refund ``rref`` is no longer unknown; None when the
        journal has no such refund."""
        while time.monotonic() < deadline:
            code, js = self.query(ref)
            if code == 200:
                entry = [r for r in js.get("refunds", []) if r["refund_reference"] == rref]
                if not entry:
                    return None
                if entry[0]["status"] != "unknown":
                    return str(entry[0]["status"])
            time.sleep(0.3)
        raise Stuck(f"{ref}: refund {rref} stayed unknown")

    def refunds_told(self, ref: str) -> None:
        """What QueryPayment says was refunded, once no refund of it is unknown."""
        deadline = time.monotonic() + self.step_timeout
        while time.monotonic() < deadline:
            code, js = self.query(ref)
            if code == 200 and all(r["status"] != "unknown" for r in js.get("refunds", [])):
                self.payments[ref].refunded_told = minor(str(js["refunded"]))
                return
            time.sleep(0.3)
        raise Stuck(f"{ref}: its refunds stayed unknown")

    def batch(self, fault: tuple[str, str] | None, n: int) -> None:
        self.commands["batch"] += 1
        self.arm(fault, f"batch {n}")
        deadline = time.monotonic() + self.step_timeout
        try:
            while time.monotonic() < deadline:
                code, js = self.post("/SubmitBatch", {}, f"batch {n}")
                if code == 200:
                    return
                if code is not None and code < 500 and js.get("error_code") != "TERMINAL_BUSY":
                    self.unexpected.append(f"SubmitBatch: {code} {js.get('error_code')}")
                    return
                # 504: submit again (docs/api.md), after a moment (a late answer may be on
                # its way); 503 or busy: later.
                time.sleep(1.0 if code in (None, 504) else 0.3)
            raise Stuck(f"batch {n}: never answered")
        finally:
            self.disarm()

    def idle(self, fault: tuple[str, str] | None) -> None:
        self.arm(fault, "between commands")
        self.proxy.fired_event.wait(3)
        self.disarm()
        time.sleep(0.5)

    # -- the second client --------------------------------------------------------------

    def poller(self, seed: int) -> None:
        rng = random.Random(seed)  # which refs it polls; its timing is the OS's
        client = httpx.Client(timeout=15)
        while not self.done.wait(0.25):
            refs = self.refs[-4:]
            if refs:
                ref = rng.choice(refs)
                self.post("/QueryPayment", {"retrieval_reference_number": ref}, ref,
                          who="poller", client=client)
        client.close()

    def run(self, steps: list[Step], seed: int) -> float:
        poller = threading.Thread(target=self.poller, args=(seed + 1,), daemon=True)
        poller.start()
        started = time.monotonic()
        sale = batch = 0
        for i, step in enumerate(steps):
            if time.monotonic() - started > self.max_seconds:
                self.unfinished = len(steps) - i
                break
            t0 = time.monotonic()
            try:
                if step.kind == "sale":
                    sale += 1
                    self.sale(sale, step)
                elif step.kind == "batch":
                    batch += 1
                    self.batch(step.fault, batch)
                else:
                    self.idle(step.fault)
            except Stuck as exc:
                self.disarm()
                self.stuck.append(str(exc))
            label = step.kind + (f" {step.fault[1]}" if step.fault else "")
            self.timing[label] += time.monotonic() - t0
            self.timing_n[label] += 1
        self.done.set()
        poller.join()
        return time.monotonic() - started

    def settle(self, timeout: float = 30) -> None:
        """Let recovery finish before the bridge is stopped: until /health shows no payment
        in progress and the terminal connected, for a bounded time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                h = self.http.get(self.procs.url + "/health").json()
                if h["terminal"]["connected"] and h["payment_in_progress"] is None:
                    time.sleep(2.5)  # one more recovery round (voids, batches)
                    return
            except (httpx.TransportError, ValueError, KeyError):
                pass
            time.sleep(0.5)


# -- reconciliation ----------------------------------------------------------------------------


@dataclass
class JournalView:
    payments: dict[str, dict[str, Any]]
    batches: list[dict[str, Any]]  # settled batches: batch_number, count, total_minor
    open_ops: list[dict[str, Any]]  # schema 2: operations still "sent" (outcome not known)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)  # by refund_ref


def read_journal(path: Path) -> JournalView:
    """The journal, read-only with sqlite3 (schema 1 or 2: only named columns are used)."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        payments = {r["ref"]: dict(r) for r in db.execute("SELECT * FROM payments")}
        batches = [dict(r) for r in db.execute("SELECT * FROM batches")]
        ops = ([dict(r) for r in db.execute("SELECT * FROM operations WHERE state = 'sent'")]
               if "operations" in tables else [])
        refunds = ({r["refund_ref"]: dict(r) for r in db.execute("SELECT * FROM refunds")}
                   if "refunds" in tables else {})
    finally:
        db.close()
    settled = [b for b in batches if b.get("batch_number") is not None
               and b.get("state", "done") == "done"]
    return JournalView(payments, settled, ops, refunds)


def minor(amount: str) -> int:
    whole, _, frac = amount.partition(".")
    return int(whole) * 100 + int(frac.ljust(2, "0") or "0")


def reconcile(run: Run, jv: JournalView, terminal: dict[str, dict[str, Any]],
              trefunds: list[dict[str, Any]] | None = None) -> list[Finding]:
    out: list[Finding] = []
    journal, jbatches = jv.payments, jv.batches

    def add(category: str, view: str, ref: str, text: str) -> None:
        out.append(Finding(category, view, ref, text))

    pos = run.payments
    # 1. What the terminal has, against what the POS asked for and the journal recorded.
    t: dict[str, Any] | None
    for ref, t in terminal.items():
        if ref not in pos:
            add("duplicated", "terminal", ref, f"a payment nobody asked for: {t['status']}")
        if ref not in journal:
            add("lost", "journal", ref, f"the terminal has it ({t['status']}), the journal not")
    charged: dict[int, list[str]] = collections.defaultdict(list)
    for ref, t in terminal.items():
        if ref in pos and t["status"] == "approved":
            charged[pos[ref].sale].append(ref)
    for sale, refs in charged.items():
        if len(refs) > 1:
            add("duplicated", "terminal", refs[-1],
                f"sale {sale} charged {len(refs)} times on the terminal: {', '.join(refs)}")
    # 2. Journal against terminal, payment by payment.
    for ref, j in journal.items():
        t = terminal.get(ref)
        js = str(j["status"])
        if t is None:
            if js != "failed":
                add("mismatched", "journal", ref, f"journal {js}, the terminal has no record")
            continue
        ts = t["status"]
        if js in ACTIVE:
            add("lost", "journal", ref, f"still {js} in the journal; the terminal says {ts}")
        elif js != ts:
            if ts == "voided" and js == "approved":
                add("lost", "journal", ref, "void lost: the terminal voided it, the journal "
                    "still says approved")
            else:
                add("mismatched", "journal", ref, f"journal {js}, terminal {ts}")
        if (j.get("transaction_id") or "") != (t.get("transaction_id") or "") and js not in ACTIVE:
            add("mismatched", "journal", ref, f"transaction id: journal "
                f"{j.get('transaction_id')!r}, terminal {t.get('transaction_id')!r}")
        if int(j["amount_minor"]) != int(t["amount"]):
            add("mismatched", "journal", ref,
                f"amount: journal {j['amount_minor']}, terminal {t['amount']}")
        tb, jb = int(t.get("batch_number") or 0), j.get("batch_number")
        if tb and jb is None:
            add("lost", "journal", ref, f"settled in the terminal's batch {tb}, the journal "
                "says unsettled")
        elif (jb or 0) != tb:
            add("mismatched", "journal", ref, f"batch: journal {jb}, terminal {tb}")
    for op in jv.open_ops:
        add("lost", "journal", str(op["ref"]), f"the {op['kind']} journaled as sent was never "
            "resolved (its outcome is still unknown to the bridge)")
    # 3. Batches: the terminal's settlements, the journal's batch rows, the POS's answers.
    settled: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for t in terminal.values():
        if t.get("batch_number"):
            settled[int(t["batch_number"])].append(t)
    jby = {int(b["batch_number"]): b for b in jbatches}
    told: dict[int, dict[str, Any]] = {}
    for a in run.answers:
        if a.path == "/SubmitBatch" and a.code == 200 and a.body:
            told[int(a.body["batch_number"])] = a.body
            n, count = int(a.body["batch_number"]), int(a.body["count"])
            total = minor(str(a.body["total"]))
            real = settled.get(n, [])
            if (count, total) != (len(real), sum(int(p["amount"]) for p in real)):
                add("mismatched", "pos", f"batch {n}", f"SubmitBatch answered count {count} "
                    f"total {a.body['total']}; the terminal settled {len(real)} payment(s), "
                    f"total {sum(int(p['amount']) for p in real) / 100:.2f}")
    for n, real in sorted(settled.items()):
        total = sum(int(p["amount"]) for p in real)
        b = jby.get(n)
        if b is None:
            add("lost", "journal", f"batch {n}", f"the terminal settled {len(real)} payment(s) "
                f"in batch {n}; the journal has no such batch")
        elif (int(b["count"]), int(b["total_minor"])) != (len(real), total):
            add("mismatched", "journal", f"batch {n}", f"journal count {b['count']} total "
                f"{b['total_minor']}, terminal {len(real)} / {total}")
        if n not in told:
            add("lost", "pos", f"batch {n}", f"the terminal settled {len(real)} payment(s) in "
                f"batch {n}; no SubmitBatch answer told the POS")
    # 4. Every answer the POS (and the second client) received.
    for a in run.answers:
        if a.code != 200 or not a.body or a.path in ("/SubmitBatch", "/RefundPayment"):
            continue
        ref = str(a.body.get("retrieval_reference_number") or a.ref)
        t = terminal.get(ref)
        status = a.body.get("status")
        who = f"{a.who} {a.path}"
        if a.path == "/VoidPayment":
            if t is None or t["status"] != "voided":
                add("mismatched", "pos", ref, f"{who} answered voided; terminal "
                    f"{t['status'] if t else 'has no record'}")
            continue
        if a.path == "/CancelPayment":
            if t is None or t["status"] != "cancelled":
                add("mismatched", "pos", ref, f"{who} answered cancelled; terminal "
                    f"{t['status'] if t else 'has no record'}")
            continue
        p = pos.get(ref)
        if p is not None and a.body.get("amount") is not None and minor(
                str(a.body["amount"])) != minor(p.amount):
            add("mismatched", "pos", ref, f"{who}: amount {a.body['amount']}, sent {p.amount}")
        if status == "unknown":
            continue  # "may or may not be on the terminal": true of anything not final
        if a.path != "/QueryPayment" and status not in (None, "pending", *FINAL):
            add("mismatched", "pos", ref, f"{who}: status {status!r}")
        if a.path == "/QueryPayment":
            ts = a.body.get("transaction_status")
            want = (t or {}).get("response_code") if status == "declined" else TXN_STATUS.get(
                str(status))
            if status == "declined" and not want:
                want = ts
            if ts != want:
                add("mismatched", "pos", ref, f"{who}: status {status} with transaction_status "
                    f"{ts!r}, expected {want!r}")
        if status == "failed":
            if t is not None:
                add("mismatched", "pos", ref, f"{who} answered failed (not paid); the terminal "
                    f"has it {t['status']}")
            continue
        if t is None:
            add("mismatched", "pos", ref, f"{who} answered {status}; the terminal has no record")
            continue
        voided_at = run.proxy.voided_at.get(ref)
        if status == "approved" and t["status"] not in ("approved", "voided"):
            add("mismatched", "pos", ref, f"{who} answered approved; terminal {t['status']}")
        elif status == "approved" and voided_at is not None and a.sent > voided_at + 0.05:
            add("mismatched", "pos", ref, f"{who} answered approved (paid), asked "
                f"{a.sent - voided_at:.1f} s after the terminal had voided it")
        elif status in FINAL and status != "approved" and status != t["status"]:
            add("mismatched", "pos", ref, f"{who} answered {status}; terminal {t['status']}")
        txn = a.body.get("transaction_id")
        if txn and txn != t.get("transaction_id"):
            add("mismatched", "pos", ref, f"{who}: transaction id {txn}, terminal "
                f"{t.get('transaction_id')}")
        bn = a.body.get("batch_number")
        if bn is not None and int(bn) != int(t.get("batch_number") or 0):
            add("mismatched", "pos", ref, f"{who}: batch {bn}, terminal "
                f"{t.get('batch_number')}")
    # 5. What the POS was told last, against the terminal.
    for ref, p in pos.items():
        t = terminal.get(ref)
        if p.final and t is not None and p.final != t["status"] and p.final != "failed":
            add("mismatched", "pos", ref, f"the POS was last told {p.final}; terminal "
                f"{t['status']}")
    reconcile_refunds(run, jv, terminal, trefunds or [], add)
    for text in run.stuck:
        ref = text.split(":")[0]
        add("lost", "pos", ref, f"the POS never learned the outcome: {text}")
    return out


def reconcile_refunds(run: Run, jv: JournalView, terminal: dict[str, dict[str, Any]],
                      trefunds: list[dict[str, Any]],
                      add: Callable[[str, str, str, str], None]) -> None:
    """Refunds in the three views: the terminal's refunds (its state file), the journal's,
    every answer the POS got. Per payment the refunded totals agree, never exceed the amount
    paid, and no refund the POS meant to make was made twice."""
    pos = run.payments
    asked = {rref: (ref, cents) for ref, p in pos.items() for tried, cents in p.refunds
             for rref in tried}
    made: dict[str, int] = collections.defaultdict(int)  # the terminal's total, by payment
    by_ref = {}
    for r in trefunds:
        if r.get("status", "approved") != "approved":
            continue
        rref, ref = str(r["refund_ref"]), str(r["ref"])
        by_ref[rref] = r
        made[ref] += int(r["amount"])
        if rref not in asked:
            add("duplicated", "terminal", ref, f"a refund nobody asked for: {rref}")
        elif (ref, int(r["amount"])) != asked[rref]:
            add("mismatched", "terminal", ref, f"refund {rref}: {r['amount']} of {ref}, the "
                f"POS asked for {asked[rref][1]} of {asked[rref][0]}")
        j = jv.refunds.get(rref)
        if j is None:
            add("lost", "journal", ref, f"the terminal refunded {rref}, the journal has no "
                "such refund")
        elif j["status"] != "approved":
            add("mismatched", "journal", ref, f"the terminal refunded {rref}, the journal "
                f"says {j['status']}")
    journal_total: dict[str, int] = collections.defaultdict(int)
    for rref, j in jv.refunds.items():
        ref = str(j["ref"])
        if j["status"] == "approved":
            journal_total[ref] += int(j["amount_minor"])
            if rref not in by_ref:
                add("mismatched", "journal", ref, f"journal: refund {rref} approved, the "
                    "terminal has no such refund")
        elif j["status"] == "unknown":
            add("lost", "journal", ref, f"refund {rref} still unknown in the journal")
    for ref in sorted(set(made) | set(journal_total)):
        t = terminal.get(ref)
        paid = int(t["amount"]) if t else 0
        if made[ref] > paid:
            add("duplicated", "terminal", ref, f"refunded {made[ref]} of a payment of {paid}")
        if made[ref] != journal_total[ref]:
            add("mismatched", "journal", ref, f"refunded: journal {journal_total[ref]}, "
                f"terminal {made[ref]}")
    for ref, p in pos.items():
        for tried, cents in p.refunds:
            done = [rref for rref in tried if rref in by_ref]
            if len(done) > 1:
                add("duplicated", "terminal", ref, f"one refund of {cents} made "
                    f"{len(done)} times: {', '.join(done)}")
        if p.refunded_told is not None and p.refunded_told != made[ref]:
            add("mismatched", "pos", ref, f"QueryPayment told refunded {p.refunded_told}; the "
                f"terminal refunded {made[ref]}")
    for a in run.answers:
        if not a.body or a.path not in ("/RefundPayment", "/QueryPayment"):
            continue
        ref = str(a.body.get("retrieval_reference_number") or a.ref)
        who = f"{a.who} {a.path}"
        if a.code == 200 and a.body.get("refunded") is not None:
            told = minor(str(a.body["refunded"]))
            if told > made[ref]:
                add("mismatched", "pos", ref, f"{who} answered refunded {told}; the terminal "
                    f"refunded {made[ref]} in all")
        if a.path != "/RefundPayment":
            continue
        rref = str(a.body.get("refund_reference", ""))
        if a.code == 200 and a.body.get("status") == "approved" and rref not in by_ref:
            add("mismatched", "pos", ref, f"{who} answered {rref} approved; the terminal has "
                "no such refund")
        if a.code == 409 and a.body.get("remaining") is not None and ref in terminal:
            left = int(terminal[ref]["amount"]) - made[ref]
            if minor(str(a.body["remaining"])) != left:
                add("mismatched", "pos", ref, f"{who}: remaining {a.body['remaining']}; on "
                    f"the terminal {left} remains")


def scan_log(lines: list[str]) -> dict[str, Any]:
    """Tracebacks and ERROR lines of the bridge's log; the ERROR lines grouped by what they
    say (references, numbers and times stripped), most frequent first."""
    tracebacks = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    errors = [line for line in lines if re.search(r"\s(ERROR|CRITICAL)\s", line)]
    groups: collections.Counter[str] = collections.Counter()
    for line in errors:
        text = " ".join(line.split()[2:])  # without the date and time
        text = re.sub(r"s\d{5}-\d+", "REF", text)
        groups[re.sub(r"\d+", "N", text)[:110]] += 1
    return {
        "tracebacks": len(tracebacks),
        "traceback_examples": ["\n".join(lines[i:i + 14]) for i in tracebacks[:3]],
        "errors": len(errors),
        "error_groups": groups.most_common(8),
        "error_examples": errors[:8],
    }


# -- the report ----------------------------------------------------------------------------


def table(counts: dict[tuple[str, str], int], title: str) -> str:
    kinds = [k for k in KINDS if any(counts.get((k, m)) for m in MOMENTS)] or list(KINDS)
    moments = [m for m in MOMENTS if any(counts.get((k, m)) for k in KINDS)] or list(MOMENTS)
    width = max(len(m) for m in moments) + 2
    head = f"{title:<{width}}" + "".join(f"{k:>14}" for k in kinds) + f"{'total':>8}"
    rows = [head]
    for m in moments:
        row = [counts.get((k, m), 0) for k in kinds]
        rows.append(f"{m:<{width}}" + "".join(f"{n:>14}" for n in row) + f"{sum(row):>8}")
    cols = [sum(counts.get((k, m), 0) for m in moments) for k in kinds]
    rows.append(f"{'total':<{width}}" + "".join(f"{n:>14}" for n in cols) + f"{sum(cols):>8}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=2000,
                        help="POS commands to plan (sales, cancels, voids, batches)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bug", default="none", help="a planted bug (bench/chaos_launcher.py)")
    parser.add_argument("--only-moments", default="", help="comma-separated moments to fault")
    parser.add_argument("--only-kinds", default="", help="comma-separated fault kinds")
    parser.add_argument("--customer-delay", type=float, default=0.6,
                        help="how long the simulated customer takes (cancels need time)")
    parser.add_argument("--settle-delay", type=float, default=0.0,
                        help="how long the simulated terminal takes to settle a batch; above "
                        "the bridge's --terminal-timeout (2 s) every batch answer is late")
    parser.add_argument("--mix", default="", help="override mix weights, e.g. batch=0.2,void=0.5")
    parser.add_argument("--step-timeout", type=float, default=60.0,
                        help="the POS gives up on a step after this long (it is then lost)")
    parser.add_argument("--max-seconds", type=float, default=float("inf"),
                        help="stop starting steps after this long (the rest is reported)")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON here")
    parser.add_argument("--plan-only", action="store_true",
                        help="print the plan's digest and counts, run nothing")
    parser.add_argument("--workdir", metavar="DIR",
                        help="where to keep the journal, state and logs (default: a new "
                        "temporary folder, kept)")
    args = parser.parse_args(argv)
    moments = tuple(args.only_moments.split(",")) if args.only_moments else MOMENTS
    kinds = tuple(args.only_kinds.split(",")) if args.only_kinds else KINDS
    for name, valid in ((moments, MOMENTS), (kinds, KINDS)):
        bad = set(name) - set(valid)
        if bad:
            parser.error(f"unknown {', '.join(sorted(bad))}; valid: {', '.join(valid)}")
    mix = Mix(**{k: float(v) for k, v in (kv.split("=") for kv in args.mix.split(",") if kv)})
    steps = make_plan(args.seed, args.commands, mix, moments, kinds)
    digest = plan_digest(steps)
    planned = collections.Counter(s.kind for s in steps)
    planned_faults = sum((s.fault is not None) + (s.void_fault is not None)
                         + sum(r.fault is not None for r in s.refunds) for s in steps)
    print(f"plan {digest}: {len(steps)} steps, {planned['sale']} sales, {planned['batch']} "
          f"batches, {planned['idle']} idle, {planned_faults} faults planned "
          f"(seed {args.seed}, bug {args.bug})", flush=True)
    if args.plan_only:
        return 0
    # A SIGTERM to the harness stops the bridge and the simulator too (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="posbridge-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    procs = Procs(workdir, args.bug, args.customer_delay, args.settle_delay)
    proxy = Proxy(procs.proxy_port, procs.sim_port, procs.act)
    run = Run(procs, proxy, step_timeout=args.step_timeout, max_seconds=args.max_seconds)
    try:
        procs.start_sim()
        procs.start_bridge()
        elapsed = run.run(steps, args.seed)
        run.settle()
    finally:
        proxy.disarm()
        procs.stop()
        proxy.stop()
    jv = read_journal(procs.journal)
    state = json.loads(procs.state.read_text())
    terminal = {p["ref"]: p for p in state["payments"]}
    findings = reconcile(run, jv, terminal, state.get("refunds", []))
    with procs.log_lock:
        logscan = scan_log(procs.log_lines)

    fired = collections.Counter((f.kind, f.moment) for f in proxy.fired)
    by_cat: dict[str, dict[str, Any]] = {}
    for cat in ("lost", "duplicated", "mismatched"):
        items = [f for f in findings if f.category == cat]
        by_cat[cat] = {
            "count": len({f.ref for f in items}),
            "by_view": dict(collections.Counter(f.view for f in items)),
            "examples": [asdict(f) for f in items[:6]],
        }
    result = {
        "seed": args.seed, "bug": args.bug, "plan": digest,
        "commands": dict(run.commands), "commands_total": sum(
            v for k, v in run.commands.items()
            if k not in ("void_again", "refund_again", "refund_replay")),
        "outcomes": dict(run.outcomes),
        "answers": len(run.answers),
        "answers_by_path": dict(collections.Counter(f"{a.path} {a.code}" for a in run.answers)),
        "faults_total": len(proxy.fired),
        "faults_by_kind": dict(collections.Counter(f.kind for f in proxy.fired)),
        "faults_by_moment": dict(collections.Counter(f.moment for f in proxy.fired)),
        "faults": {f"{k} @ {m}": n for (k, m), n in sorted(fired.items())},
        "faults_missed": {f"{k} @ {m}": n for (k, m), n in sorted(run.missed.items())},
        "restarts": dict(procs.restarts),
        "steps_not_run": run.unfinished,
        "lost": by_cat["lost"]["count"], "duplicated": by_cat["duplicated"]["count"],
        "mismatched": by_cat["mismatched"]["count"],
        "findings": by_cat,
        "unexpected": run.unexpected[:10],
        "no_answer_examples": sorted({str(a.body.get("no_answer")) for a in run.answers
                                      if a.code is None and a.body})[:5],
        "log": logscan,
        "journal_payments": len(jv.payments), "terminal_payments": len(terminal),
        "seconds": round(elapsed, 1),
        "seconds_per_step": {k: round(v / run.timing_n[k], 2) for k, v in run.timing.items()},
        "workdir": str(workdir),
    }
    cmds = run.commands
    print(f"commands {result['commands_total']}: sales {cmds['sale']}, cancels "
          f"{cmds['cancel']}, voids {cmds['void']} (sent again {cmds['void_again']}), "
          f"refunds {cmds['refund']} (sent again after a fault {cmds['refund_again']}, "
          f"replayed {cmds['refund_replay']}, over what remains {cmds['refund_over']}), "
          f"batches {cmds['batch']}; {len(run.answers)} answers checked")
    print("outcomes " + ", ".join(f"{k} {v}" for k, v in run.outcomes.most_common()))
    print()
    print(table(fired, "faults fired"))
    print()
    print("by kind:   " + ", ".join(f"{k} {result['faults_by_kind'].get(k, 0)}" for k in KINDS))
    print("by moment: " + ", ".join(f"{m} {result['faults_by_moment'].get(m, 0)}"
                                    for m in MOMENTS))
    if run.missed:
        print(f"armed but never reached (not counted): {sum(run.missed.values())}")
    print()
    for cat in ("lost", "duplicated", "mismatched"):
        c = by_cat[cat]
        views = ", ".join(f"{v} {n}" for v, n in c["by_view"].items())
        print(f"{cat} {c['count']}" + (f"   (by view: {views})" if views else ""))
        for ex in c["examples"]:
            print(f"    [{ex['view']}] {ex['ref']}: {ex['text']}")
    print(f"bridge log: {logscan['tracebacks']} traceback(s), {logscan['errors']} ERROR line(s)")
    for text, n in logscan["error_groups"][:6]:
        print(f"    {n:>5} x {text}")
    for tb in logscan["traceback_examples"][:1]:
        print("    " + tb.replace("\n", "\n    "))
    if run.unfinished:
        print(f"--max-seconds ran out: {run.unfinished} planned step(s) not run")
    if run.unexpected:
        print(f"unexpected answers: {len(run.unexpected)}: {run.unexpected[:3]}")
    print(f"{elapsed:.1f} s; work folder {workdir}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    bad = result["lost"] or result["duplicated"] or result["mismatched"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
