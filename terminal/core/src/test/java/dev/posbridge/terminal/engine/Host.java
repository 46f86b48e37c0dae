package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.message.Ack;
import dev.posbridge.terminal.message.AppMessage;
import dev.posbridge.terminal.message.Data;
import dev.posbridge.terminal.message.Hello;
import dev.posbridge.terminal.message.Message;
import dev.posbridge.terminal.message.MessageCodec;
import dev.posbridge.terminal.wire.FrameDecoder;
import dev.posbridge.terminal.wire.Frames;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * A scripted host on a real socket (after OkHttp's MockWebServer, the other way round): says
 * hello, sends requests in data envelopes, acknowledges the terminal's data unless told not
 * to, and hands the test each application message the terminal sends.
 */
final class Host implements AutoCloseable {
  final Socket socket;
  private final InputStream in;
  private final OutputStream out;
  private final FrameDecoder decoder = new FrameDecoder();
  private final Deque<Message> received = new ArrayDeque<>();
  private long seq;
  boolean acking = true;

  Host(Socket socket) throws IOException {
    this.socket = socket;
    this.in = socket.getInputStream();
    this.out = socket.getOutputStream();
  }

  Hello hello(String session) throws Exception {
    seq = 0;
    write(new Hello.Builder().role(Hello.HOST).session(session).idleHeartbeatMs(0).build());
    return next(Hello.class, 3000);
  }

  void request(AppMessage message) throws IOException {
    write(new Data(++seq, message));
  }

  void write(Message message) throws IOException {
    write(Frames.encode(MessageCodec.encode(message)));
  }

  void write(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  /** The next message of {@code kind} (application messages unwrapped), skipping others. */
  <T extends Message> T next(Class<T> kind, long timeoutMs) throws Exception {
    long deadline = System.currentTimeMillis() + timeoutMs;
    while (true) {
      while (!received.isEmpty()) {
        Message m = received.removeFirst();
        if (kind.isInstance(m)) {
          return kind.cast(m);
        }
      }
      long left = deadline - System.currentTimeMillis();
      if (left <= 0) {
        throw new AssertionError("no " + kind.getSimpleName() + " within " + timeoutMs + " ms");
      }
      socket.setSoTimeout((int) left);
      byte[] buffer = new byte[8192];
      int n;
      try {
        n = in.read(buffer);
      } catch (SocketTimeoutException e) {
        continue;
      }
      if (n < 0) {
        throw new EndOfStream();
      }
      for (byte[] payload : decoder.feed(buffer, 0, n)) {
        Message m = MessageCodec.decode(payload);
        if (m instanceof Data) {
          if (acking) {
            write(new Ack(((Data) m).seq()));
          }
          received.addLast(((Data) m).message());
        } else {
          received.addLast(m);
        }
      }
    }
  }

  /** Reads until the terminal closes the connection; fails after {@code timeoutMs}. */
  void awaitClosed(long timeoutMs) throws Exception {
    try {
      while (true) {
        next(Data.class, timeoutMs); // never comes: data is unwrapped
      }
    } catch (EndOfStream e) {
      return;
    } catch (IOException e) {
      return; // reset by the terminal: closed too
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }

  static final class EndOfStream extends RuntimeException {
    private static final long serialVersionUID = 1L;

    EndOfStream() {
      super("the terminal closed the connection");
    }
  }
}
