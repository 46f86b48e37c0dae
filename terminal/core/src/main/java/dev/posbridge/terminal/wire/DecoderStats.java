package dev.posbridge.terminal.wire;

/** What a {@link FrameDecoder} has seen: counts for logs and tests, a snapshot. */
public final class DecoderStats {
  private final long frames;
  private final long bytesSkipped;
  private final long badHeader;
  private final long badCrc;

  public DecoderStats(long frames, long bytesSkipped, long badHeader, long badCrc) {
    this.frames = frames;
    this.bytesSkipped = bytesSkipped;
    this.badHeader = badHeader;
    this.badCrc = badCrc;
  }

  /** Intact frames decoded. */
  public long frames() {
    return frames;
  }

  /** Bytes discarded while searching for a frame. */
  public long bytesSkipped() {
    return bytesSkipped;
  }

  /** Headers refused: a length above {@link Frames#MAX_PAYLOAD} or a header CRC that failed. */
  public long badHeader() {
    return badHeader;
  }

  /** Frames whose payload CRC failed. */
  public long badCrc() {
    return badCrc;
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof DecoderStats)) {
      return false;
    }
    DecoderStats that = (DecoderStats) other;
    return frames == that.frames
        && bytesSkipped == that.bytesSkipped
        && badHeader == that.badHeader
        && badCrc == that.badCrc;
  }

  @Override
  public int hashCode() {
    return (int) (((frames * 31 + bytesSkipped) * 31 + badHeader) * 31 + badCrc);
  }

  @Override
  public String toString() {
    return "DecoderStats{frames="
        + frames
        + ", bytes_skipped="
        + bytesSkipped
        + ", bad_header="
        + badHeader
        + ", bad_crc="
        + badCrc
        + "}";
  }
}
