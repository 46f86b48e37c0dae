package dev.posbridge.terminal.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.jupiter.api.Test;

/** The demo's QR payloads are the simulator's (spec/vectors/terminal.json, "qr"). */
class QrTest {
  @Test
  void everyPayloadOfTheSharedVectors() throws Exception {
    String folder = System.getProperty("posbridge.vectors");
    JSONArray cases = new JSONObject(new String(Files.readAllBytes(
        Paths.get(folder, "terminal.json")), StandardCharsets.UTF_8)).getJSONArray("qr");
    assertEquals(8, cases.length());
    for (int i = 0; i < cases.length(); i++) {
      JSONObject c = cases.getJSONObject(i);
      String payload = Qr.payload(c.getString("condition_code"), c.getLong("amount"),
          c.getString("ref"));
      if (c.getString("stage").equals("qr_shown")) {
        assertEquals(c.getString("qr_payload"), payload, c.toString());
      } else {
        assertNull(payload, c.toString());
      }
    }
  }

  @Test
  void theCrcIsCcittFalse() {
    assertEquals(0x29B1, Qr.crc16("123456789".getBytes(StandardCharsets.US_ASCII)));
  }
}
