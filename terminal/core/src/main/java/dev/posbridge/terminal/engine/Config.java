package dev.posbridge.terminal.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** What the engine needs to know of the terminal: its identity, methods and receipts. */
final class Config {
  final String serial;
  final String merchantId;
  final List<String> conditionCodes;
  final List<String> conditionCodeNames;
  final boolean receipts;
  final String receiptHeader;
  final String currency;

  Config(String serial, String merchantId, List<String> conditionCodes,
      List<String> conditionCodeNames, boolean receipts, String receiptHeader,
      String currency) {
    this.serial = serial;
    this.merchantId = merchantId;
    this.conditionCodes = Collections.unmodifiableList(new ArrayList<>(conditionCodes));
    this.conditionCodeNames = Collections.unmodifiableList(new ArrayList<>(conditionCodeNames));
    this.receipts = receipts;
    this.receiptHeader = receiptHeader;
    this.currency = currency;
  }

  /** The method's name, or its code when it has none. */
  String methodName(String code) {
    int i = conditionCodes.indexOf(code);
    if (i >= 0 && i < conditionCodeNames.size() && !conditionCodeNames.get(i).isEmpty()) {
      return conditionCodeNames.get(i);
    }
    return code;
  }

  /** {@code 82 PayNow, 30 Alipay}: the supported methods, for a refusal's detail. */
  String describeMethods() {
    StringBuilder out = new StringBuilder();
    for (String code : conditionCodes) {
      if (out.length() > 0) {
        out.append(", ");
      }
      String name = methodName(code);
      out.append(code);
      if (!name.equals(code)) {
        out.append(' ').append(name);
      }
    }
    return out.length() == 0 ? "none" : out.toString();
  }
}
