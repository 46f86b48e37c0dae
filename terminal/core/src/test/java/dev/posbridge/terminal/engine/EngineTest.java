package dev.posbridge.terminal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.posbridge.terminal.message.AppMessage;
import dev.posbridge.terminal.message.Batch;
import dev.posbridge.terminal.message.BatchQuery;
import dev.posbridge.terminal.message.BatchResult;
import dev.posbridge.terminal.message.Cancel;
import dev.posbridge.terminal.message.PaymentResult;
import dev.posbridge.terminal.message.Progress;
import dev.posbridge.terminal.message.Query;
import dev.posbridge.terminal.message.QueryResult;
import dev.posbridge.terminal.message.Refund;
import dev.posbridge.terminal.message.RefundQuery;
import dev.posbridge.terminal.message.RefundResult;
import dev.posbridge.terminal.message.Reply;
import dev.posbridge.terminal.message.Sale;
import dev.posbridge.terminal.message.Totals;
import dev.posbridge.terminal.message.TotalsResult;
import dev.posbridge.terminal.message.VoidPayment;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The duties of docs/link-protocol.md section 8, one request at a time, with no link. */
class EngineTest {
  final Rig rig = new Rig().up();

  @AfterEach
  void noErrorWasLogged() {
    assertEquals(Collections.emptyList(), rig.errors());
  }

  static Reply accepted(long rid, String ref) {
    return new Reply(rid, ref, true, "", "");
  }

  static Reply refused(long rid, String ref, String reason, String detail) {
    return new Reply(rid, ref, false, reason, detail);
  }

  /** A payment approved through the whole path. */
  void approved(String ref, long amount) {
    assertEquals(Arrays.asList(accepted(1, ref)), rig.send(new Sale(1, ref, amount, "82")));
    rig.app.started.get(ref).finished(Outcome.approved("txn-" + ref));
    rig.run();
  }

  PaymentRecord stored(String ref) {
    for (PaymentRecord p : rig.saved().payments()) {
      if (p.ref().equals(ref)) {
        return p;
      }
    }
    return null;
  }

  // -- sale ----------------------------------------------------------------------------------

  @Test
  void aSaleIsRecordedPendingBeforeItIsAcceptedThenTheOutcomeIsRecordedAndReported() {
    assertEquals(Arrays.asList(accepted(1, "inv-1")), rig.send(new Sale(1, "inv-1", 1250, "82")));
    PaymentRecord pending = stored("inv-1");
    assertEquals("pending", pending.status());
    assertEquals("09", pending.responseCode());
    assertEquals(1250, pending.amount());
    PaymentCallback customer = rig.app.started.get("inv-1");

    customer.qrShown("000201...");
    assertEquals(Arrays.asList(new Progress("inv-1", "qr_shown", "000201...")), rig.run());

    customer.finished(Outcome.approved("100126120100000000000001"));
    PaymentResult result = (PaymentResult) rig.one(rig.run());
    assertEquals("approved", result.status());
    assertEquals("00", result.responseCode());
    assertEquals("100126120100000000000001", result.transactionId());
    assertEquals(Arrays.asList("kind=sale", "method=PayNow",
        "transaction_id=100126120100000000000001", "terminal_id=T-1", "merchant_id=M-1",
        "time=2025-12-01T22:30:21Z", "amount=12.50", "status=approved"),
        result.receipt().fields());
    assertEquals("SALE APPROVED", result.receipt().customerCopy().get(1));
    assertEquals("approved", stored("inv-1").status());
    assertEquals(result.receipt().fields(), stored("inv-1").receipt());
  }

  @Test
  void aSecondOutcomeIsRecordedOnceAndIgnored() {
    approved("inv-1", 100);
    rig.app.started.get("inv-1").finished(Outcome.declined("51", ""));
    assertEquals(Collections.emptyList(), rig.run());
    assertEquals("approved", stored("inv-1").status());
    assertTrue(rig.log.stream().anyMatch(l -> l.contains("already approved: ignored")));
  }

