package dev.posbridge.terminal.engine;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The default {@link Store}: the records in one JSON file, in the format of
 * {@code posbridge simulator --state FILE} (docs/simulator.md, "The state file"), so that
 * posbridge's tools read it and the simulator can start on it.
 *
 * <p>Each change is written whole to {@code FILE.tmp}, which is flushed to the disk
 * ({@code fsync}), then renamed over {@code FILE} (an atomic replace), and the folder is
 * flushed so that the rename itself survives a power loss. A kill or power cut at any
 * moment leaves either the old file or the new one, never a mix; a {@code FILE.tmp} left
 * behind is an unfinished write and is ignored. Why a whole file rather than a journal of
 * changes: the format is the simulator's, which is one JSON document, and the tools read it
 * while the terminal runs. The cost is a rewrite of every record on each change (about 9 ms
 * at a thousand payments, 45 ms at ten thousand, 250 ms at fifty thousand:
 * bench/terminal_store.py); an app that keeps years of payments on the device plugs its own
 * store over its database instead.
 *
 * <p>Uses {@code java.nio.file} (Android 8.0, API 26, and later). Not for two processes at
 * once: one terminal owns its file.
 */
public final class FileStore implements Store {
  private final File file;
  private final File tmp;
  private MemoryStore.Tables tables;

  /** A store in {@code file}, which need not exist yet (its folder must). */
  public FileStore(File file) {
    this.file = Checks.notNull(file, "file").getAbsoluteFile();
    this.tmp = new File(this.file.getPath() + ".tmp");
  }

  /** The file. */
  public File file() {
    return file;
  }

  @Override
  public synchronized Snapshot load() throws IOException {
    MemoryStore.Tables loaded = new MemoryStore.Tables();
    if (file.exists()) {
      byte[] bytes = Files.readAllBytes(file.toPath());
      try {
        loaded.load(StateJson.read(new String(bytes, StandardCharsets.UTF_8)));
      } catch (IOException e) {
        throw new IOException(file + " is not a terminal state file: " + e.getMessage(), e);
      }
    }
    tables = loaded;
    return loaded.snapshot();
  }

  @Override
  public synchronized void save(Change change) throws IOException {
    if (tables == null) {
      load();
    }
    MemoryStore.Tables next = new MemoryStore.Tables();
    next.load(tables.snapshot());
    next.apply(change);
    write(StateJson.write(next.snapshot()).getBytes(StandardCharsets.UTF_8));
    tables = next;
  }

  private void write(byte[] bytes) throws IOException {
    try (FileOutputStream out = new FileOutputStream(tmp)) {
      out.write(bytes);
      out.getFD().sync();
    }
    Path target = file.toPath();
    try {
      Files.move(tmp.toPath(), target, StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException("cannot replace " + file + " atomically: " + e.getMessage(), e);
    }
    syncFolder(target.toAbsolutePath().getParent());
  }

  private static void syncFolder(Path folder) {
    if (folder == null) {
      return;
    }
    try (FileChannel channel = FileChannel.open(folder, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException e) {
      // Windows cannot open a folder this way; its rename is durable by itself (NTFS logs
      // it). Elsewhere this does not fail.
    }
  }

  @Override
  public String toString() {
    return "FileStore{" + file + "}";
  }
}
