"""The long fuzz run: hostile requests against real `posbridge serve` and simulator processes.

    .venv/bin/python bench/fuzz.py --requests 100000 --workers 2 --schemathesis 2000

Two sources, both through real sockets:
- Hypothesis-made requests (tests/fuzzing.py): raw bodies and headers of every hostile
  kind, sent byte for byte on a keep-alive socket;
- schemathesis cases drawn from the OpenAPI document the bridge serves, positive and
  negative, with all of schemathesis's checks but positive-data acceptance.
Every answer must be documented JSON and never a server error, and a refused request must
leave the journal's payments as they were (checked request by request with one worker and
for schemathesis; with several workers, checked once: every payment the journal gained was
answered 200 to a CreatePayment). Failures are counted, not stopped at; the first
few are printed. At the end the bridge must still be alive, take a payment, and have logged
no traceback. Exit status 1 on any failure. Figures go in docs/security.md.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fuzzing import RawClient, Request, check_answer, journal_state, requests
from procs import Stack


class Tally:
    def __init__(self) -> None:
        self.sent = 0
        self.statuses: collections.Counter[int] = collections.Counter()
        self.failures: list[str] = []

    def record(self, status: int, failure: str | None) -> None:
        self.sent += 1
        self.statuses[status] += 1
        if failure is not None:
            self.failures.append(failure)
            if len(self.failures) <= 5:
                print(f"FAILURE: {failure}", flush=True)

    def progress(self, label: str, every: int = 10000) -> None:
        if self.sent % every == 0:
            print(f"  {label}: {self.sent} requests, {len(self.failures)} failures",
                  flush=True)


def hypothesis_worker(port: int, journal: str | None, count: int, seed: int,
                      out: Any) -> None:
    """One process's share: ``count`` requests from its own Hypothesis seed. With a journal
    path (one worker only) each refused request is checked against the journal; with
    several workers the check is made once at the end (see ``main``)."""
    client = RawClient("127.0.0.1", port)
    tally = Tally()
    created: list[str] = []
    empty: dict[str, str] = {}

    @given(request_=requests())
    @settings(max_examples=count, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @hypothesis.seed(seed)
    def one(request_: Request) -> None:
        before = journal_state(Path(journal)) if journal else empty
        try:
            status, body = client.request(request_)
        except Exception as exc:  # the server closed or hung: a failure, not a crash here
            tally.record(0, f"{request_!r}: no answer ({exc!r})")
            client.close()
            return
        failure = None
        try:
            after = journal_state(Path(journal)) if journal else empty
            check_answer(status, body, before, after)
        except (AssertionError, ValueError) as exc:
            failure = f"{request_!r} -> {status} {body[:200]!r}: {exc}"
        # "/CreatePayment?x=1" is CreatePayment too: the query string is not the path.
        if status == 200 and request_.path.partition("?")[0] == "/CreatePayment":
            created.append(json.loads(body)["retrieval_reference_number"])
        tally.record(status, failure)
        tally.progress(f"hypothesis worker {seed}")

    one()
    client.close()
    out.put((tally.sent, dict(tally.statuses), tally.failures, created))


def hypothesis_run(stack: Stack, count: int, tally: Tally, workers: int) -> list[str]:
    """Run the workers; merge their tallies; return the references they were told were
    created."""
    queue: multiprocessing.Queue[Any] = multiprocessing.Queue()
    journal = str(stack.journal) if workers == 1 else None
    procs = [multiprocessing.Process(
        target=hypothesis_worker,
        args=(stack.port, journal, count // workers, seed, queue)) for seed in range(workers)]
    for p in procs:
        p.start()
    created: list[str] = []
    for _ in procs:
        sent, statuses, failures, refs = queue.get()
        tally.sent += sent
        tally.statuses.update(statuses)
        tally.failures += failures
        created += refs
    for p in procs:
        p.join()
    return created


def schemathesis_run(stack: Stack, count: int, tally: Tally) -> None:
    import schemathesis
    from schemathesis.generation.modes import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    schema = schemathesis.openapi.from_url(stack.url + "/openapi.json")
    for mode in GenerationMode:
        _schemathesis_mode(stack, schema.as_strategy(generation_mode=mode), count // 2, tally,
                           [positive_data_acceptance])


def _schemathesis_mode(stack: Stack, cases: Any, count: int, tally: Tally,
                       excluded: list[Any]) -> None:
    @given(data=st.data())
    @settings(max_examples=count, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def one(data: st.DataObject) -> None:
        case = data.draw(cases)
        before = journal_state(stack.journal)
        status, failure = 0, None
        try:
            response = case.call_and_validate(excluded_checks=excluded)
            status = response.status_code
            check_answer(status, response.content, before, journal_state(stack.journal))
        except Exception as exc:
            failure = f"{case.method} {case.path} {case.body!r}: {exc}"[:600]
        tally.record(status, failure)
        tally.progress("schemathesis", 1000)

    one()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000,
                        help="Hypothesis-made requests (default 100000)")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes generating Hypothesis requests (default 2)")
    parser.add_argument("--schemathesis", type=int, default=2000,
                        help="schemathesis cases, half positive, half negative (default 2000)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="posbridge-fuzz-") as tmp:
        stack = Stack(Path(tmp), customer_delay=0)
        stack.sim.start()
        stack.bridge.start()
        results: dict[str, Any] = {}
        try:
            stack.wait_connected()
            before = journal_state(stack.journal)
            tally, t0 = Tally(), time.monotonic()
            created = hypothesis_run(stack, args.requests, tally, args.workers)
            results["hypothesis"] = (tally, time.monotonic() - t0)
            # Every payment the journal gained was answered 200 to a CreatePayment: no
            # refused request left one behind.
            gained = set(journal_state(stack.journal)) - set(before)
            stray = gained - set(created)
            if stray:
                tally.failures.append(f"payments no CreatePayment was told about: {stray}")
                print(f"FAILURE: {tally.failures[-1]}", flush=True)
                with sqlite3.connect(f"file:{stack.journal}?mode=ro", uri=True) as db:
                    for ref in sorted(stray)[:5]:
                        for row in db.execute("SELECT at, from_status, to_status, detail "
                                              "FROM events WHERE ref = ? ORDER BY rowid",
                                              (ref,)):
                            print(f"  {ref!r}: {row}", flush=True)
            tally, t0 = Tally(), time.monotonic()
            schemathesis_run(stack, args.schemathesis, tally)
            results["schemathesis"] = (tally, time.monotonic() - t0)
            alive = stack.bridge.p is not None and stack.bridge.p.poll() is None
            ref = "after-fuzz"
            stack.wait_connected()
            pay = stack.post("/CreatePayment", {"amount": "2.00",
                                                "retrieval_reference_number": ref,
                                                "condition_code": "82"})
            took_payment = pay.status_code == 200 and bool(stack.wait_status(ref, "approved"))
        finally:
            stack.close()
        log = stack.bridge.text()
    tracebacks = log.count("Traceback")

    print("\nposbridge fuzz run")
    total_sent = total_failed = 0
    for name, (tally, seconds) in results.items():
        total_sent += tally.sent
        total_failed += len(tally.failures)
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items()))
        print(f"  {name:13} {tally.sent:7d} requests in {seconds:6.1f} s, "
              f"{len(tally.failures)} failures, server errors (500): "
              f"{tally.statuses.get(500, 0)}")
        print(f"  {'':13} statuses: {statuses}")
    print(f"  total         {total_sent:7d} requests, {total_failed} failures")
    print(f"  bridge alive at the end: {alive}; took a payment after: {took_payment}; "
          f"tracebacks in its log: {tracebacks}")
    ok = total_failed == 0 and alive and took_payment and tracebacks == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
