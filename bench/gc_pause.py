"""The garbage collector's pause in a bridge process, with and without gc.freeze().

    .venv/bin/python bench/gc_pause.py

Imports what ``posbridge serve`` imports and builds its app (a journal in a temporary
directory, the in-process simulator as terminal, nothing started), then times full
collections (``gc.collect()``, what the collector runs now and then when enough objects
survived) before and after ``gc.freeze()``, which the listener calls once it listens. A
full collection scans every tracked object: with the start-up heap in it, it is the
longest pause a request can meet in a process that does no I/O in between. Prints
figures, asserts nothing.
"""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path


def pauses(n: int = 7) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        gc.collect()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    from posbridge.http import create_app
    from posbridge.http.access import AccessPolicy
    from posbridge.journal import Journal
    from posbridge.service import PaymentService, ServiceConfig
    from posbridge.terminal import TerminalClient
    from posbridge.terminals import choose_terminal

    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "journal.sqlite3")
        choice = choose_terminal("simulator", customer_delay=0)
        service = PaymentService(journal, TerminalClient(choice.connector),
                                 ServiceConfig(max_amount_minor=99_999_999))
        app = create_app(service, AccessPolicy.build(token=None, hosts=[], origins=[]))
        tracked = len(gc.get_objects())
        before = pauses()
        gc.freeze()
        after = pauses()
        journal.close()
    print(f"full collection of a bridge's start-up heap ({tracked:,} tracked objects; "
          f"app {type(app).__name__}), median of {len(before)}:")
    print(f"  without gc.freeze(): {statistics.median(before):6.2f} ms "
          f"(max {max(before):.2f})")
    print(f"  after gc.freeze():   {statistics.median(after):6.2f} ms "
          f"(max {max(after):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
