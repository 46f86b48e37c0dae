package dev.posbridge.terminal.wire;

/**
 * CRC-16/CCITT-FALSE (also catalogued as CRC-16/IBM-3740): polynomial 0x1021, initial value
 * 0xFFFF, not reflected, no final XOR; Python's {@code binascii.crc_hqx(data, 0xFFFF)}. The
 * frame header's check over its two length bytes. No JDK class computes it, and a table
 * would be larger than the loop.
 */
final class Crc16 {
  private Crc16() {}

  static int ccittFalse(byte[] data, int offset, int length) {
    int crc = 0xFFFF;
    for (int i = offset; i < offset + length; i++) {
      crc ^= (data[i] & 0xFF) << 8;
      for (int bit = 0; bit < 8; bit++) {
        crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
      }
      crc &= 0xFFFF;
    }
    return crc;
  }
}
