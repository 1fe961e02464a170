// How a failure becomes a verdict: its kind and signature, the baseline entry that expects it
// (or does not), the requirement level, and the attribution of schema violations to the act or
// to set-up.
import { describe, expect, test } from "vitest";
import type { Exchange } from "../../harness/client/exchange.ts";
import { applyVerdicts, baselineFromRun, type Baseline, type BaselineEntry } from "../../harness/report/baseline.ts";
import { behaviourOf, classifyFailure, normalise, normalisePath, schemaFindings, SCHEMA_FAILURE, SETUP_SCHEMA_FAILURE } from "../../harness/report/failures.ts";
import type { TestResultEntry } from "../../harness/report/model.ts";
import { schemaSection } from "../../harness/report/reporter.ts";

const MAKE_JOIN = "server-server-api/#get_matrixfederationv1make_joinroomiduserid";
const SEND_JOIN = "server-server-api/#put_matrixfederationv2send_joinroomideventid";

function exchange(seq: number, operation: string, status: number, errors: Exchange["schema"] extends infer S ? (S extends { errors: infer E } ? E : never) : never, subject: "response" | "request" = "response"): Exchange {
  const [, method, path] = operation.split(" ");
  return { seq, channel: "federation", method: method!, url: `https://hs.invalid${path}`, requestHeaders: {}, status, startedAt: "t", durationMs: 1, schema: { operation, subject, checked: true, errors } };
}

const missingOrigin = { instancePath: "/event", keyword: "required", rule: "required @ api/server-server/joins-v1.yaml#/x", message: '/event: missing required property "origin"' };
const makeJoin = exchange(3, "server-server GET /_matrix/federation/v1/make_join/{roomId}/{userId}", 200, [missingOrigin]);
const sendJoin = exchange(4, "server-server PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}", 200, []);

function t(id: string, over: Partial<TestResultEntry> = {}): TestResultEntry {
  return { id, title: id, fullTitle: id, file: id.split("::")[0]!, area: "federation/joins", status: "passed", durationMs: 1, behaviour: behaviourOf(id), ...over };
}

function failing(id: string, signature: string, over: Partial<TestResultEntry> = {}): TestResultEntry {
  const kind = signature.split(":")[0] as "assertion";
  return t(id, { status: "failed", error: "boom", failure: { kind, signature }, ...over });
}

const entry = (over: Partial<BaselineEntry>): BaselineEntry => ({ reason: "a reason long enough", spec: "https://spec.matrix.org/v1.19/x", breaks: "The server MUST do it.", ...over });

