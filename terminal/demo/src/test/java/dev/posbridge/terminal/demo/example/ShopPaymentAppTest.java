package dev.posbridge.terminal.demo.example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.posbridge.terminal.engine.Terminal;
import dev.posbridge.terminal.engine.Transport;
import dev.posbridge.terminal.message.Ack;
import dev.posbridge.terminal.message.AppMessage;
import dev.posbridge.terminal.message.Data;
import dev.posbridge.terminal.message.Hello;
import dev.posbridge.terminal.message.Message;
import dev.posbridge.terminal.message.MessageCodec;
import dev.posbridge.terminal.message.PaymentResult;
import dev.posbridge.terminal.message.Progress;
import dev.posbridge.terminal.message.Refund;
import dev.posbridge.terminal.message.Reply;
import dev.posbridge.terminal.message.Sale;
import dev.posbridge.terminal.message.VoidPayment;
import dev.posbridge.terminal.wire.FrameDecoder;
import dev.posbridge.terminal.wire.Frames;
import java.io.File;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** docs/terminal-sdk.md's worked example, run against a scripted host over a socket. */
class ShopPaymentAppTest {
  @TempDir File folder;

  /** An acquirer that pays every order at once and reverses and refunds everything. */
  static final class FakeAcquirer implements ShopPaymentApp.Acquirer {
    final Map<String, String> cancelled = new ConcurrentHashMap<>();

    @Override
    public void order(String ref, long amount, String code,
        ShopPaymentApp.OrderListener listener) {
      new Thread(() -> {
        listener.qrReady("QR-" + ref);
        listener.paid("TXN-" + ref);
      }).start();
    }

    @Override
    public void cancelOrder(String ref) {
      cancelled.put(ref, ref);
    }

    @Override
    public void reverse(String transactionId, ShopPaymentApp.Done done) {
      done.ok("REV-" + transactionId);
    }

    @Override
    public void refund(String transactionId, String refundId, long amount,
        ShopPaymentApp.Done done) {
      done.ok("REF-" + refundId);
    }
  }

  @Test
  void theWorkedExampleTakesAPaymentVoidsAndRefunds() throws Exception {
    ExecutorService ui = Executors.newSingleThreadExecutor();
    Terminal terminal = ShopPaymentApp.start(new FakeAcquirer(), folder, ui);
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        Socket host = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
      terminal.connect(Transport.of(server.accept()));
      Script script = new Script(host);
      script.send(new Hello.Builder().role(Hello.HOST).session("s1").build());
      assertEquals("A920-0042", script.next(Hello.class).serial());
      script.request(new Sale(1, "inv-1", 1250, "82"));
      assertTrue(script.next(Reply.class).accepted());
      assertEquals("QR-inv-1", script.next(Progress.class).qrPayload());
      assertEquals("TXN-inv-1", script.next(PaymentResult.class).transactionId());
      script.request(new Refund(2, "inv-1", "credit-1", 250));
      assertTrue(script.next(Reply.class).accepted());
      script.request(new Sale(3, "inv-2", 500, "30"));
      script.next(Reply.class);
      script.next(PaymentResult.class);
      script.request(new VoidPayment(4, "inv-2"));
      assertTrue(script.next(Reply.class).accepted());
      assertEquals("voided", terminal.records().payments().get(1).status());
      assertEquals("REF-credit-1", terminal.records().refunds().get(0).transactionId());
    } finally {
      terminal.close();
      ui.shutdown();
    }
  }

  /** The host's end, as little of it as the test needs. */
  static final class Script {
    final Socket socket;
    final InputStream in;
    final FrameDecoder decoder = new FrameDecoder();
    final Deque<Message> messages = new ArrayDeque<>();
    long seq;

    Script(Socket socket) throws Exception {
      this.socket = socket;
      this.in = socket.getInputStream();
      socket.setSoTimeout(5000);
    }

    void send(Message message) throws Exception {
      socket.getOutputStream().write(Frames.encode(MessageCodec.encode(message)));
    }

    void request(AppMessage message) throws Exception {
      send(new Data(++seq, message));
    }

    <T extends Message> T next(Class<T> kind) throws Exception {
      while (true) {
        while (!messages.isEmpty()) {
          Message m = messages.removeFirst();
          if (kind.isInstance(m)) {
            return kind.cast(m);
          }
        }
        byte[] buffer = new byte[8192];
        int n = in.read(buffer);
        if (n < 0) {
          throw new AssertionError("closed");
        }
        for (byte[] payload : decoder.feed(buffer, 0, n)) {
          Message m = MessageCodec.decode(payload);
          if (m instanceof Data) {
            send(new Ack(((Data) m).seq()));
            messages.addLast(((Data) m).message());
          } else {
            messages.addLast(m);
          }
        }
      }
    }
  }
}
