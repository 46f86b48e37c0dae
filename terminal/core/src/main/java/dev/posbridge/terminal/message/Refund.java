package dev.posbridge.terminal.message;

/** Refund {@code amount} of the approved payment {@code ref} (host to terminal, version 2). */
public final class Refund extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "refund";

  private final long rid;
  private final String ref;
  private final String refundRef;
  private final long amount;

  /** A {@code refund} message. */
  public Refund(long rid, String ref, String refundRef, long amount) {
    this.rid = rid;
    this.ref = Values.text(ref, "ref");
    this.refundRef = Values.text(refundRef, "refund_ref");
    this.amount = amount;
  }

  /** The request id, copied into the answer. */
  public long rid() {
    return rid;
  }

  /** The payment to refund. */
  public String ref() {
    return ref;
  }

  /** The refund's reference. */
  public String refundRef() {
    return refundRef;
  }

  /** The refund in minor units. */
  public long amount() {
    return amount;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.integer("rid", rid)
        .string("ref", ref)
        .string("refund_ref", refundRef)
        .integer("amount", amount);
  }

  static Refund read(FieldReader in) throws RemoteProtocolException {
    return new Refund(
        in.integer("rid"),
        in.string("ref"),
        in.string("refund_ref"),
        in.integer("amount"));
  }
}
