// The vitest reporter that turns a run into report.json and junit.xml in the report directory, and
// ends the terminal output with a one-screen summary by area.
import { mkdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { SerializedError } from "vitest";
import type { Reporter, TestCase, TestModule } from "vitest/node";
import type { DeploymentInfo } from "../targets/types.ts";
import { specUrl } from "../fixtures/meta.ts";
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
  /** Lets the caller (the CLI) read the finished report. */
  onReport?: (report: RunReport) => void;
  print?: (text: string) => void;
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
        tests.push(this.entry(tc, file));
        timings.push(...(tc.meta().timings ?? []));
      }
    }
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

  private entry(tc: TestCase, file: string): TestResultEntry {
    const result = tc.result();
    const meta = tc.meta();
    const spec = meta.spec ? { ...meta.spec, url: specUrl(meta.spec.section, this.ctx.specVersion) } : undefined;
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
      const error = result.errors.map((e) => [e.message, e.diff].filter(Boolean).join("\n")).join("\n\n");
      return { ...base, status: "failed", error, exchanges: meta.exchanges };
    }
    if (result.state === "skipped" || result.state === "pending") {
      const reason = result.state === "skipped" ? result.note : undefined;
      return { ...base, status: "skipped", reason: reason ?? (tc.options.mode === "todo" ? "todo" : "skipped without a reason") };
    }
    return { ...base, status: "passed" };
  }
}
