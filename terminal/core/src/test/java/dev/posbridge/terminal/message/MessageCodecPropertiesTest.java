package dev.posbridge.terminal.message;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.posbridge.terminal.Bytes;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * The codec under random messages and random input: a round trip keeps every message, and
 * anything else is decoded or refused, never thrown (jqwik; tries in the report).
 */
class MessageCodecPropertiesTest {
  private static final String[] KINDS = {
    "hello", "ack", "hb", "data", "sale", "cancel", "query", "void", "batch", "batch_query",
    "refund", "refund_query", "totals", "reply", "query_result", "batch_result", "refund_result",
    "totals_result", "result", "progress"
  };

  @Provide
  Arbitrary<Message> messages() {
    return Arbitraries.randoms().map(MessageCodecPropertiesTest::message);
  }

  @Property(tries = 5000)
  void everyMessageSurvivesARoundTrip(@ForAll("messages") Message message) throws Exception {
    byte[] payload = MessageCodec.encode(message);
    Message decoded = MessageCodec.decode(payload);
    assertEquals(message, decoded);
    assertArrayEquals(payload, MessageCodec.encode(decoded));
    assertEquals(message.toString(), new String(payload, UTF_8));
  }

  @Property(tries = 5000)
  void anyBytesAreDecodedOrRefused(@ForAll @Size(max = 400) byte[] payload) {
    decodedOrRefused(payload);
  }

  @Property(tries = 5000)
  void anyJsonLikeTextIsDecodedOrRefused(@ForAll Random random) {
    decodedOrRefused(jsonLike(random).getBytes(UTF_8));
  }

  @Property(tries = 5000)
  void aDamagedPayloadIsDecodedOrRefused(
      @ForAll("messages") Message message, @ForAll Random random) {
    byte[] payload = MessageCodec.encode(message);
    int damages = 1 + random.nextInt(3);
    for (int i = 0; i < damages && payload.length > 0; i++) {
      int at = random.nextInt(payload.length);
      switch (random.nextInt(4)) {
        case 0:
          payload[at] ^= (byte) (1 + random.nextInt(255));
          break;
        case 1:
          payload = Bytes.splice(payload, at, 1, new byte[0]);
          break;
        case 2:
          payload = Bytes.splice(payload, at, 0, new byte[] {(byte) random.nextInt(256)});
          break;
        default:
          payload = Bytes.splice(payload, at, payload.length - at, new byte[0]); // truncated
      }
    }
    Message decoded = decodedOrRefused(payload);
    if (decoded != null) {
      // Whatever was read is a message like any other: it writes and reads back the same.
      assertEquals(decoded, decodedOrRefused(MessageCodec.encode(decoded)));
    }
  }

  /** The message, or null when refused; any other exception fails the property. */
  static Message decodedOrRefused(byte[] payload) {
    try {
      return MessageCodec.decode(payload);
    } catch (RemoteProtocolException refused) {
      return null;
    }
  }

  // -- generators -------------------------------------------------------------------------

  static Message message(Random random) {
    String kind = KINDS[random.nextInt(KINDS.length)];
    switch (kind) {
      case "hello":
        return new Hello.Builder()
            .role(string(random))
            .version(number(random))
            .session(string(random))
            .serial(string(random))
            .model(string(random))
            .appVersion(string(random))
            .conditionCodes(strings(random))
            .conditionCodeNames(strings(random))
            .idleHeartbeatMs(number(random))
            .build();
      case "ack":
        return new Ack(number(random));
      case "hb":
        return new Heartbeat();
      case "data":
        Message inner;
        do {
          inner = message(random);
        } while (!(inner instanceof AppMessage));
        return new Data(number(random), (AppMessage) inner);
      default:
        return appMessage(kind, random);
    }
  }

