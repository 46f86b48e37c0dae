package dev.posbridge.terminal.engine;

import dev.posbridge.terminal.message.AppMessage;

/**
 * One request of the host as the engine acts on it: the message and the session it arrived
 * in. Its answer goes out only in that session (docs/link-protocol.md section 8, duty 4).
 */
final class Exchange {
  final AppMessage request;
  final long session;

  Exchange(AppMessage request, long session) {
    this.request = request;
    this.session = session;
  }
}
