package dev.posbridge.terminal.engine;

import java.io.IOException;

/**
 * Where the terminal's records live, durably (docs/link-protocol.md section 8, duty 3: the
 * records survive restarts; a sale is accepted only once its payment is recorded).
 *
 * <p>The engine calls a store from its own thread only, one call at a time: {@link #load}
 * once when the terminal is built, then {@link #save} for each change, before it answers the
 * host about that change. {@link FileStore} (a JSON file, the simulator's {@code --state}
 * format) is the default; an app that keeps its records in its own database implements this
 * interface over it.
 */
public interface Store {
  /**
   * Everything recorded so far ({@link Snapshot#EMPTY} for a new terminal).
   *
   * @throws IOException if the records cannot be read: the terminal then does not start, as
   *     starting without them would forget payments it accepted
   */
  Snapshot load() throws IOException;

  /**
   * Makes {@code change} durable, all of it or none of it, before returning: after a crash
   * or power loss at any moment, {@link #load} returns the records either with the change or
   * without it.
   *
   * @throws IOException if the change could not be made durable; the engine then refuses
   *     what depended on it (a sale), or keeps it in memory and saves it again later (an
   *     outcome that has already happened)
   */
  void save(Change change) throws IOException;
}
