package dev.posbridge.terminal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.posbridge.terminal.link.LinkTimers;
import dev.posbridge.terminal.message.Hello;
import dev.posbridge.terminal.message.PaymentResult;
import dev.posbridge.terminal.message.Progress;
import dev.posbridge.terminal.message.Query;
import dev.posbridge.terminal.message.QueryResult;
import dev.posbridge.terminal.message.Reply;
import dev.posbridge.terminal.message.Sale;
import java.io.File;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The running terminal on real sockets, with a scripted host and an app on its own thread. */
class TerminalTest {
  static final LinkTimers FAST = new LinkTimers(0.05, 3, 0.1, 0.5, 0.0);

  @TempDir File folder;
  final List<String> log = new CopyOnWriteArrayList<>();
  final ExecutorService uiThread =
      Executors.newSingleThreadExecutor(r -> new Thread(r, "app-ui-thread"));
  final ServerSocket server;
  Terminal terminal;

  TerminalTest() throws Exception {
    server = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
  }

  @AfterEach
  void stop() throws Exception {
    if (terminal != null) {
      terminal.close();
    }
    uiThread.shutdownNow();
    server.close();
    for (String line : log) {
      assertFalse(line.startsWith("ERROR"), line);
    }
  }

  /** An app that records the threads it is called on and reports from yet another thread. */
  static final class App implements PaymentApp {
    final List<String> threads = new CopyOnWriteArrayList<>();
    final List<PaymentCallback> payments = new CopyOnWriteArrayList<>();
    CountDownLatch block = new CountDownLatch(0);

