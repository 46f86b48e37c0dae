package dev.posbridge.terminal.link;

/**
 * Timings of the link, in seconds (docs/link-protocol.md section 5, "Timers").
 *
 * <p>{@link #DEFAULT} detects a dead link within 2 s; {@link #PRODUCTION}, what posbridge's
 * ends use, also accepts an idle heartbeat of up to 2 s from the host's hello (a silent
 * peer is then dead after 6 s while the link is idle).
 */
public final class LinkTimers {
  /** Heartbeat intervals of silence, once an idle heartbeat is agreed, before the peer is dead. */
  public static final int IDLE_DEAD_INTERVALS = 3;

  /** rto 0.3 s, 6 retries, heartbeat 0.5 s, dead after 2 s, no idle heartbeat. */
  public static final LinkTimers DEFAULT = new LinkTimers(0.3, 6, 0.5, 2.0, 0.0);

  /** {@link #DEFAULT} with an idle heartbeat of 2 s: what both posbridge ends use. */
  public static final LinkTimers PRODUCTION = new LinkTimers(0.3, 6, 0.5, 2.0, 2.0);

  private final double rto;
  private final int maxRetries;
  private final double heartbeatInterval;
  private final double deadAfter;
  private final double idleHeartbeat;

  /**
   * @param rto the retransmission timeout
   * @param maxRetries retransmission rounds without progress before the link is down
   * @param heartbeatInterval send a heartbeat after this long with nothing sent
   * @param deadAfter the link is down after this long with nothing valid received
   * @param idleHeartbeat the slowest idle heartbeat this end accepts in the hello; 0 for none
   */
  public LinkTimers(
      double rto, int maxRetries, double heartbeatInterval, double deadAfter, double idleHeartbeat) {
    if (!(rto > 0) || !(heartbeatInterval > 0) || !(deadAfter > 0) || !(idleHeartbeat >= 0)
        || maxRetries < 0 || Double.isInfinite(rto + heartbeatInterval + deadAfter + idleHeartbeat)) {
      throw new IllegalArgumentException(
          "timers must be positive and finite (idle heartbeat and retries may be 0)");
    }
    this.rto = rto;
    this.maxRetries = maxRetries;
    this.heartbeatInterval = heartbeatInterval;
    this.deadAfter = deadAfter;
    this.idleHeartbeat = idleHeartbeat;
  }

  /** The retransmission timeout. */
  public double rto() {
    return rto;
  }

  /** Retransmission rounds without progress before the link is declared down. */
  public int maxRetries() {
    return maxRetries;
  }

  /** A heartbeat goes out after this long with nothing sent. */
  public double heartbeatInterval() {
    return heartbeatInterval;
  }

  /** The link is down after this long with nothing valid received. */
  public double deadAfter() {
    return deadAfter;
  }

  /** The slowest idle heartbeat this end accepts in the hello; 0 for none. */
  public double idleHeartbeat() {
    return idleHeartbeat;
  }

  /**
   * The terminal's answer to a host's proposed idle heartbeat: 0 (keep the defaults) when
   * either end has none, else the proposal limited to between this end's heartbeat interval
   * and its idle heartbeat, in ms.
   */
  public long agreeIdleHeartbeat(long proposedMs) {
    if (proposedMs <= 0 || idleHeartbeat <= 0) {
      return 0;
    }
    // Math.rint rounds half to even, as Python's round() does.
    long low = (long) Math.rint(heartbeatInterval * 1000);
    long high = (long) Math.rint(idleHeartbeat * 1000);
    return Math.max(low, Math.min(proposedMs, high));
  }

  /**
   * These timers for a session whose hello agreed {@code agreedMs} (0: unchanged): the
   * heartbeat at the agreed interval and the peer dead after {@link #IDLE_DEAD_INTERVALS} of
   * them, never quicker than these timers.
   */
  public LinkTimers withIdleHeartbeat(long agreedMs) {
    if (agreedMs <= 0) {
      return this;
    }
    double interval = agreedMs / 1000.0;
    return new LinkTimers(
        rto,
        maxRetries,
        Math.max(heartbeatInterval, interval),
        Math.max(deadAfter, IDLE_DEAD_INTERVALS * interval),
        idleHeartbeat);
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof LinkTimers)) {
      return false;
    }
    LinkTimers that = (LinkTimers) other;
    return rto == that.rto
        && maxRetries == that.maxRetries
        && heartbeatInterval == that.heartbeatInterval
        && deadAfter == that.deadAfter
        && idleHeartbeat == that.idleHeartbeat;
  }

  @Override
  public int hashCode() {
    int h = Double.hashCode(rto);
    h = h * 31 + maxRetries;
    h = h * 31 + Double.hashCode(heartbeatInterval);
    h = h * 31 + Double.hashCode(deadAfter);
    return h * 31 + Double.hashCode(idleHeartbeat);
  }

  @Override
  public String toString() {
    return "LinkTimers{rto="
        + rto
        + ", max_retries="
        + maxRetries
        + ", heartbeat_interval="
        + heartbeatInterval
        + ", dead_after="
        + deadAfter
        + ", idle_heartbeat="
        + idleHeartbeat
        + "}";
  }
}
