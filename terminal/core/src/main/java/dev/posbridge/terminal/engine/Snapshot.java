package dev.posbridge.terminal.engine;

import java.util.Collections;
import java.util.List;

/**
 * Everything a {@link Store} holds: the number of the last batch, every payment, every refund
 * and every settled batch that has an id, each in the order it was first recorded.
 * Immutable.
 */
public final class Snapshot {
  /** A new terminal's records: nothing yet. */
  public static final Snapshot EMPTY =
      new Snapshot(0, Collections.<PaymentRecord>emptyList(),
          Collections.<RefundRecord>emptyList(), Collections.<BatchRecord>emptyList());

  private final long batchNumber;
  private final List<PaymentRecord> payments;
  private final List<RefundRecord> refunds;
  private final List<BatchRecord> batches;

  /** A snapshot of a terminal's records. */
  public Snapshot(long batchNumber, List<PaymentRecord> payments, List<RefundRecord> refunds,
      List<BatchRecord> batches) {
    this.batchNumber = batchNumber;
    this.payments = Checks.copy(payments, "payments");
    this.refunds = Checks.copy(refunds, "refunds");
    this.batches = Checks.copy(batches, "batches");
  }

  /** The number of the last batch settled, 0 before the first. */
  public long batchNumber() {
    return batchNumber;
  }

  /** Every payment, in the order they were made. */
  public List<PaymentRecord> payments() {
    return payments;
  }

  /** Every refund made, in order. */
  public List<RefundRecord> refunds() {
    return refunds;
  }

  /** Every settled batch that the host gave an id, in order. */
  public List<BatchRecord> batches() {
    return batches;
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof Snapshot)) {
      return false;
    }
    Snapshot that = (Snapshot) other;
    return batchNumber == that.batchNumber
        && payments.equals(that.payments)
        && refunds.equals(that.refunds)
        && batches.equals(that.batches);
  }

  @Override
  public int hashCode() {
    return payments.hashCode();
  }

  @Override
  public String toString() {
    return "Snapshot{batch_number=" + batchNumber + ", " + payments.size() + " payments, "
        + refunds.size() + " refunds, " + batches.size() + " batches}";
  }
}
