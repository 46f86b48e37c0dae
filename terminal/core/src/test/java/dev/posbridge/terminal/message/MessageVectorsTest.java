package dev.posbridge.terminal.message;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.posbridge.terminal.Vectors;
import dev.posbridge.terminal.Hex;
import java.util.HashSet;
import java.util.Set;
import org.json.JSONObject;
import org.junit.jupiter.api.Test;

/**
 * spec/vectors/messages.json against the Java codec (run twice: with the JVM's org.json in
 * core, with Android's in android-json-check).
 */
class MessageVectorsTest {
  static void replay(JSONObject vectors) throws Exception {
    Set<String> kinds = new HashSet<>();
    for (JSONObject vector : Vectors.objects(vectors.getJSONArray("encode"))) {
      String where = vector.getString("name");
      Message message = Fixtures.fromFields(vector.getJSONObject("fields"));
      kinds.add(message.kind());
      assertEquals(vector.getString("hex"), Hex.encode(MessageCodec.encode(message)), where);
      assertEquals(message, MessageCodec.decode(Hex.decode(vector.getString("hex"))), where);
    }
    assertEquals(20, kinds.size(), "every kind has an encode vector: " + kinds);
    for (JSONObject vector : Vectors.objects(vectors.getJSONArray("decode"))) {
      String where = vector.getString("name");
      Message message = decode(vector, where);
      assertArrayEquals(
          vector.getString("canonical").getBytes(UTF_8), MessageCodec.encode(message), where);
      assertEquals(Fixtures.fromFields(vector.getJSONObject("fields")), message, where);
    }
    for (JSONObject vector : Vectors.objects(vectors.getJSONArray("invalid"))) {
      refused(vector);
    }
    for (JSONObject vector : Vectors.objects(vectors.getJSONArray("may_refuse"))) {
      // What this library chose: refuse them (docs/link-protocol.md, "What a receiver may
      // refuse").
      refused(vector);
    }
  }

  private static Message decode(JSONObject vector, String where) throws Exception {
    byte[] payload = Hex.decode(vector.getJSONObject("payload").getString("hex"));
    try {
      return MessageCodec.decode(payload);
    } catch (RemoteProtocolException e) {
      throw new AssertionError(where + ": refused (" + e.getMessage() + ")", e);
    }
  }

  private static void refused(JSONObject vector) throws Exception {
    byte[] payload = Hex.decode(vector.getJSONObject("payload").getString("hex"));
    try {
      Message message = MessageCodec.decode(payload);
      fail(vector.getString("name") + ": decoded as " + message);
    } catch (RemoteProtocolException expected) {
      // Refused, and nothing else was thrown.
    }
  }

  @Test
  void everyMessageVectorReplays() throws Exception {
    JSONObject vectors = Vectors.load("messages.json");
    assertTrue(vectors.getJSONArray("invalid").length() > 50);
    replay(vectors);
  }

  @Test
  void theReplayNoticesAChangedPayload() throws Exception {
    JSONObject vectors = Vectors.load("messages.json");
    JSONObject first = vectors.getJSONArray("encode").getJSONObject(0);
    String hex = first.getString("hex");
    first.put("hex", hex.substring(0, hex.length() - 1) + (hex.endsWith("0") ? "1" : "0"));
    assertThrows(AssertionError.class, () -> replay(vectors));
  }

  @Test
  void theReplayNoticesAValidPayloadAmongTheInvalidOnes() throws Exception {
    JSONObject vectors = Vectors.load("messages.json");
    JSONObject valid = new JSONObject();
    valid.put("name", "a heartbeat");
    valid.put("payload", new JSONObject().put("hex", Hex.encode("{\"k\":\"hb\"}".getBytes(UTF_8))));
    vectors.getJSONArray("invalid").put(valid);
    assertThrows(AssertionError.class, () -> replay(vectors));
  }
}