  @Test
  void oneReferenceForEverEvenAfterTheFirstEnded() {
    approved("inv-1", 100);
    assertEquals(Arrays.asList(refused(2, "inv-1", "duplicate_reference", "")),
        rig.send(new Sale(2, "inv-1", 100, "82")));
    assertEquals(1, rig.saved().payments().size());
  }

  @Test
  void onePaymentAtATime() {
    rig.send(new Sale(1, "inv-1", 100, "82"));
    assertEquals(Arrays.asList(refused(2, "inv-2", "busy", "payment inv-1 is in progress")),
        rig.send(new Sale(2, "inv-2", 100, "82")));
    assertNull(stored("inv-2"));
  }

  @Test
  void badSalesAreRefusedAndLeaveNothing() {
    assertEquals(Arrays.asList(refused(1, "a", "unsupported_condition_code",
        "supported: 82 PayNow, 30 Alipay, 20, 50")), rig.send(new Sale(1, "a", 100, "99")));
    assertEquals(Arrays.asList(refused(2, "b", "invalid_amount",
        "the amount must be greater than 0 (got 0)")), rig.send(new Sale(2, "b", 0, "82")));
    assertEquals(Arrays.asList(refused(3, "c", "invalid_amount",
        "the amount must be greater than 0 (got -5)")), rig.send(new Sale(3, "c", -5, "82")));
    assertEquals("invalid_reference",
        ((Reply) rig.one(rig.send(new Sale(4, "", 100, "82")))).reason());
    assertEquals("invalid_reference",
        ((Reply) rig.one(rig.send(new Sale(5, "line\nbreak", 100, "82")))).reason());
    char[] long65 = new char[65];
    Arrays.fill(long65, 'x');
    assertEquals("invalid_reference",
        ((Reply) rig.one(rig.send(new Sale(6, new String(long65), 100, "82")))).reason());
    assertEquals(Collections.emptyList(), rig.saved().payments());
    assertTrue(rig.app.started.isEmpty());
    // and a good one still goes through
    assertEquals(Arrays.asList(accepted(7, "d")), rig.send(new Sale(7, "d", 1, "82")));
  }

  @Test
  void progressIsNotSentOnAVersion1Session() {
    rig.engine.linkUp(1);
    rig.send(new Sale(1, "inv-1", 100, "82"));
    rig.app.started.get("inv-1").qrShown("x");
    assertEquals(Collections.emptyList(), rig.run());
    rig.app.started.get("inv-1").finished(Outcome.timedOut());
    assertEquals("timed_out", ((PaymentResult) rig.one(rig.run())).status());
  }

  @Test
  void progressAfterTheOutcomeIsNotSent() {
    approved("inv-1", 100);
    rig.app.started.get("inv-1").waitingForCustomer();
    assertEquals(Collections.emptyList(), rig.run());
  }

  // -- cancel --------------------------------------------------------------------------------

  @Test
  void aCancelIsRecordedThenTheAppToldAndItsLateOutcomeIgnored() {
    rig.send(new Sale(1, "inv-1", 100, "82"));
    assertEquals(Arrays.asList(accepted(2, "inv-1")), rig.send(new Cancel(2, "inv-1")));
    assertEquals(Arrays.asList("inv-1"), rig.app.cancelled);
    assertEquals("cancelled", stored("inv-1").status());
    assertEquals("17", stored("inv-1").responseCode());
    rig.app.started.get("inv-1").finished(Outcome.approved("t"));
    assertEquals(Collections.emptyList(), rig.run());
    assertEquals("cancelled", stored("inv-1").status());
    assertTrue(rig.log.stream().anyMatch(l -> l.startsWith("WARNING")
        && l.contains("already cancelled") && l.contains("reverse it")));
    // and the terminal is free again
    assertEquals(Arrays.asList(accepted(3, "inv-2")), rig.send(new Sale(3, "inv-2", 100, "82")));
  }

  @Test
  void cancelRefusals() {
    assertEquals(Arrays.asList(refused(1, "x", "not_found", "")), rig.send(new Cancel(1, "x")));
    approved("inv-1", 100);
    assertEquals(Arrays.asList(refused(2, "inv-1", "not_in_progress",
        "the payment is approved")), rig.send(new Cancel(2, "inv-1")));
  }

