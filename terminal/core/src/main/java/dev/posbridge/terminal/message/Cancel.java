package dev.posbridge.terminal.message;

/** Cancel the payment {@code ref}, which is waiting for the customer (host to terminal). */
public final class Cancel extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "cancel";

  private final long rid;
  private final String ref;

  /** A {@code cancel} message. */
  public Cancel(long rid, String ref) {
    this.rid = rid;
    this.ref = Values.text(ref, "ref");
  }

  /** The request id, copied into the answer. */
  public long rid() {
    return rid;
  }

  /** The payment to cancel. */
  public String ref() {
    return ref;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.integer("rid", rid)
        .string("ref", ref);
  }

  static Cancel read(FieldReader in) throws RemoteProtocolException {
    return new Cancel(
        in.integer("rid"),
        in.string("ref"));
  }
}
