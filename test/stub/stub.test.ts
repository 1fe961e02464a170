// The suite must be able to fail: run the real CLI against stub servers that each break the spec
// in one way, and check that exactly the right tests fail, with messages a server author can act on.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import type { RunReport } from "../../harness/report/model.ts";
import { startStub, type Misbehaviour } from "./stub-server.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const SPEC_DIR = process.env.MATRIX_SPEC_DIR ?? resolve(ROOT, "../shared/matrix-spec");
const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

interface CliRun {
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

async function runAgainst(mode: Misbehaviour, extra: string[] = [], opts: { closeStdout?: boolean } = {}): Promise<CliRun> {
  return slot(() => runAgainstNow(mode, extra, opts));
}

async function runAgainstNow(mode: Misbehaviour, extra: string[], opts: { closeStdout?: boolean }): Promise<CliRun> {
  const stub = await startStub(mode);
  try {
    return await runCliNow(["run", "--target", "external", "--server-url", stub.url, "--server-name", stub.serverName, "--area", "discovery", ...extra], {}, opts);
  } finally {
    await stub.close();
  }
}

function failedTitles(run: CliRun): string[] {
  return (run.report?.tests ?? []).filter((t) => t.status === "failed").map((t) => t.title).sort();
}

function errorOf(run: CliRun, title: string): string {
  return run.report?.tests.find((t) => t.title === title)?.error ?? "";
}

const VERSIONS_TESTS = ["answers without authentication and lists at least one spec version", "lists spec versions in the spec's vX.Y or rX.Y.Z form"];
const CAPS_AUTH = "requires an access token";
const CAPS_ROOM_VERSIONS = "describes the default and available room versions, the default being available";

describe.concurrent("the discovery suite against stub servers", () => {
  test("a conforming stub passes every test and the run exits 0", async () => {
    const run = await runAgainst("none");
    expect(run.stderr + run.stdout).not.toMatch(/unexpected error/);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.report?.summary).toMatchObject({ total: 5, passed: 5, failed: 0 });
    expect(run.stdout).toMatch(/^conformance: 5 passed, 0 failed, 0 skipped$/m);
    expect(run.stdout, "the progress line of the file").toMatch(/^\[1\/1\] {2}ok {2}suites\/client-server\/discovery\.test\.ts: 5 passed \(/m);
  });

  test("a run whose output pipe is closed early still finishes, writes its report and exits with its verdict", async () => {
    const run = await runAgainst("wrong-status", [], { closeStdout: true });
    expect(run.stderr).not.toMatch(/unexpected error|EPIPE/);
    expect(run.code, run.stderr).toBe(1);
    expect(run.report?.summary).toMatchObject({ total: 5, passed: 4, failed: 1 });
  });

  test("a wrong status code fails only the test that checks it, naming both statuses", async () => {
    const run = await runAgainst("wrong-status");
    expect(run.code).toBe(1);
    expect(failedTitles(run)).toEqual([CAPS_AUTH]);
    expect(errorOf(run, CAPS_AUTH)).toContain("expected 401 M_MISSING_TOKEN: status 403 instead of 401");
    const failed = run.report!.tests.find((t) => t.title === CAPS_AUTH)!;
    expect(failed.spec?.url).toBe("https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3capabilities");
    expect(failed.exchanges?.some((e) => e.status === 403 && e.url.endsWith("/capabilities"))).toBe(true);
    // The terminal shows the failure under its file's progress line, with the message and exchange.
    expect(run.stdout).toMatch(/^\[1\/1\] FAIL suites\/client-server\/discovery\.test\.ts: 4 passed, 1 failed \(/m);
    expect(run.stdout).toContain(`x ${failed.fullTitle}\n      expected 401 M_MISSING_TOKEN: status 403 instead of 401`);
    expect(run.stdout).toMatch(/-> 403 \(\d+ ms\)/);
  });

  test("a wrong errcode fails with the expected and actual errcodes", async () => {
    const run = await runAgainst("wrong-errcode");
    expect(run.code).toBe(1);
    expect(failedTitles(run)).toEqual([CAPS_AUTH]);
    expect(errorOf(run, CAPS_AUTH)).toContain('errcode "M_FORBIDDEN" instead of M_MISSING_TOKEN');
  });

  test("a missing required field fails every test that sees it, through the schema check", async () => {
    const run = await runAgainst("missing-field");
    expect(run.code).toBe(1);
    expect(failedTitles(run)).toEqual([...VERSIONS_TESTS].sort());
    const msg = errorOf(run, VERSIONS_TESTS[0]!);
    expect(msg).toContain("do not match the spec's schema");
    expect(msg).toMatch(/versions/);
    expect(msg).toMatch(/required/);
  });

  test("a malformed JSON body is reported as such", async () => {
    const run = await runAgainst("malformed-body");
    expect(run.code).toBe(1);
    expect(failedTitles(run)).toEqual([...VERSIONS_TESTS].sort());
    expect(errorOf(run, VERSIONS_TESTS[0]!)).toContain("the body is not valid JSON");
  });

  test("a behavioural mistake the schema allows is caught by the behaviour test", async () => {
    const run = await runAgainst("bad-room-versions");
    expect(run.code).toBe(1);
    expect(failedTitles(run)).toEqual([CAPS_ROOM_VERSIONS]);
    expect(errorOf(run, CAPS_ROOM_VERSIONS)).toContain("m.room_versions.available lists the versions");
  });

  test("a hanging server costs a bounded time and the failures say it did not answer", async () => {
    const run = await runAgainst("hang", ["--request-timeout", "1500"]);
    expect(run.code).toBe(1);
    expect(failedTitles(run)).toEqual([CAPS_AUTH, CAPS_ROOM_VERSIONS].sort());
    expect(errorOf(run, CAPS_AUTH)).toContain("no response within 1500 ms");
    // Two requests of 1.5 s each plus start-up: far below this bound unless a wait is unbounded.
    expect(run.wallMs).toBeLessThan(45_000);
  });
});

describe.concurrent("runs that cannot happen exit 2 with a message and no stack trace", () => {
  test("no spec directory", async () => {
    const run = await runCli(["run", "--target", "external", "--server-url", "http://127.0.0.1:9", "--server-name", "x"], { MATRIX_SPEC_DIR: "" });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("MATRIX_SPEC_DIR");
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  test("an external server that is not there", async () => {
    const run = await runCli(["run", "--target", "external", "--server-url", "http://127.0.0.1:9", "--server-name", "x"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("cannot reach http://127.0.0.1:9/_matrix/client/versions");
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  test("an unknown area", async () => {
    const run = await runCli(["run", "--target", "external", "--server-url", "http://127.0.0.1:9", "--server-name", "x", "--area", "no-such-area"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("no area named 'no-such-area'");
  });

  test("an unknown option", async () => {
    const run = await runCli(["run", "--no-such-option"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown option");
  });
});

describe.concurrent("expected-failure baselines", () => {
  const id = `suites/client-server/discovery.test.ts::GET /_matrix/client/v3/capabilities > ${CAPS_AUTH}`;
  async function baselineFile(entries: Array<{ id: string; reason: string; spec: string }>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "mc-baseline-"));
    temps.push(dir);
    const file = join(dir, "stub.json");
    await writeFile(file, JSON.stringify({ target: "external", entries }));
    return file;
  }
  const entry = { id, reason: "answers 403 instead of 401 for a missing token", spec: "https://spec.matrix.org/v1.19/client-server-api/#using-access-tokens" };

  test("a listed failure is an expected failure and the run passes", async () => {
    const run = await runAgainst("wrong-status", ["--baseline", await baselineFile([entry])]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.report?.summary).toMatchObject({ failed: 0, expectedFailures: 1, passed: 4 });
    expect(run.report?.tests.find((t) => t.id === id)?.reason).toContain("answers 403 instead of 401");
    expect(run.stdout, "an expected failure is counted as such, not shown as a failure").toMatch(/ ok {2}suites\/client-server\/discovery\.test\.ts: 4 passed, 1 expected failures \(/);
    expect(run.stdout).not.toContain("status 403 instead of 401");
  });

  test("under --grep, entries of tests the filter left out are neither stale nor errors", async () => {
    const run = await runAgainst("none", ["--baseline", await baselineFile([entry]), "--grep", "spec version"]);
    expect(run.stdout).not.toContain("run error");
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.report?.summary).toMatchObject({ total: 2, passed: 2, failed: 0 });
  });

  test("a listed test that passes is reported as fixed; --strict makes that fail the run", async () => {
    const file = await baselineFile([entry]);
    const lax = await runAgainst("none", ["--baseline", file]);
    expect(lax.code).toBe(0);
    expect(lax.report?.summary).toMatchObject({ fixed: 1, passed: 4 });
    expect(lax.stdout).toContain("expected failure(s) now pass");
    const strict = await runAgainst("none", ["--baseline", file, "--strict"]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain("--strict: 1 baseline entry passes now");
  });

  test("--update-baseline writes the failures with their spec links for review", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mc-baseline-"));
    temps.push(dir);
    const file = join(dir, "new.json");
    const run = await runAgainst("wrong-errcode", ["--baseline", file, "--update-baseline"]);
    expect(run.code).toBe(1);
    const written = JSON.parse(await readFile(file, "utf8"));
    expect(written.entries).toEqual([{ id, reason: expect.stringContaining("TODO: explain"), spec: "https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3capabilities" }]);
  });

  test("a baseline that breaks its schema stops the run with exit 2", async () => {
    const run = await runAgainst("none", ["--baseline", await baselineFile([{ id, reason: "short", spec: "not a url" }])]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("does not match schemas/baseline.schema.json");
  });
});
