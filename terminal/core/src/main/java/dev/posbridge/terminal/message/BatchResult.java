package dev.posbridge.terminal.message;

import java.util.List;

/** The answer to a {@code batch} or a {@code batch_query} (terminal to host). */
public final class BatchResult extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "batch_result";

  private final long rid;
  private final long batchNumber;
  private final long count;
  private final long total;
  private final List<String> refs;
  private final String batchId;
  private final boolean found;

  /** A {@code batch_result} message. */
  public BatchResult(
      long rid,
      long batchNumber,
      long count,
      long total,
      List<String> refs,
      String batchId,
      boolean found) {
    this.rid = rid;
    this.batchNumber = batchNumber;
    this.count = count;
    this.total = total;
    this.refs = Values.texts(refs, "refs");
    this.batchId = Values.text(batchId, "batch_id");
    this.found = found;
  }

  /** The request's {@code rid}. */
  public long rid() {
    return rid;
  }

  /** The number of this batch. */
  public long batchNumber() {
    return batchNumber;
  }

  /** How many payments this batch settled. */
  public long count() {
    return count;
  }

  /** Their total in minor units. */
  public long total() {
    return total;
  }

  /** The references of the payments this batch settled (default {@code []}). */
  public List<String> refs() {
    return refs;
  }

  /** The host's id of the batch (default {@code ""}). */
  public String batchId() {
    return batchId;
  }

  /**
   * False: the answer to a {@code batch_query} for a batch the terminal never received (default
   * {@code true}).
   */
  public boolean found() {
    return found;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.integer("rid", rid)
        .integer("batch_number", batchNumber)
        .integer("count", count)
        .integer("total", total)
        .strings("refs", refs)
        .string("batch_id", batchId)
        .bool("found", found);
  }

  static BatchResult read(FieldReader in) throws RemoteProtocolException {
    return new BatchResult(
        in.integer("rid"),
        in.integer("batch_number"),
        in.integer("count"),
        in.integer("total"),
        in.strings("refs"),
        in.string("batch_id", ""),
        in.bool("found", true));
  }
}
