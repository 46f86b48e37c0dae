"""What /metrics costs the bridge: per command observed, and per scrape.

    .venv/bin/python bench/metrics_cost.py [--calls 200000] [--payments 0,100,1000]

Prints the time of one ``observe_command`` (what every command pays: a count and a
histogram's bucket, plain Python on the event loop's thread) beside what the same
observation costs with prometheus_client's own Counter and Histogram children (each behind
the library's lock; what the bridge used before), measured in the same run; of one
``observe_journal_write``; and of a whole scrape (``exposition()``, where prometheus_client
is imported and writes the text) with a journal file holding that many payments not final
(each scrape reads them with ``Journal.active()``). Figures only; no target is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from posbridge.journal import Journal
from posbridge.metrics import _COMMAND_BUCKETS, BridgeMetrics
from posbridge.terminal import TerminalClient


async def _never() -> object:
    raise AssertionError("not connected in this benchmark")


def _library_children() -> Callable[[], None]:
    """One command's observation with prometheus_client's Counter and Histogram children,
    looked up once and kept, as the bridge did before its own counts."""
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()
    counter = Counter("c", "c", ["command", "outcome", "error_code"], registry=registry)
    histogram = Histogram("h", "h", ["command"], buckets=_COMMAND_BUCKETS, registry=registry)
    count, seconds = counter.labels("QueryPayment", "ok", ""), histogram.labels("QueryPayment")

    def observe() -> None:
        count.inc()
        seconds.observe(0.0002)

    return observe


def main(calls: int, payment_counts: list[int]) -> None:
    metrics = BridgeMetrics()
    library = _library_children()
    ours = theirs = float("inf")
    for _ in range(5):  # interleaved, best of each
        ours = min(ours, timeit.timeit(
            lambda: metrics.observe_command("QueryPayment", 0.0002, 200), number=calls))
        theirs = min(theirs, timeit.timeit(library, number=calls))
    print(f"observe_command       {ours / calls * 1e6:6.2f} us per command (best of 5 x "
          f"{calls}); prometheus_client's Counter + Histogram: {theirs / calls * 1e6:.2f} us "
          f"({theirs / ours:.1f}x)")
    best = min(timeit.repeat(lambda: metrics.observe_journal_write(0.001, False),
                             number=calls, repeat=5)) / calls
    print(f"observe_journal_write {best * 1e6:6.2f} us per write")
    for count in payment_counts:
        with tempfile.TemporaryDirectory(prefix="posbridge-metrics-") as tmp:
            journal = Journal(Path(tmp) / "journal.sqlite3")
            for n in range(count):
                journal.create(f"bench-{n}", "1.00", 100, "82")
            scraped = BridgeMetrics()
            scraped.watch(SimpleNamespace(  # type: ignore[arg-type]
                journal=journal, terminal=TerminalClient(_never)))  # type: ignore[arg-type]
            runs = []
            for _ in range(20):
                start = time.perf_counter()
                size = len(scraped.exposition())
                runs.append(time.perf_counter() - start)
            journal.close()
        print(f"scrape with {count:5} payments not final: {min(runs) * 1e3:6.2f} ms "
              f"(best of 20), {size} bytes")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200000)
    parser.add_argument("--payments", default="0,100,1000")
    args = parser.parse_args()
    main(args.calls, [int(n) for n in args.payments.split(",")])
