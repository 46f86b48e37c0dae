package dev.posbridge.terminal.engine;

import java.util.List;

/**
 * A settled batch, kept by the host's {@code batch_id} so that a batch sent again is answered
 * with the same result and never settled twice (docs/link-protocol.md section 8, duty 5).
 * Immutable.
 */
public final class BatchRecord {
  private final String batchId;
  private final long batchNumber;
  private final long count;
  private final long total;
  private final List<String> refs;

  /** A batch record: its id, number, how many payments it settled, their total and refs. */
  public BatchRecord(String batchId, long batchNumber, long count, long total,
      List<String> refs) {
    this.batchId = Checks.notNull(batchId, "batchId");
    this.batchNumber = batchNumber;
    this.count = count;
    this.total = total;
    this.refs = Checks.copy(refs, "refs");
  }

  /** The host's id of the batch. */
  public String batchId() {
    return batchId;
  }

  /** The batch's number on this terminal. */
  public long batchNumber() {
    return batchNumber;
  }

  /** How many payments it settled. */
  public long count() {
    return count;
  }

  /** Their total in minor units. */
  public long total() {
    return total;
  }

  /** The references of the payments it settled. */
  public List<String> refs() {
    return refs;
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof BatchRecord)) {
      return false;
    }
    BatchRecord that = (BatchRecord) other;
    return batchId.equals(that.batchId)
        && batchNumber == that.batchNumber
        && count == that.count
        && total == that.total
        && refs.equals(that.refs);
  }

  @Override
  public int hashCode() {
    return batchId.hashCode();
  }

  @Override
  public String toString() {
    return "BatchRecord{" + batchId + " #" + batchNumber + " " + count + " for " + total + "}";
  }
}
