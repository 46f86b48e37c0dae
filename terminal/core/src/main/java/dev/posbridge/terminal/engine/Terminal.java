package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.engine.TerminalLogger.Level;
import dev.posbridge.terminal.link.LinkConnection;
import dev.posbridge.terminal.link.LinkDown;
import dev.posbridge.terminal.link.LinkEvent;
import dev.posbridge.terminal.link.LinkState;
import dev.posbridge.terminal.link.LinkTimers;
import dev.posbridge.terminal.link.LinkUp;
import dev.posbridge.terminal.link.MessageReceived;
import dev.posbridge.terminal.message.AppMessage;
import dev.posbridge.terminal.message.Hello;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The terminal's end of the posbridge link, running: the link protocol over a {@link
 * Transport} and every duty of docs/link-protocol.md section 8, with the payment itself left
 * to the app's {@link PaymentApp}.
 *
 * <pre>{@code
 * Terminal terminal = new Terminal.Builder()
 *     .app(myApp)
 *     .store(new FileStore(new File(context.getFilesDir(), "posbridge.json")))
 *     .serial("A920-0042").model("Acme A920").appVersion("1.4.0")
 *     .method("82", "PayNow")
 *     .appExecutor(ContextCompat.getMainExecutor(context))
 *     .build();
 * terminal.connect(transport);   // each time the PC connects; a new one replaces the old
 * ...
 * terminal.close();
 * }</pre>
 *
 * <p><b>Threads.</b> One thread of the terminal's own runs the link and the engine; it sleeps
 * until the next deadline of either and never polls. Each transport gets a thread that reads
 * it and one that writes it. The app is called on its executor, never on these threads, and
 * its callbacks post to the terminal's thread and return at once: the terminal never waits
 * for the app and the app never waits for the link. Every public method is thread-safe.
 */
public final class Terminal implements Closeable {
  private final Engine engine;
  private final Hello identity;
  private final LinkTimers timers;
  private final TerminalLogger logger;
  private final Predicate<AppMessage> outgoingFilter;
  private final ScheduledThreadPoolExecutor loop;
  private final ExecutorService ownAppExecutor;
  private volatile Thread loopThread;

  // Touched on the loop's thread only.
  private Connection current;
  private ScheduledFuture<?> timer;
  private double timerAt = Double.POSITIVE_INFINITY;

