// The suite must be able to fail: run the real CLI against stub servers that each break the spec
// in one way, and check that exactly the right tests fail, with messages a server author can act on.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { runAgainst, runCli, temps, type CliRun } from "./cli-run.ts";

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
    expect(failed.failure).toEqual({ kind: "assertion", signature: "assertion: expected 401 M_MISSING_TOKEN: status 403 instead of 401" });
    expect(run.stdout).toContain(`x ${failed.fullTitle}\n      ${failed.failure!.signature}\n      spec: ${failed.spec!.url}\n      expected 401 M_MISSING_TOKEN: status 403 instead of 401`);
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
    expect(msg).toContain("breaks the spec's schema");
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
    expect(run.report?.tests.find((t) => t.title === CAPS_AUTH)?.failure).toEqual({ kind: "timeout", signature: "timeout: GET /_matrix/client/v3/capabilities: no response (the server hung or is too slow)" });
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
  async function baselineFile(entries: Array<Record<string, unknown>>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "mc-baseline-"));
    temps.push(dir);
    const file = join(dir, "stub.json");
    await writeFile(file, JSON.stringify({ target: "external", entries }));
    return file;
  }
  const signature = "assertion: expected 401 M_MISSING_TOKEN: status 403 instead of 401";
  const entry = {
    id,
    signature,
    reason: "answers 403 instead of 401 for a missing token",
    spec: "https://spec.matrix.org/v1.19/client-server-api/#using-access-tokens",
    breaks: "the endpoint documents 401 M_MISSING_TOKEN for a request without an access token",
  };

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
    expect(written.entries).toEqual([
      {
        id,
        signature: 'assertion: expected 401 M_MISSING_TOKEN: errcode "M_FORBIDDEN" instead of M_MISSING_TOKEN',
        reason: expect.stringContaining("TODO: explain"),
        spec: "https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3capabilities",
        breaks: expect.stringContaining("TODO"),
      },
    ]);
  });

  test("a listed test failing with a new signature is a new failure: the run fails and shows old and new", async () => {
    const run = await runAgainst("wrong-errcode", ["--baseline", await baselineFile([entry])]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    const t = run.report?.tests.find((x) => x.id === id);
    expect(t?.status).toBe("failed");
    expect(t?.baselineMismatch?.expected).toBe(signature);
    expect(t?.failure?.signature).toContain('errcode "M_FORBIDDEN" instead of M_MISSING_TOKEN');
    expect(t?.error).toContain(`The baseline expects this test to fail with\n  ${signature}\nbut it failed with`);
    expect(run.stdout).toContain(`the baseline expected: ${signature}`);
  });

  test("a baseline of the old form, without signatures, is refused with the way out", async () => {
    const { signature: _s, breaks: _b, ...old } = entry;
    const run = await runAgainst("none", ["--baseline", await baselineFile([old])]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("names no signature");
    expect(run.stderr).toContain("--update-baseline");
  });

  test("a baseline that breaks its schema stops the run with exit 2", async () => {
    const run = await runAgainst("none", ["--baseline", await baselineFile([{ id, signature, reason: "short", spec: "not a url", breaks: "x" }])]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("does not match schemas/baseline.schema.json");
  });
});
