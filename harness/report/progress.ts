// The run's terminal progress, in place of vitest's own reporter: one line per suite file as it
// finishes, counted the way the report counts (a baselined failure is an expected failure, not a
// failure), and under it the whole message of each unexpected failure, with the exchanges the
// test's error quotes, the spec link, and, when the message quotes no exchange (a plain expect),
// the test's last two exchanges in brief. vitest's reporter would list every expected failure as a failure with its
// stack, which buries the failures that matter in a CI log.
import { relative } from "node:path";
import type { Reporter, TestModule, TestSpecification } from "vitest/node";
import type { Exchange } from "../client/exchange.ts";
import { applyVerdicts, type Baseline } from "./baseline.ts";
import { summarise, type TestResultEntry } from "./model.ts";
import { testEntry } from "./reporter.ts";
import { paint } from "./summary.ts";

export interface ProgressContext {
  rootDir: string;
  specVersion: string;
  baseline?: Baseline;
  strictShould?: boolean;
  /** A --grep filter was given: tests it left out are not counted as skipped. */
  filtered?: boolean;
  print?: (text: string) => void;
}

export class ProgressReporter implements Reporter {
  private files = 0;
  private done = 0;

  constructor(private readonly ctx: ProgressContext) {}

  private print(text: string): void {
    (this.ctx.print ?? ((t: string) => process.stdout.write(t)))(text);
  }

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    this.files = specifications.length;
    this.done = 0;
  }

  onTestModuleEnd(mod: TestModule): void {
    const file = relative(this.ctx.rootDir, mod.moduleId);
    // The same entries, baseline and counts as the report, for this file alone.
    const tests: TestResultEntry[] = [];
    for (const tc of mod.children.allTests()) {
      const entry = testEntry(tc, file, this.ctx.specVersion, this.ctx.filtered);
      if (entry) tests.push(entry);
    }
    applyVerdicts(tests, this.ctx.baseline, { strictShould: this.ctx.strictShould });
    const n = summarise(tests).summary;
    const lines: string[] = [];
    for (const t of tests) {
      if (t.status === "failed" || t.status === "setup-failed") {
        lines.push(...failureBlock(t), "");
      } else if (t.status === "warning") {
        lines.push(`  ${paint.yellow("!")} ${t.fullTitle} (${t.spec?.level ?? "SHOULD"}: a warning)`, `      ${t.failure?.signature ?? ""}`, "");
      }
    }
    const fileErrors = mod.errors();
    for (const e of fileErrors) lines.push(`  ${paint.red("x")} the file itself`, ...indent(`${e.name ?? "Error"}: ${e.message}`, "      "), "");
    const failed = n.failed + fileErrors.length;
    const counts = [
      `${n.passed} passed`,
      failed > 0 ? paint.red(`${failed} failed`) : undefined,
      n.setupFailed > 0 ? paint.red(`${n.setupFailed} set-up failed`) : undefined,
      n.warnings > 0 ? paint.yellow(`${n.warnings} warnings`) : undefined,
      n.expectedFailures > 0 ? `${n.expectedFailures} expected failures` : undefined,
      n.fixed > 0 ? paint.yellow(`${n.fixed} fixed`) : undefined,
      n.skipped > 0 ? `${n.skipped} skipped` : undefined,
    ].filter(Boolean);
    const seconds = ((mod.diagnostic().duration ?? 0) / 1000).toFixed(1);
    const mark = failed + n.setupFailed > 0 ? paint.red("FAIL") : paint.green(" ok ");
    this.done++;
    this.print(`[${this.done}/${this.files}] ${mark} ${file}: ${counts.join(", ")} (${seconds} s)\n${lines.length > 0 ? `${lines.join("\n")}\n` : ""}`);
  }
}

/** How many of a test's last exchanges follow a failure whose message quotes none. */
export const LAST_EXCHANGES = 2;

/**
 * The lines under an unexpected failure: its title, signature and spec link, the error's whole
 * message, and, when that message quotes no exchange (a labelled expect rather than a response
 * matcher or a step), the test's last exchanges in brief, so the reader sees what the server said.
 */
export function failureBlock(t: TestResultEntry): string[] {
  const what = t.status === "setup-failed" ? " (set-up failed: the behaviour was not reached)" : "";
  const lines = [`  ${paint.red("x")} ${t.fullTitle}${what}`, `      ${t.failure?.signature ?? ""}`];
  if (t.spec?.url) lines.push(`      spec: ${t.spec.url}`);
  lines.push(...indent(t.error ?? "", "      "));
  const last = (t.exchanges ?? []).slice(-LAST_EXCHANGES);
  if (!quotesAnExchange(t.error ?? "") && last.length > 0) {
    lines.push(`      The test's last ${last.length === 1 ? "exchange" : `${last.length} exchanges`}:`, ...last.flatMap((e) => indent(briefExchange(e), "      ")));
  }
  return lines;
}

/** True when a message holds a rendered exchange ("#3 PUT https://…", as formatExchange writes it). */
export function quotesAnExchange(message: string): boolean {
  return /^\s*#\d+ [A-Z]+ \S+/m.test(message);
}

/** An exchange in two lines: who asked what, and the answer cut short. */
export function briefExchange(e: Exchange): string {
  const head = `#${e.seq} ${e.method} ${e.url} [${e.channel}]`;
  if (e.error !== undefined) return `${head}\n  transport error: ${cut(e.error, 200)}`;
  return `${head}\n  -> ${e.status ?? "?"} (${e.durationMs.toFixed(0)} ms): ${cut(e.responseBody ?? "", 200)}`;
}

function cut(text: string, max: number): string {
  const flat = text.replace(/\s*\n\s*/g, " ");
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

function indent(text: string, prefix: string): string[] {
  return text.split("\n").map((l) => `${prefix}${l}`);
}
