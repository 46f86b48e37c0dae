package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.engine.TerminalLogger.Level;
import dev.posbridge.terminal.message.Cancel;
import dev.posbridge.terminal.message.Reply;
import java.io.IOException;
import java.util.Collections;
import java.util.List;

/**
 * {@code cancel}: a payment waiting for its customer is recorded cancelled ("17") before the
 * host is told, then the app is told to stop; an outcome the app reports for it afterwards is
 * ignored.
 */
final class CancelHandler {
  private final Engine engine;

  CancelHandler(Engine engine) {
    this.engine = engine;
  }

  void handle(Cancel cancel, Exchange exchange) {
    Records records = engine.records;
    PaymentRecord p = records.payment(cancel.ref());
    if (p == null) {
      engine.refuse(exchange, cancel.rid(), cancel.ref(), "not_found", "");
      return;
    }
    if (!p.isPending()) {
      engine.refuse(exchange, cancel.rid(), cancel.ref(), "not_in_progress",
          "the payment is " + p.status());
      return;
    }
    List<String> fields = engine.receipts.fields("sale", p.conditionCode(), p.amount(),
        PaymentRecord.CANCELLED, "", engine.clock.wallMillis(),
        Collections.<String>emptyList());
    PaymentRecord cancelled = p.finished(PaymentRecord.CANCELLED, "17", "", fields);
    try {
      records.commit(Change.of(records.batchNumber(), cancelled));
    } catch (IOException | RuntimeException e) {
      engine.refuse(exchange, cancel.rid(), cancel.ref(), "terminal_error",
          "the terminal could not record the cancel: " + e.getMessage());
      return;
    }
    engine.log(Level.INFO, Engine.ref(p.ref()) + ": cancelled by the PC");
    engine.answer(exchange, new Reply(cancel.rid(), cancel.ref(), true, "", ""));
    engine.callApp("cancelPayment", () -> engine.app.cancelPayment(cancelled));
  }
}
