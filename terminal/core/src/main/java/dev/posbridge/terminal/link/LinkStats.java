package dev.posbridge.terminal.link;

/** What a {@link LinkConnection} has done: counts for logs and tests, a snapshot. */
public final class LinkStats {
  private final long framesSent;
  private final long framesReceived;
  private final long retransmissions;
  private final long duplicates;
  private final long outOfOrder;
  private final long badMessages;

  public LinkStats(
      long framesSent,
      long framesReceived,
      long retransmissions,
      long duplicates,
      long outOfOrder,
      long badMessages) {
    this.framesSent = framesSent;
    this.framesReceived = framesReceived;
    this.retransmissions = retransmissions;
    this.duplicates = duplicates;
    this.outOfOrder = outOfOrder;
    this.badMessages = badMessages;
  }

  /** Frames written, retransmissions included. */
  public long framesSent() {
    return framesSent;
  }

  /** Valid messages received. */
  public long framesReceived() {
    return framesReceived;
  }

  /** Data frames sent again. */
  public long retransmissions() {
    return retransmissions;
  }

  /** Data received again (a {@code seq} already delivered), dropped. */
  public long duplicates() {
    return duplicates;
  }

  /** Data received after a gap, dropped. */
  public long outOfOrder() {
    return outOfOrder;
  }

  /** Intact frames whose payload was not a valid message, dropped without an ack. */
  public long badMessages() {
    return badMessages;
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof LinkStats)) {
      return false;
    }
    LinkStats that = (LinkStats) other;
    return framesSent == that.framesSent
        && framesReceived == that.framesReceived
        && retransmissions == that.retransmissions
        && duplicates == that.duplicates
        && outOfOrder == that.outOfOrder
        && badMessages == that.badMessages;
  }

  @Override
  public int hashCode() {
    long h = framesSent;
    h = h * 31 + framesReceived;
    h = h * 31 + retransmissions;
    h = h * 31 + duplicates;
    h = h * 31 + outOfOrder;
    return Long.hashCode(h * 31 + badMessages);
  }

  @Override
  public String toString() {
    return "LinkStats{frames_sent="
        + framesSent
        + ", frames_received="
        + framesReceived
        + ", retransmissions="
        + retransmissions
        + ", duplicates="
        + duplicates
        + ", out_of_order="
        + outOfOrder
        + ", bad_messages="
        + badMessages
        + "}";
  }
}
