package dev.posbridge.terminal.engine;

/**
 * Where the terminal writes its log: one line per event (a sale accepted, an outcome, the
 * link up or down). Called on the terminal's threads; must not block for long. Whatever a
 * line quotes from the host (a reference) is escaped, so no line can forge another.
 */
public interface TerminalLogger {
  /** How much a line matters. */
  enum Level {
    DEBUG,
    INFO,
    WARNING,
    ERROR
  }

  /** Writes one line. */
  void log(Level level, String message);

  /** Lines of INFO and above to standard error, the default. */
  TerminalLogger STDERR =
      (level, message) -> {
        if (level != Level.DEBUG) {
          System.err.println(level + " posbridge.terminal: " + message);
        }
      };
}
