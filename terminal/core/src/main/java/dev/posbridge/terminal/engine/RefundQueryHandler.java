package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.message.RefundQuery;
import dev.posbridge.terminal.message.RefundResult;

/**
 * {@code refund_query}: the refund's record, or {@code found: false} if the terminal made no
 * refund with this reference of this payment. A query of the refund being made waits for it,
 * so that {@code found: false} never means "not yet".
 */
final class RefundQueryHandler {
  private final Engine engine;

  RefundQueryHandler(Engine engine) {
    this.engine = engine;
  }

  void handle(RefundQuery query, Exchange exchange) {
    Operation op = engine.operation();
    if (op != null && op.isRefund(query.refundRef())) {
      engine.defer(exchange);
      return;
    }
    RefundRecord r = engine.records.refund(query.refundRef());
    if (r == null || !r.ref().equals(query.ref())) {
      engine.answer(exchange,
          new RefundResult(query.rid(), query.ref(), query.refundRef(), false, 0, "", ""));
      return;
    }
    engine.answer(exchange, new RefundResult(query.rid(), r.ref(), r.refundRef(), true,
        r.amount(), r.status(), r.transactionId(), engine.receipts.onLink(r.receipt())));
  }
}
