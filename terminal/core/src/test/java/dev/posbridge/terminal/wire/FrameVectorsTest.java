package dev.posbridge.terminal.wire;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.posbridge.terminal.Bytes;
import dev.posbridge.terminal.Hex;
import dev.posbridge.terminal.Vectors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.json.JSONObject;
import org.junit.jupiter.api.Test;

/** spec/vectors/frames.json against the Java frames and decoder. */
class FrameVectorsTest {
  static void replay(JSONObject vectors) throws Exception {
    JSONObject check = vectors.getJSONObject("crc_check");
    byte[] input = check.getString("input").getBytes(US_ASCII);
    assertEquals(check.getInt("crc16_ccitt_false"), Crc16.ccittFalse(input, 0, input.length));
    assertEquals(check.getLong("crc32"), Frames.crc32(input, 0, input.length) & 0xFFFFFFFFL);
    assertEquals(Frames.MAX_PAYLOAD, vectors.getInt("max_payload"));
    for (JSONObject vector : Vectors.objects(vectors.getJSONArray("frames"))) {
      String where = vector.getString("name");
      byte[] payload = Hex.decode(vector.getJSONObject("payload").getString("hex"));
      byte[] frame = Frames.encode(payload);
      assertEquals(vector.getString("frame"), Hex.encode(frame), where);
      assertEquals(vector.getInt("length"), payload.length, where);
      assertEquals(vector.getInt("header_crc"), (frame[4] & 0xFF) << 8 | (frame[5] & 0xFF), where);
      assertEquals(
          vector.getLong("payload_crc"),
          Frames.crc32(payload, 0, payload.length) & 0xFFFFFFFFL,
          where);
    }
    for (int i = 0; i < vectors.getJSONArray("oversize").length(); i++) {
      int length = vectors.getJSONArray("oversize").getInt(i);
      assertThrows(IllegalArgumentException.class, () -> Frames.encode(new byte[length]));
    }
    for (JSONObject vector : Vectors.objects(vectors.getJSONArray("decoder"))) {
      List<byte[]> chunks = new ArrayList<>();
      for (String chunk : Vectors.strings(vector.getJSONArray("chunks"))) {
        chunks.add(Hex.decode(chunk));
      }
      byte[] stream = Bytes.concat(chunks);
      List<byte[]> bytes = new ArrayList<>();
      for (byte b : stream) {
        bytes.add(new byte[] {b});
      }
      replayDecoder(vector, "as given", chunks);
      replayDecoder(vector, "all at once", Arrays.asList(stream));
      replayDecoder(vector, "byte by byte", bytes);
    }
  }

  private static void replayDecoder(JSONObject vector, String split, List<byte[]> chunks)
      throws Exception {
    String where = vector.getString("name") + " (" + split + ")";
    FrameDecoder decoder = new FrameDecoder();
    List<String> payloads = new ArrayList<>();
    for (byte[] chunk : chunks) {
      for (byte[] payload : decoder.feed(chunk)) {
        payloads.add(Hex.encode(payload));
      }
    }
    assertEquals(Vectors.strings(vector.getJSONArray("payloads")), payloads, where);
    JSONObject stats = vector.getJSONObject("stats");
    assertEquals(
        new DecoderStats(
            stats.getLong("frames"),
            stats.getLong("bytes_skipped"),
            stats.getLong("bad_header"),
            stats.getLong("bad_crc")),
        decoder.stats(),
        where);
    assertEquals(vector.getInt("buffered"), decoder.buffered(), where);
  }

  @Test
  void everyFrameVectorReplays() throws Exception {
    JSONObject vectors = Vectors.load("frames.json");
    assertTrue(vectors.getJSONArray("decoder").length() > 30);
    replay(vectors);
  }

  @Test
  void theReplayNoticesAChangedFrame() throws Exception {
    JSONObject vectors = Vectors.load("frames.json");
    JSONObject heartbeat = vectors.getJSONArray("frames").getJSONObject(1);
    String frame = heartbeat.getString("frame");
    heartbeat.put("frame", frame.substring(0, frame.length() - 1) + (frame.endsWith("0") ? "1" : "0"));
    assertThrows(AssertionError.class, () -> replay(vectors));
  }

  @Test
  void theReplayNoticesChangedDecoderStats() throws Exception {
    JSONObject vectors = Vectors.load("frames.json");
    JSONObject stats = vectors.getJSONArray("decoder").getJSONObject(0).getJSONObject("stats");
    assertEquals(125, stats.getInt("bytes_skipped"));
    stats.put("bytes_skipped", 124);
    assertThrows(AssertionError.class, () -> replay(vectors));
  }
}
