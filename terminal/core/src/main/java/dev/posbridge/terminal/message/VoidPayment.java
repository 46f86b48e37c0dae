package dev.posbridge.terminal.message;

/**
 * Void the approved, unsettled payment {@code ref} (host to terminal); the wire's {@code void}.
 */
public final class VoidPayment extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "void";

  private final long rid;
  private final String ref;

  /** A {@code void} message. */
  public VoidPayment(long rid, String ref) {
    this.rid = rid;
    this.ref = Values.text(ref, "ref");
  }

  /** The request id, copied into the answer. */
  public long rid() {
    return rid;
  }

  /** The payment to void. */
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

  static VoidPayment read(FieldReader in) throws RemoteProtocolException {
    return new VoidPayment(
        in.integer("rid"),
        in.string("ref"));
  }
}