  // -- query ---------------------------------------------------------------------------------

  @Test
  void queryAnswersTheRecordOrNotFound() {
    assertEquals(Arrays.asList(new QueryResult(1, "nope", false, "", "", "", 0, "", 0)),
        rig.send(new Query(1, "nope")));
    rig.send(new Sale(2, "inv-1", 700, "30"));
    assertEquals(Arrays.asList(new QueryResult(3, "inv-1", true, "pending", "09", "", 700, "30",
        0)), rig.send(new Query(3, "inv-1")));
    rig.app.started.get("inv-1").finished(Outcome.declined("51", "t-51"));
    rig.run();
    QueryResult declined = (QueryResult) rig.one(rig.send(new Query(4, "inv-1")));
    assertEquals("declined", declined.status());
    assertEquals("51", declined.responseCode());
    assertEquals("t-51", declined.transactionId());
    assertTrue(declined.receipt().fields().contains("method=Alipay"));
  }

  // -- void ----------------------------------------------------------------------------------

  @Test
  void aVoidIsMadeByTheAppThenRecordedAndAnsweredWithItsReceipt() {
    approved("inv-1", 500);
    assertEquals(Collections.emptyList(), rig.send(new VoidPayment(2, "inv-1")));
    // While the app voids, a query of the payment waits rather than say "approved".
    assertEquals(Collections.emptyList(), rig.send(new Query(3, "inv-1")));
    rig.app.voids.get("inv-1").voided();
    List<AppMessage> sent = rig.run();
    assertEquals(2, sent.size());
    Reply reply = (Reply) sent.get(0);
    assertTrue(reply.accepted());
    assertTrue(reply.receipt().fields().contains("kind=void"));
    assertTrue(reply.receipt().fields().contains("status=voided"));
    QueryResult query = (QueryResult) sent.get(1);
    assertEquals("voided", query.status());
    assertEquals("VD", query.responseCode());
    assertEquals(reply.receipt(), query.receipt());
    assertEquals("voided", stored("inv-1").status());
    assertEquals(reply.receipt().fields(), stored("inv-1").voidReceipt());
    // a late second answer of the app changes nothing
    rig.app.voids.get("inv-1").declined("late");
    assertEquals(Collections.emptyList(), rig.run());
  }

  @Test
  void voidRefusals() {
    assertEquals("not_found", ((Reply) rig.one(rig.send(new VoidPayment(1, "x")))).reason());
    rig.send(new Sale(2, "p", 100, "82"));
    assertEquals(Arrays.asList(refused(3, "p", "not_approved", "the payment is pending")),
        rig.send(new VoidPayment(3, "p")));
    rig.app.started.get("p").finished(Outcome.approved("t"));
    rig.run();
    rig.send(new Sale(4, "q", 100, "82"));
    assertEquals(Arrays.asList(refused(5, "p", "busy", "payment q is in progress")),
        rig.send(new VoidPayment(5, "p")));
    rig.app.started.get("q").finished(Outcome.approved("t"));
    rig.run();
    rig.send(new VoidPayment(6, "p"));
    rig.app.voids.get("p").voided();
    rig.run();
    assertEquals("already_voided", ((Reply) rig.one(rig.send(new VoidPayment(7, "p")))).reason());
    rig.send(new Batch(8, "b1"));
    assertEquals(Arrays.asList(refused(9, "q", "already_settled", "settled in batch 1")),
        rig.send(new VoidPayment(9, "q")));
  }

  @Test
  void aVoidTheAcquirerDeclinesChangesNothing() {
    approved("p", 100);
    rig.send(new VoidPayment(2, "p"));
    rig.app.voids.get("p").declined("acquirer offline");
    assertEquals(Arrays.asList(refused(2, "p", "void_declined", "acquirer offline")), rig.run());
    assertEquals("approved", stored("p").status());
  }

  @Test
  void aSaleDuringAVoidIsBusy() {
    approved("p", 100);
    rig.send(new VoidPayment(2, "p"));
    assertEquals(Arrays.asList(refused(3, "n", "busy", "the void of payment p is in progress")),
        rig.send(new Sale(3, "n", 100, "82")));
  }

