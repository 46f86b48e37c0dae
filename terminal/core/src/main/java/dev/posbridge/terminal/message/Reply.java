package dev.posbridge.terminal.message;

/**
 * The answer to a {@code sale}, {@code cancel}, {@code void} or {@code refund}: accepted, or
 * refused with a reason (terminal to host).
 */
public final class Reply extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "reply";

  private final long rid;
  private final String ref;
  private final boolean accepted;
  private final String reason;
  private final String detail;
  private final Receipt receipt;

  /** A {@code reply} message. */
  public Reply(
      long rid,
      String ref,
      boolean accepted,
      String reason,
      String detail,
      Receipt receipt) {
    this.rid = rid;
    this.ref = Values.text(ref, "ref");
    this.accepted = accepted;
    this.reason = Values.text(reason, "reason");
    this.detail = Values.text(detail, "detail");
    this.receipt = Values.notNull(receipt, "receipt");
  }

  /** A {@code reply} without a receipt. */
  public Reply(long rid, String ref, boolean accepted, String reason, String detail) {
    this(rid, ref, accepted, reason, detail, Receipt.NONE);
  }

  /** The request's {@code rid}. */
  public long rid() {
    return rid;
  }

  /** The request's {@code ref}. */
  public String ref() {
    return ref;
  }

  /** True: done; false: refused. */
  public boolean accepted() {
    return accepted;
  }

  /**
   * When refused: the refusal reason ({@code busy}, {@code duplicate_reference}, ...) (default
   * {@code ""}).
   */
  public String reason() {
    return reason;
  }

  /** Optional text for a person (default {@code ""}). */
  public String detail() {
    return detail;
  }

  /** An accepted void's or refund's receipt (default none). */
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
        .bool("accepted", accepted)
        .string("reason", reason)
        .string("detail", detail)
        .receipt(receipt);
  }

  static Reply read(FieldReader in) throws RemoteProtocolException {
    return new Reply(
        in.integer("rid"),
        in.string("ref"),
        in.bool("accepted"),
        in.string("reason", ""),
        in.string("detail", ""),
        in.receipt());
  }
}
