package dev.posbridge.terminal.engine;

import java.util.Collections;
import java.util.List;

/**
 * One change to a terminal's records, which a {@link Store} makes durable as a whole: the
 * payments it adds or replaces (by reference), the refunds and batches it adds, and the
 * number of the last batch after it. Immutable.
 */
public final class Change {
  private final long batchNumber;
  private final List<PaymentRecord> payments;
  private final List<RefundRecord> refunds;
  private final List<BatchRecord> batches;

  /** A change. */
  public Change(long batchNumber, List<PaymentRecord> payments, List<RefundRecord> refunds,
      List<BatchRecord> batches) {
    this.batchNumber = batchNumber;
    this.payments = Checks.copy(payments, "payments");
    this.refunds = Checks.copy(refunds, "refunds");
    this.batches = Checks.copy(batches, "batches");
  }

  static Change of(long batchNumber, PaymentRecord payment) {
    return new Change(batchNumber, Collections.singletonList(payment),
        Collections.<RefundRecord>emptyList(), Collections.<BatchRecord>emptyList());
  }

  static Change of(long batchNumber, RefundRecord refund) {
    return new Change(batchNumber, Collections.<PaymentRecord>emptyList(),
        Collections.singletonList(refund), Collections.<BatchRecord>emptyList());
  }

  /** The number of the last batch once this change is made. */
  public long batchNumber() {
    return batchNumber;
  }

  /** Payments added or replaced (a payment is replaced by its reference). */
  public List<PaymentRecord> payments() {
    return payments;
  }

  /** Refunds added. */
  public List<RefundRecord> refunds() {
    return refunds;
  }

  /** Batches added (a batch without an id is not kept). */
  public List<BatchRecord> batches() {
    return batches;
  }

  @Override
  public String toString() {
    return "Change{batch_number=" + batchNumber + ", payments=" + payments + ", refunds="
        + refunds + ", batches=" + batches + "}";
  }
}