    @Override
    public void startPayment(PaymentRecord payment, PaymentCallback callback) {
      threads.add(Thread.currentThread().getName());
      payments.add(callback);
      try {
        block.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public void cancelPayment(PaymentRecord payment) {}

    @Override
    public void voidPayment(PaymentRecord payment, VoidCallback callback) {
      callback.voided();
    }

    @Override
    public void refund(PaymentRecord p, String refundRef, long amount, RefundCallback c) {
      c.refunded("rt");
    }
  }

  Terminal start(App app, LinkTimers timers) throws Exception {
    terminal = new Terminal.Builder()
        .app(app)
        .store(new FileStore(new File(folder, "terminal.json")))
        .serial("T-9")
        .model("test terminal")
        .appVersion("1")
        .method("82", "PayNow")
        .appExecutor(uiThread)
        .timers(timers)
        .logger((level, message) -> log.add(level + " " + message))
        .build();
    return terminal;
  }

  Host connect() throws Exception {
    Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
    terminal.connect(Transport.of(server.accept()));
    return new Host(client);
  }

  @Test
  void aPaymentOverASocketWithTheAppOnItsOwnThread() throws Exception {
    App app = new App();
    start(app, LinkTimers.PRODUCTION);
    try (Host host = connect()) {
      Hello hello = host.hello("s1");
      assertEquals("T-9", hello.serial());
      assertEquals(Arrays.asList("82"), hello.conditionCodes());
      assertEquals(Arrays.asList("PayNow"), hello.conditionCodeNames());
      host.request(new Sale(1, "inv-1", 1000, "82"));
      assertEquals(new Reply(1, "inv-1", true, "", ""), host.next(Reply.class, 2000));
      waitFor(() -> app.payments.size() == 1);
      assertEquals(Arrays.asList("app-ui-thread"), app.threads);
      Thread customer = new Thread(() -> {
        app.payments.get(0).qrShown("000201");
        app.payments.get(0).finished(Outcome.approved("txn-1"));
        app.payments.get(0).finished(Outcome.approved("txn-1")); // repeated: once
      });
      customer.start();
      assertEquals(new Progress("inv-1", "qr_shown", "000201"), host.next(Progress.class, 2000));
      PaymentResult result = host.next(PaymentResult.class, 2000);
      assertEquals("approved", result.status());
      assertEquals("txn-1", result.transactionId());
      assertEquals("approved", terminal.records().payments().get(0).status());
      String file = new String(java.nio.file.Files.readAllBytes(
          new File(folder, "terminal.json").toPath()), StandardCharsets.UTF_8);
      assertTrue(file.contains("\"transaction_id\": \"txn-1\""));
    }
  }

  @Test
  void theLinkIsAnsweredWhileTheAppIsBusy() throws Exception {
    App app = new App();
    app.block = new CountDownLatch(1); // the app's thread is stuck in startPayment
    start(app, LinkTimers.PRODUCTION);
    try (Host host = connect()) {
      host.hello("s1");
      host.request(new Sale(1, "inv-1", 1000, "82"));
      assertTrue(host.next(Reply.class, 2000).accepted());
      host.request(new Query(2, "inv-1"));
      assertEquals("pending", host.next(QueryResult.class, 2000).status());
      app.block.countDown();
    }
  }

  @Test
  void aNewConnectionReplacesTheOldAndARepeatedRequestOfTheOldIsNotActedOn() throws Exception {
    start(new App(), LinkTimers.PRODUCTION);
    Host first = connect();
    first.hello("s1");
    Host second = connect();
    second.hello("s2");
    first.awaitClosed(3000);
    second.request(new Query(1, "x"));
    assertEquals(false, second.next(QueryResult.class, 2000).found());
    first.close();
    second.close();
    assertTrue(log.stream().anyMatch(l -> l.contains("another PC connected")));
  }

  @Test
  void garbageAndAHostThatNeverAcksNeverStopTheTerminal() throws Exception {
    App app = new App();
    start(app, FAST);
    try (Host host = connect()) {
      host.write("garbage \u0000\u00a5\u005a\u00ff".getBytes(StandardCharsets.ISO_8859_1));
      host.hello("s1");
      host.write(new byte[] {(byte) 0xa5, 0x5a, (byte) 0xff, (byte) 0xff, 0, 0});
      host.acking = false;
      host.request(new Sale(1, "inv-1", 1000, "82"));
      host.next(Reply.class, 2000);
      host.awaitClosed(5000); // retransmitted, never acknowledged: the link goes down
    }
    assertTrue(log.stream().anyMatch(l -> l.contains("no acknowledgement after 3")), log.toString());
    try (Host again = connect()) {
      again.hello("s2");
      again.request(new Query(2, "inv-1"));
      assertEquals("pending", again.next(QueryResult.class, 2000).status());
    }
  }

  @Test
  void aSilentHostIsDeclaredDeadAndTheSocketClosed() throws Exception {
    start(new App(), FAST);
    try (Host host = connect()) {
      host.hello("s1");
      long started = System.nanoTime();
      host.awaitClosed(5000);
      double seconds = (System.nanoTime() - started) / 1e9;
      assertTrue(seconds >= 0.4 && seconds < 3, seconds + " s");
    }
    assertTrue(log.stream().anyMatch(l -> l.contains("no frames from the peer")), log.toString());
  }

  @Test
  void closingStopsTheThreadsAndLaterCallsAreRefusedQuietly() throws Exception {
    App app = new App();
    start(app, LinkTimers.PRODUCTION);
    Host host = connect();
    host.hello("s1");
    host.request(new Sale(1, "inv-1", 1000, "82"));
    host.next(Reply.class, 2000);
    waitFor(() -> app.payments.size() == 1);
    terminal.close();
    host.awaitClosed(3000);
    host.close();
    app.payments.get(0).finished(Outcome.approved("late")); // after close: ignored, no throw
    // but not silently: the outcome is lost to the records until interrupted() at the next
    // start, and whoever reads the log must be able to tell
    assertTrue(log.stream().anyMatch(l -> l.startsWith("WARNING")
        && l.contains("after the terminal stopped")), log.toString());
    assertThrows(IllegalStateException.class, () -> terminal.records());
    Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
    Socket accepted = server.accept();
    terminal.connect(Transport.of(accepted)); // refused: closed at once
    assertEquals(-1, client.getInputStream().read());
    client.close();
    terminal = null;
    waitFor(() -> Thread.getAllStackTraces().keySet().stream()
        .noneMatch(t -> t.getName().startsWith("posbridge-terminal")));
  }

  @Test
  void anOutcomeTheStoreRefusedIsSavedWhenTheTerminalCloses() throws Exception {
    // The store failed when the customer paid; it works again, and the app is closed before
    // the next retry (every second): close() must not forget the approved payment.
    Rig.FlakyStore store = new Rig.FlakyStore();
    App app = new App();
    terminal = new Terminal.Builder().app(app).store(store).method("82", "PayNow")
        .appExecutor(uiThread).logger((level, message) -> log.add(level + " " + message))
        .build();
    try (Host host = connect()) {
      host.hello("s1");
      host.request(new Sale(1, "inv-1", 1000, "82"));
      assertTrue(host.next(Reply.class, 2000).accepted());
      waitFor(() -> app.payments.size() == 1);
      store.failing = true;
      app.payments.get(0).finished(Outcome.approved("txn-1"));
      assertEquals("approved", host.next(PaymentResult.class, 2000).status());
      store.failing = false;
      terminal.close();
      terminal = null;
    }
    assertEquals("approved", store.inner.load().payments().get(0).status());
    log.removeIf(l -> l.contains("could not be saved (disk full)")); // the expected ERROR
  }

  @Test
  void settingsThatNoMessageCouldCarryAreRefusedWhenGiven() {
    // Each rides on every receipt: refused here, not on every answer that carries it.
    Terminal.Builder builder = new Terminal.Builder();
    assertThrows(IllegalArgumentException.class, () -> builder.merchantId("M\ud800"));
    assertThrows(IllegalArgumentException.class, () -> builder.receiptHeader("\udc00 SHOP"));
    assertThrows(IllegalArgumentException.class, () -> builder.currency("SG\ud83d"));
    builder.receiptHeader("\ud83d\ude00 SHOP"); // a whole emoji is fine
  }

  static void waitFor(java.util.function.BooleanSupplier condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "timed out waiting");
      Thread.sleep(10);
    }
  }
}
