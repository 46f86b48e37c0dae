package dev.posbridge.terminal.demo;

import java.io.File;

/**
 * The demo's command line: {@code posbridge simulator}'s options, defaults and checks
 * (src/posbridge/cli.py), so that anything that runs against the simulator runs against the
 * demo unchanged.
 */
final class Options {
  static final String USAGE =
      "usage: java -jar posbridge-terminal-demo.jar [--listen tcp://HOST:PORT] [--state FILE]\n"
          + "         [--customer-delay SECONDS] [--serial SERIAL]\n"
          + "         [--condition-codes CODE[=NAME],...] [--settle-delay SECONDS]\n"
          + "         [--log-level {debug,info,warning,error}]\n"
          + "\n"
          + "A payment terminal for posbridge, in Java, that takes no real money: what\n"
          + "`posbridge simulator` does, on posbridge-terminal's engine. The amount's cents\n"
          + "choose what the customer does: .05 .51 .55 .91 declined with that code, .17\n"
          + "cancelled on the terminal, .68 timed out, .97 approved but the result message is\n"
          + "lost, .98 the link drops mid-payment; any other amount is approved after\n"
          + "--customer-delay. A refund of .44 is declined, of .47 made but its answer lost.\n"
          + "\n"
          + "  --listen tcp://HOST:PORT   where to listen for the bridge (default "
          + "tcp://127.0.0.1:9100)\n"
          + "  --state FILE               keep the terminal's record in this JSON file, the\n"
          + "                             simulator's format (default: in memory only)\n"
          + "  --customer-delay SECONDS   how long the customer takes to pay (default 2)\n"
          + "  --serial SERIAL            the terminal's serial number (default SIM-000001)\n"
          + "  --condition-codes SPEC     the payment methods (default "
          + Methods.DEFAULT_SPEC + ")\n"
          + "  --settle-delay SECONDS     how long settling a batch takes (default 0)\n"
          + "  --log-level LEVEL          debug, info, warning or error (default info)\n";

  String host = "127.0.0.1";
  int port = 9100;
  String listen = "tcp://127.0.0.1:9100";
  File state;
  double customerDelay = 2.0;
  String serial = "SIM-000001";
  Methods methods = Methods.parse(Methods.DEFAULT_SPEC);
  double settleDelay = 0.0;
  String logLevel = "info";
  boolean help;

  /** A bad command line: the message says which option and what to give. */
  static final class BadOption extends Exception {
    private static final long serialVersionUID = 1L;

    BadOption(String message) {
      super(message);
    }
  }

  static Options parse(String... args) throws BadOption {
    Options o = new Options();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      String value = null;
      int eq = arg.indexOf('=');
      if (arg.startsWith("--") && eq > 0) {
        value = arg.substring(eq + 1);
        arg = arg.substring(0, eq);
      }
      if (arg.equals("-h") || arg.equals("--help")) {
        o.help = true;
        continue;
      }
      if (arg.equals("--scenario") || arg.equals("--window")) {
        throw new BadOption("argument " + arg + ": the Java demo plays the cents table only; "
            + "use posbridge simulator " + arg);
      }
      if (value == null) {
        if (!isOption(arg)) {
          throw new BadOption("unrecognized arguments: " + arg);
        }
        if (i + 1 >= args.length) {
          throw new BadOption("argument " + arg + ": expected one argument");
        }
        value = args[++i];
      }
      try {
        o.set(arg, value);
      } catch (IllegalArgumentException e) {
        throw new BadOption("argument " + arg + ": " + e.getMessage());
      }
    }
    return o;
  }

  private static boolean isOption(String arg) {
    switch (arg) {
      case "--listen":
      case "--state":
      case "--customer-delay":
      case "--serial":
      case "--condition-codes":
      case "--settle-delay":
      case "--log-level":
        return true;
      default:
        return false;
    }
  }

  private void set(String option, String value) {
    switch (option) {
      case "--listen":
        listen(value);
        break;
      case "--state":
        state = fileToWrite(value);
        break;
      case "--customer-delay":
        customerDelay = delay(value);
        break;
      case "--serial":
        serial = value;
        break;
      case "--condition-codes":
        methods = Methods.parse(value);
        break;
      case "--settle-delay":
        settleDelay = delay(value);
        break;
      case "--log-level":
        if (!value.matches("debug|info|warning|error")) {
          throw new IllegalArgumentException("invalid choice: '" + value
              + "' (choose from 'debug', 'info', 'warning', 'error')");
        }
        logLevel = value;
        break;
      default:
        throw new IllegalArgumentException("unknown option");
    }
  }

  /** {@code tcp://HOST:PORT} with a port from 1 to 65535 (as transports/tcp.py). */
  private void listen(String url) {
    String bad = "'" + url + "' is not a tcp://HOST:PORT address (for example "
        + "tcp://127.0.0.1:9100)";
    if (!url.startsWith("tcp://")) {
      throw new IllegalArgumentException("'" + url + "' is not a tcp://HOST:PORT address");
    }
    String rest = url.substring("tcp://".length()).replaceAll("/+$", "");
    int colon = rest.lastIndexOf(':');
    if (colon <= 0 || colon == rest.length() - 1) {
      throw new IllegalArgumentException(bad);
    }
    String portText = rest.substring(colon + 1);
    if (!portText.matches("[0-9]{1,5}") || Integer.parseInt(portText) < 1
        || Integer.parseInt(portText) > 65535) {
      throw new IllegalArgumentException(bad);
    }
    String h = rest.substring(0, colon);
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    host = h;
    port = Integer.parseInt(portText);
    listen = url;
  }

  /** A duration that may be nothing: finite, zero or more (as checks.delay). */
  static double delay(String text) {
    double value;
    try {
      value = Double.parseDouble(text.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "give a number of seconds such as 2 or 0.5 (got '" + text + "')");
    }
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      throw new IllegalArgumentException(
          "give a finite number of seconds such as 2 or 0.5 (got '" + text + "')");
    }
    if (value < 0) {
      throw new IllegalArgumentException(
          "give a number of seconds, zero or more (got '" + text + "')");
    }
    return value;
  }

  /** A file to create or write: not a folder, in a folder that is not a file. */
  static File fileToWrite(String text) {
    if (text.trim().isEmpty()) {
      throw new IllegalArgumentException("give a file name");
    }
    File file = new File(text).getAbsoluteFile();
    if (file.isDirectory()) {
      throw new IllegalArgumentException(
          text + " is a folder; give the name of a file (in it, or anywhere)");
    }
    for (File parent = file.getParentFile(); parent != null; parent = parent.getParentFile()) {
      if (parent.exists()) {
        if (!parent.isDirectory()) {
          throw new IllegalArgumentException(parent + " is a file, so " + text
              + " cannot be made");
        }
        break;
      }
    }
    return file;
  }
}
