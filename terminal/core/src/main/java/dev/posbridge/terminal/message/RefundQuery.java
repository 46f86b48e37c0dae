package dev.posbridge.terminal.message;

/**
 * What became of the refund {@code refund_ref} of payment {@code ref}? (host to terminal,
 * version 2)
 */
public final class RefundQuery extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "refund_query";

  private final long rid;
  private final String ref;
  private final String refundRef;

  /** A {@code refund_query} message. */
  public RefundQuery(long rid, String ref, String refundRef) {
    this.rid = rid;
    this.ref = Values.text(ref, "ref");
    this.refundRef = Values.text(refundRef, "refund_ref");
  }

  /** The request id, copied into the answer. */
  public long rid() {
    return rid;
  }

  /** The payment. */
  public String ref() {
    return ref;
  }

  /** The refund's reference. */
  public String refundRef() {
    return refundRef;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.integer("rid", rid)
        .string("ref", ref)
        .string("refund_ref", refundRef);
  }

  static RefundQuery read(FieldReader in) throws RemoteProtocolException {
    return new RefundQuery(
        in.integer("rid"),
        in.string("ref"),
        in.string("refund_ref"));
  }
}
