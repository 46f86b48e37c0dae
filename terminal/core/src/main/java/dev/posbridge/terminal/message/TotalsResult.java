package dev.posbridge.terminal.message;

import java.util.List;

/**
 * The answer to a {@code totals}: the terminal's totals since its last batch (terminal to host,
 * version 2).
 */
public final class TotalsResult extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "totals_result";

  private final long rid;
  private final long sinceBatch;
  private final List<String> rows;

  /** A {@code totals_result} message. */
  public TotalsResult(long rid, long sinceBatch, List<String> rows) {
    this.rid = rid;
    this.sinceBatch = sinceBatch;
    this.rows = Values.texts(rows, "rows");
  }

  /** The request's {@code rid}. */
  public long rid() {
    return rid;
  }

  /** The number of the terminal's last batch (0 before its first) (default {@code 0}). */
  public long sinceBatch() {
    return sinceBatch;
  }

  /**
   * One row per kind, condition code and status: {@code kind:condition_code:status:count:total}
   * (default {@code []}).
   */
  public List<String> rows() {
    return rows;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.integer("rid", rid)
        .integer("since_batch", sinceBatch)
        .strings("rows", rows);
  }

  static TotalsResult read(FieldReader in) throws RemoteProtocolException {
    return new TotalsResult(
        in.integer("rid"),
        in.integer("since_batch", 0),
        in.strings("rows"));
  }
}