  // -- refunds -------------------------------------------------------------------------------

  List<AppMessage> refund(long rid, String ref, String refundRef, long amount) {
    List<AppMessage> sent = rig.send(new Refund(rid, ref, refundRef, amount));
    RefundCallback callback = rig.app.refunds.remove(refundRef);
    if (callback != null) {
      callback.refunded("r-" + refundRef);
      sent.addAll(rig.run());
    }
    return sent;
  }

  @Test
  void refundsArePartialThenFullAndNeverMadeTwice() {
    approved("p", 1000);
    Reply first = (Reply) rig.one(refund(2, "p", "c1", 250));
    assertTrue(first.accepted());
    assertTrue(first.receipt().fields().contains("kind=refund"));
    assertTrue(first.receipt().fields().contains("amount=2.50"));
    // The same refund again: accepted, nothing more refunded, the app not asked.
    Reply again = (Reply) rig.one(rig.send(new Refund(3, "p", "c1", 250)));
    assertTrue(again.accepted());
    assertEquals(first.receipt(), again.receipt());
    assertTrue(rig.app.refunds.isEmpty());
    assertEquals(Arrays.asList(refused(4, "p", "duplicate_reference",
        "refund c1 is of payment p, amount 2.50")), rig.send(new Refund(4, "p", "c1", 200)));
    assertEquals(Arrays.asList(refused(5, "p", "exceeds_payment", "7.50 remains")),
        rig.send(new Refund(5, "p", "c2", 751)));
    assertTrue(((Reply) rig.one(refund(6, "p", "c2", 750))).accepted());
    assertEquals(Arrays.asList(refused(7, "p", "exceeds_payment", "0.00 remains")),
        rig.send(new Refund(7, "p", "c3", 1)));
    assertEquals(Arrays.asList(refused(8, "p", "already_refunded", "10.00 of it is refunded")),
        rig.send(new VoidPayment(8, "p")));
    assertEquals(2, rig.saved().refunds().size());
    assertEquals(Arrays.asList(new RefundResult(9, "p", "c9", false, 0, "", "")),
        rig.send(new RefundQuery(9, "p", "c9")));
    assertEquals(Arrays.asList(new RefundResult(10, "q", "c1", false, 0, "", "")),
        rig.send(new RefundQuery(10, "q", "c1")));
    RefundResult found = (RefundResult) rig.one(rig.send(new RefundQuery(11, "p", "c1")));
    assertTrue(found.found());
    assertEquals(250, found.amount());
    assertEquals("approved", found.status());
    assertEquals("r-c1", found.transactionId());
  }

  @Test
  void refundRefusals() {
    assertEquals("not_found", ((Reply) rig.one(refund(1, "x", "c", 1))).reason());
    rig.send(new Sale(2, "p", 100, "82"));
    assertEquals(Arrays.asList(refused(3, "p", "not_approved", "the payment is pending")),
        refund(3, "p", "c", 1));
    rig.app.started.get("p").finished(Outcome.approved("t"));
    rig.run();
    assertEquals(Arrays.asList(refused(4, "p", "invalid_amount",
        "the amount must be greater than 0 (got 0)")), refund(4, "p", "c", 0));
    assertEquals("invalid_reference", ((Reply) rig.one(refund(5, "p", "", 1))).reason());
    rig.send(new Sale(6, "q", 100, "82"));
    assertEquals(Arrays.asList(refused(7, "p", "busy", "payment q is in progress")),
        refund(7, "p", "c", 1));
    assertTrue(rig.saved().refunds().isEmpty());
  }

  @Test
  void aDeclinedRefundLeavesNoRecordAndARefundQueryWaitsForTheRefundInFlight() {
    approved("p", 1000);
    rig.send(new Refund(2, "p", "c1", 100));
    assertEquals(Collections.emptyList(), rig.send(new RefundQuery(3, "p", "c1")));
    rig.app.refunds.get("c1").declined("insufficient balance");
    assertEquals(Arrays.asList(
        refused(2, "p", "refund_declined", "declined by the acquirer: insufficient balance"),
        new RefundResult(3, "p", "c1", false, 0, "", "")), rig.run());
    assertTrue(rig.saved().refunds().isEmpty());
  }

