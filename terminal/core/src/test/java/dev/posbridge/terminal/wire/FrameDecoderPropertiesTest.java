package dev.posbridge.terminal.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.posbridge.terminal.Bytes;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The decoder under any chunking, corruption and garbage (jqwik; each property's report, in
 * target/surefire-reports, gives the number of tries).
 */
class FrameDecoderPropertiesTest {
  @Provide
  Arbitrary<List<byte[]>> payloads() {
    return Arbitraries.bytes().array(byte[].class).ofMaxSize(300).list().ofMinSize(1).ofMaxSize(8);
  }

  /** {@code stream} cut at random points into chunks (some empty). */
  static List<byte[]> chunked(byte[] stream, Random random) {
    TreeSet<Integer> cuts = new TreeSet<>();
    int count = random.nextInt(20);
    for (int i = 0; i < count; i++) {
      cuts.add(random.nextInt(stream.length + 1));
    }
    cuts.add(stream.length);
    List<byte[]> out = new ArrayList<>();
    int last = 0;
    for (int cut : cuts) {
      byte[] chunk = new byte[cut - last];
      System.arraycopy(stream, last, chunk, 0, chunk.length);
      out.add(chunk);
      last = cut;
    }
    return out;
  }

  static List<byte[]> feed(FrameDecoder decoder, List<byte[]> chunks) {
    List<byte[]> out = new ArrayList<>();
    for (byte[] chunk : chunks) {
      out.addAll(decoder.feed(chunk));
    }
    return out;
  }

  static void assertPayloads(List<byte[]> expected, List<byte[]> actual) {
    assertEquals(expected.size(), actual.size(), "payloads");
    for (int i = 0; i < expected.size(); i++) {
      assertArrayEquals(expected.get(i), actual.get(i), "payload " + i);
    }
  }

  @Property(tries = 5000)
  void anyChunkingYieldsTheSameFrames(
      @ForAll("payloads") List<byte[]> payloads, @ForAll Random random) {
    ByteArrayOutputStream stream = new ByteArrayOutputStream();
    for (byte[] payload : payloads) {
      stream.writeBytes(Frames.encode(payload));
    }
    FrameDecoder decoder = new FrameDecoder();
    assertPayloads(payloads, feed(decoder, chunked(stream.toByteArray(), random)));
    assertEquals(0, decoder.stats().bytesSkipped());
    assertEquals(0, decoder.buffered());
  }

  @Property(tries = 5000)
  void corruptionLosesOnlyTheDamagedFrames(
      @ForAll("payloads") List<byte[]> payloads, @ForAll Random random) {
    ByteArrayOutputStream stream = new ByteArrayOutputStream();
    List<byte[]> intact = new ArrayList<>();
    // For each intact frame, the damaged frame just before it (or null): see below.
    List<byte[]> damagedBefore = new ArrayList<>();
    byte[] lastDamaged = null;
    for (byte[] payload : payloads) {
      byte[] frame = Frames.encode(payload);
      int damage = random.nextInt(7);
      if (damage == 0) { // a byte flipped anywhere in the frame
        frame[random.nextInt(frame.length)] ^= (byte) (1 + random.nextInt(255));
      } else if (damage == 1) { // bytes inserted inside it
        frame = Bytes.splice(frame, random.nextInt(frame.length - 1) + 1, 0, garbage(random, 10));
      } else if (damage == 2) { // bytes lost from it
        int at = random.nextInt(frame.length);
        frame = Bytes.splice(frame, at, Math.min(1 + random.nextInt(10), frame.length - at), new byte[0]);
      } else if (damage == 3) { // sent twice
        stream.writeBytes(frame);
        intact.add(payload);
        damagedBefore.add(lastDamaged);
        lastDamaged = null;
      }
      if (damage <= 2) {
        lastDamaged = payload;
      } else {
        intact.add(payload);
        damagedBefore.add(lastDamaged);
        lastDamaged = null;
      }
      stream.writeBytes(frame);
      if (random.nextInt(4) == 0) {
        stream.writeBytes(garbage(random, 30)); // garbage between frames
      }
    }
    // A damaged header may have claimed a length that swallows the frames after it: bytes
    // that come later release them. Zeros hold no magic.
    stream.writeBytes(new byte[Frames.MAX_PAYLOAD + Frames.OVERHEAD]);
    byte[] input = stream.toByteArray();
    List<byte[]> decoded = feed(new FrameDecoder(), chunked(input, random));

    // Nothing comes out whose frame, both CRCs holding, is not in the stream.
    for (byte[] payload : decoded) {
      assertTrue(Bytes.contains(input, Frames.encode(payload)), "a payload without its frame");
    }
    // Every intact frame is recovered, in order, but one: a frame that lost its last bytes
    // passes both checks when the bytes after it happen to be the ones it lost (its trailer
    // ended in a5, the next frame starts with a5), and it then takes them from the frame
    // after it. So an intact frame right after a damaged one that came back may be lost.
    int at = 0;
    for (int i = 0; i < intact.size(); i++) {
      int found = indexOf(decoded, intact.get(i), at);
      if (found >= 0) {
        at = found + 1;
      } else {
        byte[] before = damagedBefore.get(i);
        assertTrue(
            before != null && indexOf(decoded, before, 0) >= 0,
            "intact frame " + i + " of " + intact.size() + " was not recovered");
      }
    }
  }

  private static int indexOf(List<byte[]> payloads, byte[] payload, int from) {
    for (int i = from; i < payloads.size(); i++) {
      if (Arrays.equals(payloads.get(i), payload)) {
        return i;
      }
    }
    return -1;
  }

  @Property(tries = 5000)
  void garbageNeverThrowsAndEveryByteIsAccountedFor(@ForAll Random random) {
    ByteArrayOutputStream stream = new ByteArrayOutputStream();
    int parts = random.nextInt(10);
    for (int i = 0; i < parts; i++) {
      int kind = random.nextInt(4);
      if (kind == 0) {
        stream.writeBytes(Frames.encode(garbage(random, 50)));
      } else if (kind == 1) { // a header with a length above the maximum, or a wrong CRC
        int length = random.nextInt(65536);
        int crc = random.nextBoolean() ? Frames.headerCrc(length) : random.nextInt(65536);
        stream.writeBytes(
            new byte[] {
              (byte) 0xa5, 0x5a, (byte) (length >> 8), (byte) length, (byte) (crc >> 8), (byte) crc
            });
      } else if (kind == 2) { // a truncated frame
        byte[] frame = Frames.encode(garbage(random, 50));
        stream.write(frame, 0, random.nextInt(frame.length));
      } else {
        stream.writeBytes(garbage(random, 100));
      }
    }
    byte[] input = stream.toByteArray();
    FrameDecoder decoder = new FrameDecoder();
    long framed = 0;
    for (byte[] payload : feed(decoder, chunked(input, random))) {
      framed += payload.length + Frames.OVERHEAD;
    }
    DecoderStats stats = decoder.stats();
    assertEquals(input.length, stats.bytesSkipped() + decoder.buffered() + framed);
  }

  /** Up to {@code max} random bytes, rich in magic bytes. */
  static byte[] garbage(Random random, int max) {
    byte[] out = new byte[random.nextInt(max + 1)];
    random.nextBytes(out);
    for (int i = 0; i < out.length; i++) {
      if (random.nextInt(8) == 0) {
        out[i] = random.nextBoolean() ? (byte) 0xa5 : 0x5a;
      }
    }
    return out;
  }

}
