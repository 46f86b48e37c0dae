package dev.posbridge.terminal.link;

/**
 * The session ended: nothing unacknowledged of it will be delivered. The reason is for a
 * person (a log line).
 */
public final class LinkDown extends LinkEvent {
  private final String reason;

  public LinkDown(String reason) {
    if (reason == null) {
      throw new NullPointerException("reason == null");
    }
    this.reason = reason;
  }

  /** Why, for example {@code "no frames from the peer for 6 s"}. */
  public String reason() {
    return reason;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof LinkDown && ((LinkDown) other).reason.equals(reason);
  }

  @Override
  public int hashCode() {
    return reason.hashCode();
  }

  @Override
  public String toString() {
    return "LinkDown{reason=" + reason + "}";
  }
}
