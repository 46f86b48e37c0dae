package dev.posbridge.terminal.engine;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A store in memory: the records last as long as the process. For tests, and for a demo
 * terminal run without a state file.
 */
public final class MemoryStore implements Store {
  private final Tables tables = new Tables();

  /** An empty store. */
  public MemoryStore() {}

  @Override
  public synchronized Snapshot load() {
    return tables.snapshot();
  }

  @Override
  public synchronized void save(Change change) {
    tables.apply(change);
  }

  /**
   * A store's records as maps keyed by reference, shared by the stores that hold them in
   * memory.
   */
  static final class Tables {
    long batchNumber;
    final Map<String, PaymentRecord> payments = new LinkedHashMap<>();
    final Map<String, RefundRecord> refunds = new LinkedHashMap<>();
    final Map<String, BatchRecord> batches = new LinkedHashMap<>();

    void apply(Change change) {
      batchNumber = change.batchNumber();
      for (PaymentRecord p : change.payments()) {
        payments.put(p.ref(), p);
      }
      for (RefundRecord r : change.refunds()) {
        refunds.put(r.refundRef(), r);
      }
      for (BatchRecord b : change.batches()) {
        batches.put(b.batchId(), b);
      }
    }

    void load(Snapshot snapshot) {
      apply(new Change(snapshot.batchNumber(), snapshot.payments(), snapshot.refunds(),
          snapshot.batches()));
    }

    Snapshot snapshot() {
      return new Snapshot(batchNumber, new ArrayList<>(payments.values()),
          new ArrayList<>(refunds.values()), new ArrayList<>(batches.values()));
    }

    List<PaymentRecord> paymentList() {
      return new ArrayList<>(payments.values());
    }
  }
}
