package dev.posbridge.terminal.message;

/**
 * A heartbeat: no fields; its arrival is the sign of life (docs/link-protocol.md section 6).
 */
public final class Heartbeat extends Message {
  /** The kind on the wire. */
  public static final String KIND = "hb";

  /** A {@code hb} message. */
  public Heartbeat() {
  }

  @Override
  public String kind() {
    return KIND;
  }

  @Override
  void writeFields(JsonWriter out) {
  }

  static Heartbeat read(FieldReader in) throws RemoteProtocolException {
    return new Heartbeat();
  }
}
