package dev.posbridge.terminal.link;

/**
 * What a {@link LinkConnection} reports: {@link LinkUp}, {@link MessageReceived} or {@link
 * LinkDown}.
 */
public abstract class LinkEvent {
  LinkEvent() {}
}
