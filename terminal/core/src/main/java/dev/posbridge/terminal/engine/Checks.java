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
