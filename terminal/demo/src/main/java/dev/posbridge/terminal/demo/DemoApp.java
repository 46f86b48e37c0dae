package dev.posbridge.terminal.demo;

import dev.posbridge.terminal.engine.Outcome;
import dev.posbridge.terminal.engine.PaymentApp;
import dev.posbridge.terminal.engine.PaymentCallback;
import dev.posbridge.terminal.engine.PaymentRecord;
import dev.posbridge.terminal.engine.RefundCallback;
import dev.posbridge.terminal.engine.SettleCallback;
import dev.posbridge.terminal.engine.VoidCallback;
import dev.posbridge.terminal.message.AppMessage;
import dev.posbridge.terminal.message.PaymentResult;
import dev.posbridge.terminal.message.Reply;
import java.security.SecureRandom;
import java.text.SimpleDateFormat;
import java.util.Collections;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The demo's payment app: a customer who does what the amount's cents say after the
 * customer delay ({@link CentsTable}), an acquirer that voids and refunds at once (refunds
 * by their cents too) and settles after the settle delay. It takes no real money.
 *
 * <p>The customer's waiting is done on a scheduler of the demo's own, never on the thread
 * the terminal calls the app on: an app method returns at once.
 */
final class DemoApp implements PaymentApp {
  private final ScheduledExecutorService customer;
  private final double customerDelay;
  private final double settleDelay;
  private final Consumer<String> dropLink;
  private final Map<String, ScheduledFuture<?>> waiting = new ConcurrentHashMap<>();
  /** Messages the scenarios .97 and .47 lose on the way to the PC. */
  private final Set<String> lostResults = ConcurrentHashMap.newKeySet();
  private final Set<String> lostReplies = ConcurrentHashMap.newKeySet();
  private final SecureRandom random = new SecureRandom();

  DemoApp(ScheduledExecutorService customer, double customerDelay, double settleDelay,
      Consumer<String> dropLink) {
    this.customer = customer;
    this.customerDelay = customerDelay;
    this.settleDelay = settleDelay;
    this.dropLink = dropLink;
  }

  @Override
  public void startPayment(PaymentRecord payment, PaymentCallback callback) {
    String qr = Qr.payload(payment.conditionCode(), payment.amount(), payment.ref());
    if (qr != null) {
      callback.qrShown(qr);
    } else {
      callback.waitingForCustomer();
    }
    CentsTable.Kind kind = CentsTable.of(payment.amount());
    if (kind == CentsTable.Kind.LINK_DROP) {
      // Half the delay, the link drops, the other half, then approved.
      later(payment.ref(), customerDelay / 2, () -> {
        dropLink.accept("the demo dropped the link (scenario .98)");
        later(payment.ref(), customerDelay / 2, () -> finish(payment, callback));
      });
    } else {
      later(payment.ref(), customerDelay, () -> finish(payment, callback));
    }
  }

  private void finish(PaymentRecord payment, PaymentCallback callback) {
    waiting.remove(payment.ref());
    boolean approves = CentsTable.of(payment.amount()) == CentsTable.Kind.APPROVE
        || CentsTable.of(payment.amount()) == CentsTable.Kind.RESULT_LOST
        || CentsTable.of(payment.amount()) == CentsTable.Kind.LINK_DROP;
    boolean declines = CentsTable.of(payment.amount()) == CentsTable.Kind.DECLINE;
    String txn = approves || declines ? transactionId() : "";
    Outcome outcome = CentsTable.outcome(payment.amount(), txn);
    if (CentsTable.of(payment.amount()) == CentsTable.Kind.RESULT_LOST) {
      lostResults.add(payment.ref());
    }
    callback.finished(outcome.withReceipt(Collections.singletonList(
        "account=" + account(payment.ref()))));
  }

  @Override
  public void cancelPayment(PaymentRecord payment) {
    ScheduledFuture<?> task = waiting.remove(payment.ref());
    if (task != null) {
      task.cancel(false);
    }
  }

  @Override
  public void voidPayment(PaymentRecord payment, VoidCallback callback) {
    callback.voided();
  }

  @Override
  public void refund(PaymentRecord payment, String refundRef, long amount,
      RefundCallback callback) {
    switch (CentsTable.refund(amount)) {
      case DECLINE:
        callback.declined("scenario .44");
        break;
      case ANSWER_LOST:
        lostReplies.add(payment.ref());
        callback.refunded(transactionId());
        break;
      default:
        callback.refunded(transactionId());
    }
  }

  @Override
  public void settle(String batchId, long batchNumber, List<PaymentRecord> payments,
      SettleCallback callback) {
    if (settleDelay > 0) {
      customer.schedule(callback::settled, (long) (settleDelay * 1e9), TimeUnit.NANOSECONDS);
    } else {
      callback.settled();
    }
  }

  /**
   * The terminal's outgoing filter: drops the result of a .97 payment and the answer to a
   * .47 refund, once each, as if lost on the way.
   */
  boolean keep(AppMessage message) {
    if (message instanceof PaymentResult) {
      return !lostResults.remove(((PaymentResult) message).ref());
    }
    if (message instanceof Reply && ((Reply) message).accepted()) {
      return !lostReplies.remove(((Reply) message).ref());
    }
    return true;
  }

  private void later(String ref, double seconds, Runnable task) {
    waiting.put(ref, customer.schedule(task, (long) (seconds * 1e9), TimeUnit.NANOSECONDS));
  }

  /** 24 digits like the vendor's 100100090250128303091105: 1001, the date, 14 random. */
  private String transactionId() {
    long low = Math.floorMod(random.nextLong(), 100_000_000_000_000L);
    return "1001" + new SimpleDateFormat("yyMMdd").format(new Date())
        + String.format("%014d", low);
  }

  /** The masked wallet the simulator prints: the reference's last four characters. */
  static String account(String ref) {
    String last = ref.length() > 4 ? ref.substring(ref.length() - 4) : ref;
    StringBuilder padded = new StringBuilder();
    for (int i = last.length(); i < 4; i++) {
      padded.append('0');
    }
    return "wallet ****" + padded + last;
  }
}
