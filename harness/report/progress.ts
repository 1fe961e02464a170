// The run's terminal progress, in place of vitest's own reporter: one line per suite file as it
// finishes, counted the way the report counts (a baselined failure is an expected failure, not a
// failure), and under it the whole message of each unexpected failure, with the exchanges the
// test's error quotes. vitest's reporter would list every expected failure as a failure with its
// stack, which buries the failures that matter in a CI log.
import { relative } from "node:path";
import type { Reporter, TestModule, TestSpecification } from "vitest/node";
import type { Baseline } from "./baseline.ts";
import { errorText } from "./reporter.ts";
import { paint } from "./summary.ts";

export interface ProgressContext {
  rootDir: string;
  baseline?: Baseline;
  print?: (text: string) => void;
}

export class ProgressReporter implements Reporter {
  private readonly expected: ReadonlySet<string>;
  private files = 0;
  private done = 0;

  constructor(private readonly ctx: ProgressContext) {
    this.expected = new Set((ctx.baseline?.entries ?? []).map((e) => e.id));
  }

  private print(text: string): void {
    (this.ctx.print ?? ((t: string) => process.stdout.write(t)))(text);
  }

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    this.files = specifications.length;
    this.done = 0;
  }

  onTestModuleEnd(mod: TestModule): void {
    const file = relative(this.ctx.rootDir, mod.moduleId);
    const n = { passed: 0, failed: 0, expectedFailures: 0, fixed: 0, skipped: 0 };
    const lines: string[] = [];
    for (const tc of mod.children.allTests()) {
      const result = tc.result();
      const listed = this.expected.has(`${file}::${tc.fullName}`);
      if (result.state === "failed") {
        if (listed) {
          n.expectedFailures++;
          continue;
        }
        n.failed++;
        lines.push(`  ${paint.red("x")} ${tc.fullName}`, ...indent(errorText(result.errors), "      "), "");
      } else if (result.state === "passed") {
        if (listed) n.fixed++;
        else n.passed++;
      } else {
        n.skipped++;
      }
    }
    for (const e of mod.errors()) {
      n.failed++;
      lines.push(`  ${paint.red("x")} the file itself`, ...indent(`${e.name ?? "Error"}: ${e.message}`, "      "), "");
    }
    const counts = [
      `${n.passed} passed`,
      n.failed > 0 ? paint.red(`${n.failed} failed`) : undefined,
      n.expectedFailures > 0 ? `${n.expectedFailures} expected failures` : undefined,
      n.fixed > 0 ? paint.yellow(`${n.fixed} fixed`) : undefined,
      n.skipped > 0 ? `${n.skipped} skipped` : undefined,
    ].filter(Boolean);
    const seconds = ((mod.diagnostic().duration ?? 0) / 1000).toFixed(1);
    const mark = n.failed > 0 ? paint.red("FAIL") : paint.green(" ok ");
    this.done++;
    this.print(`[${this.done}/${this.files}] ${mark} ${file}: ${counts.join(", ")} (${seconds} s)\n${lines.length > 0 ? `${lines.join("\n")}\n` : ""}`);
  }
}

function indent(text: string, prefix: string): string[] {
  return text.split("\n").map((l) => `${prefix}${l}`);
}
