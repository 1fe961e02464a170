// The one-screen summary printed at the end of a run.
import { runFailed, type Counts, type RunReport } from "./model.ts";

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const colour = (code: number) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
/** ANSI colours for the terminal, none when stdout is not a terminal or NO_COLOR is set. */
export const paint = { red: colour(31), green: colour(32), yellow: colour(33), bold: colour(1) };
const { red, green, yellow, bold } = paint;

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
}

export function renderSummary(report: RunReport, reportDir: string): string {
  // The flaky column appears only in runs with retries, where it can be non-zero.
  const retrying = (report.options.retries ?? 0) > 0 || report.summary.flaky > 0;
  const head = ["area", "passed", "failed", "setup", ...(retrying ? ["flaky"] : []), "warn", "xfail", "fixed", "skipped", "total", "behaviours"];
  const line = (name: string, c: Counts) => [name, ...[c.passed, c.failed, c.setupFailed, ...(retrying ? [c.flaky] : []), c.warnings, c.expectedFailures, c.fixed, c.skipped, c.total, c.behaviours].map(String)];
  const rows = Object.keys(report.areas)
    .sort()
    .map((a) => line(a, report.areas[a]!));
  const total = line("all", report.summary);
  const widths = head.map((_, i) => Math.max(...[head, ...rows, total].map((r) => r[i]!.length)));
  const out: string[] = ["", bold(`matrix-conformance ${report.tool.version}: ${report.target.name}${report.target.version ? ` (${report.target.version})` : ""} as ${report.target.serverName}, spec ${report.spec.version}`), ""];
  out.push(row(head, widths), ...rows.map((r) => row(r, widths)), row(total, widths), "");
  const failed = report.tests.filter((t) => t.status === "failed" || t.status === "setup-failed");
  if (failed.length) {
    out.push(red(bold(`${failed.length} failed:`)));
    for (const t of failed.slice(0, 15)) {
      out.push(`  ${red("x")} ${t.area} > ${t.fullTitle}${t.status === "setup-failed" ? " [set-up]" : ""}`, `      ${t.failure?.signature ?? (t.error ?? "").split("\n")[0]}`);
      if (t.baselineMismatch) out.push(`      the baseline expected: ${t.baselineMismatch.expected}`);
    }
    if (failed.length > 15) out.push(`  ... and ${failed.length - 15} more (see report.json)`);
    out.push("");
  }
  const flaky = report.tests.filter((t) => t.status === "flaky");
  if (flaky.length) {
    const how = report.options.allowFlaky ? "allowed by --allow-flaky" : "each fails the run; --allow-flaky makes them passes with a warning";
    out.push((report.options.allowFlaky ? yellow : red)(bold(`${flaky.length} flaky: failed, then passed on a retry (${how}):`)));
    for (const t of flaky.slice(0, 15)) out.push(`  ${yellow("~")} ${t.area} > ${t.fullTitle} (attempt ${t.attempts ?? 2})`, `      ${t.failure?.signature ?? ""}`);
    if (flaky.length > 15) out.push(`  ... and ${flaky.length - 15} more (see report.json)`);
    out.push("");
  }
  const warnings = report.tests.filter((t) => t.status === "warning");
  if (warnings.length) {
    out.push(yellow(bold(`${warnings.length} warning(s): SHOULD or MAY requirements not met (--strict-should fails on them):`)));
    for (const t of warnings.slice(0, 10)) out.push(`  ${yellow("!")} ${t.area} > ${t.fullTitle}`, `      ${t.failure?.signature ?? ""}`);
    if (warnings.length > 10) out.push(`  ... and ${warnings.length - 10} more (see report.json)`);
    out.push("");
  }
  if (report.schema.length) {
    out.push(bold(`schema: ${report.schema.length} rule(s) broken, by endpoint (each once, with the tests that met it):`));
    for (const e of report.schema.slice(0, 12)) {
      const acts = e.tests.filter((t) => t.role === "act").length;
      out.push(`  ${e.endpoint} ${e.rule}${e.overlay ? ` [project overlay ${e.overlay}]` : ""}`, `      ${e.tests.length} test(s): ${acts} as their act, ${e.tests.length - acts} in set-up`);
    }
    if (report.schema.length > 12) out.push(`  ... and ${report.schema.length - 12} more (see report.json "schema")`);
    out.push("");
  }
  if (report.errata.length) {
    out.push(bold(`spec errata this run needed (${report.options.errata ? "applied" : "off"}):`));
    for (const e of report.errata) out.push(`  ${e.id}: ${e.summary}`, `      ${e.hits.map((h) => `${h.endpoint} (${h.tests.length} test(s))`).join("; ")}`);
    out.push("");
  }
  const fixed = report.tests.filter((t) => t.status === "fixed");
  if (fixed.length) out.push(yellow(`${fixed.length} expected failure(s) now pass: remove them from the baseline.`), "");
  for (const e of report.runErrors) out.push(red(`run error: ${e}`));
  const s = report.summary;
  const verdict = runFailed(s, report.runErrors, report.options) ? red(bold("FAILED")) : green(bold("PASSED"));
  out.push(`${verdict}  ${s.passed} passed, ${s.failed} failed, ${s.setupFailed} set-up failed, ${retrying ? `${s.flaky} flaky, ` : ""}${s.warnings} warnings, ${s.expectedFailures} expected failures, ${s.skipped} skipped in ${(report.durationMs / 1000).toFixed(1)} s`);
  out.push(`${s.total} cases of ${s.behaviours} distinct behaviours`);
  // A plain closing line that CI systems read: "N passed, N failed, N skipped".
  out.push(`conformance: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
  out.push(`report: ${reportDir}/report.json, ${reportDir}/junit.xml${report.target.logFile ? `; server log: ${report.target.logFile}` : ""}`, "");
  return out.join("\n");
}
