package dev.posbridge.terminal.wire;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns a byte stream, fed in chunks of any size, into the payloads of its intact frames.
 *
 * <h2>Theory of operation</h2>
 *
 * The stream below (USB bulk transfers, a serial line, TCP) may split and join writes
 * anywhere, and may corrupt, drop or repeat bytes. The decoder keeps the bytes it has not
 * used yet and repeats (docs/link-protocol.md section 2, "Decoding and resynchronisation"):
 *
 * <ol>
 *   <li>Find the first {@code a5 5a}. Without one, discard everything but a final {@code a5}
 *       (its {@code 5a} may come in the next chunk) and wait; discard anything before it.
 *   <li>Wait for the 6 header bytes.
 *   <li>A length above {@link Frames#MAX_PAYLOAD} or a header CRC that fails means a false
 *       magic or a damaged header: discard one byte and search again.
 *   <li>Wait for the whole frame.
 *   <li>A payload CRC that fails: discard one byte and search again.
 *   <li>The frame is intact: remove it and hand its payload up.
 * </ol>
 *
 * The header CRC is what lets the decoder trust a length before waiting for that many bytes:
 * a corrupted length would otherwise make it sit on good frames. Discarding a single byte
 * after a failed check makes a damaged frame cost at most its own bytes: the search resumes
 * inside it and finds the next intact frame. Whatever the input, the decoder never throws;
 * garbage is skipped and counted in {@link #stats()}.
 *
 * <p>Not thread-safe: one decoder belongs to one reader.
 */
public final class FrameDecoder {
  private byte[] buffer = new byte[1024];
  private int start; // first unread byte
  private int end; // one past the last
  private long frames;
  private long bytesSkipped;
  private long badHeader;
  private long badCrc;

  /** Adds {@code data}; returns the payloads of every frame it completes, in order. */
  public List<byte[]> feed(byte[] data) {
    return feed(data, 0, data.length);
  }

  /** Adds {@code length} bytes of {@code data} from {@code offset}; see {@link #feed(byte[])}. */
  public List<byte[]> feed(byte[] data, int offset, int length) {
    if (offset < 0 || length < 0 || offset > data.length - length) {
      throw new IndexOutOfBoundsException(
          "offset " + offset + ", length " + length + ", array of " + data.length);
    }
    append(data, offset, length);
    List<byte[]> out = new ArrayList<>();
    while (true) {
      byte[] payload = next();
      if (payload == null) {
        return out;
      }
      out.add(payload);
    }
  }

  /** How many bytes are held waiting for the rest of a frame. */
  public int buffered() {
    return end - start;
  }

  /** What the decoder has seen so far. */
  public DecoderStats stats() {
    return new DecoderStats(frames, bytesSkipped, badHeader, badCrc);
  }

  private byte[] next() {
    while (true) {
      int magic = findMagic();
      if (magic < 0) {
        // Keep a final first magic byte: the second may be in the next chunk.
        int keep = end > start && buffer[end - 1] == Frames.MAGIC_0 ? 1 : 0;
        skip(end - start - keep);
        return null;
      }
      skip(magic - start);
      if (end - start < Frames.HEADER_SIZE) {
        return null;
      }
      int length = u16(start + 2);
      if (length > Frames.MAX_PAYLOAD || u16(start + 4) != Frames.headerCrc(length)) {
        badHeader++;
        skip(1);
        continue;
      }
      int frameSize = Frames.HEADER_SIZE + length + Frames.TRAILER_SIZE;
      if (end - start < frameSize) {
        return null;
      }
      int payloadAt = start + Frames.HEADER_SIZE;
      if (s32(payloadAt + length) != Frames.crc32(buffer, payloadAt, length)) {
        badCrc++;
        skip(1);
        continue;
      }
      byte[] payload = Arrays.copyOfRange(buffer, payloadAt, payloadAt + length);
      start += frameSize;
      frames++;
      return payload;
    }
  }

  private int findMagic() {
    for (int i = start; i + 1 < end; i++) {
      if (buffer[i] == Frames.MAGIC_0 && buffer[i + 1] == Frames.MAGIC_1) {
        return i;
      }
    }
    return -1;
  }

  private void skip(int n) {
    start += n;
    bytesSkipped += n;
  }

  private int u16(int at) {
    return (buffer[at] & 0xFF) << 8 | (buffer[at + 1] & 0xFF);
  }

  private int s32(int at) {
    return (buffer[at] & 0xFF) << 24
        | (buffer[at + 1] & 0xFF) << 16
        | (buffer[at + 2] & 0xFF) << 8
        | (buffer[at + 3] & 0xFF);
  }

  private void append(byte[] data, int offset, int length) {
    if (start == end) {
      start = end = 0;
      if (buffer.length > 64 * 1024 && length < 1024) {
        buffer = new byte[1024]; // a burst is over: give its memory back
      }
    }
    if (end + length > buffer.length) {
      int held = end - start;
      if (held + length <= buffer.length / 2 + buffer.length / 4) {
        System.arraycopy(buffer, start, buffer, 0, held); // room enough once compacted
      } else {
        byte[] bigger = new byte[Math.max(buffer.length * 2, held + length)];
        System.arraycopy(buffer, start, bigger, 0, held);
        buffer = bigger;
      }
      start = 0;
      end = held;
    }
    System.arraycopy(data, offset, buffer, end, length);
    end += length;
  }
}
