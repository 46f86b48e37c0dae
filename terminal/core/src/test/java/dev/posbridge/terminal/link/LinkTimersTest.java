package dev.posbridge.terminal.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LinkTimersTest {
  @Test
  void agreesTheProposalWithinItsOwnLimits() {
    LinkTimers timers = LinkTimers.PRODUCTION;
    assertEquals(2000, timers.agreeIdleHeartbeat(2000));
    assertEquals(700, timers.agreeIdleHeartbeat(700));
    assertEquals(500, timers.agreeIdleHeartbeat(100), "raised to the heartbeat interval");
    assertEquals(2000, timers.agreeIdleHeartbeat(60000), "lowered to the idle heartbeat");
  }

  @Test
  void agreesNothingWhenEitherEndHasNone() {
    assertEquals(0, LinkTimers.PRODUCTION.agreeIdleHeartbeat(0));
    assertEquals(0, LinkTimers.PRODUCTION.agreeIdleHeartbeat(-5));
    assertEquals(0, LinkTimers.DEFAULT.agreeIdleHeartbeat(2000));
  }

  @Test
  void roundsMillisecondsHalfToEvenAsPythonDoes() {
    LinkTimers timers = new LinkTimers(0.3, 6, 0.0025, 2.0, 0.0125);
    assertEquals(2, timers.agreeIdleHeartbeat(1), "round(2.5) is 2");
    assertEquals(12, timers.agreeIdleHeartbeat(100), "round(12.5) is 12");
  }

  @Test
  void anAgreedHeartbeatSlowsTheHeartbeatAndTheDeadPeerTime() {
    LinkTimers agreed = LinkTimers.PRODUCTION.withIdleHeartbeat(2000);
    assertEquals(2.0, agreed.heartbeatInterval());
    assertEquals(6.0, agreed.deadAfter());
    assertEquals(0.3, agreed.rto());
    assertEquals(6, agreed.maxRetries());
    assertEquals(2.0999999999999996, LinkTimers.PRODUCTION.withIdleHeartbeat(700).deadAfter());
    assertEquals(0.5, LinkTimers.PRODUCTION.withIdleHeartbeat(100).heartbeatInterval());
    assertEquals(2.0, LinkTimers.PRODUCTION.withIdleHeartbeat(100).deadAfter(), "never quicker");
    assertSame(LinkTimers.PRODUCTION, LinkTimers.PRODUCTION.withIdleHeartbeat(0));
  }

  @Test
  void refusesTimersThatCannotWork() {
    assertThrows(IllegalArgumentException.class, () -> new LinkTimers(0, 6, 0.5, 2, 0));
    assertThrows(IllegalArgumentException.class, () -> new LinkTimers(0.3, -1, 0.5, 2, 0));
    assertThrows(IllegalArgumentException.class, () -> new LinkTimers(0.3, 6, Double.NaN, 2, 0));
    assertThrows(
        IllegalArgumentException.class,
        () -> new LinkTimers(0.3, 6, 0.5, Double.POSITIVE_INFINITY, 0));
    assertThrows(IllegalArgumentException.class, () -> new LinkTimers(0.3, 6, 0.5, 2, -1));
  }

  @Test
  void areValues() {
    assertEquals(new LinkTimers(0.3, 6, 0.5, 2.0, 2.0), LinkTimers.PRODUCTION);
    assertEquals(
        "LinkTimers{rto=0.3, max_retries=6, heartbeat_interval=0.5, dead_after=2.0, "
            + "idle_heartbeat=0.0}",
        LinkTimers.DEFAULT.toString());
  }
}
