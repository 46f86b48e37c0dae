package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.engine.TerminalLogger.Level;
import dev.posbridge.terminal.message.AppMessage;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The engine with no link, no threads and no clock (like httpcore's mock stream): requests
 * go in, the app's calls and the engine's posts wait in queues until the test runs them, and
 * what the engine sends is collected.
 */
final class Rig {
  final Deque<Runnable> appCalls = new ArrayDeque<>();
  final Deque<Runnable> posts = new ArrayDeque<>();
  final List<String> log = new ArrayList<>();
  final App app = new App();
  final FakeClock clock = new FakeClock();
  final Store store;
  final Engine engine;

  Rig() {
    this(new MemoryStore());
  }

  Rig(Store store) {
    this(store, Arrays.asList("82", "30", "20", "50"));
  }

  Rig(Store store, List<String> codes) {
    this.store = store;
    app.store = store;
    Records records;
    try {
      records = new Records(store, store.load());
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    List<String> names = new ArrayList<>();
    for (String code : codes) {
      names.add(code.equals("82") ? "PayNow" : code.equals("30") ? "Alipay" : "");
    }
    Config config = new Config("T-1", "M-1", codes, names, true, "", "SGD");
    engine = new Engine(config, records, app, appCalls::add, posts::add,
        (level, message) -> log.add(level + " " + message), clock);
  }

  /** What the store holds. */
  Snapshot saved() {
    try {
      return store.load();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** The host's session comes up (version 2). */
  Rig up() {
    engine.linkUp(2);
    return this;
  }

  /** A request delivered in the session; runs what it started; returns what was sent. */
  List<AppMessage> send(AppMessage request) {
    engine.receive(request);
    return run();
  }

  /** Runs the app's calls and the engine's posts until none is left; returns what was sent. */
  List<AppMessage> run() {
    while (!appCalls.isEmpty() || !posts.isEmpty()) {
      if (!appCalls.isEmpty()) {
        appCalls.removeFirst().run();
      } else {
        posts.removeFirst().run();
      }
    }
    return engine.takeOutgoing();
  }

  /** The one message sent. */
  AppMessage one(List<AppMessage> sent) {
    if (sent.size() != 1) {
      throw new AssertionError("expected one message, got " + sent);
    }
    return sent.get(0);
  }

  List<String> errors() {
    List<String> out = new ArrayList<>();
    for (String line : log) {
      if (line.startsWith(Level.ERROR.name())) {
        out.add(line);
      }
    }
    return out;
  }

  static final class FakeClock implements Engine.Clock {
    double monotonic = 100.0;
    long wall = 1764628221000L; // 2025-12-01T22:30:21Z

    @Override
    public double monotonic() {
      return monotonic;
    }

    @Override
    public long wallMillis() {
      return wall;
    }
  }

  /**
   * A payment app that remembers every call and the callback it was given, and fails the test
   * when it is asked to move money that the saved records say has already moved: a refund
   * made, a payment voided or not approved, a batch id settled, a second payment pending.
   * (The records are maps by reference: a refund made twice would replace its own record, so
   * only the app can see it.)
   */
  static final class App implements PaymentApp {
    Store store;
    final Map<String, PaymentCallback> started = new LinkedHashMap<>();
    final List<String> cancelled = new ArrayList<>();
    final Map<String, VoidCallback> voids = new LinkedHashMap<>();
    final Map<String, RefundCallback> refunds = new LinkedHashMap<>();
    final List<SettleCallback> settles = new ArrayList<>();
    final List<List<String>> settled = new ArrayList<>();
    /** The callback of every void, refund and settlement asked for, in order. */
    final List<Object> operations = new ArrayList<>();
    Outcome onInterrupted;
    boolean autoSettle = true;

    @Override
    public void startPayment(PaymentRecord payment, PaymentCallback callback) {
      for (PaymentRecord p : saved().payments()) {
        if (p.isPending() && !p.ref().equals(payment.ref())) {
          throw new AssertionError("asked to start " + payment.ref() + " while " + p.ref()
              + " is pending");
        }
      }
      started.put(payment.ref(), callback);
    }

    @Override
    public void cancelPayment(PaymentRecord payment) {
      cancelled.add(payment.ref());
    }

    @Override
    public void voidPayment(PaymentRecord payment, VoidCallback callback) {
      for (PaymentRecord p : saved().payments()) {
        if (p.ref().equals(payment.ref()) && !"approved".equals(p.status())) {
          throw new AssertionError("asked to void " + p.ref() + ", which is " + p.status());
        }
      }
      voids.put(payment.ref(), callback);
      operations.add(callback);
    }

    @Override
    public void refund(PaymentRecord payment, String refundRef, long amount,
        RefundCallback callback) {
      long refunded = 0;
      for (RefundRecord r : saved().refunds()) {
        if (r.refundRef().equals(refundRef)) {
          throw new AssertionError("asked to refund " + refundRef + " again");
        }
        refunded += r.ref().equals(payment.ref()) ? r.amount() : 0;
      }
      if (refunded + amount > payment.amount()) {
        throw new AssertionError("asked to refund " + amount + " of " + payment.ref()
            + " when " + refunded + " of " + payment.amount() + " is refunded");
      }
      refunds.put(refundRef, callback);
      operations.add(callback);
    }

    @Override
    public void settle(String batchId, long batchNumber, List<PaymentRecord> payments,
        SettleCallback callback) {
      for (BatchRecord b : saved().batches()) {
        if (!batchId.isEmpty() && b.batchId().equals(batchId)) {
          throw new AssertionError("asked to settle batch " + batchId + " again");
        }
      }
      List<String> refs = new ArrayList<>();
      for (PaymentRecord p : payments) {
        refs.add(p.ref());
      }
      settled.add(refs);
      settles.add(callback);
      operations.add(callback);
      if (autoSettle) {
        callback.settled();
      }
    }

    private Snapshot saved() {
      try {
        return store == null ? Snapshot.EMPTY : store.load();
      } catch (IOException e) {
        throw new AssertionError(e);
      }
    }

    @Override
    public Outcome interrupted(PaymentRecord payment) {
      return onInterrupted != null ? onInterrupted : PaymentApp.super.interrupted(payment);
    }
  }

  /** A store that fails while {@code failing} is set. */
  static final class FlakyStore implements Store {
    final MemoryStore inner = new MemoryStore();
    boolean failing;
    int saves;

    @Override
    public Snapshot load() {
      return inner.load();
    }

    @Override
    public void save(Change change) throws IOException {
      if (failing) {
        throw new IOException("disk full");
      }
      saves++;
      inner.save(change);
    }
  }
}
