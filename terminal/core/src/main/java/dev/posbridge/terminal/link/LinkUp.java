package dev.posbridge.terminal.link;

import dev.posbridge.terminal.message.Hello;

/** A session is up: the host's hello was answered. */
public final class LinkUp extends LinkEvent {
  private final Hello peer;

  public LinkUp(Hello peer) {
    if (peer == null) {
      throw new NullPointerException("peer == null");
    }
    this.peer = peer;
  }

  /** The host's hello that opened the session. */
  public Hello peer() {
    return peer;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof LinkUp && ((LinkUp) other).peer.equals(peer);
  }

  @Override
  public int hashCode() {
    return peer.hashCode();
  }

  @Override
  public String toString() {
    return "LinkUp{peer=" + peer + "}";
  }
}
