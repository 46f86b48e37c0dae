package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.message.AppMessage;
import dev.posbridge.terminal.message.Data;
import dev.posbridge.terminal.message.MessageCodec;
import dev.posbridge.terminal.message.PaymentResult;
import dev.posbridge.terminal.message.QueryResult;
import dev.posbridge.terminal.message.Receipt;
import dev.posbridge.terminal.message.RefundResult;
import dev.posbridge.terminal.message.Reply;
import dev.posbridge.terminal.wire.Frames;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TimeZone;

/**
 * Receipts (docs/link-protocol.md, "Receipts on the link"): the fields the terminal records
 * for a payment, void or refund, and the printable copies made from them, laid out as the
 * simulator lays them out.
 */
final class Receipts {
  private final Config config;

  Receipts(Config config) {
    this.config = config;
  }

  /**
   * A receipt's fields: the terminal's ({@code kind}, {@code method}, {@code transaction_id},
   * {@code terminal_id}, {@code merchant_id}, {@code time}, {@code amount}, {@code status}),
   * then {@code extra}, each replacing the field of its key.
   */
  List<String> fields(String kind, String conditionCode, long amount, String status,
      String transactionId, long wallMillis, List<String> extra) {
    if (!config.receipts) {
      return new ArrayList<>();
    }
    Map<String, String> f = new LinkedHashMap<>();
    f.put("kind", kind);
    f.put("method", config.methodName(conditionCode));
    f.put("transaction_id", transactionId);
    f.put("terminal_id", config.serial);
    f.put("merchant_id", config.merchantId);
    f.put("time", isoTime(wallMillis));
    f.put("amount", Text.money(amount));
    f.put("status", status);
    for (String field : extra) {
      int eq = field.indexOf('=');
      f.put(field.substring(0, eq), field.substring(eq + 1));
    }
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, String> e : f.entrySet()) {
      out.add(e.getKey() + "=" + e.getValue());
    }
    return out;
  }

  /** The fields of {@code receipt} that a void or refund of its payment carries over. */
  static List<String> carried(List<String> receipt) {
    List<String> out = new ArrayList<>();
    for (String field : receipt) {
      if (field.startsWith("account=")) {
        out.add(field);
      }
    }
    return out;
  }

  /** The receipt on the link: the fields and both printable copies; none without fields. */
  Receipt onLink(List<String> fields) {
    if (fields.isEmpty()) {
      return Receipt.NONE;
    }
    Map<String, String> f = new LinkedHashMap<>();
    for (String field : fields) {
      int eq = field.indexOf('=');
      if (eq < 0) {
        f.put(field, "");
      } else {
        f.put(field.substring(0, eq), field.substring(eq + 1));
      }
    }
    String method = (get(f, "method") + " " + get(f, "account")).replaceAll("\\s+$", "");
    List<String> body = Arrays.asList(
        get(f, "kind").toUpperCase(Locale.ROOT) + " " + get(f, "status").toUpperCase(Locale.ROOT),
        "AMOUNT     " + config.currency + " " + get(f, "amount"),
        "METHOD     " + method,
        "TXN        " + get(f, "transaction_id"),
        "TID " + get(f, "terminal_id") + "  MID " + get(f, "merchant_id"),
        get(f, "time"));
    return new Receipt(fields, copy("MERCHANT COPY", body, "SIGNATURE NOT REQUIRED"),
        copy("CUSTOMER COPY", body, "THANK YOU"));
  }

  /**
   * {@code message}, or the same without its receipt when with it the message would not fit
   * in a frame (the app's receipt fields are copied into both printed copies): a receipt is
   * optional on the link, an answer is not. Null when it fits.
   */
  static AppMessage withoutReceiptIfTooLarge(AppMessage message) {
    if (MessageCodec.encode(new Data(Long.MAX_VALUE, message)).length <= Frames.MAX_PAYLOAD) {
      return null;
    }
    if (message instanceof PaymentResult) {
      PaymentResult m = (PaymentResult) message;
      return m.receipt().isEmpty() ? null
          : new PaymentResult(m.ref(), m.status(), m.responseCode(), m.transactionId());
    }
    if (message instanceof QueryResult) {
      QueryResult m = (QueryResult) message;
      return m.receipt().isEmpty() ? null
          : new QueryResult(m.rid(), m.ref(), m.found(), m.status(), m.responseCode(),
              m.transactionId(), m.amount(), m.conditionCode(), m.batchNumber());
    }
    if (message instanceof Reply) {
      Reply m = (Reply) message;
      return m.receipt().isEmpty() ? null
          : new Reply(m.rid(), m.ref(), m.accepted(), m.reason(), m.detail());
    }
    if (message instanceof RefundResult) {
      RefundResult m = (RefundResult) message;
      return m.receipt().isEmpty() ? null
          : new RefundResult(m.rid(), m.ref(), m.refundRef(), m.found(), m.amount(), m.status(),
              m.transactionId());
    }
    return null;
  }

  private List<String> copy(String title, List<String> body, String foot) {
    List<String> out = new ArrayList<>();
    if (!config.receiptHeader.isEmpty()) {
      out.add(config.receiptHeader);
    }
    out.add(title);
    out.addAll(body);
    out.add(foot);
    return out;
  }

  private static String get(Map<String, String> f, String key) {
    String value = f.get(key);
    return value == null ? "" : value;
  }

  static String isoTime(long wallMillis) {
    SimpleDateFormat format = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss'Z'", Locale.ROOT);
    format.setTimeZone(TimeZone.getTimeZone("UTC"));
    return format.format(new Date(wallMillis));
  }
}
