package dev.posbridge.terminal.engine;

import java.util.List;

/**
 * What a payment app implements: the payment itself, and nothing of the link. The
 * {@link Terminal} does every duty of the terminal's end (docs/link-protocol.md section 8)
 * and calls these methods when the app has something to do.
 *
 * <p><b>Threads.</b> Every method is called on the app's executor ({@link
 * Terminal.Builder#appExecutor}; on Android, usually the main thread's), one call at a
 * time, never on the link's threads: a method may touch the app's UI. It must return
 * promptly and report later through the callback it is given; it never waits for the
 * customer or the acquirer. The callbacks may be called from any thread, at any time, more
 * than once: each posts to the terminal's own thread and returns at once, and only the
 * first outcome counts.
 *
 * <p><b>Order.</b> The terminal has recorded what it tells the app before it calls (a sale
 * is recorded pending, a cancel cancelled), and it records what the app reports before it
 * tells the host.
 */
public interface PaymentApp {
  /**
   * Take a payment: show the amount and method to the customer (the QR code to scan) and
   * report the outcome with {@link PaymentCallback#finished}. The payment is recorded
   * pending and the host has been told the customer can pay.
   *
   * @param payment the payment, status {@code pending}
   * @param callback where to report what the customer sees and how the payment ended
   */
  void startPayment(PaymentRecord payment, PaymentCallback callback);

  /**
   * The cashier cancelled the payment from the PC. It is already recorded {@code cancelled}
   * and the host told so: stop waiting for the customer and clear the screen. An outcome
   * reported for it afterwards is ignored (and logged): if the customer's money may have
   * moved meanwhile, reverse it with the acquirer here.
   */
  void cancelPayment(PaymentRecord payment);

  /**
   * Void an approved, unsettled payment with the acquirer, then call {@link
   * VoidCallback#voided} (the payment is then recorded {@code voided}) or {@link
   * VoidCallback#declined}. The terminal has checked the payment can be voided.
   */
  void voidPayment(PaymentRecord payment, VoidCallback callback);

  /**
   * Refund {@code amount} of an approved payment with the acquirer, then call {@link
   * RefundCallback#refunded} (the refund is then recorded and never made again) or {@link
   * RefundCallback#declined}. The terminal has checked that the refund fits in what remains
   * of the payment and that {@code refundRef} was never used. Pass {@code refundRef} to the
   * acquirer as the refund's idempotency key where it takes one: it is what makes a refund
   * safe to ask for again after the app stopped halfway.
   */
  void refund(PaymentRecord payment, String refundRef, long amount, RefundCallback callback);

  /**
   * Settle a batch with the acquirer (close the day), then call {@link
   * SettleCallback#settled}. The batch is recorded when it is settled. By default it is
   * settled at once: for acquirers that settle on their own.
   *
   * @param batchId the host's id of the batch ({@code ""} from a version 1 host)
   * @param batchNumber the batch's number on this terminal
   * @param payments the approved payments it settles
   */
  default void settle(String batchId, long batchNumber, List<PaymentRecord> payments,
      SettleCallback callback) {
    callback.settled();
  }

  /**
   * How a payment that was pending when the terminal stopped ended, asked once for each such
   * payment when the {@link Terminal} is built, on the thread that builds it and before the
   * link opens (so it may block: ask the acquirer). By default {@link Outcome#timedOut()}:
   * the card session is gone, as the simulator does.
   */
  default Outcome interrupted(PaymentRecord payment) {
    return Outcome.timedOut();
  }
}