  @Test
  void aSettledPaymentCanBeRefunded() {
    approved("p", 1000);
    rig.send(new Batch(2, "b1"));
    assertTrue(((Reply) rig.one(refund(3, "p", "c1", 1000))).accepted());
  }

  // -- batches -------------------------------------------------------------------------------

  @Test
  void oneSettlementPerBatchId() {
    approved("a", 200);
    approved("b", 350);
    rig.send(new Sale(3, "c", 100, "82")); // pending: not settled
    BatchResult first = (BatchResult) rig.one(rig.send(new Batch(4, "b1")));
    assertEquals(new BatchResult(4, 1, 2, 550, Arrays.asList("a", "b"), "b1", true), first);
    assertEquals(1, rig.app.settled.size());
    assertEquals(Arrays.asList(new BatchResult(5, 1, 2, 550, Arrays.asList("a", "b"), "b1",
        true)), rig.send(new Batch(5, "b1")));
    assertEquals(1, rig.app.settled.size()); // not settled again
    assertEquals(Arrays.asList(new BatchResult(6, 1, 2, 550, Arrays.asList("a", "b"), "b1",
        true)), rig.send(new BatchQuery(6, "b1")));
    assertEquals(Arrays.asList(new BatchResult(7, 0, 0, 0, Collections.<String>emptyList(), "b9",
        false)), rig.send(new BatchQuery(7, "b9")));
    assertEquals(1, stored("a").batchNumber());
    assertEquals(0, stored("c").batchNumber());
    BatchResult empty = (BatchResult) rig.one(rig.send(new Batch(8, "b2")));
    assertEquals(2, empty.batchNumber());
    assertEquals(0, empty.count());
    assertEquals(2, rig.saved().batchNumber());
  }

  @Test
  void aBatchTheAppTakesTimeToSettleIsAskedAboutAndAnsweredOnce() {
    rig.app.autoSettle = false;
    approved("a", 200);
    assertEquals(Collections.emptyList(), rig.send(new Batch(2, "b1")));
    assertEquals(Collections.emptyList(), rig.send(new BatchQuery(3, "b1")));
    assertEquals(Collections.emptyList(), rig.send(new Batch(4, "b1")));
    assertEquals(Arrays.asList(refused(5, "x", "busy", "the settlement of batch 1 is in progress")),
        rig.send(new Sale(5, "x", 100, "82")));
    rig.clock.monotonic += 6;
    rig.engine.handleTimers();
    assertTrue(rig.log.stream().anyMatch(l -> l.startsWith("WARNING")
        && l.contains("has not finished the settlement of batch 1 in 5 s")));
    rig.app.settles.get(0).settled();
    BatchResult expected = new BatchResult(2, 1, 1, 200, Arrays.asList("a"), "b1", true);
    List<AppMessage> sent = rig.run();
    assertEquals(Arrays.asList(expected,
        new BatchResult(3, 1, 1, 200, Arrays.asList("a"), "b1", true),
        new BatchResult(4, 1, 1, 200, Arrays.asList("a"), "b1", true)), sent);
    assertEquals(1, rig.app.settled.size());
  }

  @Test
  void aBatchWaitsForAVoidInFlightAndDoesNotSettleThePaymentVoided() {
    approved("a", 200);
    approved("b", 300);
    rig.send(new VoidPayment(3, "a"));
    assertEquals(Collections.emptyList(), rig.send(new Batch(4, "b1")));
    rig.app.voids.get("a").voided();
    List<AppMessage> sent = rig.run();
    assertTrue(((Reply) sent.get(0)).accepted());
    assertEquals(new BatchResult(4, 1, 1, 300, Arrays.asList("b"), "b1", true), sent.get(1));
  }

  @Test
  void aBatchWithoutAnIdIsSettledButNotKept() {
    approved("a", 200);
    assertEquals(1, ((BatchResult) rig.one(rig.send(new Batch(2, "")))).count());
    assertTrue(rig.saved().batches().isEmpty());
    assertEquals(1, rig.saved().batchNumber());
    assertTrue(((BatchResult) rig.one(rig.send(new BatchQuery(3, "")))).found() == false);
  }

