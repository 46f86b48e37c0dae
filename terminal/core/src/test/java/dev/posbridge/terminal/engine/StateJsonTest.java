package dev.posbridge.terminal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.posbridge.terminal.Vectors;
import dev.posbridge.terminal.message.Receipt;
import java.io.IOException;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.json.JSONObject;
import org.junit.jupiter.api.Test;

/**
 * The state file is the simulator's, byte for byte (spec/vectors/terminal.json's "state",
 * written by src/posbridge/simulator/model.py), and the totals and receipts made from its
 * records are the simulator's.
 */
class StateJsonTest {
  static JSONObject state() throws Exception {
    return Vectors.load("terminal.json").getJSONObject("state");
  }

  @Test
  void readsTheSimulatorsFileAndWritesItBackByteForByte() throws Exception {
    String file = state().getString("file");
    Snapshot snapshot = StateJson.read(file);
    assertEquals(1, snapshot.batchNumber());
    assertEquals(6, snapshot.payments().size());
    PaymentRecord first = snapshot.payments().get(0);
    assertEquals("ref-1", first.ref());
    assertEquals(1000, first.amount());
    assertEquals(1, first.batchNumber());
    assertEquals(1764628221.25, first.startedAt());
    assertEquals(9, first.receipt().size());
    assertEquals("r\u00e9f-\"6\"\n", snapshot.payments().get(5).ref());
    assertEquals(Arrays.asList("c-1", "c-0"),
        Arrays.asList(snapshot.refunds().get(0).refundRef(), snapshot.refunds().get(1).refundRef()));
    assertEquals(new BatchRecord("3f9c2a7e51d04b88", 1, 1, 1000, Arrays.asList("ref-1")),
        snapshot.batches().get(0));
    assertEquals(file, StateJson.write(snapshot));
  }

  @Test
  void theTotalsOfTheRecordsAreTheSimulators() throws Exception {
    JSONObject state = state();
    Records records = new Records(new MemoryStore(), StateJson.read(state.getString("file")));
    assertEquals(Vectors.strings(state.getJSONArray("totals_rows")),
        Tally.totals(state.getLong("totals_rid"), records).rows());
    assertEquals(state.getLong("since_batch"), Tally.totals(1, records).sinceBatch());
  }

  @Test
  void theReceiptsPrintedCopiesAreTheSimulators() throws Exception {
    JSONObject receipt = state().getJSONObject("receipt");
    Config config = new Config("SIM-000001", "SIM-MERCHANT-0001", Arrays.asList("82"),
        Arrays.asList("PayNow"), true, "POSBRIDGE SIMULATOR - NO REAL MONEY", "SGD");
    Receipt made = new Receipts(config).onLink(Vectors.strings(receipt.getJSONArray("fields")));
    assertEquals(Vectors.strings(receipt.getJSONArray("merchant_copy")), made.merchantCopy());
    assertEquals(Vectors.strings(receipt.getJSONArray("customer_copy")), made.customerCopy());
  }

  @Test
  void anOlderFileWithoutTheOptionalFieldsTakesTheirDefaults() throws Exception {
    Snapshot s = StateJson.read("{\"batch_number\": 0, \"payments\": [{\"ref\": \"a\", "
        + "\"amount\": 5, \"condition_code\": \"82\", \"status\": \"approved\", \"extra\": 1}]}");
    PaymentRecord p = s.payments().get(0);
    assertEquals("09", p.responseCode());
    assertEquals(0, p.period());
    assertEquals(Collections.emptyList(), p.voidReceipt());
    assertTrue(s.refunds().isEmpty() && s.batches().isEmpty());
  }

  @Test
  void aDamagedFileIsRefusedSayingWhere() {
    List<String> bad = Arrays.asList(
        "", "{", "[]", "{\"payments\": []}",
        "{\"batch_number\": 0, \"payments\": [{\"ref\": \"a\", \"amount\": 1.5, "
            + "\"condition_code\": \"82\"}]}",
        "{\"batch_number\": 0, \"payments\": [{\"ref\": 7, \"amount\": 1, "
            + "\"condition_code\": \"82\"}]}",
        "{\"batch_number\": 0, \"payments\": [], \"refunds\": [{\"ref\": \"a\"}]}",
        "{\"batch_number\": 0, \"payments\": [], \"batches\": {\"b\": []}}");
    for (String text : bad) {
      IOException e = assertThrows(IOException.class, () -> StateJson.read(text), text);
      assertTrue(!e.getMessage().isEmpty());
    }
    IOException where = assertThrows(IOException.class, () -> StateJson.read(
        "{\"batch_number\": 0, \"payments\": [{\"ref\": \"a\", \"amount\": \"1\", "
            + "\"condition_code\": \"82\"}]}"));
    assertEquals("payments[0].amount is not an integer", where.getMessage());
  }
}
