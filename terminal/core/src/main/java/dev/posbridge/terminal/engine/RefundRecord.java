package dev.posbridge.terminal.engine;

import java.util.List;

/**
 * The terminal's record of one refund it made, kept by its {@code refund_ref} so that it is
 * never made twice (docs/link-protocol.md section 8, duty 6). A declined refund leaves no
 * record. Immutable.
 */
public final class RefundRecord {
  private final String refundRef;
  private final String ref;
  private final long amount;
  private final String status;
  private final String transactionId;
  private final List<String> receipt;
  private final long period;

  /**
   * A refund record.
   *
   * @param refundRef the refund's reference, the POS's {@code refund_reference}
   * @param ref the refunded payment's reference
   * @param status {@code approved}
   * @param period the number of the last batch when the refund was made
   */
  public RefundRecord(String refundRef, String ref, long amount, String status,
      String transactionId, List<String> receipt, long period) {
    this.refundRef = Checks.notNull(refundRef, "refundRef");
    this.ref = Checks.notNull(ref, "ref");
    this.amount = amount;
    this.status = Checks.notNull(status, "status");
    this.transactionId = Checks.notNull(transactionId, "transactionId");
    this.receipt = Checks.copy(receipt, "receipt");
    this.period = period;
  }

  /** The refund's reference. */
  public String refundRef() {
    return refundRef;
  }

  /** The refunded payment's reference. */
  public String ref() {
    return ref;
  }

  /** The refund in minor units. */
  public long amount() {
    return amount;
  }

  /** {@code approved}. */
  public String status() {
    return status;
  }

  /** The acquirer's id for the refund. */
  public String transactionId() {
    return transactionId;
  }

  /** The refund's receipt fields, {@code "key=value"}. */
  public List<String> receipt() {
    return receipt;
  }

  /** The number of the last batch when the refund was made. */
  public long period() {
    return period;
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof RefundRecord)) {
      return false;
    }
    RefundRecord that = (RefundRecord) other;
    return refundRef.equals(that.refundRef)
        && ref.equals(that.ref)
        && amount == that.amount
        && status.equals(that.status)
        && transactionId.equals(that.transactionId)
        && receipt.equals(that.receipt)
        && period == that.period;
  }

  @Override
  public int hashCode() {
    return refundRef.hashCode();
  }

  @Override
  public String toString() {
    return "RefundRecord{" + refundRef + " of " + ref + " " + amount + " " + status + "}";
  }
}