  @Test
  void aBatchNamesNoMoreRefsThanFitInOneFrame() {
    char[] ref = new char[64];
    for (int i = 0; i < 300; i++) {
      Arrays.fill(ref, (char) ('a' + i % 26));
      String r = new String(ref).substring(0, 60) + String.format("%04d", i);
      approved(r, 100);
    }
    BatchResult first = (BatchResult) rig.one(rig.send(new Batch(2, "b1")));
    assertTrue(first.count() > 100 && first.count() < 300, "count " + first.count());
    int bytes = dev.posbridge.terminal.message.MessageCodec.encode(
        new dev.posbridge.terminal.message.Data(Long.MAX_VALUE, first)).length;
    assertTrue(bytes <= dev.posbridge.terminal.wire.Frames.MAX_PAYLOAD, bytes + " bytes");
    BatchResult second = (BatchResult) rig.one(rig.send(new Batch(3, "b2")));
    BatchResult third = (BatchResult) rig.one(rig.send(new Batch(4, "b3")));
    assertEquals(300, first.count() + second.count() + third.count());
    assertTrue(rig.log.stream().anyMatch(l -> l.contains("left for the next batch")));
  }

  // -- totals --------------------------------------------------------------------------------

  @Test
  void totalsSinceTheLastBatch() {
    approved("a", 1000);
    rig.send(new Batch(2, "b1"));
    approved("b", 250);
    approved("c", 100);
    rig.send(new VoidPayment(4, "c"));
    rig.app.voids.get("c").voided();
    rig.run();
    refund(5, "a", "r1", 40); // of a payment of the previous period: counted in this one
    rig.send(new Sale(6, "d", 500, "30"));
    assertEquals(Arrays.asList(new TotalsResult(7, 1, Arrays.asList(
        "payment:30:pending:1:500", "payment:82:approved:1:250", "payment:82:voided:1:100",
        "refund:82:approved:1:40"))), rig.send(new Totals(7)));
  }

  // -- sessions ------------------------------------------------------------------------------

  @Test
  void anAnswerReadyAfterItsSessionEndedIsNotSentOnTheNextOne() {
    approved("p", 100);
    rig.send(new VoidPayment(2, "p"));
    rig.engine.linkDown();
    rig.engine.linkUp(2);
    rig.app.voids.get("p").voided();
    assertEquals(Collections.emptyList(), rig.run());
    assertEquals("voided", stored("p").status()); // done, and the host learns it by asking
    assertEquals("voided", ((QueryResult) rig.one(rig.send(new Query(3, "p")))).status());
  }

  @Test
  void aRequestThatWaitedInAnEndedSessionIsNotActedOn() {
    rig.app.autoSettle = false;
    approved("a", 100);
    approved("b", 100);
    rig.send(new VoidPayment(3, "a"));
    rig.send(new Batch(4, "b1")); // waits for the void
    rig.engine.linkDown();
    rig.engine.linkUp(2);
    rig.app.voids.get("a").voided();
    assertEquals(Collections.emptyList(), rig.run());
    assertEquals(0, rig.app.settled.size()); // the batch of the ended session never ran
    assertEquals(0, stored("b").batchNumber());
  }

  @Test
  void aResultGoesOnTheSessionUpWhenItArrivesOrNowhere() {
    rig.send(new Sale(1, "p", 100, "82"));
    rig.engine.linkDown();
    rig.engine.linkUp(2);
    rig.app.started.get("p").finished(Outcome.approved("t"));
    assertEquals("p", ((PaymentResult) rig.one(rig.run())).ref());

    rig.send(new Sale(2, "q", 100, "82"));
    rig.engine.linkDown();
    rig.app.started.get("q").finished(Outcome.approved("t"));
    assertEquals(Collections.emptyList(), rig.run());
    assertEquals("approved", stored("q").status());
  }

  @Test
  void whatWasNotSentWhenTheSessionEndedIsForgotten() {
    rig.engine.receive(new Query(1, "x"));
    rig.engine.linkDown();
    rig.engine.linkUp(2);
    assertEquals(Collections.emptyList(), rig.run());
  }

