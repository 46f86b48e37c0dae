package dev.posbridge.terminal.message;

/** Settle every approved, unsettled payment (host to terminal). */
public final class Batch extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "batch";

  private final long rid;
  private final String batchId;

  /** A {@code batch} message. */
  public Batch(long rid, String batchId) {
    this.rid = rid;
    this.batchId = Values.text(batchId, "batch_id");
  }

  /** The request id, copied into the answer. */
  public long rid() {
    return rid;
  }

  /** The host's id for this batch ({@code ""} from a version 1 host) (default {@code ""}). */
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

  static Batch read(FieldReader in) throws RemoteProtocolException {
    return new Batch(
        in.integer("rid"),
        in.string("batch_id", ""));
  }
}
