package dev.posbridge.terminal.message;

/**
 * The terminal's totals since its last batch, for the host's X report (host to terminal,
 * version 2).
 */
public final class Totals extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "totals";

  private final long rid;

  /** A {@code totals} message. */
  public Totals(long rid) {
    this.rid = rid;
  }

  /** The request id, copied into the answer. */
  public long rid() {
    return rid;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.integer("rid", rid);
  }

  static Totals read(FieldReader in) throws RemoteProtocolException {
    return new Totals(
        in.integer("rid"));
  }
}
