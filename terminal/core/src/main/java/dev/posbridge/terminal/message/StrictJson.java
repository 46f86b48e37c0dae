package dev.posbridge.terminal.message;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A strict check of a payload's JSON syntax, before org.json parses it.
 *
 * <p>org.json is lenient, and Android's differently from the JVM's: it takes unquoted
 * strings, single quotes, comments, {@code =>} for {@code :}, {@code ;} for {@code ,},
 * trailing commas, hexadecimal and (on Android) octal numbers, {@code TRUE}, a byte-order
 * mark, and it recurses once per nesting level. The host refuses all of these, so a terminal
 * that took them would act on a payload the host calls invalid. This check accepts exactly
 * RFC 8259 JSON as msgspec (the host's parser) does, plus these rules, each one where the
 * two org.json would disagree or the host behaves in a way org.json cannot follow
 * (docs/link-protocol.md section 3, "What a receiver may refuse"):
 *
 * <ul>
 *   <li>at most {@value #MAX_DEPTH} levels of nesting, so that parsing cannot overflow the
 *       stack ({@code [[[[...} fits in a frame);
 *   <li>a key repeated in one object is refused (the JVM's org.json throws, Android's keeps
 *       the last; the host keeps the last after checking each);
 *   <li>an escaped surrogate must be a pair ({@code \ud83d\ude00}); the host refuses a lone
 *       one, org.json would make an invalid string of it.
 * </ul>
 *
 * <p>It also returns the text to parse, with numbers made so that both org.jsons read them
 * alike, each in place (padded with spaces, which JSON allows after a value):
 *
 * <ul>
 *   <li>{@code -0} becomes {@code 0}: the host and Android's org.json read the integer 0, the
 *       JVM's the float -0.0;
 *   <li>any other number that is not an integer of 64 bits ({@code 1.5}, {@code 1e400}, a
 *       30-digit integer) becomes {@code 0.0}: no field of the protocol can hold one (a
 *       float or a wider integer in an integer field is refused all the same), so it can only
 *       be in an ignored field, where the host takes any number, but Android's org.json
 *       refuses one that overflows a double and the JVM's makes a BigDecimal of it.
 * </ul>
 *
 * <p>The check is a loop with an explicit stack, so it cannot overflow either.
 */
final class StrictJson {
  /** Deeper than any message needs (three levels: data, m, a list). */
  static final int MAX_DEPTH = 64;

  private final String text;
  private final int length;
  private int pos;
  private int depth;
  private final boolean[] inObject = new boolean[MAX_DEPTH];
  private final List<Set<String>> keys = new ArrayList<>();
  private char[] normalized;

  private StrictJson(String text) {
    this.text = text;
    this.length = text.length();
  }

  /**
   * Checks {@code text}; returns what org.json should parse: {@code text}, or a copy with the
   * sign of each integer {@code -0} blanked.
   */
  static String check(String text) throws RemoteProtocolException {
    StrictJson check = new StrictJson(text);
    check.run();
    return check.normalized == null ? text : new String(check.normalized);
  }

  private void run() throws RemoteProtocolException {
    skipWhitespace();
    value:
    while (true) {
      // A value starts here.
      char c = peek("a value");
      if (c == '{' || c == '[') {
        open(c == '{');
        skipWhitespace();
        if (peek("a value or the end of the " + container()) == (c == '{' ? '}' : ']')) {
          pos++;
          close();
        } else {
          if (c == '{') {
            key();
          }
          continue;
        }
      } else if (c == '"') {
        string(null);
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        number();
      } else {
        literal();
      }
      // A value ended: what follows it?
      while (true) {
        skipWhitespace();
        if (depth == 0) {
          if (pos < length) {
            throw malformed("trailing characters after the value");
          }
          return;
        }
        boolean object = inObject[depth - 1];
        char d = peek(object ? "',' or '}'" : "',' or ']'");
        pos++;
        if (d == ',') {
          skipWhitespace();
          if (object) {
            key();
          }
          continue value;
        }
        if (d != (object ? '}' : ']')) {
          pos--;
          throw malformed("expected " + (object ? "',' or '}'" : "',' or ']'"));
        }
        close();
      }
    }
  }

  private String container() {
    return inObject[depth - 1] ? "object" : "array";
  }

  private void open(boolean object) throws RemoteProtocolException {
    if (depth == MAX_DEPTH) {
      throw malformed("nested deeper than " + MAX_DEPTH + " levels");
    }
    inObject[depth++] = object;
    keys.add(object ? new HashSet<String>() : null);
    pos++;
  }

  private void close() {
    depth--;
    keys.remove(keys.size() - 1);
  }

  /** A member's key, its colon and the whitespace before its value. */
  private void key() throws RemoteProtocolException {
    if (peek("a key") != '"') {
      throw malformed("object keys must be strings");
    }
    int start = pos;
    StringBuilder key = new StringBuilder();
    string(key);
    if (!keys.get(depth - 1).add(key.toString())) {
      pos = start;
      throw malformed("the key \"" + key + "\" appears twice in one object");
    }
    skipWhitespace();
    if (peek("':'") != ':') {
      throw malformed("expected ':'");
    }
    pos++;
    skipWhitespace();
  }

  /** A string; its decoded characters go to {@code out} when it is not null. */
  private void string(StringBuilder out) throws RemoteProtocolException {
    pos++; // the opening quote
    while (true) {
      char c = peek("the end of the string");
      pos++;
      if (c == '"') {
        return;
      }
      if (c < 0x20) {
        pos--;
        throw malformed("a control character in a string");
      }
      if (c != '\\') {
        if (out != null) {
          out.append(c);
        }
        continue;
      }
      char e = peek("an escape");
      pos++;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          append(out, e);
          break;
        case 'b':
          append(out, '\b');
          break;
        case 'f':
          append(out, '\f');
          break;
        case 'n':
          append(out, '\n');
          break;
        case 'r':
          append(out, '\r');
          break;
        case 't':
          append(out, '\t');
          break;
        case 'u':
          char u = hex4();
          if (Character.isHighSurrogate(u)) {
            if (pos + 1 >= length || text.charAt(pos) != '\\' || text.charAt(pos + 1) != 'u') {
              throw malformed("an escaped surrogate that is not followed by its pair");
            }
            pos += 2;
            char low = hex4();
            if (!Character.isLowSurrogate(low)) {
              throw malformed("an escaped surrogate that is not followed by its pair");
            }
            append(out, u);
            append(out, low);
          } else if (Character.isLowSurrogate(u)) {
            throw malformed("an escaped low surrogate without its pair");
          } else {
            append(out, u);
          }
          break;
        default:
          pos--;
          throw malformed("an invalid escape");
      }
    }
  }

  private static void append(StringBuilder out, char c) {
    if (out != null) {
      out.append(c);
    }
  }

  private char hex4() throws RemoteProtocolException {
    int value = 0;
    for (int i = 0; i < 4; i++) {
      char c = peek("four hex digits");
      int digit = Character.digit(c, 16);
      if (digit < 0 || c > 'f') { // Character.digit takes non-ASCII digits too
        throw malformed("an invalid \\u escape");
      }
      value = value * 16 + digit;
      pos++;
    }
    return (char) value;
  }

  private void number() throws RemoteProtocolException {
    int start = pos;
    if (text.charAt(pos) == '-') {
      pos++;
    }
    char c = peek("a digit");
    if (c == '0') {
      pos++;
    } else if (c >= '1' && c <= '9') {
      digits();
    } else {
      throw malformed("an invalid number");
    }
    boolean integer = true;
    if (pos < length && text.charAt(pos) == '.') {
      pos++;
      requireDigit();
      digits();
      integer = false;
    }
    if (pos < length && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
      pos++;
      if (pos < length && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) {
        pos++;
      }
      requireDigit();
      digits();
      integer = false;
    }
    if (pos < length && (isDigitOrLetter(text.charAt(pos)) || text.charAt(pos) == '.')) {
      throw malformed("an invalid number"); // "01", "1.2.3", "1x"
    }
    if (integer && pos - start == 2 && text.charAt(start) == '-' && text.charAt(start + 1) == '0') {
      replace(start, " 0");
    } else if (!integer || !fitsInLong(start, pos)) {
      replace(start, "0.0"); // a float token is at least three characters long
    }
  }

  private boolean fitsInLong(int start, int end) {
    if (end - start < 19) {
      return true;
    }
    try {
      Long.parseLong(text.substring(start, end));
      return true;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  /** Writes {@code with} over the number at {@code start}, spaces over the rest of it. */
  private void replace(int start, String with) {
    if (normalized == null) {
      normalized = text.toCharArray();
    }
    for (int i = start; i < pos; i++) {
      int at = i - start;
      normalized[i] = at < with.length() ? with.charAt(at) : ' ';
    }
  }

  private static boolean isDigitOrLetter(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  private void requireDigit() throws RemoteProtocolException {
    char c = peek("a digit");
    if (c < '0' || c > '9') {
      throw malformed("an invalid number");
    }
  }

  private void digits() {
    while (pos < length && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') {
      pos++;
    }
  }

  private void literal() throws RemoteProtocolException {
    for (String word : new String[] {"true", "false", "null"}) {
      if (text.startsWith(word, pos)) {
        pos += word.length();
        if (pos < length && isDigitOrLetter(text.charAt(pos))) {
          throw malformed("an invalid literal");
        }
        return;
      }
    }
    throw malformed("an invalid character");
  }

  private void skipWhitespace() {
    while (pos < length) {
      char c = text.charAt(pos);
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        return;
      }
      pos++;
    }
  }

  private char peek(String expected) throws RemoteProtocolException {
    if (pos >= length) {
      throw malformed("truncated: expected " + expected);
    }
    return text.charAt(pos);
  }

  private RemoteProtocolException malformed(String what) {
    return new RemoteProtocolException("JSON is malformed at character " + pos + ": " + what);
  }
}
