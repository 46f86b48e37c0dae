package dev.posbridge.terminal.wire;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.posbridge.terminal.Bytes;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrameDecoderTest {
  private static final byte[] HB = "{\"k\":\"hb\"}".getBytes(US_ASCII);
  private static final byte[] SALE =
      ("{\"k\":\"data\",\"seq\":1,\"m\":{\"k\":\"sale\",\"rid\":1,\"ref\":\"invoice-123456789\","
              + "\"amount\":100,\"condition_code\":\"82\"}}")
          .getBytes(US_ASCII);

  @Test
  void decodesTheDocsGarbageCorruptedSaleAndHeartbeatExample() {
    byte[] sale = Frames.encode(SALE);
    sale[40] ^= 0x01;
    byte[] stream =
        Bytes.concat(new byte[] {0x00, (byte) 0xa5}, "garbage".getBytes(US_ASCII), sale, Frames.encode(HB));
    FrameDecoder decoder = new FrameDecoder();
    List<byte[]> payloads = decoder.feed(stream);
    assertEquals(1, payloads.size());
    assertArrayEquals(HB, payloads.get(0));
    assertEquals(new DecoderStats(1, 125, 0, 1), decoder.stats());
  }

  @Test
  void acceptsAFrameOneByteAtATime() {
    FrameDecoder decoder = new FrameDecoder();
    byte[] frame = Frames.encode(SALE);
    for (int i = 0; i < frame.length - 1; i++) {
      assertTrue(decoder.feed(new byte[] {frame[i]}).isEmpty());
    }
    assertArrayEquals(SALE, decoder.feed(new byte[] {frame[frame.length - 1]}).get(0));
    assertEquals(0, decoder.buffered());
  }

  @Test
  void returnsEveryFrameOfOneChunkInOrder() {
    List<byte[]> payloads =
        new FrameDecoder().feed(Bytes.concat(Frames.encode(HB), Frames.encode(SALE), Frames.encode(HB)));
    assertEquals(3, payloads.size());
    assertArrayEquals(SALE, payloads.get(1));
  }

  @Test
  void keepsATrailingFirstMagicByte() {
    FrameDecoder decoder = new FrameDecoder();
    byte[] frame = Frames.encode(HB);
    assertTrue(decoder.feed(new byte[] {1, 2, (byte) 0xa5}).isEmpty());
    assertEquals(1, decoder.buffered());
    assertEquals(2, decoder.stats().bytesSkipped());
    byte[] rest = new byte[frame.length - 1];
    System.arraycopy(frame, 1, rest, 0, rest.length);
    assertArrayEquals(HB, decoder.feed(rest).get(0));
  }

  @Test
  void skipsOneByteAfterALengthAboveTheMaximum() {
    int length = Frames.MAX_PAYLOAD + 1;
    int crc = Frames.headerCrc(length);
    byte[] header = {(byte) 0xa5, 0x5a, (byte) (length >> 8), (byte) length, (byte) (crc >> 8), (byte) crc};
    FrameDecoder decoder = new FrameDecoder();
    assertArrayEquals(HB, decoder.feed(Bytes.concat(header, Frames.encode(HB))).get(0));
    assertEquals(new DecoderStats(1, 6, 1, 0), decoder.stats());
  }

  @Test
  void skipsOneByteAfterABadHeaderCrcWithoutWaitingForItsLength() {
    byte[] damaged = Frames.encode(SALE);
    damaged[5] ^= 0x40;
    FrameDecoder decoder = new FrameDecoder();
    // Only the damaged header and the heartbeat: had the decoder trusted the length, it
    // would wait for 116 bytes.
    byte[] stream = Bytes.concat(new byte[] {damaged[0], damaged[1], damaged[2], damaged[3], damaged[4], damaged[5]}, Frames.encode(HB));
    assertArrayEquals(HB, decoder.feed(stream).get(0));
    assertEquals(1, decoder.stats().badHeader());
  }

  @Test
  void waitsForATruncatedFrameThenRecoversTheNextOne() {
    byte[] hb = Frames.encode(HB);
    byte[] truncated = new byte[8];
    System.arraycopy(hb, 0, truncated, 0, 8);
    FrameDecoder decoder = new FrameDecoder();
    assertTrue(decoder.feed(truncated).isEmpty());
    assertEquals(8, decoder.buffered());
    List<byte[]> payloads = decoder.feed(Bytes.concat(hb, hb));
    assertEquals(2, payloads.size());
    assertEquals(1, decoder.stats().badCrc());
  }

  @Test
  void recoversAFrameInsideADamagedOne() {
    byte[] inner = Frames.encode(HB);
    byte[] outer = Frames.encode(Bytes.concat("xx".getBytes(US_ASCII), inner, "yy".getBytes(US_ASCII)));
    outer[outer.length - 1] ^= 0x01;
    List<byte[]> payloads = new FrameDecoder().feed(outer);
    assertEquals(1, payloads.size());
    assertArrayEquals(HB, payloads.get(0));
  }

  @Test
  void growsForTheLargestFrameAndShrinksAfter() {
    byte[] big = new byte[Frames.MAX_PAYLOAD];
    big[0] = (byte) 0xa5;
    big[1] = 0x5a;
    FrameDecoder decoder = new FrameDecoder();
    byte[] frames = Bytes.concat(Frames.encode(big), Frames.encode(big), Frames.encode(HB));
    assertEquals(3, decoder.feed(frames).size());
    assertEquals(0, decoder.buffered());
    assertArrayEquals(HB, decoder.feed(Frames.encode(HB)).get(0));
  }

  @Test
  void acceptsAnOffsetAndLengthAndChecksThem() {
    byte[] frame = Bytes.concat(new byte[] {9, 9}, Frames.encode(HB), new byte[] {9});
    assertArrayEquals(HB, new FrameDecoder().feed(frame, 2, frame.length - 3).get(0));
    assertThrows(IndexOutOfBoundsException.class, () -> new FrameDecoder().feed(frame, 2, frame.length));
  }

  @Test
  void statsAreAValue() {
    assertEquals(new DecoderStats(1, 2, 3, 4), new DecoderStats(1, 2, 3, 4));
    assertEquals(
        "DecoderStats{frames=1, bytes_skipped=2, bad_header=3, bad_crc=4}",
        new DecoderStats(1, 2, 3, 4).toString());
  }
}
