package dev.posbridge.terminal.message;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import org.junit.jupiter.api.Test;

class MessageCodecTest {
  private static Message decode(String payload) throws RemoteProtocolException {
    return MessageCodec.decode(payload.getBytes(UTF_8));
  }

  private static String refusal(String payload) {
    return assertThrows(RemoteProtocolException.class, () -> decode(payload)).getMessage();
  }

  @Test
  void encodesTheDocsSaleExampleByteForByte() {
    Data data = new Data(1, new Sale(1, "invoice-123456789", 100, "82"));
    String expected =
        "{\"k\":\"data\",\"seq\":1,\"m\":{\"k\":\"sale\",\"rid\":1,\"ref\":\"invoice-123456789\","
            + "\"amount\":100,\"condition_code\":\"82\"}}";
    assertArrayEquals(expected.getBytes(UTF_8), MessageCodec.encode(data));
    assertEquals(106, MessageCodec.encode(data).length);
  }

  @Test
  void encodesEveryFieldIncludingDefaultsInTheDocsOrder() {
    Hello hello =
        new Hello.Builder()
            .session("fb0eca0bfa0e4f8d")
            .serial("SIM-000001")
            .model("posbridge simulator (no real money)")
            .appVersion("0.1.0")
            .conditionCodes(Arrays.asList("82", "30", "20", "50"))
            .conditionCodeNames(Arrays.asList("PayNow", "Alipay", "WeChat Pay", "GrabPay"))
            .idleHeartbeatMs(2000)
            .build();
    assertEquals(
        "{\"k\":\"hello\",\"role\":\"terminal\",\"version\":2,\"session\":\"fb0eca0bfa0e4f8d\","
            + "\"serial\":\"SIM-000001\",\"model\":\"posbridge simulator (no real money)\","
            + "\"app_version\":\"0.1.0\",\"condition_codes\":[\"82\",\"30\",\"20\",\"50\"],"
            + "\"condition_code_names\":[\"PayNow\",\"Alipay\",\"WeChat Pay\",\"GrabPay\"],"
            + "\"idle_heartbeat_ms\":2000}",
        new String(MessageCodec.encode(hello), UTF_8));
    assertEquals(
        "{\"k\":\"query_result\",\"rid\":4,\"ref\":\"nope\",\"found\":false,\"status\":\"\","
            + "\"response_code\":\"\",\"transaction_id\":\"\",\"amount\":0,\"condition_code\":\"\","
            + "\"batch_number\":0,\"receipt\":[],\"merchant_copy\":[],\"customer_copy\":[]}",
        new QueryResult(4, "nope", false, "", "", "", 0, "", 0).toString());
    assertEquals("{\"k\":\"hb\"}", new Heartbeat().toString());
  }

  @Test
  void escapesStringsAsMsgspecDoes() {
    String ref = "q\" b\\ s/ \b\t\n\f\r \u0000\u001f \u007f \u2028\u2029 é 😀";
    assertEquals(
        "{\"k\":\"progress\",\"ref\":\"q\\\" b\\\\ s/ \\b\\t\\n\\f\\r \\u0000\\u001f \u007f "
            + "\u2028\u2029 é 😀\",\"stage\":\"x\",\"qr_payload\":\"\"}",
        new String(MessageCodec.encode(new Progress(ref, "x", "")), UTF_8));
  }

  @Test
  void writesNonAsciiAsRawUtf8() {
    byte[] payload = MessageCodec.encode(new Progress("é", "", ""));
    String text = "{\"k\":\"progress\",\"ref\":\"\u00e9\",\"stage\":\"\",\"qr_payload\":\"\"}";
    assertArrayEquals(text.getBytes(UTF_8), payload);
    assertEquals((byte) 0xc3, payload[23]);
  }

  @Test
  void decodesKeysInAnyOrderWithWhitespaceAndUnknownKeys() throws Exception {
    Message message =
        decode(
            " {\"m\" : {\"amount\":100,\"extra\":[1.5,{\"x\":null}],\"condition_code\":\"82\","
                + "\"ref\":\"r\",\"rid\":7,\"k\":\"sale\"},\r\n\t\"seq\":3,\"k\":\"data\",\"new\":true} ");
    assertEquals(new Data(3, new Sale(7, "r", 100, "82")), message);
  }

  @Test
  void fillsInDefaultsForMissingOptionalFields() throws Exception {
    assertEquals(
        new BatchResult(1, 2, 0, 0, Collections.<String>emptyList(), "", true),
        decode("{\"k\":\"batch_result\",\"rid\":1,\"batch_number\":2,\"count\":0,\"total\":0}"));
    Hello hello = (Hello) decode("{\"k\":\"hello\",\"role\":\"host\",\"version\":2,\"session\":\"s\"}");
    assertEquals(0, hello.idleHeartbeatMs());
    assertEquals(Collections.emptyList(), hello.conditionCodes());
  }

  @Test
  void readsEscapesAndSurrogatePairs() throws Exception {
    Progress progress =
        (Progress) decode("{\"k\":\"progress\",\"ref\":\"\\u0041\\/\\ud83d\\ude00\",\"stage\":\"\"}");
    assertEquals("A/😀", progress.ref());
  }

  @Test
  void readsMinusZeroAsTheIntegerZero() throws Exception {
    assertEquals(new Ack(0), decode("{\"k\":\"ack\",\"seq\":-0}"));
  }

  @Test
  void readsSixtyFourBitIntegers() throws Exception {
    assertEquals(new Ack(Long.MAX_VALUE), decode("{\"k\":\"ack\",\"seq\":9223372036854775807}"));
    assertEquals(new Ack(Long.MIN_VALUE), decode("{\"k\":\"ack\",\"seq\":-9223372036854775808}"));
  }