describe("signatures", () => {
  test("IDs, hosts, long numbers and tokens are replaced; identifiers are kept", () => {
    expect(normalise("room !abc:localhost:8448 event $aGVsbG8td29ybGQtaGVsbG8td29ybGQ user @alice-3:127.0.0.1:33195 at 1733212345678")).toBe(
      "room !<room> event $<event> user @<user> at <n>",
    );
    expect(normalise("missing join_authorised_via_users_server")).toBe("missing join_authorised_via_users_server");
    expect(normalisePath("/rooms/join/!a:b/timeline/events/3")).toBe("/rooms/join/{id}/timeline/events/*");
  });

  test("a schema violation on the cited operation is the act's; on any other, set-up's", () => {
    const act = schemaFindings([makeJoin], MAKE_JOIN);
    expect(act).toMatchObject([{ role: "act", status: 200, rule: 'required at /event: missing required property "origin"' }]);
    const setup = schemaFindings([makeJoin, sendJoin], SEND_JOIN);
    expect(setup).toMatchObject([{ role: "setup", exchange: 3 }]);
    expect(classifyFailure({ errors: [{ name: SETUP_SCHEMA_FAILURE, message: "x" }], findings: setup })).toEqual({
      kind: "setup",
      signature: 'setup: schema: GET /_matrix/federation/v1/make_join/{roomId}/{userId} 200 required at /event: missing required property "origin"',
    });
    expect(classifyFailure({ errors: [{ name: SCHEMA_FAILURE, message: "x" }], findings: act }).kind).toBe("schema");
  });

  test("a failed arrangement step is set-up, unless it is the cited act; waits are timeouts; the body's first error decides", () => {
    const step = { name: "StepFailed", message: "makeJoin failed: unexpected status\n#3 GET https://hs.invalid/_matrix/federation/v1/make_join/!r:hs/@u:hs\n  -> 500" };
    const asSetup = classifyFailure({ errors: [step], exchanges: [{ ...makeJoin, status: 500 }], citedSection: SEND_JOIN });
    expect(asSetup).toEqual({ kind: "setup", signature: "setup: makeJoin failed: unexpected status (GET /_matrix/federation/v1/make_join/{roomId}/{userId} -> 500)" });
    expect(classifyFailure({ errors: [step], exchanges: [{ ...makeJoin, status: 500 }], citedSection: MAKE_JOIN }).kind).toBe("assertion");
    expect(classifyFailure({ errors: [{ name: "WaitTimedOut", message: "timed out after 25000 ms waiting for the join of @bob:hs.invalid" }] })).toEqual({ kind: "timeout", signature: "timeout: waiting for the join of @<user>" });
    const both = classifyFailure({ errors: [{ name: "AssertionError", message: "membership: expected 'leave' to be 'join'" }, { name: SETUP_SCHEMA_FAILURE, message: "x" }] });
    expect(both).toEqual({ kind: "assertion", signature: "assertion: membership: expected … to be 'join'" });
    // The value found is left out of chai-style messages (it varies); the harness matchers keep it.
    expect(classifyFailure({ errors: [{ name: "AssertionError", message: "expected 't7_477' to be 's12_34' // Object.is equality" }] }).signature).toBe("assertion: expected … to be 's12_34'");
    expect(classifyFailure({ errors: [{ name: "AssertionError", message: "expected status 403, got 400\nThe exchange:" }] }).signature).toBe("assertion: expected status 403, got 400");
    expect(classifyFailure({ errors: [{ name: "TypeError", message: "cannot read x of undefined" }] }).kind).toBe("error");
  });

  test("behaviours: a case's room version is not part of its behaviour", () => {
    expect(behaviourOf("f::joins > room version 10 > send_join returns state")).toBe("f::joins > send_join returns state");
    expect(behaviourOf("f::redacts the event (room version 11)")).toBe("f::redacts the event");
  });
});

