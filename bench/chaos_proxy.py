"""The chaos run's fault-injecting proxy: it sits on the TCP link between `posbridge serve`
and `posbridge simulator`, decodes the byte stream in each direction with posbridge's own
sans-I/O decoder (protocol/frames.py, protocol/messages.py), and fires one armed fault when
it sees the link message that marks the chosen moment of a command.

Moments are recognised, not timed:

    sale_sent          the host's `sale` reached the terminal (its ack came back)
    sale_reply_lost    the terminal's `reply` to a sale
    result_lost        the terminal's `result` (a payment's outcome)
    query_answer_lost  the terminal's `query_result`
    cancel_sent        the host's `cancel` reached the terminal
    void_sent          the host's `void` reached the terminal
    void_answer_lost   the terminal's `reply` to a void
    batch_sent         the host's `batch` reached the terminal
    batch_answer_lost  the terminal's `batch_result`
    refund_sent        the host's `refund` reached the terminal
    refund_answer_lost the terminal's `reply` to a refund
    between            a heartbeat while no command is in flight

At a "sent" moment the frame is delivered and the fault fires when the terminal's `ack` for
it passes (so the terminal has it). At a "lost" moment the frame is dropped and the fault
ends the session; the link retransmits unacknowledged data within a session, so a frame is
only lost for good with the session it belonged to (a new session never replays it).

Message kinds the decoder does not know (a newer protocol version) are classified `other`
and forwarded untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from posbridge.protocol.errors import RemoteProtocolError
from posbridge.protocol.frames import FrameDecoder, encode_frame
from posbridge.protocol.messages import Data, decode_message

H2T, T2H = "host->terminal", "terminal->host"

MOMENTS = (
    "sale_sent", "sale_reply_lost", "result_lost", "query_answer_lost", "cancel_sent",
    "void_sent", "void_answer_lost", "batch_sent", "batch_answer_lost", "refund_sent",
    "refund_answer_lost", "between",
)
KINDS = ("kill_bridge", "kill_terminal", "cut", "corrupt", "stall", "journal_fail")
LOST = frozenset({"sale_reply_lost", "result_lost", "query_answer_lost", "void_answer_lost",
                  "batch_answer_lost", "refund_answer_lost"})
SENT = frozenset({"sale_sent", "cancel_sent", "void_sent", "batch_sent", "refund_sent"})
#: host -> terminal requests that mark a "sent" moment
SENT_KINDS = ("sale", "cancel", "void", "batch", "refund")
#: The longest a stalled link is held open, silent (well beyond the 2 s dead-peer time).
STALL_MAX = 6.0


@dataclass(frozen=True)
class Frame:
    """What the proxy made of one intact frame."""

    kind: str  # the message kind; "other" for a kind this version does not know
    inner: str = ""  # for data: the application message's kind ("other" if unknown)
    seq: int = 0
    rid: int | None = None
    session: str = ""  # for hello
    ref: str = ""  # for a reply: the payment it answers
    accepted: bool = False  # for a reply


def classify(payload: bytes) -> Frame:
    """Decode one frame payload; never raises (unknown kinds are 'other')."""
    try:
        msg = decode_message(payload)
    except RemoteProtocolError:
        # A kind this decoder does not know (a newer protocol version): read what we can.
        try:
            obj = json.loads(payload)
        except ValueError:
            return Frame("other")
        if not isinstance(obj, dict):
            return Frame("other")
        if obj.get("k") == "data" and isinstance(obj.get("seq"), int):
            inner = obj.get("m")
            rid = inner.get("rid") if isinstance(inner, dict) else None
            return Frame("data", "other", obj["seq"], rid if isinstance(rid, int) else None)
        return Frame("other")
    if isinstance(msg, Data):
        m = msg.message
        return Frame("data", m.KIND, msg.seq, getattr(m, "rid", None),
                     ref=getattr(m, "ref", ""), accepted=getattr(m, "accepted", False))
    return Frame(msg.KIND, seq=getattr(msg, "seq", 0), session=getattr(msg, "session", ""))


@dataclass
class Fault:
    moment: str
    kind: str
    command: str  # which command it was armed for, e.g. "s00012-1 sale"
    fired_at: float | None = None


@dataclass(eq=False)
class Conn:
    """One proxied TCP connection (one link session, as the host closes the stream on
    every link-down)."""

    host_w: asyncio.StreamWriter
    term_w: asyncio.StreamWriter
    state: str = "open"  # "open", "stalled", "dead"
    rids: dict[int, str] = field(default_factory=dict)  # request id -> request kind
    max_seq: dict[str, int] = field(default_factory=lambda: {H2T: 0, T2H: 0})
    corrupt_seq: dict[str, int] = field(default_factory=dict)  # corrupt every copy of it
    after_ack: tuple[int, Fault] | None = None  # fire when the terminal acks this seq

    def writer(self, direction: str) -> asyncio.StreamWriter:
        return self.term_w if direction == H2T else self.host_w


def corrupted(frame: bytes) -> bytes:
    """The frame with one payload byte flipped: its CRC-32 no longer matches."""
    i = 6 + (len(frame) - 10) // 2
    return frame[:i] + bytes([frame[i] ^ 0xFF]) + frame[i + 1:]


class Proxy:
    """The proxy on its own thread and event loop. ``act(kind, conn)`` is called (on the
    proxy's thread) to carry out the process-level part of a fault (kill, journal limit)."""

    def __init__(self, listen: int, target: int, act: Callable[[Fault], None]) -> None:
        self.listen, self.target, self.act = listen, target, act
        self.loop = asyncio.new_event_loop()
        self.conns: set[Conn] = set()
        self.armed: Fault | None = None
        self.fired: list[Fault] = []
        self.fired_event = threading.Event()
        self.frames = 0
        self.kinds_seen: dict[str, int] = {}
        #: When the terminal accepted a void, by reference: what it did, whether or not the
        #: host ever heard (a reply the proxy then dropped, or sent to a killed host).
        self.voided_at: dict[str, float] = {}
        self._lock = threading.Lock()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), daemon=True,
                                        name="chaos-proxy")
        self._thread.start()
        ready.wait()

    # -- the harness's side (any thread) -----------------------------------------------

    def arm(self, fault: Fault | None) -> None:
        with self._lock:
            self.armed = fault
            self.fired_event.clear()

    def disarm(self) -> Fault | None:
        """Disarm; returns the fault if it was still armed (it never took effect)."""
        with self._lock:
            fault, self.armed = self.armed, None
            return fault

    def cut_all(self) -> None:
        def abort_all() -> None:
            for conn in list(self.conns):
                self._abort(conn)

        self.loop.call_soon_threadsafe(abort_all)

    def stop(self) -> None:
        self.cut_all()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    # -- the proxy's loop ----------------------------------------------------------------

    def _main(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            await asyncio.start_server(self._handle, "127.0.0.1", self.listen)
            ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    async def _handle(self, hr: asyncio.StreamReader, hw: asyncio.StreamWriter) -> None:
        try:
            tr, tw = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            hw.transport.abort()  # the terminal is down: the host sees a closed stream
            return
        conn = Conn(hw, tw)
        self.conns.add(conn)
        try:
            await asyncio.gather(self._pipe(conn, H2T, hr), self._pipe(conn, T2H, tr))
        finally:
            self.conns.discard(conn)

    async def _pipe(self, conn: Conn, direction: str, reader: asyncio.StreamReader) -> None:
        decoder = FrameDecoder()
        out = conn.writer(direction)
        try:
            while data := await reader.read(65536):
                for payload in decoder.feed(data):
                    frame = self._on_frame(conn, direction, payload)
                    if frame is not None and conn.state == "open":
                        out.write(frame)
                # A dead connection is read to its end: what the terminal still says is
                # observed (a void it accepted), though no longer forwarded.
                if conn.state == "open":
                    await out.drain()
        except OSError:
            pass
        finally:
            # One side ended: end the other, gracefully (bytes already written are still
            # delivered: a frame forwarded just before a kill must reach the terminal).
            for w in (conn.host_w, conn.term_w):
                with contextlib.suppress(Exception):
                    w.close()

    def _abort(self, conn: Conn) -> None:
        conn.state = "dead"
        for w in (conn.host_w, conn.term_w):
            w.transport.abort()

    def _on_frame(self, conn: Conn, direction: str, payload: bytes) -> bytes | None:
        self.frames += 1
        frame = encode_frame(payload)
        f = classify(payload)
        label = f.inner if f.kind == "data" else f.kind
        self.kinds_seen[label] = self.kinds_seen.get(label, 0) + 1
        if f.kind == "data" and f.inner == "reply" and f.accepted and direction == T2H and \
                conn.rids.get(f.rid or 0) == "void":
            self.voided_at.setdefault(f.ref, time.monotonic())
        if conn.state != "open":
            return None
        if f.kind == "hello" and direction == H2T:
            conn.max_seq = {H2T: 0, T2H: 0}  # a new session numbers from 1 again
        if f.kind == "data" and conn.corrupt_seq.get(direction) == f.seq:
            return corrupted(frame)  # every copy of a frame chosen to be lost
        if f.kind == "ack" and direction == T2H and conn.after_ack is not None:
            seq, waiting = conn.after_ack
            if f.seq >= seq:
                conn.after_ack = None
                return self._fire_now(conn, waiting, frame)
        moment = None
        if f.kind == "data" and f.seq > conn.max_seq[direction]:
            conn.max_seq[direction] = f.seq  # first copy, not a retransmission
            moment = self._moment(conn, direction, f)
        elif f.kind == "hb":
            moment = "between"
        with self._lock:
            fault = self.armed
            if fault is None or moment != fault.moment:
                return frame
            self.armed = None
        if moment in SENT and fault.kind != "corrupt":
            conn.after_ack = (f.seq, fault)  # deliver; fire once the terminal has it
            return frame
        if moment in LOST:
            if fault.kind == "corrupt":
                conn.corrupt_seq[direction] = f.seq
                self._record(fault)
                return corrupted(frame)
            if fault.kind != "journal_fail":
                self._record(fault)
                self._end(conn, fault)
                return None
        return self._fire_now(conn, fault, frame)

    def _moment(self, conn: Conn, direction: str, f: Frame) -> str | None:
        if direction == H2T:
            if f.rid is not None:
                conn.rids[f.rid] = f.inner
            return f"{f.inner}_sent" if f.inner in SENT_KINDS else None
        if f.inner == "reply":
            asked = conn.rids.get(f.rid) if f.rid is not None else None
            return {"sale": "sale_reply_lost", "void": "void_answer_lost",
                    "refund": "refund_answer_lost"}.get(asked or "")
        if f.inner == "batch_result":  # the answer to a SubmitBatch, not to a batch_query
            asked = conn.rids.get(f.rid) if f.rid is not None else None
            return "batch_answer_lost" if asked == "batch" else None
        return {"result": "result_lost", "query_result": "query_answer_lost"}.get(f.inner)

    def _record(self, fault: Fault) -> None:
        fault.fired_at = time.monotonic()
        self.fired.append(fault)
        self.fired_event.set()

    def _fire_now(self, conn: Conn, fault: Fault, frame: bytes) -> bytes | None:
        """Fire ``fault`` on ``conn`` now; returns what to forward of the current frame."""
        self._record(fault)
        if fault.kind == "corrupt":
            return corrupted(frame)
        if fault.kind == "journal_fail":
            self.act(fault)
            return frame
        self._end(conn, fault)
        return None

    def _end(self, conn: Conn, fault: Fault) -> None:
        """End the session the way ``fault.kind`` says."""
        if fault.kind == "cut":
            self._abort(conn)
        elif fault.kind == "stall":
            conn.state = "stalled"  # open, no bytes either way, until the host gives up
            self.loop.call_later(STALL_MAX, self._abort, conn)
        else:  # kill_bridge, kill_terminal
            conn.state = "dead"
            self.act(fault)
