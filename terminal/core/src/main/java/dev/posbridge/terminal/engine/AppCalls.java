package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.engine.TerminalLogger.Level;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.function.BiConsumer;

/**
 * The calls into the {@link PaymentApp}, on the app's executor, one at a time and in the
 * order they were made, whatever that executor is (the main thread's, or a pool): a
 * {@code cancelPayment} never runs before, or while, the {@code startPayment} it stops. What
 * a call throws, or an executor that refuses it, is logged, never thrown at the caller (the
 * terminal's thread) or at the app's thread.
 */
final class AppCalls {
  private static final class Call {
    final String what;
    final Runnable body;

    Call(String what, Runnable body) {
      this.what = what;
      this.body = body;
    }
  }

  private final Executor executor;
  private final BiConsumer<Level, String> log;
  private final ArrayDeque<Call> queue = new ArrayDeque<>();
  private boolean running;

  AppCalls(Executor executor, BiConsumer<Level, String> log) {
    this.executor = executor;
    this.log = log;
  }

  /** Calls the app ({@code what} names the method, for the log) once the calls before it ran. */
  void call(String what, Runnable body) {
    synchronized (this) {
      queue.add(new Call(what, body));
      if (running) {
        return; // the call running now hands over to this one when it ends
      }
      running = true;
    }
    next();
  }

  /** Hands the next call to the executor; on the thread of the call that just ended. */
  private void next() {
    while (true) {
      Call call;
      synchronized (this) {
        call = queue.poll();
        if (call == null) {
          running = false;
          return;
        }
      }
      try {
        executor.execute(() -> run(call));
        return;
      } catch (RuntimeException e) {
        log.accept(Level.ERROR, "the app's executor refused " + call.what + ": " + e);
      }
    }
  }

  private void run(Call call) {
    try {
      call.body.run();
    } catch (RuntimeException e) {
      log.accept(Level.ERROR, "the app's " + call.what + " failed: " + e);
    } finally {
      next();
    }
  }
}
