package dev.posbridge.terminal.demo;

import dev.posbridge.terminal.engine.TerminalLogger;
import java.io.PrintStream;
import java.text.SimpleDateFormat;
import java.util.Date;

/**
 * One line per event on standard error, in posbridge's log format ({@code %(asctime)s
 * %(levelname)-7s %(name)s: %(message)s}), from the chosen level up. The terminal escapes
 * what it quotes from the host; the demo's own lines quote nothing from it.
 */
final class StderrLog implements TerminalLogger {
  private final Level threshold;
  private final String name;
  private final PrintStream out;

  StderrLog(String level, String name, PrintStream out) {
    this.threshold = Level.valueOf(level.toUpperCase(java.util.Locale.ROOT));
    this.name = name;
    this.out = out;
  }

  StderrLog named(String other) {
    return new StderrLog(threshold.name(), other, out);
  }

  @Override
  public void log(Level level, String message) {
    if (level.compareTo(threshold) < 0) {
      return;
    }
    String time = new SimpleDateFormat("yyyy-MM-dd HH:mm:ss,SSS").format(new Date());
    synchronized (out) {
      out.println(time + " " + String.format("%-7s", level.name()) + " " + name + ": "
          + message);
      out.flush();
    }
  }
}
