"""LinkConnection: two endpoints joined by a simulated wire with a fake clock (h11 style).

The wire can split, drop, duplicate and corrupt what it carries, as a Hypothesis-drawn
plan says. Whatever it does, messages are delivered at most once and in order; when the
faults leave the link alive, every message arrives."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posbridge.protocol import (
    PROTOCOL_VERSION,
    Event,
    Hello,
    LinkConnection,
    LinkDown,
    LinkTimers,
    LinkUp,
    LocalProtocolError,
    MessageReceived,
    Role,
)
from posbridge.protocol.messages import Ack, Query

TIMERS = LinkTimers(rto=0.3, max_retries=6, heartbeat_interval=0.5, dead_after=2.0,
                    handshake_timeout=3.0)


def host(session: str = "s1", version: int = PROTOCOL_VERSION) -> LinkConnection:
    return LinkConnection(Role.HOST, Hello("host", version, session), TIMERS)


def terminal() -> LinkConnection:
    return LinkConnection(
        Role.TERMINAL,
        Hello("terminal", PROTOCOL_VERSION, "", serial="T-1", model="M", app_version="9",
              condition_codes=("00", "82")),
        TIMERS,
    )


@dataclass
class Wire:
    """Carries bytes between the two ends with a latency, under a fault plan."""

    a: LinkConnection
    b: LinkConnection
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    drop: float = 0.0
    dup: float = 0.0
    corrupt: float = 0.0
    latency: float = 0.01
    now: float = 0.0
    cut: bool = False
    events: dict[str, list[Event]] = field(default_factory=lambda: {"a": [], "b": []})
    flight: list[tuple[float, str, bytes]] = field(default_factory=list)

    def start(self) -> None:
        self.a.initiate(self.now)
        self.b.initiate(self.now)

    def _mangle(self, data: bytes) -> list[bytes]:
        if self.cut or self.rng.random() < self.drop:
            return []
        if self.rng.random() < self.corrupt and data:
            i = self.rng.randrange(len(data))
            data = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:]
        out = [data]
        if self.rng.random() < self.dup:
            out.append(data)
        # split into random chunks
        chunks = []
        for piece in out:
            while piece:
                n = self.rng.randint(1, max(1, len(piece)))
                chunks.append(piece[:n])
                piece = piece[n:]
        return chunks

    def _collect(self) -> None:
        for name, conn in (("a", self.a), ("b", self.b)):
            data = conn.data_to_send()
            if data:
                for chunk in self._mangle(data):
                    self.flight.append((self.now + self.latency, name, chunk))

    def run(self, until: float) -> None:
        """Advance time to ``until``, delivering bytes and firing timers in order."""
        while True:
            self._collect()
            deadlines = [d for d in (self.a.next_deadline(), self.b.next_deadline())
                         if d is not None]
            arrivals = [t for t, _, _ in self.flight]
            nxt = min(deadlines + arrivals, default=until)
            if not (deadlines or arrivals) or nxt > until:
                self.now = until
                return
            self.now = max(self.now, nxt)
            due = [f for f in self.flight if f[0] <= self.now]
            self.flight = [f for f in self.flight if f[0] > self.now]
            for _, sender, chunk in due:
                receiver, name = (self.b, "b") if sender == "a" else (self.a, "a")
                self.events[name] += receiver.receive_data(chunk, self.now)
            for name, conn in (("a", self.a), ("b", self.b)):
                d = conn.next_deadline()
                if d is not None and d <= self.now:
                    self.events[name] += conn.handle_timers(self.now)

    def received(self, name: str) -> list[object]:
        return [e.message for e in self.events[name] if isinstance(e, MessageReceived)]

    def downs(self, name: str) -> list[LinkDown]:
        return [e for e in self.events[name] if isinstance(e, LinkDown)]


def test_handshake_gives_both_ends_link_up_with_the_terminal_identity() -> None:
    wire = Wire(host(), terminal())
    wire.start()
    wire.run(1.0)
    ups = [e for e in wire.events["a"] if isinstance(e, LinkUp)]
    assert len(ups) == 1
    assert (ups[0].peer.serial, ups[0].peer.model, ups[0].peer.condition_codes) == (
        "T-1", "M", ("00", "82"))
    assert any(isinstance(e, LinkUp) for e in wire.events["b"])
    assert wire.a.session == wire.b.session == "s1"


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    drop=st.sampled_from([0.0, 0.05, 0.2]),
    dup=st.sampled_from([0.0, 0.1, 0.3]),
    corrupt=st.sampled_from([0.0, 0.05, 0.2]),
    count=st.integers(1, 30),
)
def test_delivery_is_exactly_once_in_order_under_faults(
    seed: int, drop: float, dup: float, corrupt: float, count: int
) -> None:
    wire = Wire(host(), terminal(), rng=random.Random(seed))
    wire.start()
    wire.run(0.5)  # a clean handshake first
    assert wire.a.peer is not None
    wire.drop, wire.dup, wire.corrupt = drop, dup, corrupt
    sent_a = [Query(i, f"a{i}") for i in range(count)]
    sent_b = [Query(i, f"b{i}") for i in range(count)]
    for i in range(count):
        if wire.a.closed or wire.b.closed:
            break
        wire.a.send(sent_a[i], wire.now)
        wire.b.send(sent_b[i], wire.now)
        wire.run(wire.now + 0.02)
    wire.run(wire.now + 30)
    got_b, got_a = wire.received("b"), wire.received("a")
    # At most once, in order: what arrived is a prefix of what was sent.
    assert got_b == sent_a[: len(got_b)]
    assert got_a == sent_b[: len(got_a)]
    if not wire.downs("a") and not wire.downs("b"):
        assert got_b == sent_a[:count] and got_a == sent_b[:count]
    if drop == 0.0 and corrupt == 0.0:
        assert not wire.downs("a") and not wire.downs("b")


def test_duplicated_frames_are_ignored_and_counted() -> None:
    wire = Wire(host(), terminal(), dup=1.0)
    wire.start()
    wire.run(0.5)
    for i in range(5):
        wire.a.send(Query(i, "x"), wire.now)
    wire.run(wire.now + 1)
    assert wire.received("b") == [Query(i, "x") for i in range(5)]
    assert wire.b.stats.duplicates >= 5


def test_heartbeats_keep_an_idle_link_up() -> None:
    wire = Wire(host(), terminal())
    wire.start()
    wire.run(600.0)
    assert not wire.downs("a") and not wire.downs("b")
    assert wire.a.stats.frames_sent > 600 / TIMERS.heartbeat_interval / 2


def test_a_silent_peer_is_detected_within_dead_after() -> None:
    wire = Wire(host(), terminal())
    wire.start()
    wire.run(1.0)
    wire.cut = True
    cut_at = wire.now
    wire.run(cut_at + 10)
    down = [e for e in wire.events["a"] if isinstance(e, LinkDown)]
    assert len(down) == 1
    assert wire.a.closed and wire.b.closed
    # No later than dead_after plus one heartbeat after the last frame heard.
    assert "no frames" in down[0].reason or "acknowledgement" in down[0].reason


def test_unacknowledged_data_gives_up_after_max_retries() -> None:
    a, b = host(), terminal()
    a.initiate(0.0)
    b.initiate(0.0)
    b.receive_data(a.data_to_send(), 0.0)
    a.receive_data(b.data_to_send(), 0.0)
    a.send(Query(1, "x"), 0.0)
    a.data_to_send()  # lost
    events: list[Event] = []
    now = 0.0
    while not a.closed and now < 10:
        now = a.next_deadline() or now + 0.1
        events += a.handle_timers(now)
        out = a.data_to_send()
        if b"hb" in out:  # heartbeats reach the terminal, data does not: it only acks hbs
            a.receive_data(b.data_to_send(), now)
    assert a.closed
    assert any(isinstance(e, LinkDown) for e in events)
    assert a.stats.retransmissions >= TIMERS.max_retries


def test_terminal_restart_is_reported_to_the_host() -> None:
    wire = Wire(host(), terminal())
    wire.start()
    wire.run(1.0)
    wire.b = terminal()  # the terminal rebooted: a fresh end with no session
    wire.b.initiate(wire.now)
    wire.a.send(Query(1, "x"), wire.now)
    wire.run(wire.now + 1)
    downs = wire.downs("a")
    assert downs and "restarted" in downs[0].reason
    assert wire.received("b") == []


def test_host_restart_starts_a_new_session_at_the_terminal() -> None:
    wire = Wire(host("old"), terminal())
    wire.start()
    wire.run(1.0)
    wire.a = host("new")
    wire.a.initiate(wire.now)
    wire.run(wire.now + 1)
    kinds = [type(e).__name__ for e in wire.events["b"]]
    assert kinds == ["LinkUp", "LinkDown", "LinkUp"]
    assert wire.b.session == "new"
    wire.a.send(Query(1, "after"), wire.now)
    wire.run(wire.now + 1)
    assert wire.received("b") == [Query(1, "after")]


def terminal_speaking(version: int) -> LinkConnection:
    return LinkConnection(Role.TERMINAL, Hello("terminal", version, "", serial="T-1"), TIMERS)


def test_a_version_the_terminal_does_not_speak_puts_the_host_link_down() -> None:
    wire = Wire(host(), terminal_speaking(0))
    wire.start()
    wire.run(1.0)
    downs = wire.downs("a")
    assert downs and "terminal speaks link protocol v0" in downs[0].reason
    assert f"v{PROTOCOL_VERSION}" in downs[0].reason
    assert not any(isinstance(e, LinkUp) for e in wire.events["b"])


def test_an_older_terminal_gets_a_session_in_its_version() -> None:
    """A v1 terminal answers the v2 hello with its own version and no session (as v1
    specified); the host says hello again in v1, and the session is v1 on both ends."""
    a, b = host(version=2), terminal_speaking(1)
    wire = Wire(a, b)
    wire.start()
    wire.run(1.0)
    [up] = [e for e in wire.events["a"] if isinstance(e, LinkUp)]
    assert up.peer.version == 1
    assert (a.version, b.version) == (1, 1)
    wire.a.send(Query(1, "r"), wire.now)
    wire.run(wire.now + 1)
    assert wire.received("b") == [Query(1, "r")]


def test_a_newer_host_gets_a_session_in_the_terminals_version() -> None:
    a, b = host(version=PROTOCOL_VERSION + 1), terminal()
    wire = Wire(a, b)
    wire.start()
    wire.run(1.0)
    assert any(isinstance(e, LinkUp) for e in wire.events["a"])
    assert a.version == b.version == PROTOCOL_VERSION


def test_a_terminal_answers_an_older_host_in_the_hosts_version() -> None:
    a, b = host(version=1), terminal()
    wire = Wire(a, b)
    wire.start()
    wire.run(1.0)
    assert any(isinstance(e, LinkUp) for e in wire.events["a"])
    assert a.version == b.version == 1


def test_no_answer_to_hello_times_out() -> None:
    wire = Wire(host(), terminal())
    wire.cut = True
    wire.start()
    wire.run(10)
    downs = wire.downs("a")
    assert downs and "hello" in downs[0].reason


def test_misuse_is_a_local_protocol_error() -> None:
    a = host()
    with pytest.raises(LocalProtocolError):
        a.send(Query(1, "x"), 0.0)  # before the link is up
    wire = Wire(host(), terminal())
    wire.start()
    wire.run(1.0)
    with pytest.raises(LocalProtocolError):
        wire.a.send(Ack(3), wire.now)
    with pytest.raises(LocalProtocolError):
        wire.a.initiate(wire.now)
    with pytest.raises(LocalProtocolError):
        LinkConnection(Role.HOST, Hello("terminal", 1, "s"))


@pytest.mark.parametrize("latency", [0.2, 0.35, 0.8])
def test_delayed_bytes_cause_retransmissions_not_duplicates(latency: float) -> None:
    wire = Wire(host(), terminal(), latency=latency)
    wire.start()
    wire.run(3 * latency + 0.5)
    assert wire.a.peer is not None
    sent = [Query(i, "slow") for i in range(10)]
    for message in sent:
        wire.a.send(message, wire.now)
        wire.run(wire.now + 0.05)
    wire.run(wire.now + 5)
    assert wire.received("b") == sent
    assert not wire.downs("a") and not wire.downs("b")
    if 2 * latency > TIMERS.rto:
        assert wire.a.stats.retransmissions > 0 and wire.b.stats.duplicates > 0


def test_a_deeply_nested_payload_does_not_crash_receive_data() -> None:
    from posbridge.protocol.frames import MAX_PAYLOAD, encode_frame

    wire = Wire(host(), terminal())
    wire.start()
    wire.run(1.0)
    hostile = encode_frame(b"[" * MAX_PAYLOAD)
    events = wire.a.receive_data(hostile, wire.now)
    assert events == [] and wire.a.stats.bad_messages == 1
    wire.b.send(Query(1, "after"), wire.now)
    wire.run(wire.now + 1)
    assert wire.received("a") == [Query(1, "after")]


# -- the idle heartbeat agreed in the hello (issue 20: an idle bridge costs no CPU) --------

IDLE = replace(TIMERS, idle_heartbeat=2.0)


def ends(host_timers: LinkTimers, terminal_timers: LinkTimers) -> Wire:
    a = LinkConnection(Role.HOST, Hello("host", PROTOCOL_VERSION, "s1"), host_timers)
    b = LinkConnection(Role.TERMINAL, Hello("terminal", PROTOCOL_VERSION, "", serial="T-1"),
                       terminal_timers)
    return Wire(a, b)


def test_an_agreed_idle_heartbeat_slows_both_ends_and_still_finds_a_silent_peer() -> None:
    wire = ends(IDLE, IDLE)
    wire.start()
    wire.run(1.0)
    assert wire.a.peer is not None and wire.a.peer.idle_heartbeat_ms == 2000
    assert wire.b.peer is not None and wire.b.peer.idle_heartbeat_ms == 2000
    for end in (wire.a, wire.b):
        assert (end.timers.heartbeat_interval, end.timers.dead_after) == (2.0, 6.0)
    sent = wire.a.stats.frames_sent, wire.b.stats.frames_sent
    wire.run(601.0)
    assert not wire.downs("a") and not wire.downs("b")
    # One heartbeat every 2 s each way (and its wake-up): a quarter of the 0.5 s default.
    for end, before in zip((wire.a, wire.b), sent, strict=True):
        assert 290 <= end.stats.frames_sent - before <= 310, end.stats
    wire.cut = True
    cut_at = wire.now
    wire.run(cut_at + 5.0)
    assert not wire.downs("a"), "declared dead before three intervals"
    wire.run(cut_at + 10.0)
    assert wire.downs("a") and "no frames from the peer for 6 s" in wire.downs("a")[0].reason


def test_a_terminal_that_takes_no_idle_heartbeat_keeps_the_defaults() -> None:
    # A terminal of an earlier app answers 0 (it ignores the field); a host that proposes
    # nothing gets 0 from a terminal that would take one. Either way, the 0.5 s defaults.
    for host_timers, terminal_timers in ((IDLE, TIMERS), (TIMERS, IDLE)):
        wire = ends(host_timers, terminal_timers)
        wire.start()
        wire.run(1.0)
        assert wire.a.peer is not None and wire.a.peer.idle_heartbeat_ms == 0
        for end in (wire.a, wire.b):
            assert (end.timers.heartbeat_interval, end.timers.dead_after) == (0.5, 2.0)


def test_the_terminal_caps_a_proposal_and_a_new_session_agrees_afresh() -> None:
    wire = ends(replace(TIMERS, idle_heartbeat=30.0), IDLE)
    wire.start()
    wire.run(1.0)
    assert wire.b.peer is not None and wire.b.peer.idle_heartbeat_ms == 30000
    for end in (wire.a, wire.b):
        assert end.timers.heartbeat_interval == 2.0  # the terminal's most
    wire.a = LinkConnection(Role.HOST, Hello("host", PROTOCOL_VERSION, "s2"), TIMERS)
    wire.a.initiate(wire.now)
    wire.run(wire.now + 1)
    assert wire.b.session == "s2"
    assert wire.b.timers.heartbeat_interval == 0.5  # this host proposed none
