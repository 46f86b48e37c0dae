package dev.posbridge.terminal.message;

/** What is the state of payment {@code ref}? (host to terminal) */
public final class Query extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "query";

  private final long rid;
  private final String ref;

  /** A {@code query} message. */
  public Query(long rid, String ref) {
    this.rid = rid;
    this.ref = Values.text(ref, "ref");
  }

  /** The request id, copied into the answer. */
  public long rid() {
    return rid;
  }

  /** The payment asked about. */
  public String ref() {
    return ref;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.integer("rid", rid)
        .string("ref", ref);
  }

  static Query read(FieldReader in) throws RemoteProtocolException {
    return new Query(
        in.integer("rid"),
        in.string("ref"));
  }
}
