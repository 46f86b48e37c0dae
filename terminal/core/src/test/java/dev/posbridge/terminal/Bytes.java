package dev.posbridge.terminal;

import java.util.Arrays;
import java.util.List;

/** Byte arrays in tests: joined, cut and searched. */
public final class Bytes {
  private Bytes() {}

  public static byte[] concat(byte[]... parts) {
    return concat(Arrays.asList(parts));
  }

  public static byte[] concat(List<byte[]> parts) {
    int length = 0;
    for (byte[] part : parts) {
      length += part.length;
    }
    byte[] out = new byte[length];
    int at = 0;
    for (byte[] part : parts) {
      System.arraycopy(part, 0, out, at, part.length);
      at += part.length;
    }
    return out;
  }

  /** {@code data} with {@code remove} bytes at {@code at} replaced by {@code insert}. */
  public static byte[] splice(byte[] data, int at, int remove, byte[] insert) {
    byte[] out = new byte[data.length - remove + insert.length];
    System.arraycopy(data, 0, out, 0, at);
    System.arraycopy(insert, 0, out, at, insert.length);
    System.arraycopy(data, at + remove, out, at + insert.length, data.length - at - remove);
    return out;
  }

  public static boolean contains(byte[] data, byte[] part) {
    for (int i = 0; i + part.length <= data.length; i++) {
      if (Arrays.equals(Arrays.copyOfRange(data, i, i + part.length), part)) {
        return true;
      }
    }
    return false;
  }
}
