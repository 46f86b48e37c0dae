package dev.posbridge.terminal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.posbridge.terminal.message.AppMessage;
import dev.posbridge.terminal.message.Batch;
import dev.posbridge.terminal.message.BatchQuery;
import dev.posbridge.terminal.message.BatchResult;
import dev.posbridge.terminal.message.Cancel;
import dev.posbridge.terminal.message.Query;
import dev.posbridge.terminal.message.Refund;
import dev.posbridge.terminal.message.RefundQuery;
import dev.posbridge.terminal.message.Reply;
import dev.posbridge.terminal.message.Sale;
import dev.posbridge.terminal.message.Totals;
import dev.posbridge.terminal.message.VoidPayment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * Random hosts and random apps against the engine: any sequence of requests (good, bad,
 * repeated, of ended sessions), of the app's outcomes (late, repeated, for cancelled
 * payments), of sessions coming and going and of terminal restarts never breaks the records'
 * invariants, never logs an error, and never answers two ways (jqwik; tries in the report).
 */
class EnginePropertiesTest {
  static final String[] REFS = {"a", "b", "c", "d", "e", "f", "g", "h", ""};
  static final String[] REFUND_REFS = {"r1", "r2", "r3"};
  static final String[] BATCH_IDS = {"b1", "b2", ""};
  static final long[] AMOUNTS = {-1, 0, 1, 40, 100, 551, 1000};
  static final Set<String> MOVES = new HashSet<>(Arrays.asList(
      "pending>approved", "pending>declined", "pending>cancelled", "pending>timed_out",
      "approved>voided"));

  @Property(tries = 400)
  void theRecordsInvariantsHoldWhateverHappens(@ForAll Random random) {
    MemoryStore store = new MemoryStore();
    Rig rig = new Rig(store).up();
    rig.app.autoSettle = false;
    long rid = 0;
    Map<String, Integer> salesAccepted = new HashMap<>();
    Set<Long> saleRids = new HashSet<>();
    Map<String, String> lastStatus = new HashMap<>();
    Map<String, BatchResult> batchAnswers = new HashMap<>();
    Refund lastRefund = null;
    int steps = 20 + random.nextInt(80);
    for (int step = 0; step < steps; step++) {
      List<AppMessage> sent = new ArrayList<>();
      int action = random.nextInt(25);
      // Requests about a payment that exists, mostly: a reference never sold is only refused.
      List<String> known = new ArrayList<>(lastStatus.keySet());
      String ref = !known.isEmpty() && action != 0 && random.nextInt(3) != 0
          ? known.get(random.nextInt(known.size())) : REFS[random.nextInt(REFS.length)];
      String refundRef = REFUND_REFS[random.nextInt(REFUND_REFS.length)];
      String batchId = BATCH_IDS[random.nextInt(BATCH_IDS.length)];
      long amount = AMOUNTS[random.nextInt(AMOUNTS.length)];
      rid++;
      switch (action) {
        case 0:
        case 1:
        case 2:
          saleRids.add(rid);
          sent = rig.send(new Sale(rid, ref, amount, random.nextInt(8) == 0 ? "99" : "82"));
          break;
        case 3:
          sent = rig.send(new Cancel(rid, ref));
          break;
        case 4:
          sent = rig.send(new Query(rid, ref));
          break;
        case 5:
          sent = rig.send(new VoidPayment(rid, ref));
          break;
        case 6:
        case 7:
          // Sometimes the last refund again, as a host sends it after a lost answer: it must
          // be answered, never made twice.
          Refund refund = lastRefund != null && random.nextBoolean()
              ? new Refund(rid, lastRefund.ref(), lastRefund.refundRef(), lastRefund.amount())
              : new Refund(rid, ref, refundRef, amount);
          lastRefund = refund;
          sent = rig.send(refund);
          break;
        case 8:
          sent = rig.send(new RefundQuery(rid, ref, refundRef));
          break;
        case 9:
          sent = rig.send(new Batch(rid, batchId));
          break;
        case 10:
          sent = rig.send(new BatchQuery(rid, batchId));
          break;
        case 11:
          sent = rig.send(new Totals(rid));
          break;
        case 12:
        case 13:
        case 20:
        case 21:
          sent = appFinishes(rig, random);
          break;
        case 14:
        case 22:
        case 23:
        case 24:
          sent = appAnswersAnOperation(rig, random);
          break;
        case 15:
          rig.engine.linkDown();
          if (random.nextBoolean()) {
            rig.engine.linkUp(random.nextInt(4) == 0 ? 1 : 2);
          }
          sent = rig.run();
          break;
        case 16:
          rig.engine.linkUp(2);
          break;
        case 17:
          // The terminal restarts: a new engine over the same store; the old app's
          // callbacks are lost with its process.
          rig = new Rig(store);
          rig.app.autoSettle = false;
          rig.engine.resolveInterrupted();
          rig.up();
          break;
        default:
          rig.clock.monotonic += random.nextDouble() * 10;
          rig.engine.handleTimers();
          sent = rig.run();
      }
      for (AppMessage m : sent) {
        if (m instanceof Reply && ((Reply) m).accepted() && saleRids.contains(((Reply) m).rid())) {
          int times = salesAccepted.merge(((Reply) m).ref(), 1, Integer::sum);
          assertEquals(1, times, "a sale of " + ((Reply) m).ref() + " accepted twice");
        }
        if (m instanceof BatchResult && ((BatchResult) m).found()
            && !((BatchResult) m).batchId().isEmpty()) {
          BatchResult b = (BatchResult) m;
          BatchResult first = batchAnswers.putIfAbsent(b.batchId(), b);
          if (first != null) {
            assertEquals(Arrays.asList(first.batchNumber(), first.count(), first.total(),
                first.refs()), Arrays.asList(b.batchNumber(), b.count(), b.total(), b.refs()),
                "batch " + b.batchId() + " answered two ways");
          }
        }
      }
      check(store.load(), rig, lastStatus);
    }
  }

