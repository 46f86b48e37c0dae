package dev.posbridge.terminal.message;

/**
 * The terminal's unsolicited report that a payment reached a final state (terminal to host);
 * the wire's {@code result}.
 */
public final class PaymentResult extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "result";

  private final String ref;
  private final String status;
  private final String responseCode;
  private final String transactionId;
  private final Receipt receipt;

  /** A {@code result} message. */
  public PaymentResult(
      String ref,
      String status,
      String responseCode,
      String transactionId,
      Receipt receipt) {
    this.ref = Values.text(ref, "ref");
    this.status = Values.text(status, "status");
    this.responseCode = Values.text(responseCode, "response_code");
    this.transactionId = Values.text(transactionId, "transaction_id");
    this.receipt = Values.notNull(receipt, "receipt");
  }

  /** A {@code result} without a receipt. */
  public PaymentResult(String ref, String status, String responseCode, String transactionId) {
    this(ref, status, responseCode, transactionId, Receipt.NONE);
  }

  /** The payment. */
  public String ref() {
    return ref;
  }

  /** Its final link status. */
  public String status() {
    return status;
  }

  /** Its response code. */
  public String responseCode() {
    return responseCode;
  }

  /** The terminal's id for the payment (default {@code ""}). */
  public String transactionId() {
    return transactionId;
  }

  /** The payment's receipt (default none). */
  public Receipt receipt() {
    return receipt;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.string("ref", ref)
        .string("status", status)
        .string("response_code", responseCode)
        .string("transaction_id", transactionId)
        .receipt(receipt);
  }

  static PaymentResult read(FieldReader in) throws RemoteProtocolException {
    return new PaymentResult(
        in.string("ref"),
        in.string("status"),
        in.string("response_code"),
        in.string("transaction_id", ""),
        in.receipt());
  }
}
