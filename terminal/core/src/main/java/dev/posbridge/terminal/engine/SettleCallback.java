package dev.posbridge.terminal.engine;

/** How the app reports a settlement ({@link PaymentApp#settle}). Thread-safe; only the first call counts. */
public interface SettleCallback {
  /** Settled: the batch is recorded and the host told. */
  void settled();
}
