package dev.posbridge.terminal.wire;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class Crc16Test {
  @Test
  void hasTheCatalogueCheckValue() {
    byte[] check = "123456789".getBytes(US_ASCII);
    assertEquals(0x29B1, Crc16.ccittFalse(check, 0, check.length));
  }

  @Test
  void ofNothingIsTheInitialValue() {
    assertEquals(0xFFFF, Crc16.ccittFalse(new byte[0], 0, 0));
  }

  @Test
  void coversOnlyTheGivenRange() {
    byte[] framed = "xx123456789yy".getBytes(US_ASCII);
    assertEquals(0x29B1, Crc16.ccittFalse(framed, 2, 9));
  }

  @Test
  void ofTheHeartbeatsLengthIsTheDocsValue() {
    assertEquals(0xBC45, Crc16.ccittFalse(new byte[] {0x00, 0x0a}, 0, 2));
  }
}
