package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.engine.TerminalLogger.Level;
import dev.posbridge.terminal.message.Refund;
import dev.posbridge.terminal.message.Reply;
import java.io.IOException;
import java.util.List;

/**
 * {@code refund}: kept by {@code refund_ref} and never made twice (the same refund again is
 * accepted again; the reference with another payment or amount is a duplicate), never more
 * than remains of the payment; the app refunds with the acquirer, then the refund is
 * recorded and the host told.
 */
final class RefundHandler {
  private final Engine engine;

  RefundHandler(Engine engine) {
    this.engine = engine;
  }

  void handle(Refund request, Exchange exchange) {
    String ref = request.ref();
    String refundRef = request.refundRef();
    long rid = request.rid();
    Records records = engine.records;
    if (!Text.isReference(refundRef)) {
      engine.refuse(exchange, rid, ref, "invalid_reference",
          "a refund reference is 1 to 64 printable ASCII characters");
      return;
    }
    Operation op = engine.operation();
    if (op != null && op.isRefund(refundRef)) {
      engine.defer(exchange); // the same refund again: answered when the first is done
      return;
    }
    RefundRecord made = records.refund(refundRef);
    if (made != null) {
      if (made.ref().equals(ref) && made.amount() == request.amount()) {
        // The same refund again (its answer was lost): answered, never made twice.
        engine.log(Level.INFO, Engine.ref(ref) + ": refund " + Engine.ref(refundRef)
            + " again: already made");
        engine.answer(exchange,
            new Reply(rid, ref, true, "", "", engine.receipts.onLink(made.receipt())));
      } else {
        engine.refuse(exchange, rid, ref, "duplicate_reference",
            "refund " + refundRef + " is of payment " + made.ref() + ", amount "
                + Text.money(made.amount()));
      }
      return;
    }
    PaymentRecord p = records.payment(ref);
    if (p == null) {
      engine.refuse(exchange, rid, ref, "not_found", "");
      return;
    }
    if (!PaymentRecord.APPROVED.equals(p.status())) {
      engine.refuse(exchange, rid, ref, "not_approved", "the payment is " + p.status());
      return;
    }
    if (records.pending() != null) {
      engine.refuse(exchange, rid, ref, "busy",
          "payment " + records.pending().ref() + " is in progress");
      return;
    }
    if (op != null) {
      engine.refuse(exchange, rid, ref, "busy", op.describe() + " is in progress");
      return;
    }
    if (request.amount() <= 0) {
      engine.refuse(exchange, rid, ref, "invalid_amount",
          "the amount must be greater than 0 (got " + request.amount() + ")");
      return;
    }
    long remaining = p.amount() - records.refunded(ref);
    if (request.amount() > remaining) {
      engine.refuse(exchange, rid, ref, "exceeds_payment", Text.money(remaining) + " remains");
      return;
    }
    Operation refunding = Operation.refunding(exchange, ref, refundRef, request.amount(),
        engine.clock.monotonic());
    engine.start(refunding);
    engine.log(Level.INFO, Engine.ref(ref) + ": refunding " + Text.money(request.amount())
        + " as " + Engine.ref(refundRef));
    RefundCallback callback =
        new RefundCallback() {
          @Override
          public void refunded(String transactionId) {
            String txn = transactionId == null ? "" : Text.unicode(transactionId);
            engine.post(() -> done(refunding, txn, null));
          }

          @Override
          public void declined(String detail) {
            String text = detail == null ? "" : Text.unicode(detail);
            engine.post(() -> done(refunding, null, text));
          }
        };
    engine.callApp("refund",
        () -> engine.app.refund(p, refundRef, request.amount(), callback));
  }

  private void done(Operation op, String transactionId, String declined) {
    if (op.done) {
      engine.log(Level.INFO, Engine.ref(op.ref) + ": the app answered refund "
          + Engine.ref(op.refundRef) + " again: ignored");
      return;
    }
    long rid = ((Refund) op.exchange.request).rid();
    if (declined != null) {
      engine.refuse(op.exchange, rid, op.ref, "refund_declined",
          "declined by the acquirer" + (declined.isEmpty() ? "" : ": " + declined));
      engine.finish(op);
      return;
    }
    Records records = engine.records;
    PaymentRecord p = records.payment(op.ref);
    List<String> fields = engine.receipts.fields("refund", p.conditionCode(), op.amount,
        PaymentRecord.APPROVED, transactionId, engine.clock.wallMillis(),
        Receipts.carried(p.receipt()));
    RefundRecord refund = new RefundRecord(op.refundRef, op.ref, op.amount,
        PaymentRecord.APPROVED, transactionId, fields, records.batchNumber());
    IOException failure = records.record(Change.of(records.batchNumber(), refund));
    if (failure != null) {
      engine.saveFailed(Engine.ref(op.ref) + ": refunded", failure);
    }
    engine.log(Level.INFO, Engine.ref(op.ref) + ": refund " + Engine.ref(op.refundRef)
        + " of " + Text.money(op.amount));
    engine.answer(op.exchange,
        new Reply(rid, op.ref, true, "", "", engine.receipts.onLink(fields)));
    engine.finish(op);
  }
}
