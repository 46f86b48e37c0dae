package dev.posbridge.terminal.engine;

/**
 * How the app reports a payment it was asked to take ({@link PaymentApp#startPayment}).
 * Thread-safe; every call posts to the terminal's thread and returns at once.
 */
public interface PaymentCallback {
  /** The customer sees this QR code (its text, e.g. an SGQR payload); the host is told. */
  void qrShown(String qrPayload);

  /** The customer sees the amount, with no QR code; the host is told. */
  void waitingForCustomer();

  /**
   * The payment ended. Only the first outcome counts: a later one is logged and ignored, as
   * is one for a payment the PC has cancelled meanwhile.
   */
  void finished(Outcome outcome);
}