  private Terminal(Builder b, Records records) {
    this.identity = new Hello.Builder()
        .serial(b.serial)
        .model(b.model)
        .appVersion(b.appVersion)
        .conditionCodes(b.codes)
        .conditionCodeNames(b.names)
        .build();
    this.timers = b.timers;
    this.logger = b.logger;
    this.outgoingFilter = b.outgoingFilter;
    this.loop = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = daemon(r, "posbridge-terminal");
      loopThread = t;
      return t;
    });
    loop.setRemoveOnCancelPolicy(true);
    loop.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    Executor appExecutor = b.appExecutor;
    if (appExecutor == null) {
      ownAppExecutor = Executors.newSingleThreadExecutor(r -> daemon(r, "posbridge-app"));
      appExecutor = ownAppExecutor;
    } else {
      ownAppExecutor = null;
    }
    Config config = new Config(b.serial, b.merchantId, b.codes, b.names, b.receipts,
        b.receiptHeader, b.currency);
    // Not this::post as the engine's executor: its false (closed) would be dropped, and the
    // engine could not log an outcome the app reports after close().
    Executor self = task -> {
      if (!post(task)) {
        throw new RejectedExecutionException("the terminal is closed");
      }
    };
    this.engine = new Engine(config, records, b.app, appExecutor, self, b.logger,
        Engine.Clock.SYSTEM);
  }

  /** Builds a {@link Terminal}: the app and the store are required, the rest optional. */
  public static final class Builder {
    private PaymentApp app;
    private Store store;
    private String serial = "";
    private String model = "";
    private String appVersion = "";
    private final List<String> codes = new ArrayList<>();
    private final List<String> names = new ArrayList<>();
    private String merchantId = "";
    private boolean receipts = true;
    private String receiptHeader = "";
    private String currency = "SGD";
    private Executor appExecutor;
    private TerminalLogger logger = TerminalLogger.STDERR;
    private LinkTimers timers = LinkTimers.PRODUCTION;
    private Predicate<AppMessage> outgoingFilter = m -> true;

    /** A builder with the defaults. */
    public Builder() {}

    /** The payment app (required). */
    public Builder app(PaymentApp app) {
      this.app = Checks.notNull(app, "app");
      return this;
    }

    /** Where the records are kept (required): a {@link FileStore}, or the app's own. */
    public Builder store(Store store) {
      this.store = Checks.notNull(store, "store");
      return this;
    }

    /** The terminal's serial number, sent in the hello and printed on receipts. */
    public Builder serial(String serial) {
      this.serial = Checks.notNull(serial, "serial");
      return this;
    }

    /** The terminal's model name, sent in the hello. */
    public Builder model(String model) {
      this.model = Checks.notNull(model, "model");
      return this;
    }

    /** The payment app's version, sent in the hello. */
    public Builder appVersion(String appVersion) {
      this.appVersion = Checks.notNull(appVersion, "appVersion");
      return this;
    }

    /**
     * A payment method the terminal takes: its condition code (two digits, {@code 82}) and
     * name ({@code PayNow}, or {@code ""}). Call once per method, in the order to show them;
     * a sale of any other code is refused.
     */
    public Builder method(String conditionCode, String name) {
      Checks.notNull(conditionCode, "conditionCode");
      Checks.notNull(name, "name");
      if (!conditionCode.matches("[0-9]{2}")) {
        throw new IllegalArgumentException("a condition code is two digits: " + conditionCode);
      }
      if (codes.contains(conditionCode)) {
        throw new IllegalArgumentException("condition code " + conditionCode + " given twice");
      }
      codes.add(conditionCode);
      names.add(name);
      return this;
    }

    /** The merchant id printed on receipts. */
    public Builder merchantId(String merchantId) {
      this.merchantId = Checks.unicode(merchantId, "merchantId");
      return this;
    }

    /** Whether to send receipts to the host (default true). */
    public Builder receipts(boolean receipts) {
      this.receipts = receipts;
      return this;
    }

    /** A first line for the printed copies of receipts (default none). */
    public Builder receiptHeader(String receiptHeader) {
      this.receiptHeader = Checks.unicode(receiptHeader, "receiptHeader");
      return this;
    }

    /** The currency on receipts (default {@code SGD}). */
    public Builder currency(String currency) {
      this.currency = Checks.unicode(currency, "currency");
      return this;
    }

    /**
     * Where the app's methods are called (default: a thread of the terminal's). On Android,
     * usually the main thread's executor, so that the app may touch its UI. Any executor will
     * do: the terminal hands it one call at a time, in order, even if it is a pool.
     */
    public Builder appExecutor(Executor appExecutor) {
      this.appExecutor = Checks.notNull(appExecutor, "appExecutor");
      return this;
    }

    /** Where the log goes (default {@link TerminalLogger#STDERR}). */
    public Builder logger(TerminalLogger logger) {
      this.logger = Checks.notNull(logger, "logger");
      return this;
    }

    /** The link's timers (default {@link LinkTimers#PRODUCTION}). */
    public Builder timers(LinkTimers timers) {
      this.timers = Checks.notNull(timers, "timers");
      return this;
    }

    /**
     * For simulators and tests only: a message for which {@code keep} returns false is not
     * sent (it is recorded as if it were, and logged), as if it were lost on the way. A
     * payment app never sets this.
     */
    public Builder outgoingFilter(Predicate<AppMessage> keep) {
      this.outgoingFilter = Checks.notNull(keep, "keep");
      return this;
    }

    /**
     * Loads the records and resolves every payment that was pending when the terminal
     * stopped ({@link PaymentApp#interrupted}, called on this thread). The terminal then
     * waits for a {@link #connect}.
     *
     * @throws IOException if the store cannot be read
     * @throws IllegalStateException if the app or store is missing, or no method is given
     */
    public Terminal build() throws IOException {
      if (app == null || store == null) {
        throw new IllegalStateException("a Terminal needs an app and a store");
      }
      if (codes.isEmpty()) {
        throw new IllegalStateException("a Terminal needs at least one method()");
      }
      Records records = new Records(store, store.load());
      Terminal terminal = new Terminal(this, records);
      terminal.engine.resolveInterrupted();
      return terminal;
    }
  }

  // -- public API ----------------------------------------------------------------------------

  /**
   * Serves the PC over {@code transport}: the link comes up when the PC says hello. A
   * transport already being served is closed first (the PC reconnected, or another one
   * did). Returns at once.
   */
  public void connect(Transport transport) {
    Checks.notNull(transport, "transport");
    if (!post(() -> replace(transport))) {
      closeQuietly(transport);
    }
  }

  /** Closes the transport being served, if any (the PC will reconnect). Returns at once. */
  public void disconnect(String reason) {
    Checks.notNull(reason, "reason");
    post(() -> closeCurrent(reason));
  }

  /** The records as they are now (waits for the terminal's thread; not for a UI thread). */
  public Snapshot records() {
    if (Thread.currentThread() == loopThread) {
      return engine.snapshot();
    }
    try {
      return loop.submit(engine::snapshot).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException | RejectedExecutionException e) {
      throw new IllegalStateException("the terminal is closed", e);
    }
  }

  /** Closes the transport and stops the terminal's threads; the records stay in the store. */
  @Override
  public void close() {
    if (post(() -> {
      closeCurrent("the terminal is stopping");
      engine.stop();
    })) {
      loop.shutdown();
      try {
        loop.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (ownAppExecutor != null) {
      ownAppExecutor.shutdown();
    }
  }

  // -- the terminal's thread -----------------------------------------------------------------

  /** Runs {@code task} on the terminal's thread, then sends what it produced. */
  private boolean post(Runnable task) {
    try {
      loop.execute(() -> {
        try {
          task.run();
        } catch (RuntimeException e) {
          log(Level.ERROR, "internal error: " + e + " at " + Arrays.toString(e.getStackTrace()));
        }
        afterTask();
      });
      return true;
    } catch (RejectedExecutionException e) {
      return false;
    }
  }

  private void replace(Transport transport) {
    closeCurrent("another PC connected");
    InputStream in;
    OutputStream out;
    try {
      in = transport.input();
      out = transport.output();
    } catch (IOException | RuntimeException e) {
      log(Level.WARNING, "cannot use " + transport.description() + ": " + e);
      closeQuietly(transport);
      return;
    }
    Connection connection = new Connection(transport, new LinkConnection(identity, timers));
    current = connection;
    log(Level.INFO, "PC connected over " + transport.description());
    connection.start(in, out,
        bytes -> post(() -> received(connection, bytes)),
        (c, reason) -> post(() -> {
          if (c == current) {
            closeCurrent(reason);
          }
        }));
  }

  private void received(Connection connection, byte[] bytes) {
    if (connection == current) {
      handle(connection.link.receiveData(bytes, now()));
    }
  }

  private void handle(List<LinkEvent> events) {
    for (LinkEvent event : events) {
      if (event instanceof MessageReceived) {
        engine.receive(((MessageReceived) event).message());
      } else if (event instanceof LinkUp) {
        engine.linkUp(current.link.version());
        log(Level.INFO, "session with the PC is up (link protocol v" + current.link.version()
            + ")");
      } else if (event instanceof LinkDown) {
        engine.linkDown();
        log(Level.INFO, "link to the PC down: " + ((LinkDown) event).reason());
      }
    }
  }

  private void closeCurrent(String reason) {
    Connection c = current;
    if (c == null) {
      return;
    }
    handle(c.link.close(reason));
    current = null;
    c.close();
  }

  private void onTimer() {
    timer = null;
    timerAt = Double.POSITIVE_INFINITY;
    Connection c = current;
    double now = now();
    if (c != null) {
      if (now >= c.stallDeadline()) {
        closeCurrent("the PC did not take a write within " + (int) Connection.WRITE_TIMEOUT
            + " s");
      } else {
        handle(c.link.handleTimers(now));
      }
    }
    engine.handleTimers();
  }

  /** After every task: hand the engine's messages to the link, write, sleep till the next deadline. */
  private void afterTask() {
    Connection c = current;
    List<AppMessage> outgoing = engine.takeOutgoing();
    double now = now();
    if (c != null && c.link.state() == LinkState.UP) {
      for (AppMessage message : outgoing) {
        if (!outgoingFilter.test(message)) {
          log(Level.INFO, "not sent (lost on purpose: the outgoing filter dropped it): " + message.kind());
          continue;
        }
        try {
          c.link.send(message, now);
        } catch (IllegalArgumentException e) {
          log(Level.ERROR, "a " + message.kind() + " too large for a frame was not sent: "
              + e.getMessage());
        }
      }
    }
    if (c != null) {
      c.write(c.link.dataToSend());
      if (c.link.state() == LinkState.CLOSED) {
        current = null;
        c.close();
      }
    }
    schedule(now);
  }

  private void schedule(double now) {
    double deadline = engine.nextDeadline();
    Connection c = current;
    if (c != null) {
      deadline = Math.min(deadline, Math.min(c.link.nextDeadline(), c.stallDeadline()));
    }
    if (deadline == timerAt) {
      return;
    }
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
    timerAt = deadline;
    if (deadline != Double.POSITIVE_INFINITY && !loop.isShutdown()) {
      // Half a millisecond late rather than early: early would find nothing due.
      long delay = (long) (Math.max(0, deadline - now) * 1e9) + 500_000;
      try {
        timer = loop.schedule(() -> {
          try {
            onTimer();
          } catch (RuntimeException e) {
            log(Level.ERROR, "internal error in a timer: " + e);
          }
          afterTask();
        }, delay, TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException e) {
        timerAt = Double.POSITIVE_INFINITY;
      }
    }
  }

  private void log(Level level, String message) {
    try {
      logger.log(level, message);
    } catch (RuntimeException e) {
      // A logger that fails must not stop the terminal.
    }
  }

  private static double now() {
    return System.nanoTime() / 1e9;
  }

  private static Thread daemon(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  private static void closeQuietly(Closeable closeable) {
    try {
      closeable.close();
    } catch (IOException | RuntimeException e) {
      // Nothing more to do.
    }
  }

}