  private static List<AppMessage> appFinishes(Rig rig, Random random) {
    if (rig.app.started.isEmpty()) {
      return rig.run();
    }
    // Mostly the payment the customer is paying now (the last started), so that payments end
    // and refunds, voids and batches have approved ones to act on; sometimes an old one,
    // whose late outcome must change nothing.
    List<PaymentCallback> callbacks = new ArrayList<>(rig.app.started.values());
    int n = callbacks.size();
    PaymentCallback callback = callbacks.get(random.nextInt(4) == 0 ? random.nextInt(n) : n - 1);
    switch (random.nextInt(8)) {
      case 0:
        callback.finished(Outcome.declined("51", ""));
        break;
      case 1:
        callback.finished(Outcome.cancelledByCustomer());
        break;
      case 2:
        callback.finished(Outcome.timedOut());
        break;
      case 3:
        callback.qrShown("qr");
        break;
      default:
        callback.finished(Outcome.approved("t" + random.nextInt(1000)));
    }
    return rig.run();
  }

  private static List<AppMessage> appAnswersAnOperation(Rig rig, Random random) {
    List<Object> operations = rig.app.operations;
    if (!operations.isEmpty()) {
      // Mostly the operation in flight (the last asked for), so that operations end and the
      // next ones run; sometimes an old one again, which must change nothing.
      int n = operations.size();
      Object callback = operations.get(random.nextInt(4) == 0 ? random.nextInt(n) : n - 1);
      if (callback instanceof VoidCallback) {
        VoidCallback v = (VoidCallback) callback;
        if (random.nextBoolean()) {
          v.voided();
        } else {
          v.declined("no");
        }
      } else if (callback instanceof RefundCallback) {
        RefundCallback r = (RefundCallback) callback;
        if (random.nextBoolean()) {
          r.refunded("rt");
        } else {
          r.declined("no");
        }
      } else {
        ((SettleCallback) callback).settled();
      }
    }
    return rig.run();
  }

  private static void check(Snapshot s, Rig rig, Map<String, String> lastStatus) {
    assertEquals(Collections.emptyList(), rig.errors());
    assertEquals(s, rig.engine.snapshot(), "the store and the engine's records differ");
    int pending = 0;
    Map<String, PaymentRecord> byRef = new HashMap<>();
    for (PaymentRecord p : s.payments()) {
      assertTrue(byRef.put(p.ref(), p) == null, "two records of " + p.ref());
      assertTrue(p.amount() > 0, "amount " + p.amount());
      assertTrue(Text.isReference(p.ref()));
      if (p.isPending()) {
        pending++;
      }
      String before = lastStatus.put(p.ref(), p.status());
      if (before != null && !before.equals(p.status())) {
        assertTrue(MOVES.contains(before + ">" + p.status()), before + " -> " + p.status());
      }
    }
    assertTrue(pending <= 1, pending + " payments pending");
    for (String ref : lastStatus.keySet()) {
      assertTrue(byRef.containsKey(ref), "the record of " + ref + " was lost");
    }
    Map<String, Long> refunded = new HashMap<>();
    Set<String> refundRefs = new HashSet<>();
    for (RefundRecord r : s.refunds()) {
      assertTrue(refundRefs.add(r.refundRef()), "refund " + r.refundRef() + " made twice");
      assertTrue(r.amount() > 0);
      PaymentRecord p = byRef.get(r.ref());
      assertTrue(p != null && "approved".equals(p.status()),
          "a refund of a payment that is " + (p == null ? "unknown" : p.status()));
      refunded.merge(r.ref(), r.amount(), Long::sum);
      assertTrue(refunded.get(r.ref()) <= p.amount(), "refunds exceed payment " + r.ref());
    }
    Set<String> settledRefs = new HashSet<>();
    Set<String> batchIds = new HashSet<>();
    for (BatchRecord b : s.batches()) {
      assertTrue(batchIds.add(b.batchId()), "batch id " + b.batchId() + " settled twice");
      assertTrue(b.batchNumber() <= s.batchNumber());
      assertEquals(b.refs().size(), b.count());
      long total = 0;
      for (String ref : b.refs()) {
        assertTrue(settledRefs.add(ref), ref + " settled in two batches");
        PaymentRecord p = byRef.get(ref);
        assertEquals(b.batchNumber(), p.batchNumber(), ref + "'s batch");
        total += p.amount();
      }
      assertEquals(total, b.total());
    }
    for (PaymentRecord p : s.payments()) {
      if (p.batchNumber() != 0) {
        assertTrue("approved".equals(p.status()), "settled but " + p.status());
      }
    }
  }
}
