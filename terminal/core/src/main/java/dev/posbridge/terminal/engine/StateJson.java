package dev.posbridge.terminal.engine;

import java.io.IOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;
import org.json.JSONTokener;

/**
 * The records as the JSON of {@code posbridge simulator --state FILE}
 * (src/posbridge/simulator/model.py, documented in docs/simulator.md, "The state file"), so
 * that the project's tools read a Java terminal's file as they read the simulator's, and
 * either terminal can start on the other's file.
 *
 * <pre>
 * {"batch_number": 1,
 *  "payments": [{"ref", "amount", "condition_code", "status", "response_code",
 *                "transaction_id", "batch_number", "started_at", "receipt", "void_receipt",
 *                "period"}, ...],
 *  "batches": {"BATCH_ID": {"batch_number", "count", "total", "refs"}, ...},
 *  "refunds": [{"refund_ref", "ref", "amount", "status", "transaction_id", "receipt",
 *               "period"}, ...]}
 * </pre>
 *
 * Written as Python's {@code json.dumps(..., indent=1)} writes it (non-ASCII as {@code \\u}
 * escapes); read leniently where Python is (a missing optional field takes its default, an
 * unknown one is ignored) and strictly on types.
 */
final class StateJson {
  private StateJson() {}

  // -- writing -------------------------------------------------------------------------------

  static String write(Snapshot s) {
    StringBuilder out = new StringBuilder(256 + 400 * s.payments().size());
    out.append("{\n \"batch_number\": ").append(s.batchNumber()).append(",\n \"payments\": ");
    if (s.payments().isEmpty()) {
      out.append("[]");
    } else {
      out.append('[');
      String sep = "\n  ";
      for (PaymentRecord p : s.payments()) {
        out.append(sep);
        sep = ",\n  ";
        out.append("{\n   \"ref\": ");
        string(out, p.ref());
        out.append(",\n   \"amount\": ").append(p.amount());
        out.append(",\n   \"condition_code\": ");
        string(out, p.conditionCode());
        out.append(",\n   \"status\": ");
        string(out, p.status());
        out.append(",\n   \"response_code\": ");
        string(out, p.responseCode());
        out.append(",\n   \"transaction_id\": ");
        string(out, p.transactionId());
        out.append(",\n   \"batch_number\": ").append(p.batchNumber());
        out.append(",\n   \"started_at\": ").append(number(p.startedAt()));
        out.append(",\n   \"receipt\": ");
        strings(out, p.receipt(), "   ");
        out.append(",\n   \"void_receipt\": ");
        strings(out, p.voidReceipt(), "   ");
        out.append(",\n   \"period\": ").append(p.period()).append("\n  }");
      }
      out.append("\n ]");
    }
    out.append(",\n \"batches\": ");
    if (s.batches().isEmpty()) {
      out.append("{}");
    } else {
      out.append('{');
      String sep = "\n  ";
      for (BatchRecord b : s.batches()) {
        out.append(sep);
        sep = ",\n  ";
        string(out, b.batchId());
        out.append(": {\n   \"batch_number\": ").append(b.batchNumber());
        out.append(",\n   \"count\": ").append(b.count());
        out.append(",\n   \"total\": ").append(b.total());
        out.append(",\n   \"refs\": ");
        strings(out, b.refs(), "   ");
        out.append("\n  }");
      }
      out.append("\n }");
    }
    out.append(",\n \"refunds\": ");
    if (s.refunds().isEmpty()) {
      out.append("[]");
    } else {
      out.append('[');
      String sep = "\n  ";
      for (RefundRecord r : s.refunds()) {
        out.append(sep);
        sep = ",\n  ";
        out.append("{\n   \"refund_ref\": ");
        string(out, r.refundRef());
        out.append(",\n   \"ref\": ");
        string(out, r.ref());
        out.append(",\n   \"amount\": ").append(r.amount());
        out.append(",\n   \"status\": ");
        string(out, r.status());
        out.append(",\n   \"transaction_id\": ");
        string(out, r.transactionId());
        out.append(",\n   \"receipt\": ");
        strings(out, r.receipt(), "   ");
        out.append(",\n   \"period\": ").append(r.period()).append("\n  }");
      }
      out.append("\n ]");
    }
    return out.append("\n}").toString();
  }

