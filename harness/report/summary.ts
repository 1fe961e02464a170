// The one-screen summary printed at the end of a run.
import type { Counts, RunReport } from "./model.ts";

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const colour = (code: number) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
/** ANSI colours for the terminal, none when stdout is not a terminal or NO_COLOR is set. */
export const paint = { red: colour(31), green: colour(32), yellow: colour(33), bold: colour(1) };
const { red, green, yellow, bold } = paint;

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
}

export function renderSummary(report: RunReport, reportDir: string): string {
  const head = ["area", "passed", "failed", "xfail", "fixed", "skipped", "total"];
  const line = (name: string, c: Counts) => [name, String(c.passed), String(c.failed), String(c.expectedFailures), String(c.fixed), String(c.skipped), String(c.total)];
  const rows = Object.keys(report.areas)
    .sort()
    .map((a) => line(a, report.areas[a]!));
  const total = line("all", report.summary);
  const widths = head.map((_, i) => Math.max(...[head, ...rows, total].map((r) => r[i]!.length)));
  const out: string[] = ["", bold(`matrix-conformance ${report.tool.version}: ${report.target.name}${report.target.version ? ` (${report.target.version})` : ""} as ${report.target.serverName}, spec ${report.spec.version}`), ""];
  out.push(row(head, widths), ...rows.map((r) => row(r, widths)), row(total, widths), "");
  const failed = report.tests.filter((t) => t.status === "failed");
  if (failed.length) {
    out.push(red(bold(`${failed.length} failed:`)));
    for (const t of failed.slice(0, 15)) out.push(`  ${red("x")} ${t.area} > ${t.fullTitle}`, `      ${(t.error ?? "").split("\n")[0]}`);
    if (failed.length > 15) out.push(`  ... and ${failed.length - 15} more (see report.json)`);
    out.push("");
  }
  const fixed = report.tests.filter((t) => t.status === "fixed");
  if (fixed.length) out.push(yellow(`${fixed.length} expected failure(s) now pass: remove them from the baseline.`), "");
  for (const e of report.runErrors) out.push(red(`run error: ${e}`));
  const s = report.summary;
  const verdict = s.failed > 0 || report.runErrors.length > 0 ? red(bold("FAILED")) : green(bold("PASSED"));
  out.push(`${verdict}  ${s.passed} passed, ${s.failed} failed, ${s.expectedFailures} expected failures, ${s.skipped} skipped in ${(report.durationMs / 1000).toFixed(1)} s`);
  // A plain closing line that CI systems read: "N passed, N failed, N skipped".
  out.push(`conformance: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
  out.push(`report: ${reportDir}/report.json, ${reportDir}/junit.xml${report.target.logFile ? `; server log: ${report.target.logFile}` : ""}`, "");
  return out.join("\n");
}
