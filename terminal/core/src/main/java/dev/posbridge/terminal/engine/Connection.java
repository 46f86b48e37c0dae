package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.link.LinkConnection;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * One transport to the PC and the link over it: a thread that reads and posts what it read
 * to the terminal's thread, and a thread that writes what the terminal's thread queued. The
 * {@link LinkConnection} itself is touched only on the terminal's thread.
 */
final class Connection {
  /** How long a write may block before the link is taken down (docs/link-protocol.md 5). */
  static final double WRITE_TIMEOUT = 2.0;

  private static final byte[] STOP = new byte[0];

  final Transport transport;
  final LinkConnection link;
  private final LinkedBlockingQueue<byte[]> writes = new LinkedBlockingQueue<>();
  private volatile long writeStarted;
  private volatile boolean closed;
  private Thread reader;
  private Thread writer;

  Connection(Transport transport, LinkConnection link) {
    this.transport = transport;
    this.link = link;
  }

  /**
   * Starts the reader and the writer; each reports to the terminal's thread through the
   * given callbacks, which post and return at once.
   */
  void start(InputStream in, OutputStream out, Consumer<byte[]> onBytes,
      BiConsumer<Connection, String> onClosed) {
    reader = new Thread(() -> read(in, onBytes, onClosed), "posbridge-terminal-read");
    writer = new Thread(() -> write(out, onClosed), "posbridge-terminal-write");
    reader.setDaemon(true);
    writer.setDaemon(true);
    reader.start();
    writer.start();
  }

  /** Queues bytes for the writer. */
  void write(byte[] bytes) {
    if (!closed && bytes.length > 0) {
      writes.add(bytes);
    }
  }

  /**
   * When a write that has not finished will have blocked too long, on the monotonic clock in
   * seconds; infinity when none is blocked.
   */
  double stallDeadline() {
    long started = writeStarted;
    return started == 0 ? Double.POSITIVE_INFINITY : started / 1e9 + WRITE_TIMEOUT;
  }

  /** Closes the transport, which ends both threads. */
  void close() {
    closed = true;
    writes.add(STOP);
    try {
      transport.close();
    } catch (IOException | RuntimeException e) {
      // Closed as far as it can be.
    }
  }

  private void read(InputStream in, Consumer<byte[]> onBytes,
      BiConsumer<Connection, String> onClosed) {
    byte[] buffer = new byte[16 * 1024];
    try {
      while (true) {
        int n = in.read(buffer);
        if (n < 0) {
          onClosed.accept(this, "the PC closed the connection");
          return;
        }
        if (n > 0) {
          onBytes.accept(Arrays.copyOf(buffer, n));
        }
      }
    } catch (IOException | RuntimeException e) {
      if (!closed) {
        onClosed.accept(this, "reading: " + e.getMessage());
      }
    }
  }

  private void write(OutputStream out, BiConsumer<Connection, String> onClosed) {
    try {
      while (true) {
        byte[] bytes = writes.take();
        if (bytes == STOP) {
          return;
        }
        writeStarted = System.nanoTime();
        out.write(bytes);
        out.flush();
        writeStarted = 0;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException | RuntimeException e) {
      writeStarted = 0;
      if (!closed) {
        onClosed.accept(this, "writing: " + e.getMessage());
      }
    }
  }
}
