package dev.posbridge.terminal.message;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;

/**
 * Reads the fields of one message from its parsed JSON object, with the protocol's rules:
 * unknown keys are ignored, a missing field with a default takes it, a missing required
 * field is an error, and types are strict (an integer is a JSON integer of at most 64 bits,
 * not a bool, not {@code 1.0}; a string is a JSON string, not {@code null}).
 *
 * <p>Only org.json API that Android's org.json also has is used here (the module
 * android-json-check compiles this package against Android's).
 */
final class FieldReader {
  private final JSONObject object;
  private final String where;

  FieldReader(JSONObject object, String where) {
    this.object = object;
    this.where = where;
  }

  /** The value of key {@code "k"}: what kind of message this is. */
  String kind() throws RemoteProtocolException {
    return string("k");
  }

  String string(String name) throws RemoteProtocolException {
    return stringValue(name, required(name));
  }

  String string(String name, String absent) throws RemoteProtocolException {
    Object value = object.opt(name);
    return value == null ? absent : stringValue(name, value);
  }

  long integer(String name) throws RemoteProtocolException {
    return integerValue(name, required(name));
  }

  long integer(String name, long absent) throws RemoteProtocolException {
    Object value = object.opt(name);
    return value == null ? absent : integerValue(name, value);
  }

  boolean bool(String name) throws RemoteProtocolException {
    return boolValue(name, required(name));
  }

  boolean bool(String name, boolean absent) throws RemoteProtocolException {
    Object value = object.opt(name);
    return value == null ? absent : boolValue(name, value);
  }

  /** A list of strings, empty when absent (every list field of the protocol has that default). */
  List<String> strings(String name) throws RemoteProtocolException {
    Object value = object.opt(name);
    if (value == null) {
      return Collections.emptyList();
    }
    if (!(value instanceof JSONArray)) {
      throw wrongType(name, "an array of strings", value);
    }
    JSONArray array = (JSONArray) value;
    List<String> out = new ArrayList<>(array.length());
    for (int i = 0; i < array.length(); i++) {
      Object item = array.opt(i);
      if (!(item instanceof String)) {
        throw wrongType(name + "[" + i + "]", "a string", item);
      }
      out.add((String) item);
    }
    return out;
  }

  Receipt receipt() throws RemoteProtocolException {
    return new Receipt(strings("receipt"), strings("merchant_copy"), strings("customer_copy"));
  }

  /** The application message in field {@code name} (the {@code "m"} of a {@code data}). */
  AppMessage appMessage(String name) throws RemoteProtocolException {
    Object value = required(name);
    if (!(value instanceof JSONObject)) {
      throw wrongType(name, "an object", value);
    }
    return MessageCodec.readApp(new FieldReader((JSONObject) value, where + "." + name));
  }

  private Object required(String name) throws RemoteProtocolException {
    Object value = object.opt(name);
    if (value == null) {
      throw new RemoteProtocolException("missing required field " + where + "." + name);
    }
    return value;
  }

  private String stringValue(String name, Object value) throws RemoteProtocolException {
    if (!(value instanceof String)) {
      throw wrongType(name, "a string", value);
    }
    return (String) value;
  }

  private long integerValue(String name, Object value) throws RemoteProtocolException {
    // Both org.jsons give Integer or Long for a JSON integer that fits in 64 bits; any other
    // number reaches them as 0.0 (StrictJson) and is a Double or a BigDecimal.
    if (!(value instanceof Integer || value instanceof Long)) {
      throw wrongType(name, "an integer of at most 64 bits", value);
    }
    return ((Number) value).longValue();
  }

  private boolean boolValue(String name, Object value) throws RemoteProtocolException {
    if (!(value instanceof Boolean)) {
      throw wrongType(name, "true or false", value);
    }
    return (Boolean) value;
  }

  private RemoteProtocolException wrongType(String name, String expected, Object value) {
    String got =
        value == JSONObject.NULL
            ? "null"
            : value instanceof String
                ? "a string"
                : value instanceof Boolean
                    ? "a bool"
                    : value instanceof Number
                        ? "a number that is not an integer of 64 bits"
                        : value instanceof JSONArray ? "an array" : "an object";
    return new RemoteProtocolException(
        where + "." + name + " must be " + expected + ", got " + got);
  }
}
