package dev.posbridge.terminal.message;

/**
 * What a pending payment shows the customer (terminal to host, version 2). It moves no money
 * and changes no status.
 */
public final class Progress extends AppMessage {
  /** The kind on the wire. */
  public static final String KIND = "progress";

  private final String ref;
  private final String stage;
  private final String qrPayload;

  /** A {@code progress} message. */
  public Progress(String ref, String stage, String qrPayload) {
    this.ref = Values.text(ref, "ref");
    this.stage = Values.text(stage, "stage");
    this.qrPayload = Values.text(qrPayload, "qr_payload");
  }

  /** The payment. */
  public String ref() {
    return ref;
  }

  /** {@code qr_shown} or {@code waiting_for_customer}. */
  public String stage() {
    return stage;
  }

  /** With {@code qr_shown}: the QR code's text (default {@code ""}). */
  public String qrPayload() {
    return qrPayload;
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
    out.string("ref", ref)
        .string("stage", stage)
        .string("qr_payload", qrPayload);
  }

  static Progress read(FieldReader in) throws RemoteProtocolException {
    return new Progress(
        in.string("ref"),
        in.string("stage"),
        in.string("qr_payload", ""));
  }
}
