package dev.posbridge.terminal.link;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.posbridge.terminal.Bytes;
import dev.posbridge.terminal.message.Ack;
import dev.posbridge.terminal.message.Data;
import dev.posbridge.terminal.message.Heartbeat;
import dev.posbridge.terminal.message.Hello;
import dev.posbridge.terminal.message.Message;
import dev.posbridge.terminal.message.MessageCodec;
import dev.posbridge.terminal.message.Progress;
import dev.posbridge.terminal.message.Query;
import dev.posbridge.terminal.message.Reply;
import dev.posbridge.terminal.wire.FrameDecoder;
import dev.posbridge.terminal.wire.Frames;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The terminal's end driven by a scripted host. (The conversations of spec/vectors/link.json
 * cover the protocol step by step; these cover the Java API around it.)
 */
class LinkConnectionTest {
  static final Hello IDENTITY =
      new Hello.Builder()
          .serial("T-1")
          .model("M")
          .appVersion("9")
          .conditionCodes(Arrays.asList("00", "82"))
          .build();

  static Hello hostHello(String session, long idleMs) {
    return new Hello.Builder().role(Hello.HOST).session(session).idleHeartbeatMs(idleMs).build();
  }

  static byte[] frames(Message... messages) {
    List<byte[]> frames = new ArrayList<>();
    for (Message message : messages) {
      frames.add(Frames.encode(MessageCodec.encode(message)));
    }
    return Bytes.concat(frames);
  }

  static List<Message> written(LinkConnection link) throws Exception {
    List<Message> out = new ArrayList<>();
    FrameDecoder decoder = new FrameDecoder();
    for (byte[] payload : decoder.feed(link.dataToSend())) {
      out.add(MessageCodec.decode(payload));
    }
    assertEquals(0, decoder.stats().bytesSkipped());
    return out;
  }

  @Test
  void answersTheHostsHelloWithItsIdentityAndTheAgreedHeartbeat() throws Exception {
    LinkConnection link = new LinkConnection(IDENTITY);
    List<LinkEvent> events = link.receiveData(frames(hostHello("s1", 2000)), 1.0);
    assertEquals(Arrays.asList(new LinkUp(hostHello("s1", 2000))), events);
    Hello answer = (Hello) written(link).get(0);
    assertEquals(IDENTITY.newBuilder().session("s1").idleHeartbeatMs(2000).build(), answer);
    assertEquals(LinkState.UP, link.state());
    assertEquals("s1", link.session());
    assertEquals(hostHello("s1", 2000), link.peer());
    assertEquals(2.0, link.timers().heartbeatInterval());
    assertEquals(6.0, link.timers().deadAfter());
    assertEquals(3.0, link.nextDeadline());
  }

  @Test
  void startsIdleWithNoDeadlineAndNoPeer() {
    LinkConnection link = new LinkConnection(IDENTITY, LinkTimers.DEFAULT);
    assertEquals(LinkState.IDLE, link.state());
    assertNull(link.peer());
    assertEquals("", link.session());
    assertEquals(2, link.version());
    assertEquals(Double.POSITIVE_INFINITY, link.nextDeadline());
    assertTrue(link.handleTimers(100).isEmpty());
    assertEquals(0, link.dataToSend().length);
  }

  @Test
  void refusesAnIdentityThatIsNotATerminal() {
    assertThrows(
        IllegalArgumentException.class, () -> new LinkConnection(hostHello("s", 0)));
  }