  /** A double as Python writes a float: never an exponent for a time stamp, always a point. */
  private static String number(double value) {
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      return "0.0"; // not JSON; a time stamp never is
    }
    String plain = BigDecimal.valueOf(value).toPlainString();
    return plain.indexOf('.') < 0 ? plain + ".0" : plain;
  }

  private static void strings(StringBuilder out, List<String> values, String indent) {
    if (values.isEmpty()) {
      out.append("[]");
      return;
    }
    out.append('[');
    String sep = "\n" + indent + " ";
    for (String value : values) {
      out.append(sep);
      sep = ",\n" + indent + " ";
      string(out, value);
    }
    out.append('\n').append(indent).append(']');
  }

  /** A JSON string as Python's json.dumps writes it (ensure_ascii). */
  static void string(StringBuilder out, String value) {
    out.append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\f':
          out.append("\\f");
          break;
        default:
          if (c < 0x20 || c > 0x7e) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
      }
    }
    out.append('"');
  }

  // -- reading -------------------------------------------------------------------------------

  static Snapshot read(String text) throws IOException {
    Object value;
    try {
      value = new JSONTokener(text).nextValue();
    } catch (Exception e) {
      // (Exception: Android's JSONException is checked, the JVM's is not.)
      throw new IOException("not JSON: " + e.getMessage());
    }
    if (!(value instanceof JSONObject)) {
      throw new IOException("not a JSON object");
    }
    JSONObject top = (JSONObject) value;
    long batchNumber = integer(top, "batch_number", null, "");
    List<PaymentRecord> payments = new ArrayList<>();
    JSONArray list = array(top, "payments", true, "");
    for (int i = 0; i < list.length(); i++) {
      JSONObject p = object(list.opt(i), "payments[" + i + "]");
      String at = "payments[" + i + "].";
      payments.add(new PaymentRecord(
          string(p, "ref", null, at),
          integer(p, "amount", null, at),
          string(p, "condition_code", null, at),
          string(p, "status", PaymentRecord.PENDING, at),
          string(p, "response_code", "09", at),
          string(p, "transaction_id", "", at),
          integer(p, "batch_number", 0L, at),
          decimal(p, "started_at", at),
          strings(p, "receipt", at),
          strings(p, "void_receipt", at),
          integer(p, "period", 0L, at)));
    }
    List<BatchRecord> batches = new ArrayList<>();
    Object rawBatches = top.opt("batches");
    if (rawBatches != null) {
      JSONObject map = object(rawBatches, "batches");
      // names(), not keys(): Android's keys() is a raw Iterator.
      JSONArray names = map.names();
      List<String> ids = new ArrayList<>();
      for (int i = 0; names != null && i < names.length(); i++) {
        ids.add(names.optString(i));
      }
      // org.json forgets the file's order; a batch's number gives it back.
      List<BatchRecord> unordered = new ArrayList<>();
      for (String id : ids) {
        String at = "batches." + id + ".";
        JSONObject b = object(map.opt(id), "batches." + id);
        unordered.add(new BatchRecord(id, integer(b, "batch_number", null, at),
            integer(b, "count", null, at), integer(b, "total", null, at),
            strings(b, "refs", at)));
      }
      Collections.sort(unordered, (x, y) -> Long.compare(x.batchNumber(), y.batchNumber()));
      batches.addAll(unordered);
    }
    List<RefundRecord> refunds = new ArrayList<>();
    JSONArray rlist = array(top, "refunds", false, "");
    for (int i = 0; rlist != null && i < rlist.length(); i++) {
      JSONObject r = object(rlist.opt(i), "refunds[" + i + "]");
      String at = "refunds[" + i + "].";
      refunds.add(new RefundRecord(
          string(r, "refund_ref", null, at),
          string(r, "ref", null, at),
          integer(r, "amount", null, at),
          string(r, "status", PaymentRecord.APPROVED, at),
          string(r, "transaction_id", "", at),
          strings(r, "receipt", at),
          integer(r, "period", 0L, at)));
    }
    return new Snapshot(batchNumber, payments, refunds, batches);
  }

  private static JSONObject object(Object value, String where) throws IOException {
    if (!(value instanceof JSONObject)) {
      throw new IOException(where + " is not an object");
    }
    return (JSONObject) value;
  }

  private static JSONArray array(JSONObject o, String name, boolean required, String at)
      throws IOException {
    Object value = o.opt(name);
    if (value == null && !required) {
      return null;
    }
    if (!(value instanceof JSONArray)) {
      throw new IOException(at + name + (value == null ? " is missing" : " is not a list"));
    }
    return (JSONArray) value;
  }

  private static String string(JSONObject o, String name, String absent, String at)
      throws IOException {
    Object value = o.opt(name);
    if (value == null && absent != null) {
      return absent;
    }
    if (!(value instanceof String)) {
      throw new IOException(at + name + (value == null ? " is missing" : " is not a string"));
    }
    return (String) value;
  }

  private static long integer(JSONObject o, String name, Long absent, String at)
      throws IOException {
    Object value = o.opt(name);
    if (value == null && absent != null) {
      return absent;
    }
    if (!(value instanceof Integer || value instanceof Long)) {
      throw new IOException(at + name + (value == null ? " is missing" : " is not an integer"));
    }
    return ((Number) value).longValue();
  }

  private static double decimal(JSONObject o, String name, String at) throws IOException {
    Object value = o.opt(name);
    if (value == null) {
      return 0.0;
    }
    if (!(value instanceof Number)) {
      throw new IOException(at + name + " is not a number");
    }
    return ((Number) value).doubleValue();
  }

  private static List<String> strings(JSONObject o, String name, String at) throws IOException {
    JSONArray array = array(o, name, false, at);
    if (array == null) {
      return Collections.emptyList();
    }
    List<String> out = new ArrayList<>(array.length());
    for (int i = 0; i < array.length(); i++) {
      Object item = array.opt(i);
      if (!(item instanceof String)) {
        throw new IOException(at + name + "[" + i + "] is not a string");
      }
      out.add((String) item);
    }
    return out;
  }
}
