package dev.posbridge.terminal.message;

/** What became of the batch {@code batch_id}? (host to terminal, version 2) */
public final class BatchQuery extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "batch_query";

  private final long rid;
  private final String batchId;

  /** A {@code batch_query} message. */
  public BatchQuery(long rid, String batchId) {
    this.rid = rid;
    this.batchId = Values.text(batchId, "batch_id");
  }

  /** The request id, copied into the answer. */
  public long rid() {
    return rid;
  }

  /** The id the host gave the batch. */
  public String batchId() {
    return batchId;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.integer("rid", rid)
        .string("batch_id", batchId);
  }

  static BatchQuery read(FieldReader in) throws RemoteProtocolException {
    return new BatchQuery(
        in.integer("rid"),
        in.string("batch_id"));
  }
}
