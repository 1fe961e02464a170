// The run report: what report.json holds (its schema: schemas/report.schema.json), and the
// functions that turn per-test results into summaries.
import type { Exchange, TimeSplit } from "../client/exchange.ts";
import type { Failure, SchemaFinding } from "./failures.ts";

/**
 * How strongly the spec asks for the behaviour, from the RFC 2119 word of the cited sentence:
 * a MUST failure fails the run; a SHOULD or MAY failure is a warning unless --strict-should.
 */
export type RequirementLevel = "MUST" | "SHOULD" | "MAY";

/** Which spec paragraph a test checks: what `spec(section, since, { level, msc, area })` records (harness/fixtures/meta.ts). */
export interface SpecRef {
  /** Path and anchor under the spec site, e.g. "client-server-api/#post_matrixclientv3login". */
  section: string;
  /** Spec version that introduced the behaviour, e.g. "1.0" (r0 behaviour counts as 1.0). */
  since: string;
  /** The RFC 2119 level of the cited requirement (default MUST). */
  level?: RequirementLevel;
  /** The MSC that defined the behaviour, when one applies. */
  msc?: string;
  /** Overrides the area taken from the file name (suites/<api>/<area>.test.ts). */
  area?: string;
}

/** The spec site URL of a section for a spec version ("v1.19", or "unstable"). */
export function specUrl(section: string, specVersion: string): string {
  const v = /^\d/.test(specVersion) ? `v${specVersion}` : specVersion;
  return `https://spec.matrix.org/${v}/${section}`;
}

/**
 *   passed            the test passed
 *   failed            a MUST-level test failed for its own act or assertions (or a SHOULD one
 *                     under --strict-should); fails the run
 *   setup-failed      an arrangement step failed or broke the schema: the behaviour under test
 *                     was not reached; counted apart, fails the run unless baselined
 *   warning           a SHOULD- or MAY-level test failed: shown and counted, does not fail the run
 *   skipped           not run, with the reason
 *   expected-failure  failed with the signature its baseline entry names
 *   fixed             listed in the baseline, but passed
 *   flaky             failed, then passed on a retry (--retries): counted apart and fails the run,
 *                     unless --allow-flaky makes it a pass with a warning; never a silent pass
 */
export type TestStatus = "passed" | "failed" | "setup-failed" | "warning" | "skipped" | "expected-failure" | "fixed" | "flaky";

export interface TestResultEntry {
  /** Stable across runs: "<file>::<full title>". */
  id: string;
  title: string;
  fullTitle: string;
  file: string;
  area: string;
  spec?: SpecRef & { url: string };
  status: TestStatus;
  durationMs: number;
  /** How many times the test ran, when it was retried (--retries). */
  attempts?: number;
  error?: string;
  /** Why a test was skipped, or why a failure was expected. */
  reason?: string;
  /** What the test failed of: the kind and the stable signature a baseline entry names. */
  failure?: Failure;
  /** A baseline entry covers this test but expects another signature: the failure is new. */
  baselineMismatch?: { expected: string; entry: string };
  /** The schema violations the test met, each with the role of its exchange (act or set-up). */
  schema?: SchemaFinding[];
  /** The behaviour this case checks: its id without the room version it ran in. */
  behaviour: string;
  exchanges?: Exchange[];
}

export interface Counts {
  total: number;
  passed: number;
  failed: number;
  setupFailed: number;
  warnings: number;
  skipped: number;
  expectedFailures: number;
  fixed: number;
  /** Tests that failed and then passed on a retry. */
  flaky: number;
  /** Distinct behaviours among the cases (a behaviour run in several room versions counts once). */
  behaviours: number;
}

/** One schema rule broken by one endpoint in this run, with every test that met it. */
export interface SchemaSectionEntry {
  /** "GET /_matrix/federation/v1/make_join/{roomId}/{userId} 200", or "PUT ... request" for a request the target sent. */
  endpoint: string;
  operation: string;
  status?: number;
  subject: "response" | "request";
  rule: string;
  overlay?: string;
  tests: Array<{ id: string; role: "act" | "setup"; status: TestStatus }>;
}

/** A spec erratum the run relied on: without it, these checks would have failed. */
export interface ErratumHit {
  id: string;
  summary: string;
  evidence: Array<{ kind: string; ref: string; note?: string }>;
  /** Endpoints whose answers needed the erratum, with the tests that met them. */
  hits: Array<{ endpoint: string; tests: string[] }>;
}

export interface RunReport {
  format: "matrix-conformance-report/2";
  tool: { name: string; version: string };
  target: { name: string; version?: string; serverName: string; baseUrl: string; logFile?: string };
  spec: { version: string; dir: string };
  /** How verdicts were reached: errata applied or raw schemas, SHOULD failures as warnings or failures. */
  options: { errata: boolean; strictShould: boolean; retries?: number; allowFlaky?: boolean };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  summary: Counts;
  areas: Record<string, Counts>;
  /** Client-side figures over every exchange of the run. */
  stats: RequestStats;
  /** Schema violations by endpoint, status and rule: each reported once, with the tests that met it. */
  schema: SchemaSectionEntry[];
  /** Spec errata this run's checks needed. */
  errata: ErratumHit[];
  /** Errors outside any test (a suite file that failed to load, an unhandled rejection). */
  runErrors: string[];
  tests: TestResultEntry[];
}

