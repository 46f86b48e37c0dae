package dev.posbridge.terminal.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.posbridge.terminal.engine.Outcome;
import org.junit.jupiter.api.Test;

/** The simulator's cents table (docs/simulator.md). */
class CentsTableTest {
  @Test
  void paymentsByTheirCents() {
    assertEquals(Outcome.declined("05", "t"), CentsTable.outcome(1005, "t"));
    assertEquals(Outcome.declined("51", "t"), CentsTable.outcome(151, "t"));
    assertEquals(Outcome.declined("55", "t"), CentsTable.outcome(55, "t"));
    assertEquals(Outcome.declined("91", "t"), CentsTable.outcome(991, "t"));
    assertEquals(Outcome.cancelledByCustomer(), CentsTable.outcome(117, "t"));
    assertEquals(Outcome.timedOut(), CentsTable.outcome(268, "t"));
    assertEquals(CentsTable.Kind.RESULT_LOST, CentsTable.of(997));
    assertEquals(Outcome.approved("t"), CentsTable.outcome(997, "t"));
    assertEquals(CentsTable.Kind.LINK_DROP, CentsTable.of(98));
    assertEquals(Outcome.approved("t"), CentsTable.outcome(1250, "t"));
  }

  @Test
  void refundsByTheirCents() {
    assertEquals(CentsTable.RefundKind.DECLINE, CentsTable.refund(244));
    assertEquals(CentsTable.RefundKind.ANSWER_LOST, CentsTable.refund(47));
    assertEquals(CentsTable.RefundKind.REFUND, CentsTable.refund(250));
  }

  @Test
  void theAccountOnReceiptsIsTheSimulators() {
    assertEquals("wallet ****6789", DemoApp.account("invoice-123456789"));
    assertEquals("wallet ****00s1", DemoApp.account("s1"));
  }
}
