package dev.posbridge.terminal.demo;

import dev.posbridge.terminal.engine.Outcome;

/**
 * What the demo's customer does, chosen by the amount's cents as in posbridge's simulator
 * (src/posbridge/simulator/customer.py; docs/simulator.md, "The cents table").
 */
final class CentsTable {
  /** What happens to a payment. */
  enum Kind {
    APPROVE,
    DECLINE,
    CANCEL,
    TIMEOUT,
    /** Approved, but the result message to the PC is lost. */
    RESULT_LOST,
    /** The link drops halfway; approved. */
    LINK_DROP
  }

  /** What happens to a refund. */
  enum RefundKind {
    REFUND,
    DECLINE,
    /** Refunded, but the answer to the PC is lost. */
    ANSWER_LOST
  }

  private CentsTable() {}

  static Kind of(long amount) {
    switch ((int) (amount % 100)) {
      case 5:
      case 51:
      case 55:
      case 91:
        return Kind.DECLINE;
      case 17:
        return Kind.CANCEL;
      case 68:
        return Kind.TIMEOUT;
      case 97:
        return Kind.RESULT_LOST;
      case 98:
        return Kind.LINK_DROP;
      default:
        return Kind.APPROVE;
    }
  }

  /** The decline code of a declining amount: its cents. */
  static String declineCode(long amount) {
    return String.format("%02d", amount % 100);
  }

  static RefundKind refund(long amount) {
    switch ((int) (amount % 100)) {
      case 44:
        return RefundKind.DECLINE;
      case 47:
        return RefundKind.ANSWER_LOST;
      default:
        return RefundKind.REFUND;
    }
  }

  /** The outcome a finished payment of {@code amount} has. */
  static Outcome outcome(long amount, String transactionId) {
    switch (of(amount)) {
      case DECLINE:
        return Outcome.declined(declineCode(amount), transactionId);
      case CANCEL:
        return Outcome.cancelledByCustomer();
      case TIMEOUT:
        return Outcome.timedOut();
      default:
        return Outcome.approved(transactionId);
    }
  }
}
