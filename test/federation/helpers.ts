// Shared setup for the federation harness tests: one run CA per file, peers that check every
// response and every request they receive from each other against the spec's schemas, and a
// teardown that stops them.
import { afterAll } from "vitest";
import { ExchangeLog, formatExchange } from "../../harness/client/exchange.ts";
import { makeRequestValidator, makeValidator } from "../../harness/fixtures/validator.ts";
import { FederationPeer, createRunCa, type RunCa } from "../../harness/federation/index.ts";
import { defaultSpecDirForTests, loadSpec } from "../../harness/schemas/index.ts";

let ca: Promise<RunCa> | undefined;
const started: FederationPeer[] = [];

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
});

/** Starts a peer whose default destination is `target` (another peer), logging into `log`. */
export async function startPeer(log = new ExchangeLog(), target?: FederationPeer): Promise<FederationPeer> {
  ca ??= createRunCa();
  const spec = await loadSpec(defaultSpecDirForTests());
  const peer = await FederationPeer.start({
    ca: await ca,
    log,
    validator: makeValidator(spec),
    requestValidator: makeRequestValidator(spec),
    specVersion: spec.specVersion,
    ...(target ? { target: { serverName: target.serverName } } : {}),
  });
  started.push(peer);
  return peer;
}

/** Two peers, each the other's target, sharing one log. */
export async function startPair(): Promise<{ a: FederationPeer; b: FederationPeer; log: ExchangeLog }> {
  const log = new ExchangeLog();
  const a = await startPeer(log);
  const b = await startPeer(log, a);
  a.setTarget({ serverName: b.serverName });
  return { a, b, log };
}

/** Fails with the exchanges when any response broke the spec's schemas. */
export function schemaFailures(log: ExchangeLog): string {
  return log.schemaFailures().map(formatExchange).join("\n");
}
