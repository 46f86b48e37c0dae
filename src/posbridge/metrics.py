"""The bridge's Prometheus metrics, served at ``GET /metrics`` (docs/operations.md).

Each running bridge has a ``BridgeMetrics`` of its own, never prometheus_client's global
registry: the panel starts and stops listeners in one process, and the tests run many
bridges in one, and each must count from zero without meeting the others' metrics.

What is measured where, so that the payment code carries no metrics code of its own:

- the five commands, at the HTTP layer (``observe_command``, called by the endpoint wrapper
  of ``posbridge.http.app``): how many by command and outcome, and how long they took;
- the terminal link, from ``TerminalClient.on_link_event``: transports opened, failures to
  open one, hellos, and links lost, each with a coarse reason;
- the journal, from ``Journal.on_write`` (a hook around each write transaction): write
  latency and the writes SQLite failed;
- at scrape time, what is true now: the link's state, the event stream's subscribers, and
  the payments whose outcome is not final yet with the age of the oldest, read from the
  journal.

The observations are plain counts (a dict entry, a histogram's bucket list), and
prometheus_client is imported at the first scrape, where a collector turns them into its
metric families and the library writes the exposition text: a bridge nobody scrapes does
not load it (1.3 MiB and 7 ms of its start), and a command pays a dict update instead of a
counter and a histogram behind the library's locks (bench/metrics_cost.py measures both).
No lock is needed: every observation and every scrape runs on the bridge's event loop
thread, the only thread that uses the journal, so reading the journal there is safe too.
"""

from __future__ import annotations

import bisect
import logging
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from . import __version__
from .journal import JournalError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

    from .events import EventBroker
    from .service import PaymentService
    from .terminal import LinkEvent

log = logging.getLogger("posbridge.metrics")

#: The link states a TerminalClient reports; each is one series of posbridge_terminal_state.
LINK_STATES = ("stopped", "connecting", "connected", "disconnected")
#: The journal's statuses whose outcome is not final (journal.ACTIVE), one series each.
NOT_FINAL = ("received", "pending", "unknown")

# A command waits for the terminal's accept (a few hundred ms) or its timeout (5 s default).
_COMMAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A journal write is one fsync'd SQLite transaction: about a millisecond on an SSD.
_JOURNAL_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


def outcome(http_status: int) -> str:
    """A command's outcome for metrics, from its HTTP status: ``ok``; ``refused`` (4xx:
    nothing was started); ``unknown`` (504: the terminal did not answer in time, the outcome
    is not known yet); ``failed`` (other 5xx: not connected, or posbridge's own failure)."""
    if http_status < 400:
        return "ok"
    if http_status < 500:
        return "refused"
    return "unknown" if http_status == 504 else "failed"


def reason_class(event: LinkEvent) -> str:
    """A few stable values for a link event's free-text detail, so that a metric label does
    not grow a series per device path or error text (the text is in /health's history)."""
    text = event.detail.lower()
    if event.kind == "open_failed":
        if "permission denied" in text:
            return "permission"
        if "in use" in text:
            return "in_use"
        if "no answer within" in text or "timed out" in text:
            return "timeout"
        return "unavailable"
    if event.kind == "down":
        if "posbridge is stopping" in text:
            return "stopping"
        if "restarted" in text or "new session" in text:
            return "session_restarted"
        if "no answer" in text or "no frames" in text or "no acknowledgement" in text:
            return "timeout"
        return "transport"
    return ""


class _Histogram:
    """One histogram series: a count per bucket (the last one +Inf), the sum, and when it
    was made. ``observe`` puts a value in the first bucket whose bound is at least it, as
    prometheus_client does."""

    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self, names: list[str]) -> list[tuple[str, float]]:
        out, total = [], 0
        for name, count in zip(names, self.counts, strict=True):
            total += count
            out.append((name, float(total)))
        return out


class BridgeMetrics:
    """The metrics of one bridge: its counts, and ``registry``, made at the first scrape."""

    def __init__(self) -> None:
        self.created = time.time()
        #: (command, outcome, error_code) -> [count, created]
        self.commands: dict[tuple[str, str, str], list[float]] = {}
        #: command -> its latency histogram
        self.command_seconds: dict[str, _Histogram] = {}
        #: (kind, reason) -> [count, created]
        self.link_events: dict[tuple[str, str], list[float]] = {}
        self.journal_seconds = _Histogram(_JOURNAL_BUCKETS)
        self.journal_failures = 0
        self.service: PaymentService | None = None
        self.events: EventBroker | None = None
        self._registry: CollectorRegistry | None = None
        # (command, HTTP status, code) -> its count and histogram: no outcome() per request.
        self._children: dict[tuple[str, int, str], tuple[list[float], _Histogram]] = {}

    def watch(self, service: PaymentService, events: EventBroker | None = None) -> None:
        """Observe ``service``'s terminal link and journal (hooks; no polling), and count
        the subscribers of ``events``, the broker of GET /events."""
        service.terminal.on_link_event = self.observe_link_event
        service.journal.on_write = self.observe_journal_write
        self.service = service
        if events is not None:
            self.events = events

    # -- observations (each must be cheap and never raise into the caller) ----------------

    def observe_command(self, command: str, seconds: float, http_status: int,
                        error_code: str = "") -> None:
        key = (command, http_status, error_code)
        children = self._children.get(key)
        if children is None:
            counted = self.commands.setdefault((command, outcome(http_status), error_code),
                                               [0, time.time()])
            histogram = self.command_seconds.get(command)
            if histogram is None:
                histogram = self.command_seconds[command] = _Histogram(_COMMAND_BUCKETS)
            children = self._children[key] = (counted, histogram)
        children[0][0] += 1
        children[1].observe(seconds)

    def observe_link_event(self, event: LinkEvent) -> None:
        self.link_events.setdefault((event.kind, reason_class(event)), [0, time.time()])[0] += 1

    def observe_journal_write(self, seconds: float, failed: bool) -> None:
        self.journal_seconds.observe(seconds)
        if failed:
            self.journal_failures += 1

    # -- scraping -----------------------------------------------------------------------

    @property
    def registry(self) -> CollectorRegistry:
        """A registry of this bridge's metrics alone (prometheus_client is imported here)."""
        if self._registry is None:
            from prometheus_client import CollectorRegistry

            self._registry = CollectorRegistry()
            self._registry.register(_Collector(self))
        return self._registry

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format (``content_type``)."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    @property
    def content_type(self) -> str:
        from prometheus_client import CONTENT_TYPE_LATEST

        return CONTENT_TYPE_LATEST