  @Test
  void requestsWithNoSessionAreNotActedOn() {
    rig.engine.linkDown();
    assertEquals(Collections.emptyList(), rig.send(new Sale(1, "p", 100, "82")));
    assertNull(stored("p"));
  }

  @Test
  void answersAndReportsKindsFromTheHostAreIgnored() {
    assertEquals(Collections.emptyList(),
        rig.send(new PaymentResult("p", "approved", "00", "t")));
    assertEquals(Collections.emptyList(), rig.send(new Reply(1, "p", true, "", "")));
  }

  // -- start-up ------------------------------------------------------------------------------

  @Test
  void aPaymentPendingWhenTheTerminalStoppedEndsTimedOutByDefault() {
    MemoryStore store = new MemoryStore();
    Rig first = new Rig(store).up();
    first.send(new Sale(1, "p", 100, "82"));
    Rig second = new Rig(store);
    second.engine.resolveInterrupted();
    PaymentRecord p = store.load().payments().get(0);
    assertEquals("timed_out", p.status());
    assertEquals("68", p.responseCode());
    assertEquals(Collections.emptyList(), second.run()); // no session: nothing sent
  }

  @Test
  void theAppMaySayHowAnInterruptedPaymentEnded() {
    MemoryStore store = new MemoryStore();
    new Rig(store).up().send(new Sale(1, "p", 100, "82"));
    Rig second = new Rig(store);
    second.app.onInterrupted = Outcome.approved("found-it");
    second.engine.resolveInterrupted();
    assertEquals("approved", store.load().payments().get(0).status());
    assertEquals("found-it", store.load().payments().get(0).transactionId());
  }

  // -- text from the app ---------------------------------------------------------------------

  @Test
  void textFromTheAppThatIsNotValidUnicodeNeverStopsTheTerminal() {
    // An acquirer's message or id cut in the middle of an emoji holds a lone surrogate, which
    // no UTF-8 payload can carry: it is written as U+FFFD, and nothing waits for ever.
    approved("p", 1000);
    rig.send(new VoidPayment(2, "p"));
    rig.app.voids.get("p").declined("declined \ud83d");
    assertEquals(Arrays.asList(refused(2, "p", "void_declined", "declined \ufffd")), rig.run());
    rig.send(new Refund(3, "p", "c1", 100));
    rig.app.refunds.remove("c1").declined("no \udc00");
    assertEquals(Arrays.asList(refused(3, "p", "refund_declined",
        "declined by the acquirer: no \ufffd")), rig.run());
    rig.send(new Refund(4, "p", "c2", 100));
    rig.app.refunds.remove("c2").refunded("r-\ud800");
    assertTrue(((Reply) rig.one(rig.run())).accepted());
    assertEquals("r-\ufffd", ((RefundResult) rig.one(rig.send(new RefundQuery(5, "p", "c2"))))
        .transactionId());
    // and a sale goes through: no operation was left hanging
    assertEquals(Arrays.asList(accepted(6, "q")), rig.send(new Sale(6, "q", 100, "82")));
    rig.app.started.get("q").qrShown("qr \ud83d");
    assertEquals(Arrays.asList(new Progress("q", "qr_shown", "qr \ufffd")), rig.run());
    rig.app.started.get("q").finished(Outcome.approved("t-\udfff")
        .withReceipt(Arrays.asList("account=wallet \ud83d")));
    PaymentResult result = (PaymentResult) rig.one(rig.run());
    assertEquals("t-\ufffd", result.transactionId());
    assertTrue(result.receipt().fields().contains("account=wallet \ufffd"));
    QueryResult query = (QueryResult) rig.one(rig.send(new Query(7, "q")));
    assertEquals("approved", query.status());
    assertEquals("t-\ufffd", query.transactionId());
  }

  static int frameBytes(AppMessage m) {
    return dev.posbridge.terminal.message.MessageCodec.encode(
        new dev.posbridge.terminal.message.Data(Long.MAX_VALUE, m)).length;
  }

