// The Synapse target for real: interrupting or killing a run leaves no Synapse behind, and
// setup problems are reported as plain sentences.
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { startTarget } from "../../harness/targets/index.ts";
import { answers, eventually, tempDir } from "./helpers.ts";
import { SetupError } from "../../harness/targets/types.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const SPEC_DIR = process.env.MATRIX_SPEC_DIR ?? resolve(ROOT, "../shared/matrix-spec");



/** Starts the CLI, waits until its Synapse answers, then sends `signal` to the CLI. */
async function interruptRun(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; versionsUrl: string; stderr: string }> {
  const reportDir = await tempDir("mc-life-");
  const child = spawn(process.execPath, [join(ROOT, "bin/matrix-conformance.mjs"), "run", "--report-dir", reportDir], {
    cwd: ROOT,
    env: { ...process.env, MATRIX_SPEC_DIR: SPEC_DIR, NO_COLOR: "1" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on("close", (c, s) => r([c, s])));
  let versionsUrl = "";
  const found = await eventually(async () => {
    const base = /client API (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
    if (base) versionsUrl = `${base}/_matrix/client/versions`;
    return !!base && (await answers(versionsUrl));
  }, 120_000);
  expect(found, `Synapse never answered; CLI said:\n${stderr}`).toBe(true);
  child.kill(signal);
  const [code, sig] = await closed;
  return { code, signal: sig, versionsUrl, stderr };
}

describe("the Synapse target", () => {
  test("Ctrl-C (SIGINT) stops the run with exit code 130 and Synapse is gone", async () => {
    const run = await interruptRun("SIGINT");
    expect(run.code).toBe(130);
    expect(await eventually(async () => !(await answers(run.versionsUrl)), 15_000), "Synapse still answers after the run was interrupted").toBe(true);
  });

  test("killing the harness outright (SIGKILL) still takes Synapse down", async () => {
    const run = await interruptRun("SIGKILL");
    expect(run.signal).toBe("SIGKILL");
    expect(await eventually(async () => !(await answers(run.versionsUrl)), 15_000), "Synapse outlived a SIGKILLed harness").toBe(true);
  });

  test("start and stop in-process: answers while running, not after stop()", async () => {
    const d = await startTarget({ target: "synapse", reportDir: await tempDir("mc-life-"), cacheDir: process.env.MATRIX_CONFORMANCE_CACHE ?? join(process.env.HOME ?? "/root", ".cache/matrix-conformance") });
    const url = `${d.info.baseUrl}/_matrix/client/versions`;
    expect(await answers(url)).toBe(true);
    expect(d.info.serverName).toMatch(/^localhost:\d+$/);
    await d.stop();
    expect(await answers(url)).toBe(false);
  });

  test("a Python that is not there is a setup error that says what to do", async () => {
    const prev = process.env.MATRIX_CONFORMANCE_PYTHON;
    process.env.MATRIX_CONFORMANCE_PYTHON = "/nonexistent/python3";
    try {
      const err = await startTarget({ target: "synapse", reportDir: await tempDir("mc-life-"), cacheDir: await tempDir("mc-cache-") }).catch((e) => e);
      expect(err).toBeInstanceOf(SetupError);
      expect(err.message).toContain("MATRIX_CONFORMANCE_PYTHON is set to '/nonexistent/python3'");
    } finally {
      if (prev === undefined) delete process.env.MATRIX_CONFORMANCE_PYTHON;
      else process.env.MATRIX_CONFORMANCE_PYTHON = prev;
    }
  });

  test("a Synapse version pip cannot install is a setup error with pip's words", async () => {
    const err = await startTarget({ target: "synapse", reportDir: await tempDir("mc-life-"), cacheDir: await tempDir("mc-cache-"), synapseVersion: "0.0.0.404" }).catch((e) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect(err.message).toContain("pip could not install matrix-synapse==0.0.0.404");
    expect(err.message).toMatch(/No matching distribution|Could not find a version/);
  }, 120_000);
});