class _Collector:
    """Turns a BridgeMetrics' counts, and what is true at scrape time, into prometheus_client
    metric families, with the names, labels and ``_created`` series its Counter, Histogram
    and Info would have made."""

    def __init__(self, metrics: BridgeMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # the series are made at each scrape; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
            InfoMetricFamily,
        )
        from prometheus_client.utils import floatToGoString

        m = self.metrics
        yield InfoMetricFamily("posbridge", "This posbridge's version.",
                               value={"version": __version__})
        commands = CounterMetricFamily(
            "posbridge_commands", "API commands answered, by command, outcome (ok, refused, "
            "unknown, failed) and error_code (empty when ok).",
            labels=["command", "outcome", "error_code"])
        for labels, (count, created) in m.commands.items():
            commands.add_metric(labels, count, created=created)
        yield commands

        def histogram(name: str, doc: str, series: dict[tuple[str, ...], _Histogram],
                      labels: list[str]) -> Iterator[Metric]:
            family = HistogramMetricFamily(name, doc, labels=labels)
            created = GaugeMetricFamily(name + "_created", doc, labels=labels)
            for values, h in series.items():
                names = [floatToGoString(b) for b in h.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
                family.add_metric(list(values), h.cumulative(names), h.sum)
                created.add_metric(list(values), h.created)
            yield family
            yield created

        yield from histogram(
            "posbridge_command_duration_seconds", "Time from a command's request to its "
            "answer, by command.", {(c,): h for c, h in m.command_seconds.items()},
            ["command"])
        link = CounterMetricFamily(
            "posbridge_terminal_link_events", "Terminal link events: opened (a transport "
            "opened; a reconnect attempt), open_failed, up (the terminal said hello), down "
            "(the link was lost), with a coarse reason for open_failed and down.",
            labels=["kind", "reason"])
        for kind_reason, (count, created) in m.link_events.items():
            link.add_metric(kind_reason, count, created=created)
        yield link
        yield from histogram(
            "posbridge_journal_write_duration_seconds", "Time of each journal write "
            "transaction (fsync included).", {(): m.journal_seconds}, [])
        yield CounterMetricFamily(
            "posbridge_journal_write_failures", "Journal writes SQLite failed (disk full, "
            "locked, file gone).", value=m.journal_failures, created=m.created)
        yield GaugeMetricFamily(
            "posbridge_event_subscribers", "Clients subscribed to the bridge's events.",
            value=m.events.subscribers if m.events is not None else 0)
        if m.service is not None:
            yield from self._state(m.service)

    def _state(self, service: PaymentService) -> Iterator[Metric]:
        """What is true at scrape time: the link's state and the payments not final yet."""
        from prometheus_client.core import GaugeMetricFamily

        status = service.terminal.status()
        state = GaugeMetricFamily(
            "posbridge_terminal_state", "1 for the terminal link's current state.",
            labels=["state"])
        for name in LINK_STATES:
            state.add_metric([name], 1.0 if status.state == name else 0.0)
        yield state
        yield GaugeMetricFamily(
            "posbridge_terminal_connected", "1 while the terminal link is up.",
            value=1.0 if status.state == "connected" else 0.0)
        yield GaugeMetricFamily(
            "posbridge_terminal_state_since_seconds",
            "Unix time of the terminal link's last change of state.", value=status.since)
        yield GaugeMetricFamily(
            "posbridge_terminal_link_attempts", "Transports opened or tried since start.",
            value=status.attempts)
        try:
            active = service.journal.active()
        except (sqlite3.Error, JournalError) as exc:  # an alert, not a 500 here
            log.warning("metrics: cannot read the journal's active payments: %s", exc)
            return
        counts = dict.fromkeys(NOT_FINAL, 0)
        for payment in active:
            counts[payment.status] = counts.get(payment.status, 0) + 1
        by_status = GaugeMetricFamily(
            "posbridge_payments_not_final", "Payments whose outcome is not final yet, by "
            "journal status (received and pending are in progress; unknown waits for "
            "recovery).", labels=["status"])
        for name, count in counts.items():
            by_status.add_metric([name], count)
        yield by_status
        oldest = 0.0
        if active:
            created = min(datetime.fromisoformat(p.created_at).timestamp() for p in active)
            oldest = max(0.0, time.time() - created)
        yield GaugeMetricFamily(
            "posbridge_payment_not_final_oldest_age_seconds", "Age of the oldest payment "
            "whose outcome is not final (0 when there is none).", value=oldest)
