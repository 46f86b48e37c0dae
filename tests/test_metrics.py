"""posbridge.metrics in one process: the journal's write hook against a real SQLite file
that another connection holds locked, the link's reason classes, the outcome of each HTTP
status, and one registry per bridge. tests/e2e/test_prometheus.py scrapes a real bridge."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from posbridge.journal import IllegalTransition, Journal, JournalError
from posbridge.metrics import BridgeMetrics, outcome, reason_class
from posbridge.terminal import HISTORY_SIZE, LinkEvent, TerminalClient
from posbridge.transports import TransportError
from rig import bridge, create_body, run


def sample(metrics: BridgeMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_journal_writes_are_timed_and_sqlite_failures_counted(journal_path: Path) -> None:
    journal = Journal(journal_path)
    metrics = BridgeMetrics()
    journal.on_write = metrics.observe_journal_write
    try:
        journal.create("ok-1", "1.00", 100, "82")
        assert sample(metrics, "posbridge_journal_write_duration_seconds_count") == 1
        assert sample(metrics, "posbridge_journal_write_failures_total") == 0

        # A refused transition rolls back, but SQLite did not fail: timed, not a failure.
        with pytest.raises(IllegalTransition):
            journal.transition("nobody", "approved")
        assert sample(metrics, "posbridge_journal_write_duration_seconds_count") == 2
        assert sample(metrics, "posbridge_journal_write_failures_total") == 0

        # Another process holds the write lock: BEGIN IMMEDIATE fails, and that is counted.
        journal._db.execute("PRAGMA busy_timeout = 0")
        other = sqlite3.connect(journal_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(JournalError, match="locked"):
                journal.create("locked-1", "1.00", 100, "82")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert sample(metrics, "posbridge_journal_write_failures_total") == 1
        assert sample(metrics, "posbridge_journal_write_duration_seconds_count") == 3
        assert journal.get("locked-1") is None
    finally:
        journal.close()


def test_outcome_of_each_status() -> None:
    assert [outcome(s) for s in (200, 400, 401, 409, 500, 503, 504)] == [
        "ok", "refused", "refused", "refused", "failed", "failed", "unknown"]


@pytest.mark.parametrize(("kind", "detail", "expected"), [
    ("open_failed", "connecting to tcp://127.0.0.1:9: [Errno 111] Connection refused",
     "unavailable"),
    ("open_failed", "usb 2d00: permission denied ([Errno 13]). Add a udev rule", "permission"),
    ("open_failed", "usb 2d00: the device is in use by another program (adb, ...)", "in_use"),
    ("open_failed", "connecting to tcp://10.0.0.9:9100: no answer within 3 s", "timeout"),
    ("down", "no frames from the peer for 3 s", "timeout"),
    ("down", "no acknowledgement after 6 retransmissions", "timeout"),
    ("down", "the terminal restarted and lost the session", "session_restarted"),
    ("down", "USB accessory read: [Errno 19] No such device", "transport"),
    ("down", "posbridge is stopping", "stopping"),
    ("up", "A920 serial SIM-1, app 1.0", ""),
])
def test_reason_classes_stay_few(kind: str, detail: str, expected: str) -> None:
    assert reason_class(LinkEvent(0.0, kind, detail)) == expected


def test_each_bridge_counts_in_its_own_registry(journal_path: Path) -> None:
    """Two bridges in one process (the panel restarting its listener; the tests) do not meet
    each other's series, and neither touches prometheus_client's global registry."""
    from prometheus_client import REGISTRY

    first, second = BridgeMetrics(), BridgeMetrics()
    first.observe_command("CreatePayment", 0.01, 200)
    assert sample(first, "posbridge_commands_total", command="CreatePayment", outcome="ok",
                  error_code="") == 1
    assert sample(second, "posbridge_commands_total", command="CreatePayment", outcome="ok",
                  error_code="") is None
    assert REGISTRY.get_sample_value("posbridge_commands_total",
                                     {"command": "CreatePayment", "outcome": "ok",
                                      "error_code": ""}) is None


def test_a_scrape_survives_a_closed_journal(journal_path: Path) -> None:
    async def main() -> None:
        async with bridge(journal_path) as b:
            metrics = BridgeMetrics()
            metrics.watch(b.service)
            r = await b.post("/CreatePayment", create_body("closed-1"))
            assert r.status_code == 200
            names = {f.name for f in text_string_to_metric_families(
                metrics.exposition().decode())}
            assert "posbridge_payments_not_final" in names
            await b.wait_status("closed-1", "approved")
            b.journal._db.close()  # what a vanished file looks like to the reader
            try:
                names = {f.name for f in text_string_to_metric_families(
                    metrics.exposition().decode())}
            finally:
                b.journal._db = sqlite3.connect(journal_path, isolation_level=None)
                b.journal._db.row_factory = sqlite3.Row
            assert "posbridge_terminal_connected" in names
            assert "posbridge_payments_not_final" not in names

    run(main())


def test_link_history_is_bounded_and_an_unplugged_terminal_is_one_entry() -> None:
    async def main() -> None:
        tries = 0

        async def connector() -> object:
            nonlocal tries
            tries += 1
            raise TransportError("no terminal on usb" if tries <= 20 else f"failure {tries % 2}")

        seen: list[LinkEvent] = []
        client = TerminalClient(connector, backoff_initial=0.001, backoff_max=0.001)  # type: ignore[arg-type]
        client.on_link_event = seen.append
        await client.start()
        while tries < 20:
            await asyncio.sleep(0.001)
        status = client.status()
        # Every attempt is seen by the observer (metrics) and counted ...
        assert len(seen) >= 20 and status.attempts >= 20
        # ... but the history shows the same failure once, not twenty times.
        assert [(e.kind, e.detail) for e in status.history][:1] == [
            ("open_failed", "no terminal on usb")]
        assert len(status.history) <= 2
        # Different failures each get an entry, up to HISTORY_SIZE: the oldest go first.
        while tries < 20 + 3 * HISTORY_SIZE:
            await asyncio.sleep(0.001)
        await client.stop()
        history = client.status().history
        assert len(history) == HISTORY_SIZE
        assert {e.detail for e in history} == {"failure 0", "failure 1"}

    run(main())


def test_an_unknown_outcome_is_counted_as_unknown_and_not_final(journal_path: Path) -> None:
    """A terminal that never answers the sale: the 504 is outcome "unknown" with its code,
    and the payment counts as not final until recovery learns it was declined."""
    from posbridge.service import ServiceConfig
    from test_api import SilentOnce

    def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        return {(s.name, frozenset(s.labels.items())): s.value
                for f in text_string_to_metric_families(text) for s in f.samples}

    async def main() -> None:
        config = ServiceConfig(terminal_timeout=0.3, query_timeout=0.5, recovery_interval=0.2)
        async with bridge(journal_path, model=SilentOnce(customer_delay=0.6),
                          config=config) as b:
            r = await b.post("/CreatePayment", create_body("u1", "1.51"))
            assert r.status_code == 504
            during = parse((await b.client.get(b.url + "/metrics")).text)
            key = ("posbridge_commands_total", frozenset({
                ("command", "CreatePayment"), ("outcome", "unknown"),
                ("error_code", "TERMINAL_TIMEOUT")}))
            assert during[key] == 1
            not_final = {dict(ls)["status"]: v for (n, ls), v in during.items()
                         if n == "posbridge_payments_not_final"}
            assert sum(not_final.values()) == 1 and not_final["received"] == 0
            await b.wait_status("u1", "declined")
            after = parse((await b.client.get(b.url + "/metrics")).text)
            assert sum(v for (n, _), v in after.items()
                       if n == "posbridge_payments_not_final") == 0

    run(main())


def test_the_event_subscribers_gauge_counts_the_streams_being_served(
        journal_path: Path) -> None:
    """posbridge_event_subscribers is the broker's count at scrape time: 1 while a client
    follows GET /events over a real socket, 0 again once it hangs up. (It was a gauge nobody
    set, always 0, before the metrics were read at scrape time.)"""
    import socket

    def subscribers(text: str) -> float:
        return next(s.value for f in text_string_to_metric_families(text) for s in f.samples
                    if s.name == "posbridge_event_subscribers")

    async def main() -> None:
        async with bridge(journal_path) as b:
            scrape = b.client.get
            assert subscribers((await scrape(b.url + "/metrics")).text) == 0
            with socket.create_connection(("127.0.0.1", b.port)) as follower:
                follower.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                while b.events.subscribers < 1:
                    await asyncio.sleep(0.01)
                assert subscribers((await scrape(b.url + "/metrics")).text) == 1
            while b.events.subscribers:
                await asyncio.sleep(0.01)
            assert subscribers((await scrape(b.url + "/metrics")).text) == 0

    run(main())
