import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, test } from "vitest";
import { toJUnit } from "../../harness/report/junit.ts";
import { areaOf, quantile, requestStats, summarise, type RunReport, type TestResultEntry } from "../../harness/report/model.ts";
import { renderSummary } from "../../harness/report/summary.ts";

const schema = JSON.parse(readFileSync(new URL("../../schemas/report.schema.json", import.meta.url), "utf8"));
const ajv = new Ajv2020.default({ allErrors: true });
addFormats.default(ajv);
const validate = ajv.compile(schema);

function entry(over: Partial<TestResultEntry>): TestResultEntry {
  return { id: "suites/client-server/login.test.ts::x", title: "x", fullTitle: "x", file: "suites/client-server/login.test.ts", area: "client-server/login", status: "passed", durationMs: 3, behaviour: over.id ?? "suites/client-server/login.test.ts::x", ...over };
}

function report(tests: TestResultEntry[]): RunReport {
  const { summary, areas } = summarise(tests);
  return {
    format: "matrix-conformance-report/2",
    tool: { name: "matrix-conformance", version: "0.1.0" },
    target: { name: "synapse", version: "Synapse 1.163.2", serverName: "localhost:1", baseUrl: "http://127.0.0.1:1" },
    spec: { version: "1.19", dir: "/spec" },
    options: { errata: true, strictShould: false, retries: 0, allowFlaky: false },
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:00:01.000Z",
    durationMs: 1000,
    summary,
    areas,
    stats: requestStats([[10, 0.1], [20, 0.2]]),
    schema: [],
    errata: [],
    runErrors: [],
    tests,
  };
}

describe("the run report", () => {
  const failed = entry({
    id: "a::fails",
    title: "rejects <bad> & \"odd\" input",
    fullTitle: "rejects <bad> & \"odd\" input",
    status: "failed",
    error: "expected 400 M_BAD_JSON: status 500 instead of 400\u0007",
    spec: { section: "client-server-api/#standard-error-response", since: "1.0", url: "https://spec.matrix.org/v1.19/client-server-api/#standard-error-response" },
    exchanges: [{ seq: 1, channel: "client", method: "POST", url: "http://x/_matrix/client/v3/login", requestHeaders: {}, status: 500, responseBody: "{}", startedAt: "t", durationMs: 2 }],
  });
  const r = report([entry({}), failed, entry({ id: "b", area: "client-server/rooms", status: "skipped", reason: "room version 12 not offered" })]);

  test("counts by status and by area", () => {
    expect(r.summary).toEqual({ total: 3, passed: 1, failed: 1, setupFailed: 0, warnings: 0, skipped: 1, expectedFailures: 0, fixed: 0, flaky: 0, behaviours: 3 });
    expect(r.areas["client-server/rooms"]).toMatchObject({ total: 1, skipped: 1 });
  });

  test("a flaky test is a JUnit failure marked flaky, or under --allow-flaky a pass carrying the mark", () => {
    const flaky = entry({ id: "c::flaky", title: "flaky", fullTitle: "flaky", status: "flaky", attempts: 2, error: "passed on attempt 2 after a failed attempt:\n\nexpected 401", failure: { kind: "assertion", signature: "assertion: expected 401" } });
    const strict = report([flaky]);
    expect(validate(strict), JSON.stringify(validate.errors)).toBe(true);
    expect(strict.summary.flaky).toBe(1);
    const xml = toJUnit(strict);
    expect(xml, "by default the flaky test is a failure").toContain('<failure message="flaky: assertion: expected 401" type="flaky">');
    expect(xml).toContain('failures="1"');
    const lax = { ...strict, options: { ...strict.options, retries: 1, allowFlaky: true } };
    const laxXml = toJUnit(lax);
    expect(laxXml, "allowed: no failure element").not.toContain("<failure");
    expect(laxXml).toContain('<property name="flaky" value="passed on attempt 2: assertion: expected 401"/>');
    expect(renderSummary(lax, "/r"), "the summary names the flaky test and the verdict passes").toMatch(/1 flaky: failed, then passed on a retry \(allowed by --allow-flaky\)[\s\S]*PASSED /);
    expect(renderSummary(strict, "/r")).toMatch(/FAILED /);
  });

  test("matches its own JSON schema", () => {
    expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
  });

  test("a report missing its summary does not match the schema", () => {
    const { summary: _omit, ...rest } = r;
    expect(validate(rest)).toBe(false);
  });

  test("JUnit output escapes XML, drops control characters and carries the failure and its exchange", () => {
    const xml = toJUnit(r);
    expect(xml).toContain('name="rejects &lt;bad&gt; &amp; &quot;odd&quot; input"');
    expect(xml).not.toContain("\u0007");
    expect(xml).toContain('<failure message="expected 400 M_BAD_JSON: status 500 instead of 400"');
    expect(xml).toContain("#1 POST http://x/_matrix/client/v3/login");
    expect(xml).toContain('<skipped message="room version 12 not offered"/>');
    expect(xml).toMatch(/<testsuites [^>]*tests="3" failures="1"/);
  });

  test("the summary lists areas and failures and ends with the plain closing line", () => {
    const text = renderSummary(r, "reports/latest");
    expect(text).toContain("client-server/login");
    expect(text).toContain("rejects <bad>");
    expect(text).toMatch(/^conformance: 1 passed, 1 failed, 1 skipped$/m);
  });

  test("areas come from the suite file path", () => {
    expect(areaOf("suites/client-server/login.test.ts")).toBe("client-server/login");
    expect(areaOf("/abs/suites/federation/joins.test.ts")).toBe("federation/joins");
  });

  test("quantiles and request statistics", () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.95)).toBe(4);
    expect(quantile([], 0.5)).toBe(0);
    expect(requestStats([[10, 1], [100, 1]]).overheadFraction).toEqual({ p50: 0.01, p95: 0.1 });
  });

  test("JUnit: a set-up failure is an <error>, a warning passes with a warning property, failures carry kind and signature", () => {
    const should = { section: "s", since: "1.0", level: "SHOULD" as const, url: "https://spec.matrix.org/v1.19/s" };
    const w = report([
      entry({ id: "w", status: "warning", spec: should, error: "expected 1 to be 2", failure: { kind: "assertion", signature: "assertion: expected 1 to be 2" } }),
      entry({ id: "s", status: "setup-failed", error: "set-up failed", failure: { kind: "setup", signature: "setup: createRoom failed" } }),
      entry({ id: "f", status: "failed", error: "x", failure: { kind: "schema", signature: "schema: GET /a 200 type at /b: must be string" } }),
    ]);
    expect(validate(w), JSON.stringify(validate.errors)).toBe(true);
    const xml = toJUnit(w);
    expect(xml).toContain('<property name="warning" value="SHOULD: assertion: expected 1 to be 2"/>');
    expect(xml).not.toMatch(/<failure[^>]*assertion: expected 1 to be 2/);
    expect(xml).toContain('<error message="setup: createRoom failed" type="setup">');
    expect(xml).toContain('<failure message="schema: GET /a 200 type at /b: must be string" type="schema">');
    expect(xml).toMatch(/<testsuites [^>]*failures="1" errors="1"/);
    const text = renderSummary(w, "r");
    expect(text).toContain("1 warning(s): SHOULD or MAY requirements not met");
    expect(text).toMatch(/^FAILED {2}0 passed, 1 failed, 1 set-up failed, 1 warnings/m);
  });
});
