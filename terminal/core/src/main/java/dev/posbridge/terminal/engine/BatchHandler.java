package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.engine.TerminalLogger.Level;
import dev.posbridge.terminal.message.Batch;
import dev.posbridge.terminal.message.BatchResult;
import dev.posbridge.terminal.message.MessageCodec;
import dev.posbridge.terminal.wire.Frames;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * {@code batch}: one settlement per {@code batch_id} (the same id again is answered with the
 * same batch), every approved unsettled payment in it, as many as its answer can name in one
 * frame; the app settles with the acquirer, then the batch is recorded and the host told.
 * Batches wait for any operation in flight, so none settles a payment being voided.
 */
final class BatchHandler {
  /** A {@code data} envelope's bytes around its message, with the longest {@code seq}. */
  static final int ENVELOPE = "{\"k\":\"data\",\"seq\":9223372036854775807,\"m\":}".length();

  private final Engine engine;

  BatchHandler(Engine engine) {
    this.engine = engine;
  }

  void handle(Batch batch, Exchange exchange) {
    if (engine.operation() != null) {
      engine.defer(exchange);
      return;
    }
    Records records = engine.records;
    String batchId = batch.batchId();
    BatchRecord done = batchId.isEmpty() ? null : records.batch(batchId);
    if (done != null) {
      engine.log(Level.INFO, "batch " + Engine.ref(batchId) + " again: answering with batch "
          + done.batchNumber());
      engine.answer(exchange, result(batch.rid(), done));
      return;
    }
    long number = records.batchNumber() + 1;
    List<PaymentRecord> payments = fitting(records.unsettled(), batchId);
    Operation settling = Operation.settling(exchange, batchId, number, payments,
        engine.clock.monotonic());
    engine.start(settling);
    engine.log(Level.INFO, "batch " + number + ": settling " + payments.size()
        + " payment(s)");
    SettleCallback callback = () -> engine.post(() -> settled(settling));
    engine.callApp("settle", () -> engine.app.settle(batchId, number, payments, callback));
  }

  private void settled(Operation op) {
    if (op.done) {
      engine.log(Level.INFO, "the app answered the settlement of batch " + op.batchNumber
          + " again: ignored");
      return;
    }
    Records records = engine.records;
    List<PaymentRecord> changed = new ArrayList<>();
    List<String> refs = new ArrayList<>();
    long total = 0;
    for (PaymentRecord p : op.payments) {
      PaymentRecord now = records.payment(p.ref());
      if (PaymentRecord.APPROVED.equals(now.status()) && now.batchNumber() == 0) {
        changed.add(now.settled(op.batchNumber));
        refs.add(now.ref());
        total += now.amount();
      }
    }
    BatchRecord batch = new BatchRecord(op.batchId, op.batchNumber, refs.size(), total, refs);
    List<BatchRecord> kept = op.batchId.isEmpty()
        ? Collections.<BatchRecord>emptyList() : Collections.singletonList(batch);
    IOException failure = records.record(new Change(op.batchNumber, changed,
        Collections.<RefundRecord>emptyList(), kept));
    if (failure != null) {
      engine.saveFailed("batch " + op.batchNumber + " settled", failure);
    }
    engine.log(Level.INFO, "batch " + op.batchNumber + ": " + refs.size() + " payment(s), "
        + Text.money(total));
    engine.answer(op.exchange, result(((Batch) op.exchange.request).rid(), batch));
    engine.finish(op);
  }

  static BatchResult result(long rid, BatchRecord b) {
    return new BatchResult(rid, b.batchNumber(), b.count(), b.total(), b.refs(), b.batchId(),
        true);
  }

  /**
   * The payments, oldest first, that one {@code batch_result} can name within a frame
   * (docs/link-protocol.md section 8, duty 7); the rest wait for the next batch.
   */
  private List<PaymentRecord> fitting(List<PaymentRecord> unsettled, String batchId) {
    long max = Long.MAX_VALUE;
    BatchResult empty = new BatchResult(max, max, max, max, Collections.<String>emptyList(),
        batchId, true);
    int size = ENVELOPE + MessageCodec.encode(empty).length;
    List<PaymentRecord> out = new ArrayList<>();
    for (PaymentRecord p : unsettled) {
      BatchResult one = new BatchResult(max, max, max, max, Collections.singletonList(p.ref()),
          batchId, true);
      int grows = MessageCodec.encode(one).length - MessageCodec.encode(empty).length
          + (out.isEmpty() ? 0 : 1);
      if (size + grows > Frames.MAX_PAYLOAD) {
        engine.log(Level.WARNING, "batch: " + (unsettled.size() - out.size()) + " payment(s) "
            + "left for the next batch: one answer names at most " + out.size());
        break;
      }
      size += grows;
      out.add(p);
    }
    return out;
  }
}
