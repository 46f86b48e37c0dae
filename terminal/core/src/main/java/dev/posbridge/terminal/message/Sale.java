package dev.posbridge.terminal.message;

/** Start a payment (host to terminal). */
public final class Sale extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "sale";

  private final long rid;
  private final String ref;
  private final long amount;
  private final String conditionCode;

  /** A {@code sale} message. */
  public Sale(long rid, String ref, long amount, String conditionCode) {
    this.rid = rid;
    this.ref = Values.text(ref, "ref");
    this.amount = amount;
    this.conditionCode = Values.text(conditionCode, "condition_code");
  }

  /** The request id, copied into the answer. */
  public long rid() {
    return rid;
  }

  /** The payment's reference. */
  public String ref() {
    return ref;
  }

  /** The amount in minor units (cents). */
  public long amount() {
    return amount;
  }

  /** The payment method, two digits. */
  public String conditionCode() {
    return conditionCode;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.integer("rid", rid)
        .string("ref", ref)
        .integer("amount", amount)
        .string("condition_code", conditionCode);
  }

  static Sale read(FieldReader in) throws RemoteProtocolException {
    return new Sale(
        in.integer("rid"),
        in.string("ref"),
        in.integer("amount"),
        in.string("condition_code"));
  }
}
