package dev.posbridge.terminal.link;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Each expected string is what Python's format(x, "g") gives. */
class SecondsTest {
  @Test
  void writesSecondsAsPythonsGeneralFormatDoes() {
    assertEquals("2", Seconds.format(2.0));
    assertEquals("6", Seconds.format(6.0));
    assertEquals("0.3", Seconds.format(0.3));
    assertEquals("2.1", Seconds.format(2.0999999999999996));
    assertEquals("10", Seconds.format(10.0));
    assertEquals("123457", Seconds.format(123456.7));
    assertEquals("1.23457e+06", Seconds.format(1234567.0));
    assertEquals("1e+06", Seconds.format(1e6));
    assertEquals("0.0001", Seconds.format(0.0001));
    assertEquals("1e-05", Seconds.format(0.00001));
    assertEquals("0.333333", Seconds.format(1.0 / 3));
    assertEquals("0", Seconds.format(0.0));
  }
}
