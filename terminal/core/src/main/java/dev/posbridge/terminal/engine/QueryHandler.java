package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.message.Query;
import dev.posbridge.terminal.message.QueryResult;

/**
 * {@code query}: the payment's record, with the receipt of its current state; {@code found:
 * false} only for a reference the terminal never had. A query of a payment being voided waits
 * for the void.
 */
final class QueryHandler {
  private final Engine engine;

  QueryHandler(Engine engine) {
    this.engine = engine;
  }

  void handle(Query query, Exchange exchange) {
    Operation op = engine.operation();
    if (op != null && op.isVoidOf(query.ref())) {
      engine.defer(exchange);
      return;
    }
    PaymentRecord p = engine.records.payment(query.ref());
    if (p == null) {
      engine.answer(exchange,
          new QueryResult(query.rid(), query.ref(), false, "", "", "", 0, "", 0));
      return;
    }
    boolean voided = PaymentRecord.VOIDED.equals(p.status());
    engine.answer(exchange, new QueryResult(query.rid(), p.ref(), true, p.status(),
        p.responseCode(), p.transactionId(), p.amount(), p.conditionCode(), p.batchNumber(),
        engine.receipts.onLink(voided ? p.voidReceipt() : p.receipt())));
  }
}
