package dev.posbridge.terminal.demo;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The payment methods (condition codes) the demo knows, and {@code --condition-codes}: the
 * table and the rules of posbridge's {@code methods.py}.
 */
final class Methods {
  /** Every code posbridge knows, in the simulator's default order; all QR payments. */
  static final Map<String, String> KNOWN;

  static {
    Map<String, String> known = new LinkedHashMap<>();
    known.put("82", "PayNow");
    known.put("30", "Alipay");
    known.put("20", "WeChat Pay");
    known.put("50", "GrabPay");
    KNOWN = Collections.unmodifiableMap(known);
  }

  static final String DEFAULT_SPEC = "82=PayNow,30=Alipay,20=WeChat Pay,50=GrabPay";

  final List<String> codes;
  final List<String> names;

  private Methods(List<String> codes, List<String> names) {
    this.codes = Collections.unmodifiableList(codes);
    this.names = Collections.unmodifiableList(names);
  }

  static String nameOf(String code) {
    String name = KNOWN.get(code);
    return name == null ? "" : name;
  }

  static boolean isQr(String code) {
    return KNOWN.containsKey(code);
  }

  /**
   * {@code 82=PayNow,30,99=Visa QR}: codes with their names; a known code alone takes its
   * known name.
   *
   * @throws IllegalArgumentException saying what is wrong
   */
  static Methods parse(String spec) {
    List<String> codes = new ArrayList<>();
    List<String> names = new ArrayList<>();
    for (String raw : spec.split(",", -1)) {
      String item = raw.trim();
      if (item.isEmpty()) {
        continue;
      }
      int eq = item.indexOf('=');
      String code = (eq < 0 ? item : item.substring(0, eq)).trim();
      String name = eq < 0 ? "" : item.substring(eq + 1).trim();
      if (!code.matches("[0-9]{2}")) {
        throw new IllegalArgumentException(
            "condition code '" + code + "' is not two digits (in '" + item + "')");
      }
      if (eq >= 0 && name.isEmpty()) {
        throw new IllegalArgumentException(
            "condition code " + code + ": give a name after '=' or leave it out");
      }
      if (codes.contains(code)) {
        throw new IllegalArgumentException("condition code " + code + " is given twice");
      }
      codes.add(code);
      names.add(name.isEmpty() ? nameOf(code) : name);
    }
    if (codes.isEmpty()) {
      throw new IllegalArgumentException(
          "give at least one condition code, for example 82=PayNow");
    }
    return new Methods(codes, names);
  }

  /** {@code 82 PayNow, 30 Alipay}. */
  String describe() {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < codes.size(); i++) {
      if (i > 0) {
        out.append(", ");
      }
      out.append(codes.get(i));
      if (!names.get(i).isEmpty()) {
        out.append(' ').append(names.get(i));
      }
    }
    return out.toString();
  }
}
