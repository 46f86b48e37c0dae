package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.engine.TerminalLogger.Level;
import dev.posbridge.terminal.message.Reply;
import dev.posbridge.terminal.message.VoidPayment;
import java.io.IOException;
import java.util.List;

/**
 * {@code void}: an approved, unsettled, unrefunded payment, with no payment in progress, is
 * voided by the app with the acquirer, then recorded voided ("VD") and the host told.
 */
final class VoidHandler {
  private final Engine engine;

  VoidHandler(Engine engine) {
    this.engine = engine;
  }

  void handle(VoidPayment request, Exchange exchange) {
    String ref = request.ref();
    long rid = request.rid();
    Operation op = engine.operation();
    if (op != null && op.isVoidOf(ref)) {
      engine.defer(exchange); // the same void again: answered when the first is done
      return;
    }
    Records records = engine.records;
    PaymentRecord p = records.payment(ref);
    if (p == null) {
      engine.refuse(exchange, rid, ref, "not_found", "");
    } else if (PaymentRecord.VOIDED.equals(p.status())) {
      engine.refuse(exchange, rid, ref, "already_voided", "");
    } else if (!PaymentRecord.APPROVED.equals(p.status())) {
      engine.refuse(exchange, rid, ref, "not_approved", "the payment is " + p.status());
    } else if (p.batchNumber() != 0) {
      engine.refuse(exchange, rid, ref, "already_settled",
          "settled in batch " + p.batchNumber());
    } else if (records.refunded(ref) > 0) {
      engine.refuse(exchange, rid, ref, "already_refunded",
          Text.money(records.refunded(ref)) + " of it is refunded");
    } else if (records.pending() != null) {
      engine.refuse(exchange, rid, ref, "busy",
          "payment " + records.pending().ref() + " is in progress");
    } else if (op != null) {
      engine.refuse(exchange, rid, ref, "busy", op.describe() + " is in progress");
    } else {
      Operation voiding = Operation.voiding(exchange, ref, engine.clock.monotonic());
      engine.start(voiding);
      engine.log(Level.INFO, Engine.ref(ref) + ": voiding " + Text.money(p.amount()));
      VoidCallback callback =
          new VoidCallback() {
            @Override
            public void voided() {
              engine.post(() -> done(voiding, null));
            }

            @Override
            public void declined(String detail) {
              String text = detail == null ? "" : Text.unicode(detail);
              engine.post(() -> done(voiding, text));
            }
          };
      engine.callApp("voidPayment", () -> engine.app.voidPayment(p, callback));
    }
  }

  /** The app's answer: voided ({@code declined} null) or declined. */
  private void done(Operation op, String declined) {
    if (op.done) {
      engine.log(Level.INFO, Engine.ref(op.ref) + ": the app answered the void again: ignored");
      return;
    }
    long rid = ((VoidPayment) op.exchange.request).rid();
    if (declined != null) {
      engine.refuse(op.exchange, rid, op.ref, "void_declined", declined);
      engine.finish(op);
      return;
    }
    Records records = engine.records;
    PaymentRecord p = records.payment(op.ref);
    List<String> fields = engine.receipts.fields("void", p.conditionCode(), p.amount(),
        PaymentRecord.VOIDED, p.transactionId(), engine.clock.wallMillis(),
        Receipts.carried(p.receipt()));
    IOException failure = records.record(Change.of(records.batchNumber(), p.voided(fields)));
    if (failure != null) {
      engine.saveFailed(Engine.ref(op.ref) + ": voided", failure);
    }
    engine.log(Level.INFO, Engine.ref(op.ref) + ": voided");
    engine.answer(op.exchange,
        new Reply(rid, op.ref, true, "", "", engine.receipts.onLink(fields)));
    engine.finish(op);
  }
}
