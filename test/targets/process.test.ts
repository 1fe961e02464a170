// Supervised processes: clear errors for servers that die, hang or cannot bind, and no orphans.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { freePort, startSupervised, waitForReady } from "../../harness/targets/process.ts";
import { SetupError } from "../../harness/targets/types.ts";

const dirs: string[] = [];
async function logFile(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "mc-proc-"));
  dirs.push(d);
  return join(d, "server.log");
}
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Running, as opposed to gone or a zombie waiting to be reaped by whoever inherited it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

describe("supervised servers", () => {
  test("a server that exits before it is ready gives its exit code and the end of its log", async () => {
    const log = await logFile();
    const proc = startSupervised("sh", ["-c", "echo 'config error: no listeners'; exit 3"], { logFile: log });
    const err = await waitForReady("http://127.0.0.1:9/", proc, { name: "Fake", logFile: log, timeoutMs: 10_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect(err.message).toContain("Fake exited (code 3) before it became ready");
    expect(err.message).toContain("config error: no listeners");
    expect(err.message).toContain(log);
  });

  test("a server that never becomes ready fails within the bound, with its log", async () => {
    const log = await logFile();
    const proc = startSupervised("sh", ["-c", "echo still starting; exec sleep 60"], { logFile: log });
    const t0 = Date.now();
    const err = await waitForReady(`http://127.0.0.1:${await freePort()}/`, proc, { name: "Slow", logFile: log, timeoutMs: 1500 }).catch((e) => e);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(err.message).toContain("Slow did not become ready within 1.5 s");
    expect(err.message).toContain("still starting");
    await proc.stop();
    expect(proc.hasExited()).toBe(true);
  });

  test("a port already in use is named as the cause", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    const log = await logFile();
    const proc = startSupervised("python3", ["-m", "http.server", "--bind", "127.0.0.1", String(port)], { logFile: log });
    const err = await waitForReady(`http://127.0.0.1:${port}/`, proc, { name: "Server", logFile: log, timeoutMs: 10_000 }).catch((e) => e);
    blocker.close();
    expect(err.message).toContain("A port it needs is already in use");
  });

  test("stopping ends the whole process group, children included", async () => {
    const log = await logFile();
    // The shell starts a grandchild and prints its pid; both must be gone after stop().
    const proc = startSupervised("sh", ["-c", "sleep 60 & echo child=$!; wait"], { logFile: log });
    let childPid = 0;
    const { readFile } = await import("node:fs/promises");
    for (let i = 0; i < 100 && !childPid; i++) {
      childPid = Number(/child=(\d+)/.exec(await readFile(log, "utf8").catch(() => ""))?.[1] ?? 0);
      if (!childPid) await new Promise((r) => setTimeout(r, 50));
    }
    expect(childPid).toBeGreaterThan(0);
    await proc.stop();
    expect(alive(childPid)).toBe(false);
  });
});
