package dev.posbridge.terminal.engine;

/** How the app reports a refund ({@link PaymentApp#refund}). Thread-safe; only the first call counts. */
public interface RefundCallback {
  /** Refunded: the refund is recorded under its reference and the host told. */
  void refunded(String transactionId);

  /** The acquirer declined the refund: nothing is recorded; {@code detail} is shown. */
  void declined(String detail);
}
