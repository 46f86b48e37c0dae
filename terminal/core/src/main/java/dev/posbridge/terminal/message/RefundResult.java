package dev.posbridge.terminal.message;

/** The answer to a {@code refund_query} (terminal to host, version 2). */
public final class RefundResult extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "refund_result";

  private final long rid;
  private final String ref;
  private final String refundRef;
  private final boolean found;
  private final long amount;
  private final String status;
  private final String transactionId;
  private final Receipt receipt;

  /** A {@code refund_result} message. */
  public RefundResult(
      long rid,
      String ref,
      String refundRef,
      boolean found,
      long amount,
      String status,
      String transactionId,
      Receipt receipt) {
    this.rid = rid;
    this.ref = Values.text(ref, "ref");
    this.refundRef = Values.text(refundRef, "refund_ref");
    this.found = found;
    this.amount = amount;
    this.status = Values.text(status, "status");
    this.transactionId = Values.text(transactionId, "transaction_id");
    this.receipt = Values.notNull(receipt, "receipt");
  }

  /** A {@code refund_result} without a receipt. */
  public RefundResult(
      long rid,
      String ref,
      String refundRef,
      boolean found,
      long amount,
      String status,
      String transactionId) {
    this(rid, ref, refundRef, found, amount, status, transactionId, Receipt.NONE);
  }

  /** The request's {@code rid}. */
  public long rid() {
    return rid;
  }

  /** The request's {@code ref}. */
  public String ref() {
    return ref;
  }

  /** The request's {@code refund_ref}. */
  public String refundRef() {
    return refundRef;
  }

  /** False: the terminal has no refund with this {@code refund_ref} for this payment. */
  public boolean found() {
    return found;
  }

  /** The refund in minor units (default {@code 0}). */
  public long amount() {
    return amount;
  }

  /** {@code approved} or {@code declined} (default {@code ""}). */
  public String status() {
    return status;
  }

  /** The terminal's id for the refund (default {@code ""}). */
  public String transactionId() {
    return transactionId;
  }

  /** The refund's receipt (default none). */
  public Receipt receipt() {
    return receipt;
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
        .bool("found", found)
        .integer("amount", amount)
        .string("status", status)
        .string("transaction_id", transactionId)
        .receipt(receipt);
  }

  static RefundResult read(FieldReader in) throws RemoteProtocolException {
    return new RefundResult(
        in.integer("rid"),
        in.string("ref"),
        in.string("refund_ref"),
        in.bool("found"),
        in.integer("amount", 0),
        in.string("status", ""),
        in.string("transaction_id", ""),
        in.receipt());
  }
}
