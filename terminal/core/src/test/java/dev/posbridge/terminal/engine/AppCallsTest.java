package dev.posbridge.terminal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.posbridge.terminal.message.Cancel;
import dev.posbridge.terminal.message.Sale;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The app is called one call at a time, in order, whatever executor it gives (PaymentApp's
 * promise): a pool must not start a payment after the PC cancelled it.
 */
class AppCallsTest {
  final ExecutorService pool = Executors.newFixedThreadPool(4);
  final List<String> log = new CopyOnWriteArrayList<>();

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  /** An app whose startPayment takes a while (it talks to the acquirer before it returns). */
  static final class SlowApp implements PaymentApp {
    final List<String> calls = new CopyOnWriteArrayList<>();
    final CountDownLatch cancelCalled = new CountDownLatch(1);
    final CountDownLatch allDone = new CountDownLatch(2);

    @Override
    public void startPayment(PaymentRecord payment, PaymentCallback callback) {
      calls.add("start " + payment.ref());
      try {
        // A cancel that ran meanwhile, on another thread of the pool, would be seen here.
        if (cancelCalled.await(300, TimeUnit.MILLISECONDS)) {
          calls.add("cancel ran while start was running");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      calls.add("start returns");
      allDone.countDown();
    }

    @Override
    public void cancelPayment(PaymentRecord payment) {
      calls.add("cancel " + payment.ref());
      cancelCalled.countDown();
      allDone.countDown();
    }

    @Override
    public void voidPayment(PaymentRecord payment, VoidCallback callback) {}

    @Override
    public void refund(PaymentRecord p, String refundRef, long amount, RefundCallback c) {}
  }

  @Test
  void aPoolExecutorStillGetsOneCallAtATimeInOrder() throws Exception {
    SlowApp app = new SlowApp();
    List<Runnable> posts = new ArrayList<>();
    Config config = new Config("T-1", "M-1", Arrays.asList("82"), Arrays.asList("PayNow"), true,
        "", "SGD");
    Engine engine = new Engine(config, new Records(new MemoryStore(), Snapshot.EMPTY), app,
        pool, posts::add, (level, message) -> log.add(level + " " + message),
        new Rig.FakeClock());
    engine.linkUp(2);
    engine.receive(new Sale(1, "p", 100, "82"));
    engine.receive(new Cancel(2, "p"));
    assertTrue(app.allDone.await(5, TimeUnit.SECONDS), app.calls.toString());
    assertEquals(Arrays.asList("start p", "start returns", "cancel p"), app.calls);
    assertEquals(Collections.emptyList(), log.stream().filter(l -> l.startsWith("ERROR"))
        .collect(java.util.stream.Collectors.toList()));
  }
}
