// The vitest reporter that turns a run into report.json and junit.xml in the report directory, and
// ends the terminal output with a one-screen summary by area.
import { mkdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { SerializedError } from "vitest";
import type { Reporter, TestCase, TestModule } from "vitest/node";
import type { DeploymentInfo } from "../targets/types.ts";
import { specUrl } from "../fixtures/meta.ts";
import { applyBaseline, type Baseline } from "./baseline.ts";
import { toJUnit } from "./junit.ts";
import { areaOf, requestStats, summarise, type RunReport, type TestResultEntry } from "./model.ts";
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
  /** Lets the caller (the CLI) read the finished report. */
  onReport?: (report: RunReport) => void;
  print?: (text: string) => void;
}

/**
 * A failed test's errors as the report and the terminal show them: each message with its diff,
 * without the terminal colour codes vitest puts in diffs (they would litter report.json).
 */
function errorText(errors: ReadonlyArray<{ message: string; diff?: string }>): string {
  return errors.map((e) => [e.message, e.diff].filter(Boolean).join("\n")).join("\n\n").replace(/\x1b\[[0-9;]*m/g, "");
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
    for (const mod of modules) {
      const file = relative(this.ctx.rootDir, mod.moduleId);
      for (const e of mod.errors()) runErrors.push(`${file}: ${e.message}`);
      for (const tc of mod.children.allTests()) {
        const entry = testEntry(tc, file, this.ctx.specVersion, this.ctx.filtered);
        if (!entry) continue;
        tests.push(entry);
        timings.push(...(tc.meta().timings ?? []));
      }
    }
    const { stale } = applyBaseline(tests, this.ctx.baseline);
    // Under --grep, an entry whose test the filter left out looks just like a stale one: only a
    // run without a name filter can tell.
    if (!this.ctx.filtered) for (const id of stale) runErrors.push(`baseline entry names no test of this run's files: ${id} (remove it from the baseline)`);
    const finishedAt = new Date();
    const { summary, areas } = summarise(tests);
    const d = this.ctx.deployment;
    const report: RunReport = {
      format: "matrix-conformance-report/1",
      tool: { name: "matrix-conformance", version: this.ctx.toolVersion },
      target: { name: d.target, version: d.version, serverName: d.serverName, baseUrl: d.baseUrl, logFile: d.logFile },
      spec: { version: this.ctx.specVersion, dir: this.ctx.specDir },
      startedAt: this.startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - this.startedAt.getTime(),
      summary,
      areas,
      stats: requestStats(timings),
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

/**
 * A test's entry in the report, before the baseline is applied; undefined for a test that a --grep
 * filter (`filtered`) left out, since the report lists only what was meant to run.
 */
export function testEntry(tc: TestCase, file: string, specVersion: string, filtered = false): TestResultEntry | undefined {
  const result = tc.result();
  const meta = tc.meta();
  const spec = meta.spec ? { ...meta.spec, url: specUrl(meta.spec.section, specVersion) } : undefined;
  const base = {
    id: `${file}::${tc.fullName}`,
    title: tc.name,
    fullTitle: tc.fullName,
    file,
    area: spec?.area ?? areaOf(file),
    spec,
    durationMs: Math.round(tc.diagnostic()?.duration ?? 0),
  };
  if (result.state === "failed") {
    const error = errorText(result.errors);
    return { ...base, status: "failed", error, exchanges: meta.exchanges };
  }
  if (result.state === "skipped" || result.state === "pending") {
    const reason = result.state === "skipped" ? result.note : undefined;
    if (filtered && reason === undefined && tc.options.mode === "skip") return undefined;
    return { ...base, status: "skipped", reason: reason ?? (tc.options.mode === "todo" ? "todo" : "skipped without a reason") };
  }
  return { ...base, status: "passed" };
}
