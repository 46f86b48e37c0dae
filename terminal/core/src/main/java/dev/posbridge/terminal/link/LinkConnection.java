package dev.posbridge.terminal.link;

import dev.posbridge.terminal.message.Ack;
import dev.posbridge.terminal.message.AppMessage;
import dev.posbridge.terminal.message.Data;
import dev.posbridge.terminal.message.Heartbeat;
import dev.posbridge.terminal.message.Hello;
import dev.posbridge.terminal.message.Message;
import dev.posbridge.terminal.message.MessageCodec;
import dev.posbridge.terminal.message.RemoteProtocolException;
import dev.posbridge.terminal.wire.DecoderStats;
import dev.posbridge.terminal.wire.FrameDecoder;
import dev.posbridge.terminal.wire.Frames;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/**
 * The terminal's end of a posbridge link, as a pure state machine (sans-I/O, after h11).
 *
 * <h2>Theory of operation</h2>
 *
 * One {@code LinkConnection} is the terminal's end of one link over a byte stream. It does
 * no I/O, starts no thread and reads no clock: the caller feeds it the bytes it read with
 * {@link #receiveData(byte[], double)}, asks it to send with {@link #send(AppMessage,
 * double)}, calls {@link #handleTimers(double)} once {@link #nextDeadline()} has come, and
 * writes whatever {@link #dataToSend()} returns. Calls that can end or start a session
 * return the events they caused ({@link LinkUp}, {@link MessageReceived}, {@link LinkDown}).
 * Time is a {@code double} of seconds on any monotonic clock ({@code System.nanoTime() /
 * 1e9}): the same arithmetic as the reference implementation, so that the shared vectors
 * replay to the same bytes at the same instants.
 *
 * <p><b>Session</b> (docs/link-protocol.md section 4). The host opens with a hello carrying
 * a new session id; the terminal answers with its own hello (its identity, the session
 * copied, the version and the idle heartbeat agreed) and its session is up. The version is
 * negotiated: a host version this end speaks (1 to {@link Hello#PROTOCOL_VERSION}) is
 * answered in that version; another is answered with this end's version and opens no
 * session. A repeated hello of the session that is up is answered again and changes nothing;
 * a hello with another session ends the current one ({@link LinkDown}) and starts the new
 * one ({@link LinkUp}). Data, an ack or a heartbeat while no session is up is answered with a
 * hello whose session is empty: the host then knows the terminal lost the session.
 *
 * <p><b>Reliable delivery</b> (section 5). Application messages travel in {@code data}
 * envelopes numbered from 1 in each direction of each session. Only the next expected
 * {@code seq} is delivered; every {@code data} is answered with a cumulative ack of the last
 * in-order {@code seq}, so duplicates and frames after a gap are dropped and acknowledged.
 * What this end sent is kept until acknowledged and, when {@code rto} passes without
 * progress, sent again, all of it, in order (go-back-N); after {@code max_retries} rounds
 * without progress the link is down.
 *
 * <p><b>Liveness</b> (section 6). A heartbeat goes out after {@code heartbeat_interval} with
 * nothing sent; the link is down after {@code dead_after} with nothing valid received. The
 * host's hello may propose a slower idle heartbeat; the answer says what this end agreed,
 * and the session then uses it (and three of it before the peer is dead).
 *
 * <p>An intact frame whose payload is not a valid message is counted and dropped: no ack, no
 * sign of life. The states are IDLE, UP and CLOSED; CLOSED is final (the app makes a new
 * connection and waits for the host's next hello). Not thread-safe: one thread drives it.
 */
public final class LinkConnection {
  private static final List<LinkEvent> NONE = Collections.emptyList();

  private final Hello identity;
  private final LinkTimers baseTimers;
  private LinkTimers timers;
  private final FrameDecoder decoder = new FrameDecoder();
  private byte[] out = new byte[256];
  private int outLength;

  private LinkState state = LinkState.IDLE;
  private Hello peer;
  private String session = "";
  private long version;
  private long agreedMs;

  private long txNext = 1;
  private long rxLast;
  private final ArrayDeque<Pending> unacked = new ArrayDeque<>();
  private boolean rtxRunning;
  private double rtxDeadline;
  private int retries;
  private double lastTx;
  private double lastRx;

  private long framesSent;
  private long framesReceived;
  private long retransmissions;
  private long duplicates;
  private long outOfOrder;
  private long badMessages;

  /** A terminal end with {@link LinkTimers#PRODUCTION}. */
  public LinkConnection(Hello identity) {
    this(identity, LinkTimers.PRODUCTION);
  }

