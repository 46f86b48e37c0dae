package dev.posbridge.terminal.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileStoreTest {
  @TempDir Path folder;

  static PaymentRecord payment(String ref, long amount) {
    return PaymentRecord.pending(ref, amount, "82", 1764628221.5, 0);
  }

  @Test
  void aNewFileIsEmptyThenKeepsEveryChangeAcrossOpens() throws Exception {
    File file = folder.resolve("terminal.json").toFile();
    FileStore store = new FileStore(file);
    assertEquals(Snapshot.EMPTY, store.load());
    assertFalse(file.exists());
    store.save(Change.of(0, payment("a", 100)));
    PaymentRecord approved = payment("a", 100).finished("approved", "00", "t",
        Arrays.asList("kind=sale"));
    store.save(Change.of(0, approved));
    store.save(Change.of(0, new RefundRecord("c", "a", 40, "approved", "rt",
        Collections.<String>emptyList(), 0)));
    store.save(new Change(1, Arrays.asList(approved.settled(1)),
        Collections.<RefundRecord>emptyList(),
        Arrays.asList(new BatchRecord("b1", 1, 1, 100, Arrays.asList("a")))));
    Snapshot reopened = new FileStore(file).load();
    assertEquals(store.load(), reopened);
    assertEquals(1, reopened.payments().size());
    assertEquals(1, reopened.payments().get(0).batchNumber());
    assertEquals("approved", reopened.payments().get(0).status());
    assertEquals(1, reopened.refunds().size());
    assertEquals(1, reopened.batchNumber());
    assertFalse(new File(file.getPath() + ".tmp").exists());
    String text = new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8);
    assertTrue(text.startsWith("{\n \"batch_number\": 1,\n \"payments\": [\n  {\n   \"ref\": \"a\""),
        text);
  }

  @Test
  void anUnfinishedWriteLeftBehindIsIgnored() throws Exception {
    File file = folder.resolve("terminal.json").toFile();
    FileStore store = new FileStore(file);
    store.save(Change.of(0, payment("a", 100)));
    // A crash after writing the temporary file, before the rename: half a file.
    String whole = new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8);
    Files.write(folder.resolve("terminal.json.tmp"),
        whole.substring(0, whole.length() / 2).getBytes(StandardCharsets.UTF_8));
    assertEquals(Arrays.asList(payment("a", 100)), new FileStore(file).load().payments());
    // and a crash after a complete write, before the rename: the old state still.
    Files.write(folder.resolve("terminal.json.tmp"), StateJson.write(new Snapshot(0,
        Arrays.asList(payment("a", 100), payment("b", 5)),
        Collections.<RefundRecord>emptyList(), Collections.<BatchRecord>emptyList()))
        .getBytes(StandardCharsets.UTF_8));
    FileStore reopened = new FileStore(file);
    assertEquals(1, reopened.load().payments().size());
    reopened.save(Change.of(0, payment("c", 1))); // the next write replaces the leftover
    assertEquals(2, new FileStore(file).load().payments().size());
  }

  @Test
  void aDamagedFileStopsTheStartSayingWhichFile() throws Exception {
    File file = folder.resolve("terminal.json").toFile();
    Files.write(file.toPath(), "{\"batch_number\": 0, \"payme".getBytes(StandardCharsets.UTF_8));
    IOException e = assertThrows(IOException.class, () -> new FileStore(file).load());
    assertTrue(e.getMessage().startsWith(file + " is not a terminal state file"), e.getMessage());
  }

  @Test
  void aFailedWriteChangesNothing() throws Exception {
    File file = folder.resolve("terminal.json").toFile();
    FileStore store = new FileStore(file);
    store.save(Change.of(0, payment("a", 100)));
    // The temporary file cannot be written (here: a folder is in its way).
    Path tmp = folder.resolve("terminal.json.tmp");
    Files.createDirectory(tmp);
    assertThrows(IOException.class, () -> store.save(Change.of(0, payment("b", 100))));
    Files.delete(tmp);
    store.save(Change.of(0, payment("c", 100)));
    assertEquals(Arrays.asList(payment("a", 100), payment("c", 100)),
        new FileStore(file).load().payments());
  }

  /**
   * A real child JVM saving as fast as it can is killed (SIGKILL) at random moments; each
   * time the file reloads whole, with at least every change the child said was saved.
   */
  @Test
  void aKilledWriterLeavesAFileThatLoadsWithEverySaveItConfirmed() throws Exception {
    File file = folder.resolve("terminal.json").toFile();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = new ArrayList<>(Arrays.asList(java, "-cp",
        System.getProperty("java.class.path"), Writer.class.getName(), file.getPath()));
    java.util.Random random = new java.util.Random(7);
    int kills = 0;
    for (int round = 0; round < 5; round++) {
      Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
      java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(
          child.getInputStream(), StandardCharsets.UTF_8));
      int confirmed = -1;
      long until = System.nanoTime() + (200 + random.nextInt(400)) * 1_000_000L;
      String line;
      while (System.nanoTime() < until && (line = out.readLine()) != null) {
        confirmed = Integer.parseInt(line.trim());
      }
      child.destroyForcibly(); // SIGKILL: no shutdown hook, no flush
      child.waitFor();
      kills++;
      Snapshot loaded = new FileStore(file).load();
      int count = loaded.payments().size();
      assertTrue(count >= confirmed, "loaded " + count + " payments, child confirmed " + confirmed);
      assertTrue(confirmed > 0, "the child saved nothing in time");
    }
    assertEquals(5, kills);
  }

  /** The child: saves one payment more each time, printing how many it has saved. */
  public static final class Writer {
    public static void main(String[] args) throws Exception {
      FileStore store = new FileStore(new File(args[0]));
      int n = store.load().payments().size();
      while (true) {
        store.save(Change.of(0, payment("p-" + n, 100 + n)));
        n++;
        System.out.println(n);
        System.out.flush();
      }
    }
  }
}
