package dev.posbridge.terminal.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Checks of the values the public constructors take. */
final class Checks {
  private Checks() {}

  static <T> T notNull(T value, String name) {
    if (value == null) {
      throw new NullPointerException(name + " == null");
    }
    return value;
  }

  /**
   * A setting that goes into messages: not null and valid Unicode, refused here rather than
   * on every receipt that would carry it.
   */
  static String unicode(String value, String name) {
    if (!Text.unicode(notNull(value, name)).equals(value)) {
      throw new IllegalArgumentException(name + " has an unpaired surrogate: not valid Unicode");
    }
    return value;
  }

  /** An unmodifiable copy of a list with no null element. */
  static <T> List<T> copy(List<T> values, String name) {
    notNull(values, name);
    List<T> copy = new ArrayList<>(values.size());
    for (T value : values) {
      copy.add(notNull(value, name + " element"));
    }
    return Collections.unmodifiableList(copy);
  }
}
