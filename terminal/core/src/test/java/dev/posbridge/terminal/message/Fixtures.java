package dev.posbridge.terminal.message;

import dev.posbridge.terminal.Vectors;
import java.util.List;
import org.json.JSONObject;

/**
 * Messages made from a vector's fields with their constructors: the encode vectors check the
 * writer without going through the decoder.
 */
final class Fixtures {
  private Fixtures() {}

  static Message fromFields(JSONObject f) throws Exception {
    switch (f.getString("k")) {
      case "hello":
        return new Hello.Builder()
            .role(f.getString("role"))
            .version(f.getLong("version"))
            .session(f.getString("session"))
            .serial(f.getString("serial"))
            .model(f.getString("model"))
            .appVersion(f.getString("app_version"))
            .conditionCodes(strings(f, "condition_codes"))
            .conditionCodeNames(strings(f, "condition_code_names"))
            .idleHeartbeatMs(f.getLong("idle_heartbeat_ms"))
            .build();
      case "ack":
        return new Ack(f.getLong("seq"));
      case "hb":
        return new Heartbeat();
      case "data":
        return new Data(f.getLong("seq"), (AppMessage) fromFields(f.getJSONObject("m")));
      case "sale":
        return new Sale(
            f.getLong("rid"), f.getString("ref"), f.getLong("amount"), f.getString("condition_code"));
      case "cancel":
        return new Cancel(f.getLong("rid"), f.getString("ref"));
      case "query":
        return new Query(f.getLong("rid"), f.getString("ref"));
      case "void":
        return new VoidPayment(f.getLong("rid"), f.getString("ref"));
      case "batch":
        return new Batch(f.getLong("rid"), f.getString("batch_id"));
      case "batch_query":
        return new BatchQuery(f.getLong("rid"), f.getString("batch_id"));
      case "refund":
        return new Refund(
            f.getLong("rid"), f.getString("ref"), f.getString("refund_ref"), f.getLong("amount"));
      case "refund_query":
        return new RefundQuery(f.getLong("rid"), f.getString("ref"), f.getString("refund_ref"));
      case "totals":
        return new Totals(f.getLong("rid"));
      case "reply":
        return new Reply(
            f.getLong("rid"),
            f.getString("ref"),
            f.getBoolean("accepted"),
            f.getString("reason"),
            f.getString("detail"),
            receipt(f));
      case "query_result":
        return new QueryResult(
            f.getLong("rid"),
            f.getString("ref"),
            f.getBoolean("found"),
            f.getString("status"),
            f.getString("response_code"),
            f.getString("transaction_id"),
            f.getLong("amount"),
            f.getString("condition_code"),
            f.getLong("batch_number"),
            receipt(f));
      case "batch_result":
        return new BatchResult(
            f.getLong("rid"),
            f.getLong("batch_number"),
            f.getLong("count"),
            f.getLong("total"),
            strings(f, "refs"),
            f.getString("batch_id"),
            f.getBoolean("found"));
      case "refund_result":
        return new RefundResult(
            f.getLong("rid"),
            f.getString("ref"),
            f.getString("refund_ref"),
            f.getBoolean("found"),
            f.getLong("amount"),
            f.getString("status"),
            f.getString("transaction_id"),
            receipt(f));
      case "totals_result":
        return new TotalsResult(f.getLong("rid"), f.getLong("since_batch"), strings(f, "rows"));
      case "result":
        return new PaymentResult(
            f.getString("ref"),
            f.getString("status"),
            f.getString("response_code"),
            f.getString("transaction_id"),
            receipt(f));
      case "progress":
        return new Progress(f.getString("ref"), f.getString("stage"), f.getString("qr_payload"));
      default:
        throw new AssertionError("no fixture for kind " + f.getString("k"));
    }
  }

  private static List<String> strings(JSONObject f, String name) throws Exception {
    return Vectors.strings(f.getJSONArray(name));
  }

  private static Receipt receipt(JSONObject f) throws Exception {
    return new Receipt(
        strings(f, "receipt"), strings(f, "merchant_copy"), strings(f, "customer_copy"));
  }
}
