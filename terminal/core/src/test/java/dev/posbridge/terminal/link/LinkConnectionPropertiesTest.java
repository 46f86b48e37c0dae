package dev.posbridge.terminal.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.posbridge.terminal.message.Ack;
import dev.posbridge.terminal.message.Data;
import dev.posbridge.terminal.message.Heartbeat;
import dev.posbridge.terminal.message.Hello;
import dev.posbridge.terminal.message.Message;
import dev.posbridge.terminal.message.MessageCodec;
import dev.posbridge.terminal.message.Query;
import dev.posbridge.terminal.message.RemoteProtocolException;
import dev.posbridge.terminal.message.Reply;
import dev.posbridge.terminal.wire.FrameDecoder;
import dev.posbridge.terminal.wire.Frames;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * The terminal's end fed a random host: well-framed and ill-framed messages, garbage, any
 * chunking, timers at any time. It never throws, writes only valid frames, and delivers each
 * session's data once and in order (jqwik; tries in the report).
 */
class LinkConnectionPropertiesTest {
  private static final String[] SESSIONS = {"s1", "s2", ""};

  @Property(tries = 1000)
  void neverThrowsAndDeliversEachSeqOnceAndInOrder(@ForAll Random random) throws Exception {
    LinkConnection link = new LinkConnection(LinkConnectionTest.IDENTITY);
    double now = 0;
    long expected = 1; // the next rid (= seq) to be delivered in the session that is up
    int steps = 50 + random.nextInt(150);
    for (int step = 0; step < steps; step++) {
      now += random.nextInt(4) == 0 ? random.nextDouble() * 3 : random.nextDouble() * 0.2;
      List<LinkEvent> events;
      int action = random.nextInt(10);
      if (action == 0) {
        events = link.handleTimers(now);
      } else if (action == 1 && link.state() == LinkState.UP) {
        link.send(new Reply(step, "r", true, "", ""), now);
        events = Collections.emptyList();
      } else {
        byte[] input = input(random, link, expected);
        events = feed(link, input, now, random);
      }
      for (LinkEvent event : events) {
        if (event instanceof LinkUp) {
          expected = 1;
        } else if (event instanceof MessageReceived) {
          Query query = (Query) ((MessageReceived) event).message();
          assertEquals(expected, query.rid(), "delivered out of order or twice");
          expected++;
        }
      }
      assertValidFrames(link.dataToSend());
      if (link.state() == LinkState.CLOSED) {
        link = new LinkConnection(LinkConnectionTest.IDENTITY); // as an app does
        expected = 1;
      }
      // While a session is up a timer always runs, and no later than dead_after from now:
      // a link whose deadline went to infinity would never notice a dead host. (It was
      // "nextDeadline() > now || UP", which no state can break.)
      if (link.state() == LinkState.UP) {
        assertTrue(link.nextDeadline() <= now + link.timers().deadAfter(),
            link.nextDeadline() + " at " + now);
      } else {
        assertEquals(Double.POSITIVE_INFINITY, link.nextDeadline(), 0.0);
      }
    }
  }

  private static List<LinkEvent> feed(LinkConnection link, byte[] input, double now, Random random) {
    if (random.nextBoolean() || input.length < 2) {
      return link.receiveData(input, now);
    }
    int cut = 1 + random.nextInt(input.length - 1);
    List<LinkEvent> events = new ArrayList<>(link.receiveData(Arrays.copyOf(input, cut), now));
    events.addAll(link.receiveData(Arrays.copyOfRange(input, cut, input.length), now));
    return events;
  }

  /** What a random host writes: mostly good frames, some damaged, some garbage. */
  private static byte[] input(Random random, LinkConnection link, long expected) {
    String session = link.state() == LinkState.UP && random.nextInt(5) > 0
        ? link.session()
        : SESSIONS[random.nextInt(SESSIONS.length)];
    Message message;
    switch (random.nextInt(7)) {
      case 0:
        message =
            new Hello.Builder()
                .role(random.nextInt(8) == 0 ? Hello.TERMINAL : Hello.HOST)
                .version(random.nextInt(4))
                .session(session)
                .idleHeartbeatMs(new long[] {0, 100, 2000, 5000}[random.nextInt(4)])
                .build();
        break;
      case 1:
        message = new Ack(random.nextInt(5) - 1);
        break;
      case 2:
        message = new Heartbeat();
        break;
      default:
        // Mostly the next seq, sometimes a duplicate or one after a gap; rid = seq, so that
        // a delivery can be checked.
        long seq = Math.max(1, expected + random.nextInt(4) - 2);
        message = new Data(seq, new Query(seq, session));
    }
    byte[] frame = Frames.encode(MessageCodec.encode(message));
    switch (random.nextInt(12)) {
      case 0: // a damaged frame
        frame[random.nextInt(frame.length)] ^= (byte) (1 + random.nextInt(255));
        return frame;
      case 1: // a truncated one
        return Arrays.copyOf(frame, random.nextInt(frame.length));
      case 2: // an intact frame whose payload is not a message
        return Frames.encode(
            ("{\"k\":\"data\",\"seq\":" + expected + ",\"m\":{\"k\":\"hb\"}}")
                .getBytes(StandardCharsets.UTF_8));
      case 3: // garbage
        byte[] garbage = new byte[random.nextInt(40)];
        random.nextBytes(garbage);
        return garbage;
      default:
        return frame;
    }
  }

  private static void assertValidFrames(byte[] written) throws RemoteProtocolException {
    FrameDecoder decoder = new FrameDecoder();
    for (byte[] payload : decoder.feed(written)) {
      MessageCodec.decode(payload);
    }
    assertEquals(0, decoder.stats().bytesSkipped());
    assertEquals(0, decoder.buffered());
  }
}
