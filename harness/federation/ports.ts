// Ports for fake peers. Peer ports are never reused within a run. A peer's server name carries
// its port, and a target remembers destinations: if a later peer reused the port of one that had
// stopped, the target would see the same server name and hold its transactions back under the
// backoff it applied to the stopped one. So ports come from a range of this worker's own
// (VITEST_POOL_ID), below the kernel's ephemeral range, handed out in order and skipped when taken.

import { readFileSync, writeFileSync } from "node:fs";
import type { Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PORTS_PER_WORKER = 1500;
const PORT_BASE = 10_000;
// 14 slots of 1500 ports span 10000-30999, below Linux's default ephemeral range (32768-60999),
// so a peer never takes a port the kernel may hand an outgoing connection; pool IDs beyond 14
// share a slot's range (their counter file too), which only makes a collision a retry.
const SLOTS = 14;
const slot = Math.max(0, (Number(process.env.VITEST_POOL_ID) || 1) - 1) % SLOTS;
const firstPort = PORT_BASE + slot * PORTS_PER_WORKER;
// A pool slot may run several test files in successive processes, so the position in the range
// is kept in a file (one per slot) rather than in this module.
const counterFile = join(tmpdir(), `matrix-conformance-peer-ports-${slot}`);

/** The next port of this worker's range (not yet known to be free). */
export function takePort(): number {
  let next = firstPort;
  try {
    const saved = Number(readFileSync(counterFile, "utf8"));
    if (saved >= firstPort && saved < firstPort + PORTS_PER_WORKER) next = saved;
  } catch {
    // first use of this slot
  }
  const after = next + 1 < firstPort + PORTS_PER_WORKER ? next + 1 : firstPort;
  writeFileSync(counterFile, String(after));
  return next;
}

/** Listens on 127.0.0.1 on the next free port of this worker's range. */
export async function listenOnFreshPort(server: Server): Promise<void> {
  for (let tries = 0; tries < PORTS_PER_WORKER; tries++) {
    const port = takePort();
    const ok = await new Promise<boolean>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => (err.code === "EADDRINUSE" || err.code === "EACCES" ? resolve(false) : reject(err));
      server.once("error", onError);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", onError);
        resolve(true);
      });
    });
    if (ok) return;
  }
  throw new Error(`no free port in this worker's peer range ${firstPort}-${firstPort + PORTS_PER_WORKER - 1}`);
}
