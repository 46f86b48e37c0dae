package dev.posbridge.terminal.link;

import dev.posbridge.terminal.message.AppMessage;

/** The next application message of the session, delivered once and in order. */
public final class MessageReceived extends LinkEvent {
  private final AppMessage message;

  public MessageReceived(AppMessage message) {
    if (message == null) {
      throw new NullPointerException("message == null");
    }
    this.message = message;
  }

  /** The message. */
  public AppMessage message() {
    return message;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof MessageReceived && ((MessageReceived) other).message.equals(message);
  }

  @Override
  public int hashCode() {
    return message.hashCode();
  }

  @Override
  public String toString() {
    return "MessageReceived{message=" + message + "}";
  }
}
