package dev.posbridge.terminal.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** `posbridge simulator`'s options, defaults and checks. */
class OptionsTest {
  @Test
  void theDefaultsAreTheSimulators() throws Exception {
    Options o = Options.parse();
    assertEquals("127.0.0.1", o.host);
    assertEquals(9100, o.port);
    assertNull(o.state);
    assertEquals(2.0, o.customerDelay);
    assertEquals("SIM-000001", o.serial);
    assertEquals(Arrays.asList("82", "30", "20", "50"), o.methods.codes);
    assertEquals(Arrays.asList("PayNow", "Alipay", "WeChat Pay", "GrabPay"), o.methods.names);
    assertEquals(0.0, o.settleDelay);
    assertEquals("info", o.logLevel);
  }

  @Test
  void everyOption() throws Exception {
    Options o = Options.parse("--listen", "tcp://[::1]:9200", "--state", "x/../s.json",
        "--customer-delay", "0.5", "--serial", "J-1", "--condition-codes", "82,99=Visa QR",
        "--settle-delay=1", "--log-level", "debug");
    assertEquals("::1", o.host);
    assertEquals(9200, o.port);
    assertTrue(o.state.getPath().endsWith("s.json"));
    assertEquals(0.5, o.customerDelay);
    assertEquals("J-1", o.serial);
    assertEquals(Arrays.asList("82", "99"), o.methods.codes);
    assertEquals(Arrays.asList("PayNow", "Visa QR"), o.methods.names);
    assertEquals(1.0, o.settleDelay);
    assertEquals("debug", o.logLevel);
  }

  @Test
  void badOptionsSayWhatToGive() {
    String[][] bad = {
      {"--listen", "udp://x:1"}, {"--listen", "tcp://x:0"}, {"--listen", "tcp://x"},
      {"--customer-delay", "-1"}, {"--customer-delay", "soon"}, {"--customer-delay", "inf"},
      {"--condition-codes", "8"}, {"--condition-codes", "82,82"}, {"--condition-codes", ""},
      {"--condition-codes", "82="}, {"--log-level", "loud"}, {"--state", "."},
      {"--scenario", "f.json"}, {"--window"}, {"--listen"}
    };
    for (String[] args : bad) {
      Options.BadOption e = assertThrows(Options.BadOption.class, () -> Options.parse(args),
          Arrays.toString(args));
      assertTrue(e.getMessage().length() > 10, e.getMessage());
    }
    Options.BadOption e = assertThrows(Options.BadOption.class,
        () -> Options.parse("--customer-delay", "-1"));
    assertEquals("argument --customer-delay: give a number of seconds, zero or more "
        + "(got '-1')", e.getMessage());
  }
}
