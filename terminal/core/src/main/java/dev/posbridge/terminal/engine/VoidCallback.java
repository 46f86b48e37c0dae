package dev.posbridge.terminal.engine;

/** How the app reports a void ({@link PaymentApp#voidPayment}). Thread-safe; only the first call counts. */
public interface VoidCallback {
  /** Voided with the acquirer: the payment is recorded voided and the host told. */
  void voided();

  /** The acquirer refused the void: nothing changes; {@code detail} is shown to the cashier. */
  void declined(String detail);
}
