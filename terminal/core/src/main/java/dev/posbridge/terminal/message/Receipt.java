package dev.posbridge.terminal.message;

import java.util.Collections;
import java.util.List;

/**
 * A receipt on the link: the optional fields {@code receipt}, {@code merchant_copy} and
 * {@code customer_copy} that ride on {@code result}, {@code query_result}, {@code reply} and
 * {@code refund_result} (docs/link-protocol.md, "Receipts on the link").
 */
public final class Receipt {
  /** No receipt: the three lists empty, what a terminal that prints none sends. */
  public static final Receipt NONE =
      new Receipt(
          Collections.<String>emptyList(),
          Collections.<String>emptyList(),
          Collections.<String>emptyList());

  private final List<String> fields;
  private final List<String> merchantCopy;
  private final List<String> customerCopy;

  /**
   * @param fields the structured fields, each {@code "key=value"} ({@code method},
   *     {@code account}, {@code transaction_id}, {@code terminal_id}, {@code merchant_id},
   *     {@code time}, {@code amount}, {@code status})
   * @param merchantCopy the printable lines of the merchant's copy
   * @param customerCopy the printable lines of the customer's copy
   */
  public Receipt(List<String> fields, List<String> merchantCopy, List<String> customerCopy) {
    this.fields = Values.texts(fields, "receipt");
    this.merchantCopy = Values.texts(merchantCopy, "merchant_copy");
    this.customerCopy = Values.texts(customerCopy, "customer_copy");
  }

  /** The structured fields, each {@code "key=value"}; the wire's {@code receipt}. */
  public List<String> fields() {
    return fields;
  }

  /** The printable lines of the merchant's copy. */
  public List<String> merchantCopy() {
    return merchantCopy;
  }

  /** The printable lines of the customer's copy. */
  public List<String> customerCopy() {
    return customerCopy;
  }

  /** True when all three lists are empty. */
  public boolean isEmpty() {
    return fields.isEmpty() && merchantCopy.isEmpty() && customerCopy.isEmpty();
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof Receipt)) {
      return false;
    }
    Receipt that = (Receipt) other;
    return fields.equals(that.fields)
        && merchantCopy.equals(that.merchantCopy)
        && customerCopy.equals(that.customerCopy);
  }

  @Override
  public int hashCode() {
    return (fields.hashCode() * 31 + merchantCopy.hashCode()) * 31 + customerCopy.hashCode();
  }

  @Override
  public String toString() {
    return "Receipt{receipt="
        + fields
        + ", merchant_copy="
        + merchantCopy
        + ", customer_copy="
        + customerCopy
        + "}";
  }
}
