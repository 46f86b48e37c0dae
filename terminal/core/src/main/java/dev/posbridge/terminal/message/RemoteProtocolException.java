package dev.posbridge.terminal.message;

/**
 * The peer sent something this end cannot read: a payload that is not valid UTF-8, not
 * strict JSON, not an object, of an unknown kind, or with a field of the wrong type. The
 * link counts such a payload and drops it without an acknowledgement
 * (docs/link-protocol.md section 3).
 */
public final class RemoteProtocolException extends Exception {
  private static final long serialVersionUID = 1L;

  public RemoteProtocolException(String message) {
    super(message);
  }
}