  /**
   * A terminal end.
   *
   * @param identity the terminal's hello: its role {@code "terminal"}, its version, serial,
   *     model, app version and condition codes (the session and idle heartbeat are filled in
   *     for each answer)
   * @param timers the timers; the session's may be slower, as agreed in the hello
   */
  public LinkConnection(Hello identity, LinkTimers timers) {
    if (!Hello.TERMINAL.equals(identity.role())) {
      throw new IllegalArgumentException("identity.role must be \"terminal\"");
    }
    if (timers == null) {
      throw new NullPointerException("timers == null");
    }
    this.identity = identity;
    this.baseTimers = timers;
    this.timers = timers;
    this.version = identity.version();
  }

  // -- public API ---------------------------------------------------------------------------

  /** IDLE, UP or CLOSED. */
  public LinkState state() {
    return state;
  }

  /** The host's hello of the current (or last) session, or null before the first. */
  public Hello peer() {
    return peer;
  }

  /** The current session's id, {@code ""} before the first. */
  public String session() {
    return session;
  }

  /** The protocol version of the session (this end's until a host hello negotiates it). */
  public long version() {
    return version;
  }

  /** The timers in force: as configured, or slower as the session's hello agreed. */
  public LinkTimers timers() {
    return timers;
  }

  /** What this connection has done so far. */
  public LinkStats stats() {
    return new LinkStats(
        framesSent, framesReceived, retransmissions, duplicates, outOfOrder, badMessages);
  }

  /** What its frame decoder has seen so far. */
  public DecoderStats decoderStats() {
    return decoder.stats();
  }

  /**
   * Queues an application message for reliable delivery in the session that is up.
   *
   * @throws IllegalStateException if no session is up
   * @throws IllegalArgumentException if the message does not fit in a frame
   */
  public void send(AppMessage message, double now) {
    if (state != LinkState.UP) {
      throw new IllegalStateException("send() in state " + state);
    }
    byte[] frame = Frames.encode(MessageCodec.encode(new Data(txNext, message)));
    unacked.addLast(new Pending(txNext, frame));
    txNext++;
    emit(frame, now);
    if (!rtxRunning) {
      rtxRunning = true;
      rtxDeadline = now + timers.rto();
    }
  }

  /** Ends the link here (the stream closed, or the app stops). Returns the LinkDown, once. */
  public List<LinkEvent> close(String reason) {
    if (state == LinkState.CLOSED) {
      return NONE;
    }
    state = LinkState.CLOSED;
    return Collections.<LinkEvent>singletonList(new LinkDown(reason));
  }

  /** The bytes to write to the stream now (possibly none); they are handed over once. */
  public byte[] dataToSend() {
    byte[] result = Arrays.copyOf(out, outLength);
    outLength = 0;
    return result;
  }

  /** Feeds bytes read from the stream; returns the events they cause. Never throws on input. */
  public List<LinkEvent> receiveData(byte[] data, double now) {
    return receiveData(data, 0, data.length, now);
  }

  /**
   * Feeds {@code length} bytes of {@code data} from {@code offset} (a read into a buffer);
   * see {@link #receiveData(byte[], double)}.
   */
  public List<LinkEvent> receiveData(byte[] data, int offset, int length, double now) {
    if (state == LinkState.CLOSED) {
      return NONE;
    }
    List<LinkEvent> events = new ArrayList<>();
    for (byte[] payload : decoder.feed(data, offset, length)) {
      Message message;
      try {
        message = MessageCodec.decode(payload);
      } catch (RemoteProtocolException e) {
        // An intact frame (the CRCs held) whose payload we cannot read: a peer's bug or a
        // newer protocol. Count it; the sender will retransmit or give up.
        badMessages++;
        continue;
      }
      framesReceived++;
      lastRx = now;
      handle(message, now, events);
      if (state == LinkState.CLOSED) {
        break;
      }
    }
    return events;
  }

  /**
   * When {@link #handleTimers} must next be called, in the clock of {@code now};
   * {@link Double#POSITIVE_INFINITY} when no timer runs (no session, or closed).
   */
  public double nextDeadline() {
    if (state != LinkState.UP) {
      return Double.POSITIVE_INFINITY;
    }
    double deadline =
        Math.min(lastTx + timers.heartbeatInterval(), lastRx + timers.deadAfter());
    return rtxRunning ? Math.min(deadline, rtxDeadline) : deadline;
  }

