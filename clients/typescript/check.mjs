// `npm run check`, part 1: posbridge.d.ts must be exactly what openapi-typescript (the
// version pinned in package-lock.json) makes of ../../openapi.json. Regenerates into a
// temporary folder and compares byte for byte; part 2 (tsc --noEmit) type-checks the client
// against it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const spec = join(here, "..", "..", "openapi.json");
const committed = join(here, "posbridge.d.ts");
const cli = join(here, "node_modules", "openapi-typescript", "bin", "cli.js");

const tmp = mkdtempSync(join(tmpdir(), "posbridge-ts-check-"));
try {
  const fresh = join(tmp, "posbridge.d.ts");
  execFileSync(process.execPath, [cli, spec, "-o", fresh], { stdio: ["ignore", "ignore", "inherit"] });
  const want = readFileSync(fresh);
  let have;
  try {
    have = readFileSync(committed);
  } catch {
    have = Buffer.alloc(0);
  }
  if (!want.equals(have)) {
    const a = have.toString().split("\n"), b = want.toString().split("\n");
    let line = 0;
    while (line < a.length && line < b.length && a[line] === b[line]) line++;
    console.error(`posbridge.d.ts is out of date with openapi.json (first difference at line ${line + 1}:`);
    console.error(`  committed: ${JSON.stringify(a[line] ?? "<end of file>")}`);
    console.error(`  generated: ${JSON.stringify(b[line] ?? "<end of file>")})`);
    console.error("Run `npm run generate` in clients/typescript and commit posbridge.d.ts.");
    process.exit(1);
  }
  console.log("posbridge.d.ts is current with openapi.json");
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