describe("verdicts", () => {
  const SIG = "assertion: expected status 403, got 400";
  test("a listed failure with the expected signature is expected; with another, it is a new failure showing both", () => {
    const tests = [failing("f::a", SIG), failing("f::b", "assertion: expected status 403, got 500")];
    applyVerdicts(tests, { target: "x", entries: [entry({ ids: ["f::a", "f::b"], signature: SIG })] });
    expect(tests[0]!.status).toBe("expected-failure");
    expect(tests[1]!.status).toBe("failed");
    expect(tests[1]!.baselineMismatch).toEqual({ expected: SIG, entry: "f::a (and 1 more)" });
    expect(tests[1]!.error).toContain("The baseline expects this test to fail with\n  assertion: expected status 403, got 400\nbut it failed with\n  assertion: expected status 403, got 500");
  });

  test("patterns cover several tests and signatures; a pattern entry is fixed only when none of its tests fail", () => {
    const tests = [failing("f::x (room version 1)", "schema: GET /a 200 required at /event: missing"), t("f::x (room version 2)"), t("f::y")];
    const b: Baseline = { target: "x", entries: [entry({ idPattern: "^f::x \\(room version \\d+\\)$", signaturePattern: "^schema: GET /a 200 " }), entry({ id: "f::y", signature: SIG })] };
    const { stale } = applyVerdicts(tests, b);
    expect(tests.map((x) => x.status)).toEqual(["expected-failure", "passed", "fixed"]);
    expect(stale).toEqual([]);
  });

  test("set-up failures are counted apart and still fail unless baselined; SHOULD failures warn unless strict", () => {
    const should = { section: "s", since: "1.0", level: "SHOULD" as const, url: "u" };
    const tests = [failing("f::setup", "setup: makeJoin failed", { failure: { kind: "setup", signature: "setup: makeJoin failed" } }), failing("f::should", SIG, { spec: should })];
    applyVerdicts(tests, undefined);
    expect(tests.map((x) => x.status)).toEqual(["setup-failed", "warning"]);
    const strict = [failing("f::should", SIG, { spec: should })];
    applyVerdicts(strict, undefined, { strictShould: true });
    expect(strict[0]!.status).toBe("failed");
  });

  test("an intermittent entry expects its signature when the test fails, and a pass is not 'fixed'; --update-baseline keeps it", () => {
    const e = entry({ id: "f::x", signature: SIG, intermittent: true });
    const failed = [failing("f::x", SIG)];
    applyVerdicts(failed, { target: "x", entries: [e] });
    expect(failed[0]!.status).toBe("expected-failure");
    const passed = [t("f::x")];
    const { stale } = applyVerdicts(passed, { target: "x", entries: [e] });
    expect(passed[0]!.status).toBe("passed");
    expect(stale).toEqual([]);
    expect(baselineFromRun("x", "1", passed, { target: "x", entries: [e] }).entries).toEqual([e]);
  });

  test("a flaky test whose failed attempt a baseline entry expects is an expected failure; otherwise it stays flaky and is never 'fixed'", () => {
    const e = entry({ id: "f::x", signature: SIG, intermittent: true });
    const expected = [t("f::x", { status: "flaky", attempts: 2, failure: { kind: "assertion", signature: SIG } })];
    applyVerdicts(expected, { target: "x", entries: [e] });
    expect(expected[0]!.status).toBe("expected-failure");
    expect(expected[0]!.reason).toContain("passed on attempt 2");
    const other = [t("f::x", { status: "flaky", attempts: 2, failure: { kind: "assertion", signature: "assertion: something else" } })];
    applyVerdicts(other, { target: "x", entries: [entry({ id: "f::x", signature: SIG })] });
    expect(other[0]!.status, "a different failure is not what the entry expects").toBe("flaky");
  });

  test("stale entries are those of files the run covered that match no test", () => {
    const { stale } = applyVerdicts([t("f::1")], { target: "x", entries: [entry({ id: "f::gone", signature: SIG }), entry({ id: "other.test.ts::y", signature: SIG })] });
    expect(stale).toEqual(["f::gone"]);
  });

  test("an updated baseline keeps what still matches, trims lists, drops what passes, and writes signatures for new failures", () => {
    const spec = { section: "s", since: "1.0", url: "https://spec.matrix.org/v1.19/s" };
    const tests = [failing("f::1", SIG), t("f::2"), failing("f::3", "error: TypeError: boom", { spec }), failing("f::4", "assertion: other")];
    const previous: Baseline = { target: "x", entries: [entry({ ids: ["f::1", "f::2"], signature: SIG }), entry({ id: "f::4", signature: SIG }), entry({ id: "g::other", signature: SIG })] };
    applyVerdicts(tests, previous);
    const next = baselineFromRun("x", "1.0", tests, previous);
    expect(next.entries).toEqual([
      entry({ ids: ["f::1"], signature: SIG }),
      { id: "f::3", signature: "error: TypeError: boom", reason: "TODO: explain. First failure line: boom", spec: spec.url, breaks: "TODO: quote the spec sentence the target breaks" },
      expect.objectContaining({ id: "f::4", signature: "assertion: other", reason: expect.stringMatching(/^TODO: the failure changed \(it was assertion: expected status 403, got 400\)/) }),
      entry({ id: "g::other", signature: SIG }),
    ]);
  });

  test("the schema section lists each rule once per endpoint and status, with the tests and their roles", () => {
    const a = t("f::make_join", { status: "failed", schema: schemaFindings([makeJoin], MAKE_JOIN) });
    const b = t("f::send_join", { status: "setup-failed", schema: schemaFindings([makeJoin, sendJoin], SEND_JOIN) });
    expect(schemaSection([a, b])).toEqual([
      {
        endpoint: "GET /_matrix/federation/v1/make_join/{roomId}/{userId} 200",
        operation: "server-server GET /_matrix/federation/v1/make_join/{roomId}/{userId}",
        status: 200,
        subject: "response",
        rule: 'required at /event: missing required property "origin"',
        overlay: undefined,
        tests: [
          { id: "f::make_join", role: "act", status: "failed" },
          { id: "f::send_join", role: "setup", status: "setup-failed" },
        ],
      },
    ]);
  });
});