  @Test
  void refusesWrongTypes() {
    assertTrue(refusal("{\"k\":\"ack\",\"seq\":true}").contains("seq"));
    refusal("{\"k\":\"ack\",\"seq\":1.0}");
    refusal("{\"k\":\"ack\",\"seq\":1e2}");
    refusal("{\"k\":\"ack\",\"seq\":\"1\"}");
    refusal("{\"k\":\"ack\",\"seq\":null}");
    refusal("{\"k\":\"reply\",\"rid\":1,\"ref\":\"a\",\"accepted\":1}");
    refusal("{\"k\":\"hello\",\"role\":\"host\",\"version\":2,\"session\":null}");
    refusal("{\"k\":\"hello\",\"role\":\"host\",\"version\":2,\"session\":\"a\",\"condition_codes\":[\"1\",2]}");
    refusal("{\"k\":\"hello\",\"role\":\"host\",\"version\":2,\"session\":\"a\",\"condition_codes\":\"82\"}");
    refusal("{\"k\":1}");
  }

  @Test
  void refusesIntegersWiderThanSixtyFourBits() {
    assertTrue(refusal("{\"k\":\"ack\",\"seq\":9223372036854775808}").contains("64 bits"));
    refusal("{\"k\":\"ack\",\"seq\":-9223372036854775809}");
  }

  @Test
  void refusesAMissingRequiredField() {
    assertTrue(refusal("{\"k\":\"sale\",\"rid\":1,\"ref\":\"r\",\"amount\":1}").contains("condition_code"));
    refusal("{\"k\":\"data\",\"seq\":1}");
    refusal("{\"seq\":1}");
  }

  @Test
  void refusesUnknownKindsAndLinkControlInsideData() {
    assertTrue(refusal("{\"k\":\"nope\"}").contains("unknown"));
    for (String inner :
        new String[] {
          "{\"k\":\"hb\"}",
          "{\"k\":\"ack\",\"seq\":1}",
          "{\"k\":\"hello\",\"role\":\"host\",\"version\":2,\"session\":\"s\"}",
          "{\"k\":\"data\",\"seq\":1,\"m\":{\"k\":\"totals\",\"rid\":1}}"
        }) {
      assertTrue(refusal("{\"k\":\"data\",\"seq\":1,\"m\":" + inner + "}").contains("link-control"));
    }
    refusal("{\"k\":\"data\",\"seq\":1,\"m\":[]}");
  }

  @Test
  void refusesWhatIsNotAJsonObject() {
    for (String payload : new String[] {"[]", "1", "\"x\"", "null", "true", ""}) {
      refusal(payload);
    }
  }

  @Test
  void refusesInvalidUtf8() {
    for (byte[] payload :
        new byte[][] {
          {'{', '"', 'k', '"', ':', '"', 'h', 'b', '"', ',', '"', 'x', '"', ':', '"', (byte) 0xff, '"', '}'},
          {'{', '"', 'k', '"', ':', '"', (byte) 0xed, (byte) 0xa0, (byte) 0x80, '"', '}'},
          {'{', '"', 'k', '"', ':', '"', (byte) 0xc0, (byte) 0xaf, '"', '}'},
        }) {
      assertThrows(RemoteProtocolException.class, () -> MessageCodec.decode(payload));
    }
  }

  @Test
  void refusesWhatOrgJsonWouldTakeButTheHostRefuses() {
    for (String payload :
        new String[] {
          "{k:\"hb\"}",
          "{'k':'hb'}",
          "{\"k\":\"hb\",}",
          "{\"k\":\"hb\"}//",
          "{\"k\":\"hb\"/* */}",
          "{\"k\"=>\"hb\"}",
          "{\"k\":\"ack\";\"seq\":1}",
          "{\"k\":\"ack\",\"seq\":0x10}",
          "{\"k\":\"ack\",\"seq\":010}",
          "{\"k\":\"reply\",\"rid\":1,\"ref\":\"a\",\"accepted\":TRUE}",
          "\ufeff{\"k\":\"hb\"}",
          "{\"k\":\"hb\",\"x\":[1,]}",
          "{\"k\":\"hb\",\"x\":\"\\ud800\"}",
          "{\"k\":\"hb\",\"x\":\"\\udc00\"}",
          "{\"k\":\"hb\",\"x\":\"\\x41\"}",
          "{\"k\":\"hb\",\"x\":NaN}",
          "{\"k\":\"hb\"} {}",
        }) {
      assertThrows(RemoteProtocolException.class, () -> decode(payload), payload);
    }
  }

  @Test
  void refusesARepeatedKey() {
    assertTrue(refusal("{\"k\":\"ack\",\"seq\":1,\"seq\":2}").contains("twice"));
    refusal("{\"k\":\"hb\",\"\\u006b\":\"hb\"}");
  }

  @Test
  void refusesDeepNestingWithoutOverflowingTheStack() {
    StringBuilder deep = new StringBuilder("{\"k\":\"hb\",\"x\":");
    for (int i = 0; i < 4000; i++) {
      deep.append('[');
    }
    assertTrue(refusal(deep.toString()).contains("nested deeper"));
    StringBuilder ok = new StringBuilder("{\"k\":\"hb\",\"x\":");
    for (int i = 0; i < StrictJson.MAX_DEPTH - 1; i++) {
      ok.append('[');
    }
    for (int i = 0; i < StrictJson.MAX_DEPTH - 1; i++) {
      ok.append(']');
    }
    assertEquals("hb", assertDoesNotThrowDecode(ok.append('}').toString()).kind());
  }

  private static Message assertDoesNotThrowDecode(String payload) {
    try {
      return decode(payload);
    } catch (RemoteProtocolException e) {
      throw new AssertionError(payload + ": " + e.getMessage(), e);
    }
  }
}
