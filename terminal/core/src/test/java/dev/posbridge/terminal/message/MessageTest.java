package dev.posbridge.terminal.message;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class MessageTest {
  @Test
  void messagesWithTheSameFieldsAreEqual() {
    assertEquals(new Sale(1, "r", 100, "82"), new Sale(1, "r", 100, "82"));
    assertEquals(new Sale(1, "r", 100, "82").hashCode(), new Sale(1, "r", 100, "82").hashCode());
    assertNotEquals(new Sale(1, "r", 100, "82"), new Sale(1, "r", 101, "82"));
    // Same fields, other kind.
    assertNotEquals(new Query(1, "r"), new Cancel(1, "r"));
    assertNotEquals(new Query(1, "r"), new VoidPayment(1, "r"));
  }

  @Test
  void toStringIsTheJsonPayload() {
    assertEquals("{\"k\":\"void\",\"rid\":4,\"ref\":\"r\"}", new VoidPayment(4, "r").toString());
    assertEquals("{\"k\":\"ack\",\"seq\":1}", new Ack(1).toString());
  }

  @Test
  void listsAreCopiedAndUnmodifiable() {
    List<String> refs = new ArrayList<>(Arrays.asList("a", "b"));
    BatchResult result = new BatchResult(1, 1, 2, 300, refs, "id", true);
    refs.add("c");
    assertEquals(Arrays.asList("a", "b"), result.refs());
    assertThrows(UnsupportedOperationException.class, () -> result.refs().add("d"));
  }

  @Test
  void refusesNullsAndUnpairedSurrogates() {
    assertThrows(NullPointerException.class, () -> new Query(1, null));
    assertThrows(NullPointerException.class, () -> new Data(1, null));
    assertThrows(
        NullPointerException.class,
        () -> new TotalsResult(1, 0, Arrays.asList("payment:82:approved:1:100", null)));
    assertThrows(IllegalArgumentException.class, () -> new Query(1, "a\ud800"));
    assertThrows(IllegalArgumentException.class, () -> new Query(1, "\udc00a"));
    assertEquals("😀", new Query(1, "😀").ref());
  }

  @Test
  void aHelloBuilderStartsAsATerminalOfThisVersion() {
    Hello hello = new Hello.Builder().serial("T-1").build();
    assertEquals(Hello.TERMINAL, hello.role());
    assertEquals(Hello.PROTOCOL_VERSION, hello.version());
    assertEquals("", hello.session());
    assertEquals(hello, hello.newBuilder().build());
    assertEquals("s", hello.newBuilder().session("s").build().session());
  }

  @Test
  void aReceiptRidesWithItsThreeFields() {
    Receipt receipt =
        new Receipt(
            Arrays.asList("method=PayNow", "amount=1.00"),
            Arrays.asList("MERCHANT"),
            Arrays.asList("CUSTOMER"));
    assertEquals(
        "{\"k\":\"result\",\"ref\":\"r\",\"status\":\"approved\",\"response_code\":\"00\","
            + "\"transaction_id\":\"t\",\"receipt\":[\"method=PayNow\",\"amount=1.00\"],"
            + "\"merchant_copy\":[\"MERCHANT\"],\"customer_copy\":[\"CUSTOMER\"]}",
        new PaymentResult("r", "approved", "00", "t", receipt).toString());
    assertEquals(Receipt.NONE, new PaymentResult("r", "approved", "00", "t").receipt());
  }
}
