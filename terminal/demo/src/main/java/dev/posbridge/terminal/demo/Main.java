package dev.posbridge.terminal.demo;

import dev.posbridge.terminal.engine.FileStore;
import dev.posbridge.terminal.engine.MemoryStore;
import dev.posbridge.terminal.engine.Store;
import dev.posbridge.terminal.engine.Terminal;
import dev.posbridge.terminal.engine.TerminalLogger.Level;
import dev.posbridge.terminal.engine.Transport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * {@code java -jar posbridge-terminal-demo.jar}: a payment terminal on the JVM that a
 * {@code posbridge serve --terminal tcp://127.0.0.1:9100} drives, with {@code posbridge
 * simulator}'s options, cents table and state file. One PC at a time: a new connection
 * replaces the old (the PC reconnected). SIGTERM or Ctrl+C stops it cleanly (exit 0).
 */
public final class Main {
  static final String MODEL = "posbridge Java demo terminal (no real money)";
  static final String MERCHANT_ID = "SIM-MERCHANT-0001";

  private Main() {}

  public static void main(String[] args) {
    Options options;
    try {
      options = Options.parse(args);
    } catch (Options.BadOption e) {
      System.err.print(Options.USAGE.substring(0, Options.USAGE.indexOf("\n\n") + 1));
      System.err.println("posbridge-terminal-demo: error: " + e.getMessage());
      System.exit(2);
      return;
    }
    if (options.help) {
      System.out.print(Options.USAGE);
      return;
    }
    StderrLog log = new StderrLog(options.logLevel, "posbridge.demo", System.err);
    try {
      run(options, log);
    } catch (IOException e) {
      log.log(Level.ERROR, "demo: " + e.getMessage());
      System.exit(1);
    }
  }

  static void run(Options options, StderrLog log) throws IOException {
    ScheduledExecutorService customer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "demo-customer");
      t.setDaemon(true);
      return t;
    });
    Terminal[] holder = new Terminal[1];
    DemoApp app = new DemoApp(customer, options.customerDelay, options.settleDelay,
        reason -> {
          log.log(Level.INFO, "demo: dropping the link mid-payment");
          holder[0].disconnect(reason);
        });
    Store store = options.state == null ? new MemoryStore() : new FileStore(options.state);
    Terminal.Builder builder = new Terminal.Builder()
        .app(app)
        .store(store)
        .serial(options.serial)
        .model(MODEL)
        .appVersion(version())
        .merchantId(MERCHANT_ID)
        .receiptHeader("POSBRIDGE JAVA DEMO - NO REAL MONEY")
        .logger(log.named("posbridge.terminal"))
        .outgoingFilter(app::keep);
    for (int i = 0; i < options.methods.codes.size(); i++) {
      builder.method(options.methods.codes.get(i), options.methods.names.get(i));
    }
    Terminal terminal;
    try {
      terminal = builder.build();
    } catch (IOException e) {
      throw new IOException("cannot start: " + e.getMessage(), e);
    }
    holder[0] = terminal;
    ServerSocket server = new ServerSocket();
    server.setReuseAddress(true);
    try {
      server.bind(new InetSocketAddress(InetAddress.getByName(options.host), options.port));
    } catch (IOException e) {
      terminal.close();
      throw new IOException("cannot listen on " + options.listen + ": " + e.getMessage(), e);
    }
    log.log(Level.WARNING, "demo: a DEMO terminal: no real money is taken");
    log.log(Level.INFO, "demo: listening on " + options.listen + " (payment methods "
        + options.methods.describe() + ")");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      log.log(Level.INFO, "demo: stopping");
      try {
        server.close();
      } catch (IOException e) {
        // Closed enough.
      }
      terminal.close();
      customer.shutdownNow();
      log.log(Level.INFO, "demo: stopped");
      // A stop signal is the normal way to stop the demo, as for `posbridge simulator`:
      // exit 0, not the JVM's 128 + signal.
      Runtime.getRuntime().halt(0);
    }, "demo-stop"));
    while (!server.isClosed()) {
      Socket socket;
      try {
        socket = server.accept();
      } catch (IOException e) {
        return; // closed by the stop
      }
      terminal.connect(Transport.of(socket));
    }
  }

  static String version() {
    String version = Main.class.getPackage().getImplementationVersion();
    return version == null ? "dev" : version;
  }
}
