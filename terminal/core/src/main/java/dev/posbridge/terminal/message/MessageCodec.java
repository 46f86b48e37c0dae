package dev.posbridge.terminal.message;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import org.json.JSONObject;
import org.json.JSONTokener;

/**
 * The payload codec: a message to the bytes of a frame's payload and back
 * (docs/link-protocol.md section 3).
 *
 * <p>{@link #encode} writes exactly the bytes the host (posbridge, in Python) writes for the
 * same message. {@link #decode} follows the host's rules: any valid JSON object, keys in any
 * order, unknown keys ignored, defaults for missing optional fields, strict types; anything
 * else is a {@link RemoteProtocolException}, never another exception.
 */
public final class MessageCodec {
  private MessageCodec() {}

  /** The message as a frame's payload: compact UTF-8 JSON, {@code "k"} first. */
  public static byte[] encode(Message message) {
    return message.json().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Decodes a frame's payload.
   *
   * @throws RemoteProtocolException if the payload is not valid UTF-8, not strict JSON, not
   *     an object, of an unknown kind, missing a required field or with a field of the wrong
   *     type, or a {@code data} whose {@code "m"} is a link-control message
   */
  public static Message decode(byte[] payload) throws RemoteProtocolException {
    String text = StrictJson.check(utf8(payload));
    Object value;
    try {
      value = new JSONTokener(text).nextValue();
    } catch (Exception e) {
      // Not expected after the strict check, but org.json's exceptions must not escape.
      // (Exception, not JSONException: Android's JSONException is checked, the JVM's not.)
      throw new RemoteProtocolException("payload is not JSON: " + e.getMessage());
    }
    if (!(value instanceof JSONObject)) {
      throw new RemoteProtocolException("payload is not a JSON object");
    }
    try {
      return read(new FieldReader((JSONObject) value, "$"));
    } catch (IllegalArgumentException e) {
      // A value a constructor refuses. Not expected (strict UTF-8 and the strict check leave
      // no unpaired surrogate), but the promise is: refused, never thrown.
      throw new RemoteProtocolException("payload has an invalid value: " + e.getMessage());
    }
  }

  private static Message read(FieldReader in) throws RemoteProtocolException {
    String kind = in.kind();
    switch (kind) {
      case Hello.KIND:
        return Hello.read(in);
      case Ack.KIND:
        return Ack.read(in);
      case Heartbeat.KIND:
        return Heartbeat.read(in);
      case Data.KIND:
        return Data.read(in);
      default:
        return readApp(in, kind);
    }
  }

  /** The application message in {@code in} (what a {@code data} carries). */
  static AppMessage readApp(FieldReader in) throws RemoteProtocolException {
    return readApp(in, in.kind());
  }

  private static AppMessage readApp(FieldReader in, String kind)
      throws RemoteProtocolException {
    switch (kind) {
      case Sale.KIND:
        return Sale.read(in);
      case Cancel.KIND:
        return Cancel.read(in);
      case Query.KIND:
        return Query.read(in);
      case VoidPayment.KIND:
        return VoidPayment.read(in);
      case Batch.KIND:
        return Batch.read(in);
      case BatchQuery.KIND:
        return BatchQuery.read(in);
      case Refund.KIND:
        return Refund.read(in);
      case RefundQuery.KIND:
        return RefundQuery.read(in);
      case Totals.KIND:
        return Totals.read(in);
      case Reply.KIND:
        return Reply.read(in);
      case QueryResult.KIND:
        return QueryResult.read(in);
      case BatchResult.KIND:
        return BatchResult.read(in);
      case RefundResult.KIND:
        return RefundResult.read(in);
      case TotalsResult.KIND:
        return TotalsResult.read(in);
      case PaymentResult.KIND:
        return PaymentResult.read(in);
      case Progress.KIND:
        return Progress.read(in);
      case Hello.KIND:
      case Ack.KIND:
      case Heartbeat.KIND:
      case Data.KIND:
        throw new RemoteProtocolException(
            "a link-control message (" + kind + ") cannot travel inside data");
      default:
        throw new RemoteProtocolException("unknown message kind \"" + kind + "\"");
    }
  }

  private static String utf8(byte[] payload) throws RemoteProtocolException {
    CharsetDecoder decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    try {
      return decoder.decode(ByteBuffer.wrap(payload)).toString();
    } catch (CharacterCodingException e) {
      throw new RemoteProtocolException("payload is not valid UTF-8");
    }
  }
}
