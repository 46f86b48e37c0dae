package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.message.BatchQuery;
import dev.posbridge.terminal.message.BatchResult;
import java.util.Collections;

/**
 * {@code batch_query}: the batch settled under {@code batch_id}, or {@code found: false} if
 * the terminal never received a batch with that id. A query of the batch being settled waits
 * for it.
 */
final class BatchQueryHandler {
  private final Engine engine;

  BatchQueryHandler(Engine engine) {
    this.engine = engine;
  }

  void handle(BatchQuery query, Exchange exchange) {
    Operation op = engine.operation();
    if (op != null && op.isSettlement(query.batchId())) {
      engine.defer(exchange);
      return;
    }
    BatchRecord b = query.batchId().isEmpty() ? null : engine.records.batch(query.batchId());
    if (b == null) {
      engine.answer(exchange, new BatchResult(query.rid(), 0, 0, 0,
          Collections.<String>emptyList(), query.batchId(), false));
      return;
    }
    engine.answer(exchange, BatchHandler.result(query.rid(), b));
  }
}
