package dev.posbridge.terminal.demo.example;

import dev.posbridge.terminal.engine.FileStore;
import dev.posbridge.terminal.engine.Outcome;
import dev.posbridge.terminal.engine.PaymentApp;
import dev.posbridge.terminal.engine.PaymentCallback;
import dev.posbridge.terminal.engine.PaymentRecord;
import dev.posbridge.terminal.engine.RefundCallback;
import dev.posbridge.terminal.engine.Terminal;
import dev.posbridge.terminal.engine.VoidCallback;
import java.io.File;
import java.io.IOException;
import java.util.concurrent.Executor;

/**
 * A payment app on posbridge-terminal: the whole of what it writes. The acquirer's SDK is
 * reduced to the {@link Acquirer} interface below; put yours in its place.
 */
public final class ShopPaymentApp implements PaymentApp {

  /** Your acquirer's SDK, as far as this example needs it. Its callbacks come on any thread. */
  public interface Acquirer {
    /** Starts a QR order for {@code amount} cents; {@code listener} hears how it ends. */
    void order(String ref, long amount, String conditionCode, OrderListener listener);

    /** Stops waiting for the customer of order {@code ref}. */
    void cancelOrder(String ref);

    /** Reverses a paid order (a void, before settlement). */
    void reverse(String transactionId, Done done);

    /** Refunds part or all of a paid order; {@code refundId} makes a retry safe. */
    void refund(String transactionId, String refundId, long amount, Done done);
  }

  /** How an order ends. */
  public interface OrderListener {
    void qrReady(String qrText);

    void paid(String transactionId);

    void declined(String code, String transactionId);

    void expired();
  }

  /** How a reversal or refund ends. */
  public interface Done {
    void ok(String transactionId);

    void failed(String why);
  }

  private final Acquirer acquirer;

  public ShopPaymentApp(Acquirer acquirer) {
    this.acquirer = acquirer;
  }

  /** Starts the terminal; then call terminal.connect(transport) each time the PC connects. */
  public static Terminal start(Acquirer acquirer, File dataFolder, Executor uiThread)
      throws IOException {
    return new Terminal.Builder()
        .app(new ShopPaymentApp(acquirer))
        .store(new FileStore(new File(dataFolder, "posbridge-terminal.json")))
        .serial("A920-0042")
        .model("Acme A920")
        .appVersion("1.0.0")
        .method("82", "PayNow")
        .method("30", "Alipay")
        .merchantId("MID-0001")
        .appExecutor(uiThread) // every PaymentApp method runs here; none may block
        .build();
  }

  @Override
  public void startPayment(PaymentRecord payment, PaymentCallback callback) {
    // Recorded pending; the PC knows the customer can pay. Show the QR, report the end.
    acquirer.order(payment.ref(), payment.amount(), payment.conditionCode(),
        new OrderListener() {
          @Override
          public void qrReady(String qrText) {
            callback.qrShown(qrText);
          }

          @Override
          public void paid(String transactionId) {
            callback.finished(Outcome.approved(transactionId));
          }

          @Override
          public void declined(String code, String transactionId) {
            callback.finished(Outcome.declined(code, transactionId));
          }

          @Override
          public void expired() {
            callback.finished(Outcome.timedOut());
          }
        });
  }

  @Override
  public void cancelPayment(PaymentRecord payment) {
    // Already recorded cancelled: a "paid" heard later is ignored by the terminal.
    acquirer.cancelOrder(payment.ref());
  }

  @Override
  public void voidPayment(PaymentRecord payment, VoidCallback callback) {
    acquirer.reverse(payment.transactionId(), new Done() {
      @Override
      public void ok(String transactionId) {
        callback.voided();
      }

      @Override
      public void failed(String why) {
        callback.declined(why);
      }
    });
  }

  @Override
  public void refund(PaymentRecord payment, String refundRef, long amount,
      RefundCallback callback) {
    acquirer.refund(payment.transactionId(), refundRef, amount, new Done() {
      @Override
      public void ok(String transactionId) {
        callback.refunded(transactionId);
      }

      @Override
      public void failed(String why) {
        callback.declined(why);
      }
    });
  }
}
