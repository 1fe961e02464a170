// Runs the real CLI as a child process, as a user would, for the stub-server tests: a small
// semaphore keeps a file's concurrent runs within what two cores take.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll } from "vitest";
import type { RunReport } from "../../harness/report/model.ts";
import { startStub, type Misbehaviour } from "./stub-server.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const SPEC_DIR = process.env.MATRIX_SPEC_DIR ?? resolve(ROOT, "../shared/matrix-spec");
/** Directories to remove when the file ends. */
export const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  wallMs: number;
  report?: RunReport;
}

// Each run is a whole CLI process (tsx, vitest, schema loading): on a two-core machine, more than
// a few at once only makes each slower. A small semaphore keeps the file's wall time down.
const MAX_RUNS = 3;
let running = 0;
const queue: Array<() => void> = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_RUNS) await new Promise<void>((r) => queue.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    queue.shift()?.();
  }
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return slot(() => runCliNow(args, env));
}

async function runCliNow(args: string[], env: NodeJS.ProcessEnv, opts: { closeStdout?: boolean } = {}): Promise<CliRun> {
  const reportDir = await mkdtemp(join(tmpdir(), "mc-stub-report-"));
  temps.push(reportDir);
  const t0 = Date.now();
  const child = spawn(process.execPath, [join(ROOT, "bin/matrix-conformance.mjs"), ...args, "--report-dir", reportDir], {
    cwd: ROOT,
    env: { ...process.env, MATRIX_SPEC_DIR: SPEC_DIR, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  if (opts.closeStdout) child.stdout.destroy(); // like `run ... | head -1`: the reader goes away
  else child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number>((r) => child.on("close", (c) => r(c ?? -1)));
  const report = await readFile(join(reportDir, "report.json"), "utf8").then(
    (t) => JSON.parse(t) as RunReport,
    () => undefined,
  );
  return { code, stdout, stderr, wallMs: Date.now() - t0, report };
}

/**
 * Runs the CLI against a fresh stub in the given mode: the discovery suite by default, or with
 * `selftest` the selftest suites of test/stub/suites (their --area given in `extra`).
 */
export async function runAgainst(mode: Misbehaviour, extra: string[] = [], opts: { closeStdout?: boolean; selftest?: boolean } = {}): Promise<CliRun> {
  return slot(() => runAgainstNow(mode, extra, opts));
}

async function runAgainstNow(mode: Misbehaviour, extra: string[], opts: { closeStdout?: boolean; selftest?: boolean }): Promise<CliRun> {
  const stub = await startStub(mode);
  try {
    const area = opts.selftest ? [] : ["--area", "discovery"];
    const env = opts.selftest ? { MATRIX_CONFORMANCE_SELFTEST: "1" } : {};
    return await runCliNow(["run", "--target", "external", "--server-url", stub.url, "--server-name", stub.serverName, ...area, ...extra], env, opts);
  } finally {
    await stub.close();
  }
}

/** The report's entry of one test of a run, or an error showing what the run printed. */
export function reportedTest(run: CliRun, id: string): RunReport["tests"][number] {
  const t = run.report?.tests.find((x) => x.id === id);
  if (!t) throw new Error(`no test ${id} in the report:\n${run.stdout}\n${run.stderr}`);
  return t;
}
