package dev.posbridge.terminal.message;

/**
 * Cumulative acknowledgement: every {@code data} up to and including {@code seq} has arrived.
 */
public final class Ack extends Message {
  /** The kind on the wire. */
  public static final String KIND = "ack";

  private final long seq;

  /** A {@code ack} message. */
  public Ack(long seq) {
    this.seq = seq;
  }

  /** The last {@code seq} received in order (0 if none yet). */
  public long seq() {
    return seq;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.integer("seq", seq);
  }

  static Ack read(FieldReader in) throws RemoteProtocolException {
    return new Ack(
        in.integer("seq"));
  }
}
