package dev.posbridge.terminal.message;

/** The answer to a {@code query} (terminal to host). */
public final class QueryResult extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "query_result";

  private final long rid;
  private final String ref;
  private final boolean found;
  private final String status;
  private final String responseCode;
  private final String transactionId;
  private final long amount;
  private final String conditionCode;
  private final long batchNumber;
  private final Receipt receipt;

  /** A {@code query_result} message. */
  public QueryResult(
      long rid,
      String ref,
      boolean found,
      String status,
      String responseCode,
      String transactionId,
      long amount,
      String conditionCode,
      long batchNumber,
      Receipt receipt) {
    this.rid = rid;
    this.ref = Values.text(ref, "ref");
    this.found = found;
    this.status = Values.text(status, "status");
    this.responseCode = Values.text(responseCode, "response_code");
    this.transactionId = Values.text(transactionId, "transaction_id");
    this.amount = amount;
    this.conditionCode = Values.text(conditionCode, "condition_code");
    this.batchNumber = batchNumber;
    this.receipt = Values.notNull(receipt, "receipt");
  }

  /** A {@code query_result} without a receipt. */
  public QueryResult(
      long rid,
      String ref,
      boolean found,
      String status,
      String responseCode,
      String transactionId,
      long amount,
      String conditionCode,
      long batchNumber) {
    this(
        rid,
        ref,
        found,
        status,
        responseCode,
        transactionId,
        amount,
        conditionCode,
        batchNumber,
        Receipt.NONE);
  }

  /** The request's {@code rid}. */
  public long rid() {
    return rid;
  }

  /** The request's {@code ref}. */
  public String ref() {
    return ref;
  }

  /** False: the terminal has no payment with this reference. */
  public boolean found() {
    return found;
  }

  /**
   * The payment's link status ({@code pending}, {@code approved}, ...) (default {@code ""}).
   */
  public String status() {
    return status;
  }

  /** The payment's response code (default {@code ""}). */
  public String responseCode() {
    return responseCode;
  }

  /** The terminal's id for the payment, once it has one (default {@code ""}). */
  public String transactionId() {
    return transactionId;
  }

  /** The amount in minor units (default {@code 0}). */
  public long amount() {
    return amount;
  }

  /** The condition code (default {@code ""}). */
  public String conditionCode() {
    return conditionCode;
  }

  /** The batch that settled the payment; 0 while unsettled (default {@code 0}). */
  public long batchNumber() {
    return batchNumber;
  }

  /** The receipt of the payment's current state (default none). */
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
        .bool("found", found)
        .string("status", status)
        .string("response_code", responseCode)
        .string("transaction_id", transactionId)
        .integer("amount", amount)
        .string("condition_code", conditionCode)
        .integer("batch_number", batchNumber)
        .receipt(receipt);
  }

  static QueryResult read(FieldReader in) throws RemoteProtocolException {
    return new QueryResult(
        in.integer("rid"),
        in.string("ref"),
        in.bool("found"),
        in.string("status", ""),
        in.string("response_code", ""),
        in.string("transaction_id", ""),
        in.integer("amount", 0),
        in.string("condition_code", ""),
        in.integer("batch_number", 0),
        in.receipt());
  }
}