  @Test
  void aReceiptTooLargeForAFrameIsLeftOutRatherThanTheAnswer() {
    // The app's receipt fields (here a slip's fine print) are copied into both printed
    // copies: with them the result and every query_result would exceed a frame, never be
    // sent, and leave the payment unknown at the host for ever.
    char[] text = new char[3000];
    Arrays.fill(text, 'x');
    rig.send(new Sale(1, "p", 100, "82"));
    rig.app.started.get("p").finished(Outcome.approved("t")
        .withReceipt(Arrays.asList("account=" + new String(text))));
    PaymentResult result = (PaymentResult) rig.one(rig.run());
    assertTrue(frameBytes(result) <= dev.posbridge.terminal.wire.Frames.MAX_PAYLOAD);
    assertEquals("approved", result.status());
    assertTrue(result.receipt().isEmpty());
    QueryResult query = (QueryResult) rig.one(rig.send(new Query(2, "p")));
    assertTrue(frameBytes(query) <= dev.posbridge.terminal.wire.Frames.MAX_PAYLOAD);
    assertEquals("approved", query.status());
    // the refund of it carries the account too: its answers fit as well
    AppMessage refunded = rig.one(refund(3, "p", "c1", 50));
    assertTrue(((Reply) refunded).accepted());
    assertTrue(frameBytes(refunded) <= dev.posbridge.terminal.wire.Frames.MAX_PAYLOAD);
    AppMessage found = rig.one(rig.send(new RefundQuery(4, "p", "c1")));
    assertTrue(((RefundResult) found).found());
    assertTrue(frameBytes(found) <= dev.posbridge.terminal.wire.Frames.MAX_PAYLOAD);
    // the record keeps the receipt whole; only the link leaves it out
    assertTrue(stored("p").receipt().contains("account=" + new String(text)));
    assertTrue(rig.log.stream().anyMatch(l -> l.startsWith("WARNING")
        && l.contains("receipt") && l.contains("too large")), rig.log.toString());
  }

  // -- the store failing ---------------------------------------------------------------------

  @Test
  void aSaleTheStoreCannotRecordIsRefusedAndLeavesNothing() {
    Rig.FlakyStore store = new Rig.FlakyStore();
    Rig flaky = new Rig(store).up();
    store.failing = true;
    Reply reply = (Reply) flaky.one(flaky.send(new Sale(1, "p", 100, "82")));
    assertFalse(reply.accepted());
    assertEquals("terminal_error", reply.reason());
    assertTrue(reply.detail().contains("disk full"));
    assertTrue(flaky.app.started.isEmpty());
    store.failing = false;
    assertEquals(Arrays.asList(new QueryResult(2, "p", false, "", "", "", 0, "", 0)),
        flaky.send(new Query(2, "p")));
    assertEquals(Arrays.asList(accepted(3, "p")), flaky.send(new Sale(3, "p", 100, "82")));
  }

  @Test
  void anOutcomeTheStoreCannotSaveIsKeptReportedAndSavedLater() {
    Rig.FlakyStore store = new Rig.FlakyStore();
    Rig flaky = new Rig(store).up();
    flaky.send(new Sale(1, "p", 100, "82"));
    store.failing = true;
    flaky.app.started.get("p").finished(Outcome.approved("t"));
    assertEquals("approved", ((PaymentResult) flaky.one(flaky.run())).status());
    assertEquals("approved", ((QueryResult) flaky.one(flaky.send(new Query(2, "p")))).status());
    assertEquals("pending", store.inner.load().payments().get(0).status());
    assertTrue(flaky.errors().get(0).contains("could not be saved (disk full)"));
    // A sale while the store is behind is refused: nothing is accepted unrecorded.
    assertEquals("terminal_error",
        ((Reply) flaky.one(flaky.send(new Sale(3, "q", 100, "82")))).reason());
    assertEquals(flaky.clock.monotonic + 1.0, flaky.engine.nextDeadline());
    store.failing = false;
    flaky.clock.monotonic += 1.0;
    flaky.engine.handleTimers();
    assertEquals("approved", store.inner.load().payments().get(0).status());
    assertEquals(Double.POSITIVE_INFINITY, flaky.engine.nextDeadline());
  }
}
