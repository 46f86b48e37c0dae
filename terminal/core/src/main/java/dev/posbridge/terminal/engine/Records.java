package dev.posbridge.terminal.engine;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.List;

/**
 * The terminal's records in memory, keyed by reference, over the {@link Store} that keeps
 * them: the store is written first, memory after, so that nothing is answered from memory
 * that the store has not kept.
 *
 * <p>Two kinds of change. One the host is waiting to have accepted (a sale, a cancel) is
 * {@link #commit committed}: if the store fails, the change is not made and the request is
 * refused. One that has already happened (the customer paid, the acquirer refunded) is
 * {@link #record recorded}: if the store fails, it is kept in memory, answered from there,
 * and saved again before the next change and every second until the store takes it.
 */
final class Records {
  private final Store store;
  private final MemoryStore.Tables tables = new MemoryStore.Tables();
  private final Deque<Change> unsaved = new ArrayDeque<>();

  Records(Store store, Snapshot loaded) {
    this.store = store;
    tables.load(loaded);
  }

  // -- reads ---------------------------------------------------------------------------------

  long batchNumber() {
    return tables.batchNumber;
  }

  PaymentRecord payment(String ref) {
    return tables.payments.get(ref);
  }

  RefundRecord refund(String refundRef) {
    return tables.refunds.get(refundRef);
  }

  BatchRecord batch(String batchId) {
    return tables.batches.get(batchId);
  }

  Collection<PaymentRecord> payments() {
    return tables.payments.values();
  }

  Collection<RefundRecord> refunds() {
    return tables.refunds.values();
  }

  /** The payment waiting for its customer, or null. */
  PaymentRecord pending() {
    for (PaymentRecord p : tables.payments.values()) {
      if (p.isPending()) {
        return p;
      }
    }
    return null;
  }

  /** What has been refunded of payment {@code ref}, in minor units. */
  long refunded(String ref) {
    long sum = 0;
    for (RefundRecord r : tables.refunds.values()) {
      if (r.ref().equals(ref)) {
        sum += r.amount();
      }
    }
    return sum;
  }

  Snapshot snapshot() {
    return tables.snapshot();
  }

  boolean hasUnsaved() {
    return !unsaved.isEmpty();
  }

  // -- changes -------------------------------------------------------------------------------

  /** Saves {@code change}, then makes it in memory; on failure, neither. */
  void commit(Change change) throws IOException {
    saveUnsaved();
    if (!unsaved.isEmpty()) {
      throw new IOException("earlier changes are still not saved");
    }
    store.save(change);
    tables.apply(change);
  }

  /**
   * Makes {@code change} in memory and saves it, now or later.
   *
   * @return the store's failure, or null when it is saved
   */
  IOException record(Change change) {
    tables.apply(change);
    unsaved.addLast(change);
    return saveUnsaved();
  }

  /** Saves what could not be saved before, in order; returns the failure that stopped it. */
  IOException saveUnsaved() {
    while (!unsaved.isEmpty()) {
      try {
        store.save(unsaved.peekFirst());
      } catch (IOException | RuntimeException e) {
        return e instanceof IOException ? (IOException) e : new IOException(e.toString(), e);
      }
      unsaved.removeFirst();
    }
    return null;
  }

  /** The approved payments not yet settled, in the order they were made. */
  List<PaymentRecord> unsettled() {
    List<PaymentRecord> out = new ArrayList<>();
    for (PaymentRecord p : tables.payments.values()) {
      if (PaymentRecord.APPROVED.equals(p.status()) && p.batchNumber() == 0) {
        out.add(p);
      }
    }
    return out;
  }
}
