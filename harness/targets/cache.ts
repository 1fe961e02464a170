// The provisioning cache: installed servers live here between runs. It sits under the user's
// cache directory (so it survives a fresh clone) and can be moved with --cache-dir or
// MATRIX_CONFORMANCE_CACHE.
import { access, mkdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

// Defined with the other settings, so that layers which may not import targets (schemas) read it too.
export { defaultCacheDir } from "../settings.ts";

/**
 * Holds an exclusive lock (a directory) while `fn` runs, so that two runs provisioning the same
 * thing do not interleave. A lock older than `staleMs` is taken to be left by a dead run.
 */
export async function withLock<T>(lockDir: string, fn: () => Promise<T>, opts: { waitMs?: number; staleMs?: number; onWait?: () => void } = {}): Promise<T> {
  const waitMs = opts.waitMs ?? 20 * 60_000;
  const staleMs = opts.staleMs ?? 30 * 60_000;
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, "owner"), `${process.pid}\n`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = await stat(lockDir).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > staleMs) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`gave up waiting for the lock ${lockDir}; remove it if no other run is provisioning`);
      if (!told) {
        opts.onWait?.();
        told = true;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

export async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}
