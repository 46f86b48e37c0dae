package dev.posbridge.terminal.link;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.posbridge.terminal.Vectors;
import dev.posbridge.terminal.message.AppMessage;
import dev.posbridge.terminal.message.Hello;
import dev.posbridge.terminal.message.MessageCodec;
import dev.posbridge.terminal.Hex;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.json.JSONObject;
import org.junit.jupiter.api.Test;

/** spec/vectors/link.json: conversations with the terminal's end, step by step. */
class LinkVectorsTest {
  static void replay(JSONObject vectors) throws Exception {
    Hello identity = (Hello) MessageCodec.decode(vectors.getString("identity").getBytes(UTF_8));
    for (JSONObject conversation : Vectors.objects(vectors.getJSONArray("conversations"))) {
      replay(identity, conversation);
    }
  }

  static void replay(Hello identity, JSONObject conversation) throws Exception {
    JSONObject t = conversation.getJSONObject("timers");
    LinkConnection link =
        new LinkConnection(
            identity,
            new LinkTimers(
                t.getDouble("rto"),
                t.getInt("max_retries"),
                t.getDouble("heartbeat_interval"),
                t.getDouble("dead_after"),
                t.getDouble("idle_heartbeat")));
    List<JSONObject> steps = Vectors.objects(conversation.getJSONArray("steps"));
    for (int n = 0; n < steps.size(); n++) {
      JSONObject step = steps.get(n);
      double now = step.getDouble("t");
      String where = conversation.getString("name") + ", step " + n + " at t=" + now;
      List<LinkEvent> events;
      if (step.has("in")) {
        events = link.receiveData(Hex.decode(step.getString("in")), now);
      } else if (step.has("timers")) {
        events = link.handleTimers(now);
      } else if (step.has("send")) {
        link.send((AppMessage) MessageCodec.decode(step.getString("send").getBytes(UTF_8)), now);
        events = Collections.emptyList();
      } else {
        events = link.close(step.getString("close"));
      }
      assertEquals(step.getString("out"), Hex.encode(link.dataToSend()), where);
      assertEquals(expectedEvents(step), describe(events), where);
      assertEquals(step.getString("state"), link.state().name().toLowerCase(Locale.ROOT), where);
      double deadline =
          step.isNull("next_deadline")
              ? Double.POSITIVE_INFINITY
              : step.getDouble("next_deadline");
      assertEquals(deadline, link.nextDeadline(), 0.0, where);
    }
    JSONObject s = conversation.getJSONObject("stats");
    assertEquals(
        new LinkStats(
            s.getLong("frames_sent"),
            s.getLong("frames_received"),
            s.getLong("retransmissions"),
            s.getLong("duplicates"),
            s.getLong("out_of_order"),
            s.getLong("bad_messages")),
        link.stats(),
        conversation.getString("name"));
    JSONObject d = conversation.getJSONObject("decoder_stats");
    assertEquals(
        d.getLong("frames") + "/" + d.getLong("bytes_skipped") + "/" + d.getLong("bad_header")
            + "/" + d.getLong("bad_crc"),
        link.decoderStats().frames() + "/" + link.decoderStats().bytesSkipped() + "/"
            + link.decoderStats().badHeader() + "/" + link.decoderStats().badCrc(),
        conversation.getString("name"));
  }

  private static List<String> expectedEvents(JSONObject step) throws Exception {
    List<String> out = new ArrayList<>();
    for (JSONObject event : Vectors.objects(step.getJSONArray("events"))) {
      String kind = event.getString("event");
      String detail =
          event.has("peer")
              ? event.getString("peer")
              : event.has("message") ? event.getString("message") : event.getString("reason");
      out.add(kind + " " + detail);
    }
    return out;
  }

  private static List<String> describe(List<LinkEvent> events) {
    List<String> out = new ArrayList<>();
    for (LinkEvent event : events) {
      if (event instanceof LinkUp) {
        out.add("link_up " + ((LinkUp) event).peer());
      } else if (event instanceof MessageReceived) {
        out.add("message_received " + ((MessageReceived) event).message());
      } else {
        out.add("link_down " + ((LinkDown) event).reason());
      }
    }
    return out;
  }

  @Test
  void everyConversationReplays() throws Exception {
    JSONObject vectors = Vectors.load("link.json");
    assertTrue(vectors.getJSONArray("conversations").length() >= 20);
    replay(vectors);
  }

  @Test
  void theReplayNoticesAChangedByteOut() throws Exception {
    JSONObject vectors = Vectors.load("link.json");
    JSONObject step =
        vectors.getJSONArray("conversations").getJSONObject(0).getJSONArray("steps").getJSONObject(1);
    String out = step.getString("out");
    step.put("out", out.substring(0, out.length() - 1) + (out.endsWith("0") ? "1" : "0"));
    assertThrows(AssertionError.class, () -> replay(vectors));
  }

  @Test
  void theReplayNoticesAChangedDeadline() throws Exception {
    JSONObject vectors = Vectors.load("link.json");
    JSONObject step =
        vectors.getJSONArray("conversations").getJSONObject(0).getJSONArray("steps").getJSONObject(1);
    step.put("next_deadline", step.getDouble("next_deadline") + 1e-9);
    assertThrows(AssertionError.class, () -> replay(vectors));
  }
}