  /** Fires the timers that are due at {@code now}: dead peer, retransmission, heartbeat. */
  public List<LinkEvent> handleTimers(double now) {
    if (state != LinkState.UP) {
      return NONE;
    }
    if (now >= lastRx + timers.deadAfter()) {
      return down("no frames from the peer for " + Seconds.format(timers.deadAfter()) + " s");
    }
    if (rtxRunning && now >= rtxDeadline) {
      retries++;
      if (retries > timers.maxRetries()) {
        return down("no acknowledgement after " + timers.maxRetries() + " retransmissions");
      }
      for (Pending pending : unacked) {
        retransmissions++;
        emit(pending.frame, now);
      }
      rtxDeadline = now + timers.rto();
    }
    if (now >= lastTx + timers.heartbeatInterval()) {
      write(new Heartbeat(), now);
    }
    return NONE;
  }

  // -- transitions --------------------------------------------------------------------------

  private void handle(Message message, double now, List<LinkEvent> events) {
    if (message instanceof Hello) {
      onHello((Hello) message, now, events);
    } else if (state != LinkState.UP) {
      // Data, an ack or a heartbeat with no session: tell the host to start one.
      write(terminalHello(""), now);
    } else if (message instanceof Data) {
      onData((Data) message, now, events);
    } else if (message instanceof Ack) {
      onAck(((Ack) message).seq(), now);
    }
    // A heartbeat: its arrival already counted as life. An application message outside a
    // data envelope is read (it is valid) but not acted on, as the host does.
  }

  private void onHello(Hello hello, double now, List<LinkEvent> events) {
    if (!Hello.HOST.equals(hello.role())) {
      return;
    }
    if (hello.version() < Hello.MIN_PROTOCOL_VERSION || hello.version() > identity.version()) {
      // Answer with our own version, so that the host can speak it or report the
      // mismatch, but open no session (a session that is up stays up).
      version = identity.version();
      write(terminalHello(hello.session()), now);
      return;
    }
    version = hello.version();
    if (state == LinkState.UP && hello.session().equals(session)) {
      write(terminalHello(session), now); // the host repeated its hello
      return;
    }
    if (state == LinkState.UP) {
      events.add(new LinkDown("the host started a new session"));
    }
    resetSession(hello.session());
    agreedMs = baseTimers.agreeIdleHeartbeat(hello.idleHeartbeatMs());
    timers = baseTimers.withIdleHeartbeat(agreedMs);
    state = LinkState.UP;
    peer = hello;
    write(terminalHello(session), now);
    events.add(new LinkUp(hello));
  }

  private void onData(Data data, double now, List<LinkEvent> events) {
    if (data.seq() == rxLast + 1) {
      rxLast = data.seq();
      events.add(new MessageReceived(data.message()));
    } else if (data.seq() <= rxLast) {
      duplicates++;
    } else {
      outOfOrder++;
    }
    write(new Ack(rxLast), now);
  }

  private void onAck(long seq, double now) {
    boolean progress = false;
    for (Iterator<Pending> it = unacked.iterator(); it.hasNext(); ) {
      if (it.next().seq <= seq) {
        it.remove();
        progress = true;
      }
    }
    if (progress) {
      retries = 0;
      rtxRunning = !unacked.isEmpty();
      rtxDeadline = rtxRunning ? now + timers.rto() : 0;
    }
  }

  // -- helpers ------------------------------------------------------------------------------

  private Hello terminalHello(String session) {
    return identity
        .newBuilder()
        .version(version)
        .session(session)
        .idleHeartbeatMs(agreedMs)
        .build();
  }

  private void resetSession(String newSession) {
    session = newSession;
    txNext = 1;
    rxLast = 0;
    unacked.clear();
    rtxRunning = false;
    retries = 0;
  }

  private List<LinkEvent> down(String reason) {
    state = LinkState.CLOSED;
    return Collections.<LinkEvent>singletonList(new LinkDown(reason));
  }

  private void write(Message message, double now) {
    emit(Frames.encode(MessageCodec.encode(message)), now);
  }

  private void emit(byte[] frame, double now) {
    if (outLength + frame.length > out.length) {
      out = Arrays.copyOf(out, Math.max(out.length * 2, outLength + frame.length));
    }
    System.arraycopy(frame, 0, out, outLength, frame.length);
    outLength += frame.length;
    lastTx = now;
    framesSent++;
  }

  private static final class Pending {
    final long seq;
    final byte[] frame;

    Pending(long seq, byte[] frame) {
      this.seq = seq;
      this.frame = frame;
    }
  }
}
