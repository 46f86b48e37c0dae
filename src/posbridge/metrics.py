"""The bridge's Prometheus metrics, served at ``GET /metrics`` (docs/operations.md).

Each running bridge has a ``BridgeMetrics`` with a ``CollectorRegistry`` of its own, never
prometheus_client's global one: the panel starts and stops listeners in one process, and the
tests run many bridges in one, and each must count from zero without meeting the others'
metrics.

What is measured where, so that the payment code carries no metrics code of its own:

- the five commands, at the HTTP layer (``observe_command``, called by the endpoint wrapper
  of ``posbridge.http.app``): how many by command and outcome, and how long they took;
- the terminal link, from ``TerminalClient.on_link_event``: transports opened, failures to
  open one, hellos, and links lost, each with a coarse reason;
- the journal, from ``Journal.on_write`` (a hook around each write transaction): write
  latency and the writes SQLite failed;
- at scrape time (``_StateCollector``), what is true now: the link's state, and the payments
  whose outcome is not final yet with the age of the oldest, read from the journal.

A scrape runs on the event loop's thread (the /metrics route), the only thread that uses the
journal, so reading it there is safe.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from . import __version__
from .journal import JournalError

if TYPE_CHECKING:
    from .service import PaymentService
    from .terminal import LinkEvent

log = logging.getLogger("posbridge.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST

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


class BridgeMetrics:
    """The metrics of one bridge, in their own registry (``registry``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        Info("posbridge", "This posbridge's version.", registry=r).info(
            {"version": __version__})
        self.commands = Counter(
            "posbridge_commands", "API commands answered, by command, outcome (ok, refused, "
            "unknown, failed) and error_code (empty when ok).",
            ["command", "outcome", "error_code"], registry=r)
        self.command_seconds = Histogram(
            "posbridge_command_duration_seconds", "Time from a command's request to its "
            "answer, by command.", ["command"], buckets=_COMMAND_BUCKETS, registry=r)
        self.link_events = Counter(
            "posbridge_terminal_link_events", "Terminal link events: opened (a transport "
            "opened; a reconnect attempt), open_failed, up (the terminal said hello), down "
            "(the link was lost), with a coarse reason for open_failed and down.",
            ["kind", "reason"], registry=r)
        self.journal_seconds = Histogram(
            "posbridge_journal_write_duration_seconds", "Time of each journal write "
            "transaction (fsync included).", buckets=_JOURNAL_BUCKETS, registry=r)
        self.journal_failures = Counter(
            "posbridge_journal_write_failures", "Journal writes SQLite failed (disk full, "
            "locked, file gone).", registry=r)
        #: Clients following the bridge's event stream; set by whatever serves that stream.
        self.event_subscribers = Gauge(
            "posbridge_event_subscribers", "Clients subscribed to the bridge's events.",
            registry=r)
        self._state: _StateCollector | None = None
        # (command, status, code) -> its counter and histogram: prometheus_client's labels()
        # validates and locks on every call, a few microseconds a request on the poll path.
        self._children: dict[tuple[str, int, str], tuple[Any, Any]] = {}

    def watch(self, service: PaymentService) -> None:
        """Observe ``service``'s terminal link and journal (hooks; no polling)."""
        service.terminal.on_link_event = self.observe_link_event
        service.journal.on_write = self.observe_journal_write
        if self._state is None:
            self._state = _StateCollector(service)
            self.registry.register(self._state)
        else:
            self._state.service = service

    # -- observations (each must be cheap and never raise into the caller) ----------------

    def observe_command(self, command: str, seconds: float, http_status: int,
                        error_code: str = "") -> None:
        key = (command, http_status, error_code)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.commands.labels(command, outcome(http_status), error_code),
                self.command_seconds.labels(command))
        children[0].inc()
        children[1].observe(seconds)

    def observe_link_event(self, event: LinkEvent) -> None:
        self.link_events.labels(event.kind, reason_class(event)).inc()

    def observe_journal_write(self, seconds: float, failed: bool) -> None:
        self.journal_seconds.observe(seconds)
        if failed:
            self.journal_failures.inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """What is true at scrape time: the link's state and the payments not final yet."""

    def __init__(self, service: PaymentService) -> None:
        self.service = service

    def describe(self) -> Iterable[Metric]:
        return []  # the series are made at each scrape; nothing to check at registration

    def collect(self) -> Iterable[Metric]:
        status = self.service.terminal.status()
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
            active = self.service.journal.active()
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
