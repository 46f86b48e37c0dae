package dev.posbridge.terminal.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * How a payment ended: approved, declined with a code, cancelled by the customer, or timed
 * out. Immutable. Text that is not valid Unicode (an unpaired surrogate) is kept with U+FFFD
 * in its place: the link carries UTF-8, and an outcome is never refused for its text.
 */
public final class Outcome {
  /** The codes the link gives other meanings: approved, pending, cancelled, timed out, voided. */
  private static final List<String> RESERVED = Arrays.asList("00", "09", "17", "68", "VD");

  private final String status;
  private final String responseCode;
  private final String transactionId;
  private final List<String> receiptFields;

  private Outcome(String status, String responseCode, String transactionId,
      List<String> receiptFields) {
    this.status = status;
    this.responseCode = responseCode;
    this.transactionId = Text.unicode(Checks.notNull(transactionId, "transactionId"));
    this.receiptFields = receiptFields;
  }

  /** Paid: response code {@code 00}, with the acquirer's id for the payment. */
  public static Outcome approved(String transactionId) {
    return new Outcome(PaymentRecord.APPROVED, "00", transactionId,
        Collections.<String>emptyList());
  }

  /**
   * Not paid: declined with {@code responseCode}, two characters (digits or capitals, e.g.
   * {@code 51}), with the acquirer's id for the attempt ({@code ""} if none).
   *
   * @throws IllegalArgumentException if the code is not two digits or capitals, or is one the
   *     link gives another meaning ({@code 00}, {@code 09}, {@code 17}, {@code 68}, {@code VD})
   */
  public static Outcome declined(String responseCode, String transactionId) {
    Checks.notNull(responseCode, "responseCode");
    if (!responseCode.matches("[0-9A-Z]{2}") || RESERVED.contains(responseCode)) {
      throw new IllegalArgumentException("a decline code is two digits or capitals other than "
          + "00, 09, 17, 68 and VD: " + responseCode);
    }
    return new Outcome(PaymentRecord.DECLINED, responseCode, transactionId,
        Collections.<String>emptyList());
  }

  /** The customer cancelled on the terminal: response code {@code 17}. */
  public static Outcome cancelledByCustomer() {
    return new Outcome(PaymentRecord.CANCELLED, "17", "", Collections.<String>emptyList());
  }

  /** The customer never paid and the terminal gave up: response code {@code 68}. */
  public static Outcome timedOut() {
    return new Outcome(PaymentRecord.TIMED_OUT, "68", "", Collections.<String>emptyList());
  }

  /**
   * This outcome with receipt fields of the app's ({@code "key=value"}, for example
   * {@code "account=wallet ****1234"}): each replaces the terminal's field of the same key, or
   * is added.
   */
  public Outcome withReceipt(List<String> fields) {
    List<String> copy = new ArrayList<>();
    for (String field : Checks.copy(fields, "fields")) {
      if (field.indexOf('=') <= 0) {
        throw new IllegalArgumentException("a receipt field is key=value: " + field);
      }
      copy.add(Text.unicode(field));
    }
    return new Outcome(status, responseCode, transactionId,
        Collections.unmodifiableList(copy));
  }

  /** The link status: approved, declined, cancelled or timed_out. */
  public String status() {
    return status;
  }

  /** 00, the decline code, 17 or 68. */
  public String responseCode() {
    return responseCode;
  }

  /** The acquirer's id, {@code ""} if none. */
  public String transactionId() {
    return transactionId;
  }

  /** The app's receipt fields. */
  public List<String> receiptFields() {
    return receiptFields;
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof Outcome)) {
      return false;
    }
    Outcome that = (Outcome) other;
    return status.equals(that.status) && responseCode.equals(that.responseCode)
        && transactionId.equals(that.transactionId)
        && receiptFields.equals(that.receiptFields);
  }

  @Override
  public int hashCode() {
    return status.hashCode() * 31 + responseCode.hashCode();
  }

  @Override
  public String toString() {
    return status + " (" + responseCode + ")"
        + (transactionId.isEmpty() ? "" : " " + transactionId);
  }
}
