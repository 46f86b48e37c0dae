package dev.posbridge.terminal.wire;

import java.util.zip.CRC32;

/**
 * Frames of the posbridge link (docs/link-protocol.md section 2):
 *
 * <pre>
 * | a5 5a | length (2, big-endian) | header CRC-16 (2) | payload | payload CRC-32 (4) |
 * </pre>
 *
 * The header CRC is CRC-16/CCITT-FALSE of the two length bytes; the payload CRC is the
 * zlib CRC-32 of the payload. {@link FrameDecoder} reads them back from a byte stream.
 */
public final class Frames {
  /** The largest payload a frame carries, in bytes. */
  public static final int MAX_PAYLOAD = 8192;
  /** The bytes a frame adds to its payload: magic, length, header CRC, payload CRC. */
  public static final int OVERHEAD = 10;

  static final byte MAGIC_0 = (byte) 0xA5;
  static final byte MAGIC_1 = (byte) 0x5A;
  static final int HEADER_SIZE = 6;
  static final int TRAILER_SIZE = 4;

  private Frames() {}

  /**
   * The frame of {@code payload}.
   *
   * @throws IllegalArgumentException if the payload is longer than {@link #MAX_PAYLOAD}
   */
  public static byte[] encode(byte[] payload) {
    int length = payload.length;
    if (length > MAX_PAYLOAD) {
      throw new IllegalArgumentException(
          "payload of " + length + " bytes exceeds " + MAX_PAYLOAD);
    }
    byte[] frame = new byte[length + OVERHEAD];
    frame[0] = MAGIC_0;
    frame[1] = MAGIC_1;
    frame[2] = (byte) (length >>> 8);
    frame[3] = (byte) length;
    int headerCrc = Crc16.ccittFalse(frame, 2, 2);
    frame[4] = (byte) (headerCrc >>> 8);
    frame[5] = (byte) headerCrc;
    System.arraycopy(payload, 0, frame, HEADER_SIZE, length);
    putInt(frame, HEADER_SIZE + length, crc32(payload, 0, length));
    return frame;
  }

  /** The header CRC of a frame whose payload is {@code length} bytes long. */
  static int headerCrc(int length) {
    return Crc16.ccittFalse(new byte[] {(byte) (length >>> 8), (byte) length}, 0, 2);
  }

  static int crc32(byte[] data, int offset, int length) {
    CRC32 crc = new CRC32();
    crc.update(data, offset, length);
    return (int) crc.getValue();
  }

  private static void putInt(byte[] out, int at, int value) {
    out[at] = (byte) (value >>> 24);
    out[at + 1] = (byte) (value >>> 16);
    out[at + 2] = (byte) (value >>> 8);
    out[at + 3] = (byte) value;
  }
}