  private static AppMessage appMessage(String kind, Random r) {
    switch (kind) {
      case "sale":
        return new Sale(number(r), string(r), number(r), string(r));
      case "cancel":
        return new Cancel(number(r), string(r));
      case "query":
        return new Query(number(r), string(r));
      case "void":
        return new VoidPayment(number(r), string(r));
      case "batch":
        return new Batch(number(r), string(r));
      case "batch_query":
        return new BatchQuery(number(r), string(r));
      case "refund":
        return new Refund(number(r), string(r), string(r), number(r));
      case "refund_query":
        return new RefundQuery(number(r), string(r), string(r));
      case "totals":
        return new Totals(number(r));
      case "reply":
        return new Reply(number(r), string(r), r.nextBoolean(), string(r), string(r), receipt(r));
      case "query_result":
        return new QueryResult(
            number(r), string(r), r.nextBoolean(), string(r), string(r), string(r), number(r),
            string(r), number(r), receipt(r));
      case "batch_result":
        return new BatchResult(
            number(r), number(r), number(r), number(r), strings(r), string(r), r.nextBoolean());
      case "refund_result":
        return new RefundResult(
            number(r), string(r), string(r), r.nextBoolean(), number(r), string(r), string(r),
            receipt(r));
      case "totals_result":
        return new TotalsResult(number(r), number(r), strings(r));
      case "result":
        return new PaymentResult(string(r), string(r), string(r), string(r), receipt(r));
      default:
        return new Progress(string(r), string(r), string(r));
    }
  }

  private static long number(Random random) {
    switch (random.nextInt(4)) {
      case 0:
        return random.nextLong();
      case 1:
        return random.nextBoolean() ? Long.MAX_VALUE : Long.MIN_VALUE;
      default:
        return random.nextInt(1000) - 10;
    }
  }

  /** Strings rich in what needs care: escapes, controls, non-ASCII, surrogate pairs. */
  static String string(Random random) {
    StringBuilder out = new StringBuilder();
    int length = random.nextInt(12);
    for (int i = 0; i < length; i++) {
      switch (random.nextInt(6)) {
        case 0:
          out.append((char) random.nextInt(0x20));
          break;
        case 1:
          out.append("\"\\/\u007f\u2028\u2029\ufeff".charAt(random.nextInt(7)));
          break;
        case 2:
          out.appendCodePoint(0x10000 + random.nextInt(0x100000)); // a surrogate pair
          break;
        case 3:
          char c = (char) (0x80 + random.nextInt(0xFF80));
          out.append(Character.isSurrogate(c) ? 'x' : c);
          break;
        default:
          out.append((char) (0x20 + random.nextInt(0x5f)));
      }
    }
    return out.toString();
  }

  private static List<String> strings(Random random) {
    List<String> out = new ArrayList<>();
    int count = random.nextInt(4);
    for (int i = 0; i < count; i++) {
      out.add(string(random));
    }
    return out;
  }

  private static Receipt receipt(Random random) {
    return random.nextBoolean()
        ? Receipt.NONE
        : new Receipt(strings(random), strings(random), strings(random));
  }

  private static final String[] TOKENS = {
    "{", "}", "[", "]", ",", ":", " ", "\"k\"", "\"m\"", "\"seq\"", "\"rid\"", "\"ref\"",
    "\"hello\"", "\"data\"", "\"ack\"", "\"hb\"", "\"sale\"", "\"query\"", "\"role\"",
    "\"host\"", "\"version\"", "\"session\"", "\"condition_codes\"", "0", "1", "-0", "-1", "2",
    "1.5", "1e400", "-1E+400", "99999999999999999999", "9223372036854775807", "true", "false",
    "null", "\"\\ud800\"", "\"\\ud83d\\ude00\"", "\"\\u0000\"", "'", "TRUE", "NaN", "0x10",
    "01", "//", "/*", "=>", ";", "\t", "\u00a0", "\"\u00e9\"", "\"", "\\", "\"\\x\""
  };

  /** Text built from JSON's tokens (and some of what lenient parsers take), mostly broken. */
  static String jsonLike(Random random) {
    StringBuilder out = new StringBuilder();
    if (random.nextInt(10) == 0) {
      int depth = random.nextInt(200);
      for (int i = 0; i < depth; i++) {
        out.append(random.nextBoolean() ? "[" : "{\"a\":");
      }
    }
    if (random.nextBoolean()) {
      out.append("{\"k\":");
    }
    int count = random.nextInt(60);
    for (int i = 0; i < count; i++) {
      out.append(TOKENS[random.nextInt(TOKENS.length)]);
    }
    return out.toString();
  }

}
