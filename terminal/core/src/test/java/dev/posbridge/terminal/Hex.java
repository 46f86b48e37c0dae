package dev.posbridge.terminal;

/** Hex strings in tests, as the vectors and the docs write bytes. */
public final class Hex {
  private Hex() {}

  public static byte[] decode(String hex) {
    String clean = hex.replace(" ", "");
    byte[] out = new byte[clean.length() / 2];
    for (int i = 0; i < out.length; i++) {
      out[i] = (byte) Integer.parseInt(clean.substring(2 * i, 2 * i + 2), 16);
    }
    return out;
  }

  public static String encode(byte[] bytes) {
    StringBuilder out = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) {
      out.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
    }
    return out.toString();
  }
}
