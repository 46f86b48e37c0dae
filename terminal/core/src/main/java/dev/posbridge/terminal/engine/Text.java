package dev.posbridge.terminal.engine;

/** Text for log lines and messages. */
final class Text {
  private Text() {}

  /** Minor units as {@code 12.50} ({@code -0.05} below zero). */
  static String money(long minor) {
    String sign = minor < 0 ? "-" : "";
    long abs = Math.abs(minor);
    return sign + (abs / 100) + "." + (abs % 100 < 10 ? "0" : "") + (abs % 100);
  }

  /**
   * {@code text} safe for one log line: control characters, DEL, C1 controls and the line
   * and paragraph separators written as escapes, as posbridge's own log does.
   */
  static String escape(String text) {
    StringBuilder out = null;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      String escaped = null;
      if (c == '\t') {
        escaped = "\\t";
      } else if (c == '\n') {
        escaped = "\\n";
      } else if (c == '\r') {
        escaped = "\\r";
      } else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
        escaped = String.format("\\x%02x", (int) c);
      } else if (c == 0x2028 || c == 0x2029) {
        escaped = String.format("\\u%04x", (int) c);
      }
      if (escaped != null && out == null) {
        out = new StringBuilder(text.length() + 8).append(text, 0, i);
      }
      if (out != null) {
        if (escaped != null) {
          out.append(escaped);
        } else {
          out.append(c);
        }
      }
    }
    return out == null ? text : out.toString();
  }

  /**
   * {@code text} as valid Unicode: each unpaired surrogate (half of an emoji an acquirer's
   * SDK cut in two, say) becomes U+FFFD. Text from the app goes through this before it
   * reaches a message, whose constructor refuses what UTF-8 cannot carry: refusing there
   * would leave a void, a refund or a payment's answers stuck for ever.
   */
  static String unicode(String text) {
    char[] out = null;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < text.length()
          && Character.isLowSurrogate(text.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        if (out == null) {
          out = text.toCharArray();
        }
        out[i] = '\ufffd';
      }
    }
    return out == null ? text : new String(out);
  }

  /** A reference as the host must send it: 1 to 64 printable ASCII characters. */
  static boolean isReference(String ref) {
    if (ref.isEmpty() || ref.length() > 64) {
      return false;
    }
    for (int i = 0; i < ref.length(); i++) {
      char c = ref.charAt(i);
      if (c < 0x20 || c > 0x7e) {
        return false;
      }
    }
    return true;
  }
}