export function emptyCounts(): Counts {
  return { total: 0, passed: 0, failed: 0, setupFailed: 0, warnings: 0, skipped: 0, expectedFailures: 0, fixed: 0, flaky: 0, behaviours: 0 };
}

const COUNTED: Record<TestStatus, keyof Omit<Counts, "total" | "behaviours">> = {
  passed: "passed",
  failed: "failed",
  "setup-failed": "setupFailed",
  warning: "warnings",
  skipped: "skipped",
  "expected-failure": "expectedFailures",
  fixed: "fixed",
  flaky: "flaky",
};

export function addTo(c: Counts, status: TestStatus): void {
  c.total++;
  c[COUNTED[status]]++;
}

export function summarise(tests: TestResultEntry[]): { summary: Counts; areas: Record<string, Counts> } {
  const summary = emptyCounts();
  const areas: Record<string, Counts> = {};
  const behaviours = new Map<string, Set<string>>();
  for (const t of tests) {
    addTo(summary, t.status);
    addTo((areas[t.area] ??= emptyCounts()), t.status);
    let set = behaviours.get(t.area);
    if (!set) behaviours.set(t.area, (set = new Set()));
    set.add(t.behaviour);
  }
  for (const [area, set] of behaviours) {
    areas[area]!.behaviours = set.size;
    summary.behaviours += set.size;
  }
  return { summary, areas };
}

/**
 * Whether the run's verdict is a failure: a failed or set-up-failed test, an error outside tests,
 * or a test that passed only on a retry (unless the run allowed flaky tests).
 */
export function runFailed(summary: Counts, runErrors: readonly string[], opts: { allowFlaky?: boolean } = {}): boolean {
  return summary.failed > 0 || summary.setupFailed > 0 || runErrors.length > 0 || (!opts.allowFlaky && summary.flaky > 0);
}

/** The area of a suite file: suites/client-server/rooms.test.ts -> "client-server/rooms". */
export function areaOf(file: string): string {
  const m = /suites\/(.+?)\.test\.[cm]?[jt]s$/.exec(file.replace(/\\/g, "/"));
  return m?.[1] ?? file;
}

export interface RequestStats {
  requests: number;
  latencyMs: { p50: number; p95: number; max: number };
  /** Harness time per exchange beyond the request (recording, schema checks). */
  overheadMs: { p50: number; p95: number };
  /** Overhead as a fraction of the request's own time, per exchange. */
  overheadFraction: { p50: number; p95: number };
  /** Where the tests' time went, in all and by area (sums over tests, which run in parallel). */
  time?: TimeStats;
}

/** Sums of the tests' TimeSplits (harness/client/exchange.ts), in milliseconds. */
export interface TimeTotals {
  tests: number;
  testMs: number;
  serverMs: number;
  waitMs: number;
  harnessMs: number;
}

export interface TimeStats {
  total: TimeTotals;
  areas: Record<string, TimeTotals>;
}

/** Adds up each test's time split, in all and by area. */
export function timeStats(entries: ReadonlyArray<{ area: string; time: TimeSplit }>): TimeStats {
  const zero = (): TimeTotals => ({ tests: 0, testMs: 0, serverMs: 0, waitMs: 0, harnessMs: 0 });
  const total = zero();
  const areas: Record<string, TimeTotals> = {};
  for (const { area, time } of entries) {
    for (const t of [total, (areas[area] ??= zero())]) {
      t.tests++;
      t.testMs += time.totalMs;
      t.serverMs += time.serverMs;
      t.waitMs += time.waitMs;
      t.harnessMs += time.harnessMs;
    }
  }
  const round = (t: TimeTotals): TimeTotals => ({ tests: t.tests, testMs: Math.round(t.testMs), serverMs: Math.round(t.serverMs), waitMs: Math.round(t.waitMs), harnessMs: Math.round(t.harnessMs) });
  return { total: round(total), areas: Object.fromEntries(Object.entries(areas).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, round(v)])) };
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function requestStats(timings: Array<[number, number]>): RequestStats {
  const lat = timings.map((t) => t[0]).sort((a, b) => a - b);
  const over = timings.map((t) => t[1]).sort((a, b) => a - b);
  const frac = timings.map(([d, o]) => (d > 0 ? o / d : 0)).sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    requests: timings.length,
    latencyMs: { p50: r(quantile(lat, 0.5)), p95: r(quantile(lat, 0.95)), max: r(lat[lat.length - 1] ?? 0) },
    overheadMs: { p50: r(quantile(over, 0.5)), p95: r(quantile(over, 0.95)) },
    overheadFraction: { p50: r(quantile(frac, 0.5)), p95: r(quantile(frac, 0.95)) },
  };
}
