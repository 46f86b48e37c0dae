package dev.posbridge.terminal.message;

/**
 * The envelope of one application message: sequenced, acknowledged and retransmitted by the
 * link.
 */
public final class Data extends Message {
  /** The kind on the wire. */
  public static final String KIND = "data";

  private final long seq;
  private final AppMessage message;

  /** A {@code data} message. */
  public Data(long seq, AppMessage message) {
    this.seq = seq;
    this.message = Values.notNull(message, "m");
  }

  /** The sender's sequence number for this message, from 1 in each session. */
  public long seq() {
    return seq;
  }

  /** The application message. */
  public AppMessage message() {
    return message;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.integer("seq", seq)
        .message("m", message);
  }

  static Data read(FieldReader in) throws RemoteProtocolException {
    return new Data(
        in.integer("seq"),
        in.appMessage("m"));
  }
}
