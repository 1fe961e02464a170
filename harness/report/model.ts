// The run report: what report.json holds (its schema: schemas/report.schema.json), and the
// functions that turn per-test results into summaries.
import type { Exchange } from "../client/exchange.ts";
import type { SpecRef } from "../fixtures/meta.ts";

export type TestStatus = "passed" | "failed" | "skipped" | "expected-failure" | "fixed";

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
  error?: string;
  /** Why a test was skipped, or why a failure was expected. */
  reason?: string;
  exchanges?: Exchange[];
}

export interface Counts {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  expectedFailures: number;
  fixed: number;
}

export interface RunReport {
  format: "matrix-conformance-report/1";
  tool: { name: string; version: string };
  target: { name: string; version?: string; serverName: string; baseUrl: string; logFile?: string };
  spec: { version: string; dir: string };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  summary: Counts;
  areas: Record<string, Counts>;
  /** Client-side figures over every exchange of the run. */
  stats: RequestStats;
  /** Errors outside any test (a suite file that failed to load, an unhandled rejection). */
  runErrors: string[];
  tests: TestResultEntry[];
}

export function emptyCounts(): Counts {
  return { total: 0, passed: 0, failed: 0, skipped: 0, expectedFailures: 0, fixed: 0 };
}

export function addTo(c: Counts, status: TestStatus): void {
  c.total++;
  if (status === "passed") c.passed++;
  else if (status === "failed") c.failed++;
  else if (status === "skipped") c.skipped++;
  else if (status === "expected-failure") c.expectedFailures++;
  else c.fixed++;
}

export function summarise(tests: TestResultEntry[]): { summary: Counts; areas: Record<string, Counts> } {
  const summary = emptyCounts();
  const areas: Record<string, Counts> = {};
  for (const t of tests) {
    addTo(summary, t.status);
    addTo((areas[t.area] ??= emptyCounts()), t.status);
  }
  return { summary, areas };
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
