package dev.posbridge.terminal.message;

import java.util.List;

/**
 * Writes a message as the host writes it: compact JSON, {@code "k"} first, then every field
 * in the order of the protocol's field tables (and of {@code messages.py}), defaults
 * included, non-ASCII as raw UTF-8, and strings escaped exactly as msgspec's JSON encoder
 * does, so that both ends produce the same bytes for the same message.
 *
 * <p>org.json is not used for writing: its JSONObject keeps no key order and escapes
 * differently ({@code /} and U+2028, for example).
 */
final class JsonWriter {
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private final StringBuilder out = new StringBuilder(128);

  void message(Message message) {
    out.append("{\"k\":");
    quote(message.kind());
    message.writeFields(this);
    out.append('}');
  }

  JsonWriter string(String name, String value) {
    name(name);
    quote(value);
    return this;
  }

  JsonWriter integer(String name, long value) {
    name(name);
    out.append(value);
    return this;
  }

  JsonWriter bool(String name, boolean value) {
    name(name);
    out.append(value);
    return this;
  }

  JsonWriter strings(String name, List<String> values) {
    name(name);
    out.append('[');
    for (int i = 0; i < values.size(); i++) {
      if (i > 0) {
        out.append(',');
      }
      quote(values.get(i));
    }
    out.append(']');
    return this;
  }

  JsonWriter message(String name, Message value) {
    name(name);
    message(value);
    return this;
  }

  /** The three receipt fields, which follow each other wherever a receipt rides. */
  JsonWriter receipt(Receipt receipt) {
    return strings("receipt", receipt.fields())
        .strings("merchant_copy", receipt.merchantCopy())
        .strings("customer_copy", receipt.customerCopy());
  }

  private void name(String name) {
    // Field names are ASCII identifiers: nothing to escape.
    out.append(",\"").append(name).append("\":");
  }

  private void quote(String value) {
    out.append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\f':
          out.append("\\f");
          break;
        case '\r':
          out.append("\\r");
          break;
        default:
          if (c < 0x20) {
            out.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xf]);
          } else {
            // Everything else raw, as msgspec writes it: '/', DEL, U+2028 and U+2029
            // included (the constructors refuse unpaired surrogates).
            out.append(c);
          }
      }
    }
    out.append('"');
  }

  @Override
  public String toString() {
    return out.toString();
  }
}
