package dev.posbridge.terminal.message;

/**
 * An application message: a request from the host or an answer or report from the
 * terminal. Application messages travel inside a {@link Data} envelope, so that the link
 * sequences, acknowledges and retransmits them.
 */
public abstract class AppMessage extends Message {
  AppMessage() {}
}