  @Test
  void sendsOnlyInASession() throws Exception {
    LinkConnection link = new LinkConnection(IDENTITY);
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class, () -> link.send(new Reply(1, "r", true, "", ""), 0));
    assertEquals("send() in state IDLE", e.getMessage());
    link.receiveData(frames(hostHello("s1", 0)), 0);
    link.close("done");
    assertThrows(IllegalStateException.class, () -> link.send(new Reply(1, "r", true, "", ""), 0));
  }

  @Test
  void numbersItsDataFromOneAndRetransmitsItByteForByte() throws Exception {
    LinkConnection link = new LinkConnection(IDENTITY, LinkTimers.DEFAULT);
    link.receiveData(frames(hostHello("s1", 0)), 0);
    link.dataToSend();
    link.send(new Reply(1, "r", true, "", ""), 0.1);
    link.send(new Progress("r", "qr_shown", "000201"), 0.1);
    byte[] sent = link.dataToSend();
    assertEquals(
        Arrays.asList(
            new Data(1, new Reply(1, "r", true, "", "")),
            new Data(2, new Progress("r", "qr_shown", "000201"))),
        decodeAll(sent));
    assertEquals(0.1 + 0.3, link.nextDeadline());
    link.handleTimers(0.4);
    assertArrayEquals(sent, link.dataToSend());
    assertEquals(2, link.stats().retransmissions());
  }

  @Test
  void aMessageTooLargeForAFrameIsRefusedAndTakesNoSequenceNumber() throws Exception {
    LinkConnection link = new LinkConnection(IDENTITY);
    link.receiveData(frames(hostHello("s1", 0)), 0);
    link.dataToSend();
    char[] big = new char[Frames.MAX_PAYLOAD];
    Arrays.fill(big, 'x');
    assertThrows(
        IllegalArgumentException.class,
        () -> link.send(new Progress("r", "qr_shown", new String(big)), 0));
    assertEquals(0, link.dataToSend().length);
    link.send(new Reply(1, "r", true, "", ""), 0);
    assertEquals(1, ((Data) decodeAll(link.dataToSend()).get(0)).seq());
  }

  @Test
  void closeReportsTheLinkDownOnceAndThenIgnoresEverything() {
    LinkConnection link = new LinkConnection(IDENTITY);
    link.receiveData(frames(hostHello("s1", 0)), 0);
    link.dataToSend();
    assertEquals(Arrays.asList(new LinkDown("cable out")), link.close("cable out"));
    assertTrue(link.close("again").isEmpty());
    assertTrue(link.receiveData(frames(new Data(1, new Query(1, "r"))), 1).isEmpty());
    assertTrue(link.handleTimers(10).isEmpty());
    assertEquals(0, link.dataToSend().length);
    assertEquals(LinkState.CLOSED, link.state());
  }

  @Test
  void garbageNeverThrowsAndIsCounted() {
    LinkConnection link = new LinkConnection(IDENTITY);
    Random random = new Random(7);
    for (int i = 0; i < 200; i++) {
      byte[] garbage = new byte[random.nextInt(100)];
      random.nextBytes(garbage);
      link.receiveData(garbage, i);
    }
    link.receiveData(Frames.encode(new byte[] {'{', '}'}), 300);
    assertEquals(1, link.stats().badMessages());
    assertEquals(0, link.stats().framesReceived());
    assertTrue(link.decoderStats().bytesSkipped() > 0);
  }

  @Test
  void readsFromAnOffsetIntoABuffer() {
    LinkConnection link = new LinkConnection(IDENTITY);
    byte[] hello = frames(hostHello("s1", 0));
    byte[] buffer = new byte[hello.length + 8];
    System.arraycopy(hello, 0, buffer, 4, hello.length);
    assertEquals(1, link.receiveData(buffer, 4, hello.length, 0).size());
    assertEquals(0, link.decoderStats().bytesSkipped());
  }

  @Test
  void statsCountWhatWentInAndOut() throws Exception {
    LinkConnection link = new LinkConnection(IDENTITY);
    link.receiveData(frames(hostHello("s1", 0)), 0);
    link.receiveData(frames(new Data(1, new Query(1, "r")), new Data(1, new Query(1, "r"))), 0.1);
    link.receiveData(frames(new Data(3, new Query(3, "r")), new Heartbeat(), new Ack(0)), 0.2);
    assertEquals(new LinkStats(4, 6, 0, 1, 1, 0), link.stats());
  }

  @Test
  void aNewSessionForgetsTheTimersAgreedBefore() {
    LinkConnection link = new LinkConnection(IDENTITY);
    link.receiveData(frames(hostHello("s1", 2000)), 0);
    assertEquals(6.0, link.timers().deadAfter());
    List<LinkEvent> events = link.receiveData(frames(hostHello("s2", 0)), 1);
    assertEquals(new LinkDown("the host started a new session"), events.get(0));
    assertEquals(LinkTimers.PRODUCTION, link.timers());
  }

  private static List<Message> decodeAll(byte[] bytes) throws Exception {
    List<Message> out = new ArrayList<>();
    for (byte[] payload : new FrameDecoder().feed(bytes)) {
      out.add(MessageCodec.decode(payload));
    }
    return out;
  }
}
