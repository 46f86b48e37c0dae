package dev.posbridge.terminal.link;

/** The states of the terminal's end: IDLE, then UP (a session), then CLOSED (final). */
public enum LinkState {
  /** No session yet: waiting for the host's hello. */
  IDLE,
  /** A session is up. A host hello with a new session replaces it. */
  UP,
  /** The link is down; make a new {@link LinkConnection} for the next one. */
  CLOSED
}
