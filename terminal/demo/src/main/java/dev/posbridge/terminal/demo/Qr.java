package dev.posbridge.terminal.demo;

import java.nio.charset.StandardCharsets;

/**
 * The QR code the demo terminal shows the customer, the same text as posbridge's simulator
 * (src/posbridge/simulator/qr.py; spec/vectors/terminal.json holds the cases both check):
 * for PayNow an EMVCo merchant-presented (SGQR/PayNow) payload for a made-up merchant; for
 * Alipay, WeChat Pay and GrabPay a plainly-not-real URL under {@code .invalid}.
 */
final class Qr {
  static final String PAYNOW = "82";
  /** A UEN-shaped value that no company has (the T, the year 00 and "SI" mark it made up). */
  static final String SIM_UEN = "T00SI0001X";
  static final String SIM_MERCHANT = "POSBRIDGE SIMULATOR";
  static final String SIM_CITY = "Singapore";
  static final String FAKE_HOST = "https://simulator.posbridge.invalid/pay";
  static final int MAX_BILL = 25;

  private Qr() {}

  /** The QR payload for a sale, or null for a method that is not a QR one. */
  static String payload(String conditionCode, long amount, String ref) {
    if (PAYNOW.equals(conditionCode)) {
      return paynow(amount, ref);
    }
    if (Methods.isQr(conditionCode)) {
      return fake(conditionCode, amount, ref);
    }
    return null;
  }

  /**
   * A dynamic, non-editable SGQR/PayNow payload: TLV data objects (two-digit tag, two-digit
   * length, value), ending in tag 63, the CRC-16/CCITT-FALSE of everything before it and
   * "6304", in four uppercase hex digits.
   */
  static String paynow(long amount, String ref) {
    String account = tlv("00", "SG.PAYNOW") + tlv("01", "2") + tlv("02", SIM_UEN)
        + tlv("03", "0");
    String bill = emvText(ref);
    if (bill.length() > MAX_BILL) {
      bill = bill.substring(0, MAX_BILL);
    }
    if (bill.isEmpty()) {
      bill = "-";
    }
    String body = tlv("00", "01") + tlv("01", "12") + tlv("26", account) + tlv("52", "0000")
        + tlv("53", "702") + tlv("54", money(amount)) + tlv("58", "SG")
        + tlv("59", SIM_MERCHANT) + tlv("60", SIM_CITY) + tlv("62", tlv("01", bill)) + "6304";
    return body + String.format("%04X", crc16(body.getBytes(StandardCharsets.UTF_8)));
  }

  static String fake(String code, long amount, String ref) {
    String name = Methods.nameOf(code);
    if (name.isEmpty()) {
      name = "method-" + code;
    }
    StringBuilder slug = new StringBuilder();
    name.toLowerCase(java.util.Locale.ROOT).codePoints()
        .filter(Character::isLetterOrDigit).forEach(slug::appendCodePoint);
    return FAKE_HOST + "/" + slug + "?cc=" + code + "&amount=" + money(amount)
        + "&currency=SGD&ref=" + quote(ref) + "&note=posbridge-simulator-not-a-real-payment";
  }

  static String tlv(String tag, String value) {
    if (value.isEmpty() || value.length() > 99) {
      throw new IllegalArgumentException("EMVCo tag " + tag + ": value of " + value.length()
          + " characters (1 to 99)");
    }
    return tag + String.format("%02d", value.length()) + value;
  }

  /** CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, not reflected, no final XOR. */
  static int crc16(byte[] data) {
    int crc = 0xFFFF;
    for (byte b : data) {
      crc ^= (b & 0xFF) << 8;
      for (int i = 0; i < 8; i++) {
        crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
      }
      crc &= 0xFFFF;
    }
    return crc;
  }

  /** Printable ASCII only: any other character (a code point) becomes '?'. */
  static String emvText(String text) {
    StringBuilder out = new StringBuilder();
    text.codePoints().forEach(c -> out.append(c >= 0x20 && c <= 0x7e ? (char) c : '?'));
    return out.toString();
  }

  /** Python's {@code urllib.parse.quote(text, safe='')}: UTF-8, all but A-Za-z0-9_.-~ escaped. */
  static String quote(String text) {
    StringBuilder out = new StringBuilder();
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xFF;
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
          || c == '_' || c == '.' || c == '-' || c == '~') {
        out.append((char) c);
      } else {
        out.append('%').append(String.format("%02X", c));
      }
    }
    return out.toString();
  }

  static String money(long minor) {
    return (minor / 100) + "." + String.format("%02d", minor % 100);
  }
}
