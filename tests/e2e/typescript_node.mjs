// Run by tests/e2e/test_typescript.py with Node: the compiled TypeScript client and example
// (client.js, example.js in DIST) against a real bridge. Prints one JSON object of what it saw.
//     node typescript_node.mjs DIST BRIDGE_URL SILENT_URL CLOSED_URL
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [dist, bridge, silent, closed] = process.argv.slice(2);
const { PosbridgeClient, PosbridgeError } = await import(pathToFileURL(join(dist, "client.js")).href);
const { pay } = await import(pathToFileURL(join(dist, "example.js")).href);

const log = [];
const pos = new PosbridgeClient({ baseUrl: bridge + "/", timeoutMs: 10_000 });
const failure = async (promise) => {
  try {
    await promise;
    return { thrown: false };
  } catch (error) {
    return { thrown: true, isPosbridgeError: error instanceof PosbridgeError, name: error.name,
             status: error.status, error_code: error.error_code, success: error.success,
             message: error.message, outcomeUnknown: error.outcomeUnknown, body: error.body };
  }
};

const out = {};
out.approved = await pay(pos, "5.00", "ts-node-approved", (line) => log.push(line));
out.replayed = await pay(pos, "5.00", "ts-node-approved", (line) => log.push(line));
out.declined = await pay(pos, "5.51", "ts-node-declined", (line) => log.push(line));
out.conflict = await pay(pos, "6.00", "ts-node-approved", (line) => log.push(line));
out.notFound = await failure(pos.queryPayment("ts-node-no-such-payment"));
out.badAmount = await failure(pos.createPayment(
  { amount: "1.234", retrieval_reference_number: "ts-node-bad", condition_code: "82" }));
out.void = await pos.voidPayment("ts-node-approved");
out.afterVoid = await pos.queryPayment("ts-node-approved");
out.voidAgain = await failure(pos.voidPayment("ts-node-approved"));
out.cancelNothing = await failure(pos.cancelPayment());
await pay(pos, "2.50", "ts-node-batched", (line) => log.push(line));
out.batch = await pos.submitBatch();
out.waitTimeout = await failure((async () => {
  await pos.createPayment({ amount: "1.00", retrieval_reference_number: "ts-node-cancel",
                            condition_code: "82" });
  return pos.waitForFinal("ts-node-cancel", { timeoutMs: 0 });
})());
out.cancel = await pos.cancelPayment();
out.cancelled = await pos.waitForFinal("ts-node-cancel", { intervalMs: 100 });
out.clientTimeout = await failure(
  new PosbridgeClient({ baseUrl: silent, timeoutMs: 300 }).queryPayment("x"));
out.networkError = await failure(
  new PosbridgeClient({ baseUrl: closed, timeoutMs: 5_000 }).queryPayment("x"));
out.log = log;
console.log(JSON.stringify(out));
