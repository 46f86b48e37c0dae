"""LinkConnection: the posbridge link as a pure state machine (sans-I/O, after h11).

Theory of operation
-------------------
One ``LinkConnection`` is one end of one session over a byte stream. It does no I/O and
reads no clock: the caller feeds it received bytes with ``receive_data(data, now)``, asks
it to send with ``send(message, now)``, calls ``handle_timers(now)`` when
``next_deadline()`` has passed, and writes whatever ``data_to_send()`` returns. Every call
returns the events it produced (``LinkUp``, ``MessageReceived``, ``LinkDown``).

Session. The host (the PC) opens with ``Hello(role="host", session=S)``, repeating it every
``rto`` until the terminal answers with ``Hello(role="terminal", session=S)`` carrying its
identity (serial, model, app version, supported condition codes). The version is
negotiated: each side speaks every version from ``MIN_PROTOCOL_VERSION`` to its own; the
host offers its own, a terminal answers in the host's version when it speaks it (else with
its own, opening no session), and a host that hears an older version it also speaks says
hello again in that one. ``version`` is the session's version once up. A
terminal that receives Data or a heartbeat outside a session answers with a Hello whose
session is empty: the host then knows the terminal restarted and drops the session. A
terminal that receives a Hello with a new session starts that session afresh (the host
restarted).

Reliable delivery. Application messages travel in ``Data(seq, message)``. The receiver
delivers only the next expected ``seq`` and answers every Data with a cumulative ``Ack`` of
the last in-order ``seq``: a duplicate is re-acknowledged and dropped, a frame after a gap
is dropped. The sender keeps unacknowledged Data and, when ``rto`` passes with no progress,
sends them all again in order (go-back-N); after ``max_retries`` rounds without progress
the link is declared down. Messages are therefore delivered exactly once and in order
within a session, which the service relies on: a Query sent after a Sale is answered after
the terminal has seen the Sale. Nothing is carried across sessions: after a LinkDown the
application must ask the peer what happened (posbridge's recovery does).

Liveness. Each side sends a Heartbeat when it has sent nothing for ``heartbeat_interval``
and declares the link down when it has received nothing valid for ``dead_after``.

All transitions are in this file; the states are IDLE -> HANDSHAKE -> UP -> CLOSED for the
host and IDLE -> UP -> CLOSED for the terminal. CLOSED is final: make a new connection.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from msgspec.structs import replace as replace_struct

from .errors import LocalProtocolError, RemoteProtocolError
from .frames import FrameDecoder, encode_frame
from .messages import (
    MIN_PROTOCOL_VERSION,
    Ack,
    AppMessage,
    Data,
    Heartbeat,
    Hello,
    Message,
    decode_message,
    encode_message,
)


class Role(enum.Enum):
    HOST = "host"
    TERMINAL = "terminal"


class State(enum.Enum):
    IDLE = "idle"
    HANDSHAKE = "handshake"
    UP = "up"
    CLOSED = "closed"


@dataclass(frozen=True)
class LinkTimers:
    """Timings of the link, in seconds. Defaults detect a dead link within 2 s."""

    rto: float = 0.3
    max_retries: int = 6
    heartbeat_interval: float = 0.5
    dead_after: float = 2.0
    handshake_timeout: float = 3.0
    #: The slowest heartbeat this end proposes (host) or accepts (terminal) for an idle
    #: session, agreed in the hello; 0 keeps ``heartbeat_interval`` and ``dead_after``.
    #: Once agreed both ends heartbeat at that interval and call the peer dead after
    #: ``IDLE_DEAD_INTERVALS`` of them. A request in flight still detects a dead link
    #: through its retransmissions (``rto`` x ``max_retries``), whatever the heartbeat.
    idle_heartbeat: float = 0.0


#: Heartbeat intervals of silence, once an idle heartbeat is agreed, before the peer is dead.
IDLE_DEAD_INTERVALS = 3

#: What production ends use: heartbeats every 2 s when idle, a silent peer dead after 6 s
#: (docs/link-protocol.md section 6). Tests that want quick liveness keep the defaults.
PRODUCTION_TIMERS = LinkTimers(idle_heartbeat=2.0)


def agree_idle_heartbeat(proposed_ms: int, timers: LinkTimers) -> int:
    """The terminal's answer to a host's proposal: 0 (keep the defaults) when either end
    has none, else the proposal limited to between this end's ``heartbeat_interval`` and
    its ``idle_heartbeat``."""
    if proposed_ms <= 0 or timers.idle_heartbeat <= 0:
        return 0
    low, high = round(timers.heartbeat_interval * 1000), round(timers.idle_heartbeat * 1000)
    return max(low, min(proposed_ms, high))


def with_idle_heartbeat(timers: LinkTimers, agreed_ms: int) -> LinkTimers:
    """``timers`` for a session whose hello agreed ``agreed_ms`` (0: unchanged)."""
    if agreed_ms <= 0:
        return timers
    interval = agreed_ms / 1000
    return replace(timers, heartbeat_interval=max(timers.heartbeat_interval, interval),
                   dead_after=max(timers.dead_after, IDLE_DEAD_INTERVALS * interval))


# -- events ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class LinkUp(Event):
    peer: Hello


@dataclass(frozen=True)
class MessageReceived(Event):
    message: Message


@dataclass(frozen=True)
class LinkDown(Event):
    reason: str


@dataclass
class LinkStats:
    frames_sent: int = 0
    frames_received: int = 0
    retransmissions: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    bad_messages: int = 0


@dataclass
class _Pending:
    seq: int
    frame: bytes


@dataclass
class LinkConnection:
    """One end of a posbridge link session. See the module docstring."""

    role: Role
    identity: Hello
    timers: LinkTimers = field(default_factory=LinkTimers)

    def __post_init__(self) -> None:
        if self.identity.role != self.role.value:
            raise LocalProtocolError("identity.role must match the connection's role")
        self.state = State.IDLE
        self.peer: Hello | None = None
        self.stats = LinkStats()
        self._decoder = FrameDecoder()
        self._out = bytearray()
        self._session = self.identity.session if self.role is Role.HOST else ""
        self._tx_next = 1
        self._rx_last = 0
        self._unacked: list[_Pending] = []
        self._rtx_deadline: float | None = None
        self._retries = 0
        self._last_tx = 0.0
        self._last_rx = 0.0
        self._started = 0.0
        self._hello_deadline = 0.0
        #: The protocol version of this session: the identity's until negotiated down.
        self.version = self.identity.version
        #: The timers as configured; ``timers`` is what this session agreed (the hello).
        self.base_timers = self.timers
        if (self.role is Role.HOST and self.timers.idle_heartbeat > 0
                and not self.identity.idle_heartbeat_ms):
            self.identity = replace_struct(self.identity, idle_heartbeat_ms=round(
                self.timers.idle_heartbeat * 1000))
        self._agreed_ms = 0

    # -- public API -------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    @property
    def session(self) -> str:
        return self._session

    @property
    def decoder_stats(self) -> object:
        return self._decoder.stats

    def initiate(self, now: float) -> None:
        """Host: start the handshake. Terminal: start waiting (liveness clock starts)."""
        if self.state is not State.IDLE:
            raise LocalProtocolError(f"initiate() in state {self.state.value}")
        self._started = self._last_rx = now
        if self.role is Role.HOST:
            self.state = State.HANDSHAKE
            self._write(self.identity, now)
            self._hello_deadline = now + self.timers.rto

    def send(self, message: Message, now: float) -> None:
        """Queue an application message for reliable delivery."""
        if self.state is not State.UP:
            raise LocalProtocolError(f"send() in state {self.state.value}")
        if not isinstance(message, AppMessage):
            raise LocalProtocolError("send() takes application messages only")
        frame = encode_frame(encode_message(Data(self._tx_next, message)))
        self._unacked.append(_Pending(self._tx_next, frame))
        self._tx_next += 1
        self._emit(frame, now)
        if self._rtx_deadline is None:
            self._rtx_deadline = now + self.timers.rto

    def close(self, reason: str = "closed locally") -> list[Event]:
        if self.state is State.CLOSED:
            return []
        self.state = State.CLOSED
        return [LinkDown(reason)]

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes from the peer; return the events they cause."""
        events: list[Event] = []
        if self.state is State.CLOSED:
            return events
        for payload in self._decoder.feed(data):
            try:
                message = decode_message(payload)
            except RemoteProtocolError:
                # An intact frame (the CRC held) with a payload we cannot read: a peer bug
                # or a newer protocol. Count it; the sender will retransmit or give up.
                self.stats.bad_messages += 1
                continue
            self.stats.frames_received += 1
            self._last_rx = now
            events.extend(self._handle(message, now))
            if self.closed:
                break
        return events

    def next_deadline(self) -> float | None:
        """The time at which handle_timers() must next be called."""
        t = self.timers
        if self.state is State.HANDSHAKE:
            return min(self._hello_deadline, self._started + t.handshake_timeout)
        if self.state is State.IDLE:
            return None
        if self.state is State.UP:
            deadline = min(self._last_tx + t.heartbeat_interval, self._last_rx + t.dead_after)
            if self._rtx_deadline is not None:
                deadline = min(deadline, self._rtx_deadline)
            return deadline
        return None

    def handle_timers(self, now: float) -> list[Event]:
        t = self.timers
        if self.state is State.HANDSHAKE:
            if now >= self._started + t.handshake_timeout:
                return self._down(f"no answer to hello within {t.handshake_timeout:g} s")
            if now >= self._hello_deadline:
                self._write(self._host_hello(), now)
                self._hello_deadline = now + t.rto
            return []
        if self.state is not State.UP:
            return []
        if now >= self._last_rx + t.dead_after:
            return self._down(f"no frames from the peer for {t.dead_after:g} s")
        if self._rtx_deadline is not None and now >= self._rtx_deadline:
            self._retries += 1
            if self._retries > t.max_retries:
                return self._down(f"no acknowledgement after {t.max_retries} retransmissions")
            for pending in self._unacked:
                self.stats.retransmissions += 1
                self._emit(pending.frame, now)
            self._rtx_deadline = now + t.rto
        if now >= self._last_tx + t.heartbeat_interval:
            self._write(Heartbeat(), now)
        return []

    # -- transitions ------------------------------------------------------------------

    def _handle(self, message: Message, now: float) -> list[Event]:
        if isinstance(message, Hello):
            return self._on_hello(message, now)
        if self.state is not State.UP:
            if self.role is Role.TERMINAL:
                # Data or heartbeat with no session: tell the host to start one.
                self._write(self._terminal_hello(""), now)
            return []
        if isinstance(message, Data):
            return self._on_data(message, now)
        if isinstance(message, Ack):
            self._on_ack(message.seq, now)
        # Heartbeat: its arrival already refreshed _last_rx.
        return []

    def _on_hello(self, hello: Hello, now: float) -> list[Event]:
        if self.role is Role.HOST:
            if hello.role != Role.TERMINAL.value:
                return []
            if hello.session != self._session:
                if self.state is State.UP and hello.session == "":
                    return self._down("the terminal restarted and lost the session")
                return []  # an answer to an older hello
            if self.state is not State.HANDSHAKE:
                return []  # a duplicate answer to a repeated hello
            if hello.version != self.version:
                if MIN_PROTOCOL_VERSION <= hello.version < self.version:
                    # An older terminal that we can speak to: say hello again in its version.
                    self.version = hello.version
                    self._write(self._host_hello(), now)
                    self._hello_deadline = now + self.timers.rto
                    return []
                return self._down(
                    f"terminal speaks link protocol v{hello.version}, we speak "
                    f"v{MIN_PROTOCOL_VERSION} to v{self.identity.version}"
                )
            self.state = State.UP
            self.peer = hello
            if self.identity.idle_heartbeat_ms > 0:
                # The terminal's answer: what it agreed, or 0 (it keeps the defaults).
                self.timers = with_idle_heartbeat(self.base_timers, min(
                    hello.idle_heartbeat_ms, self.identity.idle_heartbeat_ms))
            return [LinkUp(hello)]

        # Terminal side.
        if hello.role != Role.HOST.value:
            return []
        if not MIN_PROTOCOL_VERSION <= hello.version <= self.identity.version:
            # Answer with our own version, so that the host can speak it or report the
            # mismatch, but open no session.
            self.version = self.identity.version
            self._write(self._terminal_hello(hello.session), now)
            return []
        self.version = hello.version
        if self.state is State.UP and hello.session == self._session:
            self._write(self._terminal_hello(self._session), now)  # host repeated its hello
            return []
        events: list[Event] = []
        if self.state is State.UP:
            events.append(LinkDown("the host started a new session"))
        self._reset_session(hello.session)
        self._agreed_ms = agree_idle_heartbeat(hello.idle_heartbeat_ms, self.base_timers)
        self.timers = with_idle_heartbeat(self.base_timers, self._agreed_ms)
        self.state = State.UP
        self.peer = hello
        self._write(self._terminal_hello(self._session), now)
        events.append(LinkUp(hello))
        return events

    def _on_data(self, data: Data, now: float) -> list[Event]:
        events: list[Event] = []
        if data.seq == self._rx_last + 1:
            self._rx_last = data.seq
            events.append(MessageReceived(data.message))
        elif data.seq <= self._rx_last:
            self.stats.duplicates += 1
        else:
            self.stats.out_of_order += 1
        self._write(Ack(self._rx_last), now)
        return events

    def _on_ack(self, seq: int, now: float) -> None:
        before = len(self._unacked)
        self._unacked = [p for p in self._unacked if p.seq > seq]
        if len(self._unacked) < before:
            self._retries = 0
            self._rtx_deadline = now + self.timers.rto if self._unacked else None

    # -- helpers ----------------------------------------------------------------------

    def _host_hello(self) -> Hello:
        return replace_struct(self.identity, version=self.version)

    def _terminal_hello(self, session: str) -> Hello:
        i = self.identity
        return Hello(
            role=Role.TERMINAL.value,
            version=self.version,
            session=session,
            serial=i.serial,
            model=i.model,
            app_version=i.app_version,
            condition_codes=i.condition_codes,
            condition_code_names=i.condition_code_names,
            idle_heartbeat_ms=self._agreed_ms,
        )

    def _reset_session(self, session: str) -> None:
        self._session = session
        self._tx_next = 1
        self._rx_last = 0
        self._unacked.clear()
        self._rtx_deadline = None
        self._retries = 0

    def _down(self, reason: str) -> list[Event]:
        self.state = State.CLOSED
        return [LinkDown(reason)]

    def _write(self, message: Message, now: float) -> None:
        self._emit(encode_frame(encode_message(message)), now)

    def _emit(self, frame: bytes, now: float) -> None:
        self._out += frame
        self._last_tx = now
        self.stats.frames_sent += 1
