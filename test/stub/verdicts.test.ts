// How verdicts are reached, proved through the real CLI: the selftest suite
// (test/stub/suites/selftest/verdicts.test.ts) against the stub server in chosen modes.
import { describe, expect, test } from "vitest";
import { reportedTest as test_, runAgainst } from "./cli-run.ts";

const FILE = "test/stub/suites/selftest/verdicts.test.ts";
const SETUP = `${FILE}::verdicts > an arrangement step's schema fault is set-up's, not the act's`;
const SHOULD = `${FILE}::verdicts > a SHOULD-level check that the stub fails is a warning`;
const ERRATUM = `${FILE}::verdicts > a make_join template without \`origin\` needs the origin erratum`;


describe.concurrent("verdicts against the stub", () => {
  test("a conforming stub passes the selftest suite, and the report lists the erratum it needed", async () => {
    const run = await runAgainst("none", ["--area", "verdicts"], { selftest: true });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.report?.summary).toMatchObject({ total: 3, passed: 3, failed: 0, setupFailed: 0, warnings: 0 });
    const origin = run.report?.errata.find((e) => e.hits.some((h) => h.endpoint === "GET /_matrix/federation/v1/make_join/{roomId}/{userId} 200"));
    expect(origin, JSON.stringify(run.report?.errata)).toBeDefined();
    expect(origin!.hits[0]!.tests).toEqual([ERRATUM]);
    expect(origin!.evidence.length).toBeGreaterThan(0);
    expect(run.stdout).toContain(`${origin!.id}: ${origin!.summary}`);
  });

  test("--no-errata checks the raw schema: the template fails on its own endpoint, as the act's schema fault", async () => {
    const run = await runAgainst("none", ["--no-errata", "--area", "verdicts"], { selftest: true });
    expect(run.code).toBe(1);
    const t = test_(run, ERRATUM);
    expect(t.status).toBe("failed");
    expect(t.failure).toEqual({ kind: "schema", signature: 'schema: GET /_matrix/federation/v1/make_join/{roomId}/{userId} 200 required at /event: missing required property "origin"' });
    expect(run.report?.options.errata).toBe(false);
    expect(run.report?.errata).toEqual([]);
  });

  test("a schema fault in set-up makes the test setup-failed, reported against the endpoint that produced it", async () => {
    const run = await runAgainst("missing-field", ["--area", "verdicts"], { selftest: true });
    expect(run.code, "a set-up failure still fails the run").toBe(1);
    const t = test_(run, SETUP);
    expect(t.status).toBe("setup-failed");
    expect(t.failure?.kind).toBe("setup");
    expect(t.failure?.signature).toBe('setup: schema: GET /_matrix/client/versions 200 required at /: missing required property "versions"');
    expect(run.report?.summary).toMatchObject({ setupFailed: 1, failed: 0 });
    const entry = run.report?.schema.find((e) => e.endpoint === "GET /_matrix/client/versions 200");
    expect(entry?.tests).toEqual([{ id: SETUP, role: "setup", status: "setup-failed" }]);
    expect(run.stdout).toContain("schema: 1 rule(s) broken, by endpoint");
    expect(t.error).toContain("set-up failed: an exchange this test needed for its arrangement breaks the spec's schema");
  });

  test("without --retries a failure is a failure; with it, a test that passes on its second attempt is flaky and fails the run", async () => {
    const once = await runAgainst("wrong-errcode-once", ["--grep", "arrangement step", "--area", "verdicts"], { selftest: true });
    expect(once.code, "no retries: the first attempt's failure stands").toBe(1);
    expect(test_(once, SETUP).status).toBe("failed");
    const run = await runAgainst("wrong-errcode-once", ["--grep", "arrangement step", "--area", "verdicts", "--retries", "2"], { selftest: true });
    expect(run.code, "a flaky test fails the run by default").toBe(1);
    const t = test_(run, SETUP);
    expect(t.status).toBe("flaky");
    expect(t.attempts, "it passed on its second attempt").toBe(2);
    expect(t.failure?.signature, "the failed attempt's signature is kept").toContain("M_FORBIDDEN");
    expect(t.error).toMatch(/^passed on attempt 2 after a failed attempt/);
    expect(run.report?.summary).toMatchObject({ flaky: 1, passed: 0, failed: 0 });
    expect(run.report?.options).toMatchObject({ retries: 2, allowFlaky: false });
    expect(run.stdout).toContain("1 flaky: failed, then passed on a retry");
  });

  test("--allow-flaky makes a flaky test a pass with a warning: the run passes and says so", async () => {
    const run = await runAgainst("wrong-errcode-once", ["--grep", "arrangement step", "--area", "verdicts", "--retries", "1", "--allow-flaky"], { selftest: true });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(test_(run, SETUP).status).toBe("flaky");
    expect(run.stdout).toContain("allowed by --allow-flaky");
    expect(run.stdout).toMatch(/^PASSED /m);
  });

  test("a SHOULD-level failure warns and the run passes; --strict-should fails it", async () => {
    const lax = await runAgainst("wrong-errcode", ["--grep", "SHOULD-level", "--area", "verdicts"], { selftest: true });
    expect(lax.code, lax.stdout + lax.stderr).toBe(0);
    expect(test_(lax, SHOULD).status).toBe("warning");
    expect(lax.report?.summary).toMatchObject({ warnings: 1, failed: 0 });
    expect(lax.stdout).toContain("1 warning(s): SHOULD or MAY requirements not met");
    const strict = await runAgainst("wrong-errcode", ["--grep", "SHOULD-level", "--strict-should", "--area", "verdicts"], { selftest: true });
    expect(strict.code).toBe(1);
    expect(test_(strict, SHOULD).status).toBe("failed");
  });
});
