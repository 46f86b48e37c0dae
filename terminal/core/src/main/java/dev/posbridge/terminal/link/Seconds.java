package dev.posbridge.terminal.link;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;

/**
 * Seconds in a reason, as the host writes them (Python's {@code format(x, "g")}: six
 * significant digits, no trailing zeros), so that both ends explain a LinkDown in the same
 * words: {@code 2.0} is {@code "2"}, {@code 0.3} is {@code "0.3"}.
 */
final class Seconds {
  private static final MathContext SIX_DIGITS = new MathContext(6, RoundingMode.HALF_EVEN);

  private Seconds() {}

  static String format(double seconds) {
    if (seconds == 0 || Double.isNaN(seconds) || Double.isInfinite(seconds)) {
      return seconds == 0 ? "0" : String.valueOf(seconds);
    }
    BigDecimal rounded = new BigDecimal(seconds).round(SIX_DIGITS);
    int exponent = rounded.precision() - rounded.scale() - 1;
    if (exponent < -4 || exponent >= 6) {
      String mantissa = rounded.movePointLeft(exponent).stripTrailingZeros().toPlainString();
      int magnitude = Math.abs(exponent);
      return mantissa + (exponent < 0 ? "e-" : "e+") + (magnitude < 10 ? "0" : "") + magnitude;
    }
    return rounded.stripTrailingZeros().toPlainString();
  }
}
