package dev.posbridge.terminal.engine;

import java.io.File;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * What one change costs the {@link FileStore} as the records grow (it rewrites them all):
 * run by bench/terminal_store.py, which prints the figures; not a test.
 */
public final class FileStoreBench {
  private FileStoreBench() {}

  public static void main(String[] args) throws Exception {
    File folder = Files.createTempDirectory("posbridge-store-bench").toFile();
    List<String> receipt = Arrays.asList("kind=sale", "method=PayNow",
        "account=wallet ****0001", "transaction_id=100126120811059138774667",
        "terminal_id=SIM-000001", "merchant_id=SIM-MERCHANT-0001",
        "time=2026-12-08T02:37:33Z", "amount=1.00", "status=approved");
    for (int n : new int[] {100, 1_000, 10_000, 50_000}) {
      File file = new File(folder, "terminal-" + n + ".json");
      FileStore store = new FileStore(file);
      store.load();
      List<PaymentRecord> payments = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        payments.add(new PaymentRecord("invoice-" + i, 100 + i, "82", "approved", "00",
            "100126120811059138774667", 0, 1796697453.163, receipt,
            Collections.<String>emptyList(), 0));
      }
      store.save(new Change(0, payments, Collections.<RefundRecord>emptyList(),
          Collections.<BatchRecord>emptyList()));
      int rounds = n >= 10_000 ? 10 : 50;
      long started = System.nanoTime();
      for (int r = 0; r < rounds; r++) {
        store.save(Change.of(0, payments.get(r)));
      }
      double ms = (System.nanoTime() - started) / 1e6 / rounds;
      System.out.printf("FileStore: %6d payments: %6.1f ms per change (file %,d KB)%n", n, ms,
          file.length() / 1024);
      file.delete();
    }
    folder.delete();
  }
}
