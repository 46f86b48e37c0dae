package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.engine.TerminalLogger.Level;
import dev.posbridge.terminal.message.PaymentResult;
import dev.posbridge.terminal.message.Progress;
import dev.posbridge.terminal.message.Reply;
import dev.posbridge.terminal.message.Sale;
import java.io.IOException;
import java.util.List;

/**
 * {@code sale}: one payment at a time, a reference used once for ever, recorded pending
 * before it is accepted; then the app's reports of what the customer sees ({@code progress})
 * and how the payment ended ({@code result}), each recorded once.
 */
final class SaleHandler {
  private final Engine engine;

  SaleHandler(Engine engine) {
    this.engine = engine;
  }

  void handle(Sale sale, Exchange exchange) {
    String ref = sale.ref();
    Records records = engine.records;
    if (!Text.isReference(ref)) {
      engine.refuse(exchange, sale.rid(), ref, "invalid_reference",
          "a reference is 1 to 64 printable ASCII characters");
      return;
    }
    if (records.payment(ref) != null) {
      engine.refuse(exchange, sale.rid(), ref, "duplicate_reference", "");
      return;
    }
    PaymentRecord pending = records.pending();
    if (pending != null) {
      engine.refuse(exchange, sale.rid(), ref, "busy",
          "payment " + pending.ref() + " is in progress");
      return;
    }
    Operation op = engine.operation();
    if (op != null) {
      engine.refuse(exchange, sale.rid(), ref, "busy", op.describe() + " is in progress");
      return;
    }
    if (!engine.config.conditionCodes.contains(sale.conditionCode())) {
      engine.refuse(exchange, sale.rid(), ref, "unsupported_condition_code",
          "supported: " + engine.config.describeMethods());
      return;
    }
    if (sale.amount() <= 0) {
      engine.refuse(exchange, sale.rid(), ref, "invalid_amount",
          "the amount must be greater than 0 (got " + sale.amount() + ")");
      return;
    }
    PaymentRecord payment = PaymentRecord.pending(ref, sale.amount(), sale.conditionCode(),
        engine.wallSeconds(), records.batchNumber());
    try {
      records.commit(Change.of(records.batchNumber(), payment));
    } catch (IOException | RuntimeException e) {
      engine.log(Level.ERROR, Engine.ref(ref) + ": the payment could not be recorded: " + e);
      engine.refuse(exchange, sale.rid(), ref, "terminal_error",
          "the terminal could not record the payment: " + e.getMessage());
      return;
    }
    engine.log(Level.INFO, Engine.ref(ref) + ": sale of " + Text.money(sale.amount()) + " ("
        + engine.config.methodName(sale.conditionCode()) + "), waiting for the customer");
    engine.answer(exchange, new Reply(sale.rid(), ref, true, "", ""));
    PaymentCallback callback = new Callback(engine, ref);
    engine.callApp("startPayment", () -> engine.app.startPayment(payment, callback));
  }

  /** Records how payment {@code ref} ended and reports it, once. */
  void finish(String ref, Outcome outcome) {
    Records records = engine.records;
    PaymentRecord p = records.payment(ref);
    if (p == null) {
      engine.log(Level.WARNING, "the app reported " + outcome + " for " + Engine.ref(ref)
          + ", which the terminal has no record of: ignored");
      return;
    }
    if (!p.isPending()) {
      // The first outcome counted, or the PC cancelled the payment first.
      boolean money = PaymentRecord.APPROVED.equals(outcome.status())
          && !PaymentRecord.APPROVED.equals(p.status());
      engine.log(money ? Level.WARNING : Level.INFO, Engine.ref(ref) + ": the app reported "
          + outcome + " but the payment is already " + p.status() + ": ignored"
          + (money ? " (if the customer's money moved, reverse it with the acquirer)" : ""));
      return;
    }
    List<String> fields = engine.receipts.fields("sale", p.conditionCode(), p.amount(),
        outcome.status(), outcome.transactionId(), engine.clock.wallMillis(),
        outcome.receiptFields());
    PaymentRecord done = p.finished(outcome.status(), outcome.responseCode(),
        outcome.transactionId(), fields);
    IOException failure = records.record(Change.of(records.batchNumber(), done));
    if (failure != null) {
      engine.saveFailed(Engine.ref(ref) + ": " + outcome.status(), failure);
    }
    engine.log(Level.INFO, Engine.ref(ref) + ": " + done.status() + " ("
        + done.responseCode() + ")");
    engine.report(new PaymentResult(ref, done.status(), done.responseCode(),
        done.transactionId(), engine.receipts.onLink(fields)), "the result of " + ref);
  }

  void progress(String ref, String stage, String qrPayload) {
    PaymentRecord p = engine.records.payment(ref);
    if (p == null || !p.isPending()) {
      engine.log(Level.DEBUG, Engine.ref(ref) + ": " + stage + " after the payment ended: "
          + "not sent");
      return;
    }
    engine.report(new Progress(ref, stage, qrPayload), "what payment " + ref + " shows");
  }

  /** The app's handle on one payment; thread-safe: each call posts to the engine. */
  private static final class Callback implements PaymentCallback {
    private final Engine engine;
    private final String ref;

    Callback(Engine engine, String ref) {
      this.engine = engine;
      this.ref = ref;
    }

    @Override
    public void qrShown(String qrPayload) {
      String qr = Text.unicode(Checks.notNull(qrPayload, "qrPayload"));
      engine.post(() -> engine.sales().progress(ref, "qr_shown", qr));
    }

    @Override
    public void waitingForCustomer() {
      engine.post(() -> engine.sales().progress(ref, "waiting_for_customer", ""));
    }

    @Override
    public void finished(Outcome outcome) {
      Checks.notNull(outcome, "outcome");
      engine.post(() -> engine.sales().finish(ref, outcome));
    }
  }
}
