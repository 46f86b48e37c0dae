package dev.posbridge.terminal.message;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class StrictJsonTest {
  private static void valid(String text) {
    try {
      StrictJson.check(text);
    } catch (RemoteProtocolException e) {
      throw new AssertionError(text + ": " + e.getMessage(), e);
    }
  }

  private static String invalid(String text) {
    return assertThrows(RemoteProtocolException.class, () -> StrictJson.check(text), text)
        .getMessage();
  }

  @Test
  void acceptsRfc8259Json() {
    for (String text :
        new String[] {
          "{}", "[]", "0", "-1", "1.5", "1e2", "1E+2", "-0.0e-0", "\"\"", "true", "false", "null",
          " \t\r\n{ \"a\" : [ 1 , { } , [ ] , \"x\" ] } \n",
          "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"}",
          "{\"a\":1,\"b\":{\"a\":2}}",
          "[1,1,1]",
          "\"\u007f\u2028é😀\""
        }) {
      valid(text);
    }
  }

  @Test
  void refusesWhatIsNotJson() {
    for (String text :
        new String[] {
          "", " ", "{", "[", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[,1]", "{,}",
          "01", "-", "1.", ".5", "+1", "1e", "1e+", "0x1", "NaN", "Infinity", "-Infinity",
          "tru", "True", "nul", "nullx", "'a'", "{a:1}", "\"a", "\"\\u12\"", "\"\\u12G4\"",
          "\"\\x\"", "\"a\u0001\"", "\"\t\"", "1 2", "{}x", "{}//", "/**/{}", "\ufeff{}",
          "\f{}", "\u00a0{}", "{\"a\";1}", "{\"a\"=1}", "[1;2]"
        }) {
      invalid(text);
    }
  }

  @Test
  void refusesLoneEscapedSurrogates() {
    invalid("\"\\ud800\"");
    invalid("\"\\ud800x\"");
    invalid("\"\\ud800\\u0041\"");
    invalid("\"\\udc00\"");
    invalid("\"\\ud83d😀\"");
  }

  @Test
  void refusesARepeatedKeyOnceDecoded() {
    assertTrue(invalid("{\"a\":1,\"a\":1}").contains("twice"));
    invalid("{\"a\":1,\"\\u0061\":1}");
    invalid("[{\"x\":{\"a\":1,\"a\":1}}]");
    valid("{\"a\":{\"a\":1},\"b\":{\"a\":1}}");
  }

  @Test
  void limitsTheDepth() {
    StringBuilder ok = new StringBuilder();
    StringBuilder tooDeep = new StringBuilder("[");
    for (int i = 0; i < StrictJson.MAX_DEPTH; i++) {
      ok.insert(0, '[').append(']');
    }
    tooDeep.append(ok).append(']');
    valid(ok.toString());
    assertTrue(invalid(tooDeep.toString()).contains("nested deeper than 64"));
  }

  @Test
  void makesNumbersThatBothOrgJsonsReadAlike() throws Exception {
    assertEquals(
        "[ 0,0.0 ,0.0 ,0.0 ,-1,0.0  ,0.0    ,0.0                ,-9223372036854775808]",
        StrictJson.check(
            "[-0,-0.0,-0e1,1.25,-1,1e400,-1E+400,9223372036854775808,-9223372036854775808]"));
    String integers = "{\"a\":-10,\"b\":[0,9223372036854775807,-1]}";
    assertSame(integers, StrictJson.check(integers));
  }
}
