package dev.posbridge.terminal.engine;

import java.util.Collections;
import java.util.List;

/**
 * The terminal's record of one payment, as the {@link Store} keeps it and the host asks for
 * it (docs/link-protocol.md section 8). Immutable.
 *
 * <p>{@code status} is one of the link's statuses: {@code pending}, {@code approved},
 * {@code declined}, {@code cancelled}, {@code timed_out}, {@code voided}.
 */
public final class PaymentRecord {
  static final String PENDING = "pending";
  static final String APPROVED = "approved";
  static final String DECLINED = "declined";
  static final String CANCELLED = "cancelled";
  static final String TIMED_OUT = "timed_out";
  static final String VOIDED = "voided";

  private final String ref;
  private final long amount;
  private final String conditionCode;
  private final String status;
  private final String responseCode;
  private final String transactionId;
  private final long batchNumber;
  private final double startedAt;
  private final List<String> receipt;
  private final List<String> voidReceipt;
  private final long period;

  /**
   * A payment record.
   *
   * @param startedAt when the sale was accepted, in seconds since the epoch
   * @param receipt the payment's receipt fields ({@code "key=value"}), once final
   * @param voidReceipt the void's receipt fields, once voided
   * @param period the number of the last batch when the payment was made: it counts in the
   *     terminal's totals until the next batch
   */
  public PaymentRecord(
      String ref,
      long amount,
      String conditionCode,
      String status,
      String responseCode,
      String transactionId,
      long batchNumber,
      double startedAt,
      List<String> receipt,
      List<String> voidReceipt,
      long period) {
    this.ref = Checks.notNull(ref, "ref");
    this.amount = amount;
    this.conditionCode = Checks.notNull(conditionCode, "conditionCode");
    this.status = Checks.notNull(status, "status");
    this.responseCode = Checks.notNull(responseCode, "responseCode");
    this.transactionId = Checks.notNull(transactionId, "transactionId");
    this.batchNumber = batchNumber;
    this.startedAt = startedAt;
    this.receipt = Checks.copy(receipt, "receipt");
    this.voidReceipt = Checks.copy(voidReceipt, "voidReceipt");
    this.period = period;
  }

  /** A new payment, pending, as recorded before the sale is accepted. */
  static PaymentRecord pending(
      String ref, long amount, String conditionCode, double startedAt, long period) {
    List<String> none = Collections.emptyList();
    return new PaymentRecord(
        ref, amount, conditionCode, PENDING, "09", "", 0, startedAt, none, none, period);
  }

  /** The payment's reference, the POS's {@code retrieval_reference_number}. */
  public String ref() {
    return ref;
  }

  /** The amount in minor units (cents). */
  public long amount() {
    return amount;
  }

  /** The payment method, two digits ({@code 82} PayNow, ...). */
  public String conditionCode() {
    return conditionCode;
  }

  /** The link status: pending, approved, declined, cancelled, timed_out or voided. */
  public String status() {
    return status;
  }

  /** The response code: 09 pending, 00 approved, the decline code, 17, 68 or VD. */
  public String responseCode() {
    return responseCode;
  }

  /** The acquirer's id for the payment, {@code ""} until it has one. */
  public String transactionId() {
    return transactionId;
  }

  /** The batch that settled the payment, 0 while unsettled. */
  public long batchNumber() {
    return batchNumber;
  }

  /** When the sale was accepted, in seconds since the epoch. */
  public double startedAt() {
    return startedAt;
  }

  /** The payment's receipt fields, {@code "key=value"}; empty while pending. */
  public List<String> receipt() {
    return receipt;
  }

  /** The void's receipt fields; empty unless voided. */
  public List<String> voidReceipt() {
    return voidReceipt;
  }

  /** The number of the last batch when the payment was made. */
  public long period() {
    return period;
  }

  /** True while the customer has not finished. */
  public boolean isPending() {
    return PENDING.equals(status);
  }

  PaymentRecord finished(String status, String responseCode, String transactionId,
      List<String> receipt) {
    return new PaymentRecord(ref, amount, conditionCode, status, responseCode, transactionId,
        batchNumber, startedAt, receipt, voidReceipt, period);
  }

  PaymentRecord voided(List<String> voidReceipt) {
    return new PaymentRecord(ref, amount, conditionCode, VOIDED, "VD", transactionId,
        batchNumber, startedAt, receipt, voidReceipt, period);
  }

  PaymentRecord settled(long batchNumber) {
    return new PaymentRecord(ref, amount, conditionCode, status, responseCode, transactionId,
        batchNumber, startedAt, receipt, voidReceipt, period);
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof PaymentRecord)) {
      return false;
    }
    PaymentRecord that = (PaymentRecord) other;
    return ref.equals(that.ref)
        && amount == that.amount
        && conditionCode.equals(that.conditionCode)
        && status.equals(that.status)
        && responseCode.equals(that.responseCode)
        && transactionId.equals(that.transactionId)
        && batchNumber == that.batchNumber
        && Double.compare(startedAt, that.startedAt) == 0
        && receipt.equals(that.receipt)
        && voidReceipt.equals(that.voidReceipt)
        && period == that.period;
  }

  @Override
  public int hashCode() {
    return ref.hashCode() * 31 + status.hashCode();
  }

  @Override
  public String toString() {
    return "PaymentRecord{" + ref + " " + amount + " " + conditionCode + " " + status + " "
        + responseCode + " txn=" + transactionId + " batch=" + batchNumber + "}";
  }
}
