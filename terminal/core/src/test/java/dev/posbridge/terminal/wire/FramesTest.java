package dev.posbridge.terminal.wire;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.posbridge.terminal.Hex;
import org.junit.jupiter.api.Test;

class FramesTest {
  @Test
  void encodesTheDocsHeartbeatExample() {
    assertArrayEquals(
        Hex.decode("a55a000abc457b226b223a226862227db6a0fbc8"),
        Frames.encode("{\"k\":\"hb\"}".getBytes(US_ASCII)));
  }

  @Test
  void encodesAnEmptyPayload() {
    byte[] frame = Frames.encode(new byte[0]);
    assertEquals(Frames.OVERHEAD, frame.length);
    assertEquals("a55a0000", Hex.encode(frame).substring(0, 8));
    assertEquals("00000000", Hex.encode(frame).substring(12)); // CRC-32 of nothing
  }

  @Test
  void crc32IsTheZlibOne() {
    byte[] check = "123456789".getBytes(US_ASCII);
    assertEquals(0xCBF43926, Frames.crc32(check, 0, check.length));
  }

  @Test
  void encodesTheLargestPayloadAndRefusesALargerOne() {
    assertEquals(Frames.MAX_PAYLOAD + 10, Frames.encode(new byte[Frames.MAX_PAYLOAD]).length);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> Frames.encode(new byte[Frames.MAX_PAYLOAD + 1]));
    assertEquals("payload of 8193 bytes exceeds 8192", e.getMessage());
  }

  @Test
  void headerCrcIsBigEndianAfterABigEndianLength() {
    byte[] frame = Frames.encode(new byte[0x1234 % Frames.MAX_PAYLOAD]);
    int length = 0x1234 % Frames.MAX_PAYLOAD;
    assertEquals(length, (frame[2] & 0xFF) << 8 | (frame[3] & 0xFF));
    assertEquals(Frames.headerCrc(length), (frame[4] & 0xFF) << 8 | (frame[5] & 0xFF));
  }
}
