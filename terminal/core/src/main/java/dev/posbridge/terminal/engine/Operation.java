package dev.posbridge.terminal.engine;

import java.util.List;

/**
 * A request the app is carrying out with the acquirer (a void, a refund, a settlement): one
 * at a time. While it runs, a sale is refused {@code busy} and requests about what it
 * changes wait for it (a query of the payment being voided, a refund query of the refund
 * being made, a batch), so that no answer contradicts the one that follows.
 */
final class Operation {
  enum Kind {
    VOID,
    REFUND,
    SETTLE
  }

  final Kind kind;
  final Exchange exchange;
  final String ref;
  final String refundRef;
  final long amount;
  final String batchId;
  final long batchNumber;
  final List<PaymentRecord> payments;
  final double started;
  boolean done;
  boolean warned;

  private Operation(Kind kind, Exchange exchange, String ref, String refundRef, long amount,
      String batchId, long batchNumber, List<PaymentRecord> payments, double started) {
    this.kind = kind;
    this.exchange = exchange;
    this.ref = ref;
    this.refundRef = refundRef;
    this.amount = amount;
    this.batchId = batchId;
    this.batchNumber = batchNumber;
    this.payments = payments;
    this.started = started;
  }

  static Operation voiding(Exchange exchange, String ref, double now) {
    return new Operation(Kind.VOID, exchange, ref, "", 0, "", 0, null, now);
  }

  static Operation refunding(Exchange exchange, String ref, String refundRef, long amount,
      double now) {
    return new Operation(Kind.REFUND, exchange, ref, refundRef, amount, "", 0, null, now);
  }

  static Operation settling(Exchange exchange, String batchId, long batchNumber,
      List<PaymentRecord> payments, double now) {
    return new Operation(Kind.SETTLE, exchange, "", "", 0, batchId, batchNumber, payments, now);
  }

  boolean isVoidOf(String ref) {
    return kind == Kind.VOID && this.ref.equals(ref);
  }

  boolean isRefund(String refundRef) {
    return kind == Kind.REFUND && this.refundRef.equals(refundRef);
  }

  boolean isSettlement(String batchId) {
    return kind == Kind.SETTLE && !batchId.isEmpty() && this.batchId.equals(batchId);
  }

  /** For a person: "the void of payment X", ... */
  String describe() {
    switch (kind) {
      case VOID:
        return "the void of payment " + ref;
      case REFUND:
        return "refund " + refundRef + " of payment " + ref;
      default:
        return "the settlement of batch " + batchNumber;
    }
  }
}
