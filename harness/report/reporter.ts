// The vitest reporter that turns a run into report.json and junit.xml in the report directory, and
// ends the terminal output with a one-screen summary by area.
import { mkdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { SerializedError } from "vitest";
import type { Reporter, TestCase, TestModule } from "vitest/node";
import type { DeploymentInfo } from "../targets/types.ts";
import { applyVerdicts, type Baseline } from "./baseline.ts";
import { behaviourOf, classifyFailure } from "./failures.ts";
import { toJUnit } from "./junit.ts";
import { findingEndpoint } from "./failures.ts";
import { areaOf, requestStats, specUrl, summarise, timeStats, type ErratumHit, type RunReport, type SchemaSectionEntry, type TestResultEntry } from "./model.ts";
import type { TimeSplit } from "../client/exchange.ts";
import { renderSummary } from "./summary.ts";

export interface ReporterContext {
  reportDir: string;
  rootDir: string;
  toolVersion: string;
  specVersion: string;
  specDir: string;
  deployment: DeploymentInfo;
  /** Expected failures of this target. */
  baseline?: Baseline;
  /** A --grep filter was given: tests it left out are not reported as skipped. */
  filtered?: boolean;
  /** SHOULD- and MAY-level failures fail the run (--strict-should). */
  strictShould?: boolean;
  /** How many times a failed test was run again (--retries). */
  retries?: number;
  /** A test that passed on a retry is a pass with a warning rather than a failure (--allow-flaky). */
  allowFlaky?: boolean;
  /** Whether the spec errata were applied (false under --no-errata). */
  errata?: boolean;
  /** Summary and evidence of each erratum, by id (from schemas/errata.json). */
  erratumInfo?: (id: string) => { summary: string; evidence: ErratumHit["evidence"] } | undefined;
  /** Lets the caller (the CLI) read the finished report. */
  onReport?: (report: RunReport) => void;
  print?: (text: string) => void;
}

/**
 * A failed test's errors as the report and the terminal show them: each message with its diff,
 * without the terminal colour codes vitest puts in diffs (they would litter report.json).
 */
function errorText(errors: ReadonlyArray<{ message: string; diff?: string }>): string {
  // vitest may record a fixture's teardown error twice; show each distinct error once.
  const texts = errors.map((e) => [e.message, e.diff].filter(Boolean).join("\n"));
  return [...new Set(texts)].join("\n\n").replace(/\x1b\[[0-9;]*m/g, "");
}

export class ConformanceReporter implements Reporter {
  private startedAt = new Date();
  constructor(private readonly ctx: ReporterContext) {}

  onTestRunStart(): void {
    this.startedAt = new Date();
  }

  async onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>): Promise<void> {
    const tests: TestResultEntry[] = [];
    const runErrors: string[] = unhandled.map((e) => `${e.name ?? "Error"}: ${e.message}`);
    const timings: Array<[number, number]> = [];
    const times: Array<{ area: string; time: TimeSplit }> = [];
    const errataHits = new Map<string, Map<string, Set<string>>>();
    for (const mod of modules) {
      const file = relative(this.ctx.rootDir, mod.moduleId);
      for (const e of mod.errors()) runErrors.push(`${file}: ${e.message}`);
      for (const tc of mod.children.allTests()) {
        const entry = testEntry(tc, file, this.ctx.specVersion, this.ctx.filtered);
        if (!entry) continue;
        tests.push(entry);
        timings.push(...(tc.meta().timings ?? []));
        const time = tc.meta().time;
        if (time) times.push({ area: entry.area, time });
        for (const h of tc.meta().errataHits ?? []) {
          let byEndpoint = errataHits.get(h.id);
          if (!byEndpoint) errataHits.set(h.id, (byEndpoint = new Map()));
          let ids = byEndpoint.get(h.endpoint);
          if (!ids) byEndpoint.set(h.endpoint, (ids = new Set()));
          ids.add(entry.id);
        }
      }
    }
    const { stale } = applyVerdicts(tests, this.ctx.baseline, { strictShould: this.ctx.strictShould });
    // Under --grep, an entry whose test the filter left out looks just like a stale one: only a
    // run without a name filter can tell.
    if (!this.ctx.filtered) for (const id of stale) runErrors.push(`baseline entry names no test of this run's files: ${id} (remove it from the baseline)`);
    const finishedAt = new Date();
    const { summary, areas } = summarise(tests);
    const d = this.ctx.deployment;
    const report: RunReport = {
      format: "matrix-conformance-report/2",
      tool: { name: "matrix-conformance", version: this.ctx.toolVersion },
      target: { name: d.target, version: d.version, serverName: d.serverName, baseUrl: d.baseUrl, logFile: d.logFile },
      spec: { version: this.ctx.specVersion, dir: this.ctx.specDir },
      options: { errata: this.ctx.errata ?? true, strictShould: this.ctx.strictShould ?? false, retries: this.ctx.retries ?? 0, allowFlaky: this.ctx.allowFlaky ?? false },
      startedAt: this.startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - this.startedAt.getTime(),
      summary,
      areas,
      stats: { ...requestStats(timings), time: timeStats(times) },
      schema: schemaSection(tests),
      errata: [...errataHits].sort(([a], [b]) => a.localeCompare(b)).map(([id, byEndpoint]) => ({
        id,
        summary: this.ctx.erratumInfo?.(id)?.summary ?? "(not described in schemas/errata.json)",
        evidence: this.ctx.erratumInfo?.(id)?.evidence ?? [],
        hits: [...byEndpoint].sort(([a], [b]) => a.localeCompare(b)).map(([endpoint, ids]) => ({ endpoint, tests: [...ids].sort() })),
      })),
      runErrors,
      tests,
    };
    await mkdir(this.ctx.reportDir, { recursive: true });
    await writeFile(join(this.ctx.reportDir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(join(this.ctx.reportDir, "junit.xml"), toJUnit(report));
    (this.ctx.print ?? ((t: string) => process.stdout.write(t)))(renderSummary(report, this.ctx.reportDir));
    this.ctx.onReport?.(report);
  }
}

/** Every schema violation of the run, once per endpoint, status and rule, with the tests that met it. */
export function schemaSection(tests: readonly TestResultEntry[]): SchemaSectionEntry[] {
  const byKey = new Map<string, SchemaSectionEntry>();
  for (const t of tests) {
    const seen = new Set<string>();
    for (const f of t.schema ?? []) {
      const endpoint = findingEndpoint(f);
      const key = `${endpoint}\u0000${f.rule}`;
      let entry = byKey.get(key);
      if (!entry) byKey.set(key, (entry = { endpoint, operation: f.operation, status: f.status, subject: f.subject, rule: f.rule, overlay: f.overlay, tests: [] }));
      if (seen.has(key)) continue;
      seen.add(key);
      entry.tests.push({ id: t.id, role: f.role, status: t.status });
    }
  }
  return [...byKey.values()].sort((a, b) => b.tests.length - a.tests.length || a.endpoint.localeCompare(b.endpoint) || a.rule.localeCompare(b.rule));
}

/**
 * A test's entry in the report, before the baseline is applied; undefined for a test that a --grep
 * filter (`filtered`) left out, since the report lists only what was meant to run.
 */
export function testEntry(tc: TestCase, file: string, specVersion: string, filtered = false): TestResultEntry | undefined {
  const result = tc.result();
  const meta = tc.meta();
  const spec = meta.spec ? { ...meta.spec, url: specUrl(meta.spec.section, specVersion) } : undefined;
  const id = `${file}::${tc.fullName}`;
  const base = {
    id,
    behaviour: behaviourOf(id),
    title: tc.name,
    fullTitle: tc.fullName,
    file,
    area: spec?.area ?? areaOf(file),
    spec,
    durationMs: Math.round(tc.diagnostic()?.duration ?? 0),
  };
  const schema = meta.schemaFindings?.length ? meta.schemaFindings : undefined;
  const retried = tc.diagnostic()?.retryCount ?? 0;
  const attempts = retried > 0 ? { attempts: retried + 1 } : {};
  if (result.state === "failed") {
    const error = errorText(result.errors);
    const failure = classifyFailure({ errors: result.errors, exchanges: meta.exchanges, findings: meta.schemaFindings, citedSection: meta.spec?.section });
    return { ...base, ...attempts, status: "failed", error, failure, schema, exchanges: meta.exchanges };
  }
  if (result.state === "skipped" || result.state === "pending") {
    const reason = result.state === "skipped" ? result.note : undefined;
    if (filtered && reason === undefined && tc.options.mode === "skip") return undefined;
    return { ...base, status: "skipped", reason: reason ?? (tc.options.mode === "todo" ? "todo" : "skipped without a reason") };
  }
  if (retried > 0 && result.errors?.length) {
    // Passed on a retry: the earlier attempts' errors are the evidence (their exchanges are quoted
    // in the messages of the response matchers; the exchange log holds the last attempt only).
    const failure = classifyFailure({ errors: result.errors, exchanges: undefined, findings: undefined, citedSection: meta.spec?.section });
    const error = `passed on attempt ${retried + 1} after ${retried === 1 ? "a failed attempt" : `${retried} failed attempts`}:\n\n${errorText(result.errors)}`;
    return { ...base, ...attempts, status: "flaky", error, failure, schema };
  }
  return { ...base, status: "passed" };
}
