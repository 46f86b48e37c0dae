package dev.posbridge.terminal.message;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Checks of the values the messages' constructors take. */
final class Values {
  private Values() {}

  /**
   * A string field: not null, and valid Unicode, so that it can be written as UTF-8 (a Java
   * string may hold an unpaired surrogate; the peer would refuse the payload).
   */
  static String text(String value, String name) {
    if (value == null) {
      throw new NullPointerException(name + " == null");
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (Character.isHighSurrogate(c)
          && i + 1 < value.length()
          && Character.isLowSurrogate(value.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw new IllegalArgumentException(
            name + " has an unpaired surrogate at index " + i + ": not valid Unicode");
      }
    }
    return value;
  }

  /** A list-of-strings field: an unmodifiable copy whose elements pass {@link #text}. */
  static List<String> texts(List<String> values, String name) {
    if (values == null) {
      throw new NullPointerException(name + " == null");
    }
    List<String> copy = new ArrayList<>(values.size());
    for (int i = 0; i < values.size(); i++) {
      copy.add(text(values.get(i), name + "[" + i + "]"));
    }
    return Collections.unmodifiableList(copy);
  }

  static <T> T notNull(T value, String name) {
    if (value == null) {
      throw new NullPointerException(name + " == null");
    }
    return value;
  }
}
