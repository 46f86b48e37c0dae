package dev.posbridge.terminal.message;

/**
 * One message of the posbridge link: a frame's payload, a compact JSON object tagged with
 * its kind in {@code "k"} (docs/link-protocol.md section 3).
 *
 * <p>Messages are immutable values. Two messages are equal when they are of the same kind
 * with the same fields, and {@link #toString()} is the message's JSON payload as
 * {@link MessageCodec#encode} writes it.
 */
public abstract class Message {
  // The JSON text, made on first use (a benign race, like String's hash).
  private String json;

  Message() {
    // Only this package's kinds: the set of messages is closed.
  }

  /** The message's kind, its {@code "k"} on the wire. */
  public abstract String kind();

  /** Writes every field but {@code "k"}, in the order the wire has them. */
  abstract void writeFields(JsonWriter out);

  final String json() {
    String result = json;
    if (result == null) {
      JsonWriter writer = new JsonWriter();
      writer.message(this);
      result = writer.toString();
      json = result;
    }
    return result;
  }

  @Override
  public final boolean equals(Object other) {
    return other instanceof Message
        && other.getClass() == getClass()
        && ((Message) other).json().equals(json());
  }

  @Override
  public final int hashCode() {
    return json().hashCode();
  }

  /** The message as its JSON payload, for example {@code {"k":"ack","seq":1}}. */
  @Override
  public final String toString() {
    return json();
  }
}
