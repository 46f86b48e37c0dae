package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.message.TotalsResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The terminal's totals since its last batch, for the host's X report (the {@code totals}
 * request): the rules of posbridge's {@code reports.tally} and {@code encode_lines}, over
 * the terminal's own records.
 *
 * <p>The period: every payment made since the last batch, in its current status, plus any
 * approved payment not settled yet; every refund made since the last batch. One row per
 * kind, condition code and status, {@code kind:condition_code:status:count:total}, sorted by
 * kind, then code, then status.
 */
final class Tally {
  private Tally() {}

  static TotalsResult totals(long rid, Records records) {
    long batch = records.batchNumber();
    // Sorted as Python sorts tuples of str: by code point (the keys are ASCII here).
    Map<String, long[]> sums = new TreeMap<>();
    Map<String, String> codes = new TreeMap<>();
    for (PaymentRecord p : records.payments()) {
      codes.put(p.ref(), p.conditionCode());
      boolean unsettled = PaymentRecord.APPROVED.equals(p.status()) && p.batchNumber() == 0;
      if (p.period() == batch || unsettled) {
        add(sums, "payment", p.conditionCode(), p.status(), p.amount());
      }
    }
    for (RefundRecord r : records.refunds()) {
      if (r.period() == batch) {
        String code = codes.get(r.ref());
        add(sums, "refund", code == null ? "" : code, r.status(), r.amount());
      }
    }
    List<String> rows = new ArrayList<>();
    for (Map.Entry<String, long[]> e : sums.entrySet()) {
      rows.add(e.getKey().replace('\u0000', ':') + ":" + e.getValue()[0] + ":"
          + e.getValue()[1]);
    }
    return new TotalsResult(rid, batch, rows);
  }

  private static void add(Map<String, long[]> sums, String kind, String code, String status,
      long amount) {
    // NUL sorts before every character, so "a\0b" orders as the tuple ("a", "b").
    long[] sum = sums.computeIfAbsent(kind + '\u0000' + code + '\u0000' + status,
        k -> new long[2]);
    sum[0]++;
    sum[1] += amount;
  }
}
