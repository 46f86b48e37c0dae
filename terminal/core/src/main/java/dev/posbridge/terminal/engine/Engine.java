package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.engine.TerminalLogger.Level;
import dev.posbridge.terminal.message.AppMessage;
import dev.posbridge.terminal.message.Batch;
import dev.posbridge.terminal.message.BatchQuery;
import dev.posbridge.terminal.message.Cancel;
import dev.posbridge.terminal.message.Progress;
import dev.posbridge.terminal.message.Query;
import dev.posbridge.terminal.message.Refund;
import dev.posbridge.terminal.message.RefundQuery;
import dev.posbridge.terminal.message.Reply;
import dev.posbridge.terminal.message.Sale;
import dev.posbridge.terminal.message.Totals;
import dev.posbridge.terminal.message.VoidPayment;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * The terminal's application duties (docs/link-protocol.md section 8), written once.
 *
 * <h2>Theory of operation</h2>
 *
 * The engine is the router of the host's requests to one handler per kind ({@link
 * SaleHandler}, {@link QueryHandler}, ...) over the terminal's {@link Records}, kept by
 * reference. Like {@code LinkConnection} it does no I/O of its own but through its {@link
 * Store}, starts no thread, and is driven from one thread: the runtime ({@link Terminal})
 * tells it when a session comes up or goes down and hands it each request delivered in the
 * session, then takes the messages it wants sent ({@link #takeOutgoing}) and hands them to
 * the link. Tests drive it the same way, with no link at all.
 *
 * <p><b>Sessions.</b> Each session that comes up gets a new number. A request is answered
 * only in the session it arrived in: an answer ready after its session ended is dropped (the
 * host asks again in the new session), and what was not sent when a session ended is
 * forgotten. A report ({@code result}, {@code progress}) goes out on whatever session is up
 * when it is ready, or nowhere.
 *
 * <p><b>The app.</b> Calls into the {@link PaymentApp} go through the app's executor, never
 * run on the engine's thread; the app's callbacks come back through {@code self}, the
 * engine's own thread, and the engine never waits for either.
 */
final class Engine {
  /** The clocks: a monotonic one for deadlines, the wall's for records and receipts. */
  interface Clock {
    double monotonic();

    long wallMillis();

    Clock SYSTEM =
        new Clock() {
          @Override
          public double monotonic() {
            return System.nanoTime() / 1e9;
          }

          @Override
          public long wallMillis() {
            return System.currentTimeMillis();
          }
        };
  }

  /** How long the host waits for an answer (its --terminal-timeout default). */
  static final double HOST_TIMEOUT = 5.0;
  /** How often a change the store refused is tried again. */
  static final double SAVE_RETRY = 1.0;

  final Config config;
  final Records records;
  final Receipts receipts;
  final PaymentApp app;
  final Clock clock;
  private final AppCalls appCalls;
  private final Executor self;
  private final TerminalLogger logger;

  private final SaleHandler sales;
  private final CancelHandler cancels;
  private final QueryHandler queries;
  private final VoidHandler voids;
  private final RefundHandler refunds;
  private final RefundQueryHandler refundQueries;
  private final BatchHandler batches;
  private final BatchQueryHandler batchQueries;

  private long session;
  private boolean up;
  private long version;
  private final List<AppMessage> outgoing = new ArrayList<>();
  private Operation operation;
  private final List<Exchange> deferred = new ArrayList<>();
  private double saveRetryAt = Double.POSITIVE_INFINITY;

  Engine(Config config, Records records, PaymentApp app, Executor appExecutor, Executor self,
      TerminalLogger logger, Clock clock) {
    this.config = config;
    this.records = records;
    this.receipts = new Receipts(config);
    this.app = app;
    this.appCalls = new AppCalls(appExecutor, this::log);
    this.self = self;
    this.logger = logger;
    this.clock = clock;
    this.sales = new SaleHandler(this);
    this.cancels = new CancelHandler(this);
    this.queries = new QueryHandler(this);
    this.voids = new VoidHandler(this);
    this.refunds = new RefundHandler(this);
    this.refundQueries = new RefundQueryHandler(this);
    this.batches = new BatchHandler(this);
    this.batchQueries = new BatchQueryHandler(this);
  }

  // -- driven by the runtime -----------------------------------------------------------------

  /**
   * Resolves every payment that was pending when the terminal stopped (duty 3), asking the
   * app how each ended. Called once, before the first session.
   */
  void resolveInterrupted() {
    for (PaymentRecord p : new ArrayList<>(records.payments())) {
      if (!p.isPending()) {
        continue;
      }
      Outcome outcome;
      try {
        outcome = app.interrupted(p);
      } catch (RuntimeException e) {
        log(Level.ERROR, ref(p.ref()) + ": the app's interrupted() failed (" + e
            + "); recording it timed out");
        outcome = null;
      }
      if (outcome == null) {
        outcome = Outcome.timedOut();
      }
      log(Level.INFO, ref(p.ref()) + ": was waiting for its customer when the terminal "
          + "stopped: " + outcome);
      sales.finish(p.ref(), outcome);
    }
  }

  /** A session is up, in protocol {@code version}. */
  void linkUp(long version) {
    forgetSession();
    session++;
    up = true;
    this.version = version;
  }

  /** The session is down. */
  void linkDown() {
    forgetSession();
    up = false;
  }

  /** A request delivered in the session that is up. Never throws. */
  void receive(AppMessage message) {
    if (!up) {
      log(Level.WARNING, "a " + message.kind() + " with no session up: not acted on");
      return;
    }
    route(new Exchange(message, session));
  }

  /** The messages to send now, in order; each is handed over once. */
  List<AppMessage> takeOutgoing() {
    List<AppMessage> out = new ArrayList<>(outgoing);
    outgoing.clear();
    return out;
  }

  /** When {@link #handleTimers} must next run, on the monotonic clock. */
  double nextDeadline() {
    double deadline = saveRetryAt;
    if (operation != null && !operation.warned) {
      deadline = Math.min(deadline, operation.started + HOST_TIMEOUT);
    }
    return deadline;
  }

  void handleTimers() {
    double now = clock.monotonic();
    if (now >= saveRetryAt) {
      IOException failure = records.saveUnsaved();
      if (failure == null) {
        saveRetryAt = Double.POSITIVE_INFINITY;
        log(Level.INFO, "the records are saved again");
      } else {
        saveRetryAt = now + SAVE_RETRY;
      }
    }
    Operation op = operation;
    if (op != null && !op.warned && now >= op.started + HOST_TIMEOUT) {
      op.warned = true;
      log(Level.WARNING, "the app has not finished " + op.describe() + " in "
          + (int) HOST_TIMEOUT + " s: the host has stopped waiting and will ask; the answer "
          + "goes out when the app finishes");
    }
  }

  /**
   * The terminal stops: what the store refused so far gets one last try, since no retry
   * comes after this; what it still refuses is lost with the process, and the log says so.
   */
  void stop() {
    if (!records.hasUnsaved()) {
      return;
    }
    IOException failure = records.saveUnsaved();
    if (failure == null) {
      log(Level.INFO, "the records are saved again");
    } else {
      log(Level.ERROR, "stopping with changes the store did not take (" + failure.getMessage()
          + "): they are lost; a payment they ended is resolved by interrupted() at the next "
          + "start");
    }
  }

  SaleHandler sales() {
    return sales;
  }

  /** The records now (for the app's screens and tests). */
  Snapshot snapshot() {
    return records.snapshot();
  }

  // -- the router ----------------------------------------------------------------------------

  private void route(Exchange exchange) {
    AppMessage m = exchange.request;
    try {
      if (m instanceof Sale) {
        sales.handle((Sale) m, exchange);
      } else if (m instanceof Query) {
        queries.handle((Query) m, exchange);
      } else if (m instanceof Cancel) {
        cancels.handle((Cancel) m, exchange);
      } else if (m instanceof VoidPayment) {
        voids.handle((VoidPayment) m, exchange);
      } else if (m instanceof Refund) {
        refunds.handle((Refund) m, exchange);
      } else if (m instanceof RefundQuery) {
        refundQueries.handle((RefundQuery) m, exchange);
      } else if (m instanceof Batch) {
        batches.handle((Batch) m, exchange);
      } else if (m instanceof BatchQuery) {
        batchQueries.handle((BatchQuery) m, exchange);
      } else if (m instanceof Totals) {
        answer(exchange, Tally.totals(((Totals) m).rid(), records));
      } else {
        // An answer or report kind sent by the host: valid on the wire, meaningless here.
        log(Level.WARNING, "ignoring a " + m.kind() + " from the host");
      }
    } catch (RuntimeException e) {
      // A bug of ours must not stop the terminal: say so loudly, answer nothing (the host
      // asks again), and go on with the next request.
      log(Level.ERROR, "failed on a " + m.kind() + ": " + e);
    }
  }

  // -- for the handlers ----------------------------------------------------------------------

  /** Sends {@code answer} if the session of {@code exchange} is still up. */
  void answer(Exchange exchange, AppMessage answer) {
    if (up && exchange.session == session) {
      outgoing.add(fitted(answer));
    } else {
      log(Level.INFO, "the answer to a " + exchange.request.kind() + " is not sent: its "
          + "session has ended (the host asks again)");
    }
  }

  /** A refusal of a sale, cancel, void or refund. */
  void refuse(Exchange exchange, long rid, String ref, String reason, String detail) {
    log(Level.INFO, ref(ref) + ": " + exchange.request.kind() + " refused: " + reason
        + (detail.isEmpty() ? "" : " (" + Text.escape(detail) + ")"));
    answer(exchange, new Reply(rid, ref, false, reason, detail));
  }

  /** Sends a report on the session that is up, if any. */
  void report(AppMessage message, String what) {
    if (message instanceof Progress && version < 2) {
      return; // progress is version 2: a v1 host would drop it and lose the link
    }
    if (up) {
      outgoing.add(fitted(message));
    } else {
      log(Level.INFO, what + " not sent: no PC connected (the host asks when it connects)");
    }
  }

  /** {@code message}, without its receipt if that is what keeps it out of a frame. */
  private AppMessage fitted(AppMessage message) {
    AppMessage smaller = Receipts.withoutReceiptIfTooLarge(message);
    if (smaller == null) {
      return message;
    }
    log(Level.WARNING, "a " + message.kind() + " with its receipt is too large for a frame: "
        + "sent without the receipt (the records keep it)");
    return smaller;
  }

  Operation operation() {
    return operation;
  }

  void start(Operation op) {
    operation = op;
  }

  /** The operation is over: the requests that waited for it are acted on now, in order. */
  void finish(Operation op) {
    op.done = true;
    if (operation == op) {
      operation = null;
    }
    List<Exchange> waiting = new ArrayList<>(deferred);
    deferred.clear();
    for (Exchange exchange : waiting) {
      if (up && exchange.session == session) {
        route(exchange);
      }
    }
  }

  /** Keeps {@code exchange} until the operation in flight is over. */
  void defer(Exchange exchange) {
    deferred.add(exchange);
  }

  /**
   * Calls the app on its executor, after the calls made before it ({@link AppCalls}); what it
   * throws is logged, never lost or rethrown here.
   */
  void callApp(String what, Runnable call) {
    appCalls.call(what, call);
  }

  /** Runs {@code task} on the engine's thread (what the app's callbacks do). */
  void post(Runnable task) {
    try {
      self.execute(task);
    } catch (RuntimeException e) {
      log(Level.WARNING, "the app reported after the terminal stopped: ignored, not recorded ("
          + e.getMessage() + "); a payment it ended is resolved by interrupted() at the next "
          + "start");
    }
  }

  /** After a change the store did not take: try again every second. */
  void saveFailed(String what, IOException e) {
    log(Level.ERROR, what + ", but the records could not be saved (" + e.getMessage()
        + "): kept in memory and saved again every " + (int) SAVE_RETRY + " s");
    if (saveRetryAt == Double.POSITIVE_INFINITY) {
      saveRetryAt = clock.monotonic() + SAVE_RETRY;
    }
  }

  double wallSeconds() {
    return clock.wallMillis() / 1000.0;
  }

  void log(Level level, String message) {
    try {
      logger.log(level, message);
    } catch (RuntimeException e) {
      // A logger that fails must not stop the terminal.
    }
  }

  /** A reference for a log line. */
  static String ref(String ref) {
    return Text.escape(ref);
  }

  private void forgetSession() {
    if (!outgoing.isEmpty()) {
      log(Level.INFO, outgoing.size() + " message(s) of the ended session not sent");
      outgoing.clear();
    }
    deferred.clear();
  }
}
