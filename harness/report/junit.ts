// JUnit XML from a run report: one <testsuite> per area, failures with their message and exchanges.
import { formatExchange } from "../client/exchange.ts";
import type { RunReport, TestResultEntry } from "./model.ts";

function esc(s: string): string {
  // XML 1.0 forbids most control characters even when escaped: drop them.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function testcase(t: TestResultEntry): string {
  const attrs = `classname="${esc(t.area)}" name="${esc(t.fullTitle)}" file="${esc(t.file)}" time="${(t.durationMs / 1000).toFixed(3)}"`;
  const ref = t.spec ? `spec: ${t.spec.url}\n` : "";
  const trace = (t.exchanges ?? []).map(formatExchange).join("\n");
  switch (t.status) {
    case "failed":
      return `    <testcase ${attrs}>\n      <failure message="${esc(firstLine(t.error))}" type="AssertionError">${esc(`${ref}${t.error ?? ""}\n${trace}`)}</failure>\n    </testcase>`;
    case "skipped":
      return `    <testcase ${attrs}>\n      <skipped message="${esc(t.reason ?? "skipped")}"/>\n    </testcase>`;
    case "expected-failure":
      return `    <testcase ${attrs}>\n      <skipped message="${esc(`expected failure: ${t.reason ?? ""}`)}"/>\n    </testcase>`;
    default:
      return `    <testcase ${attrs}/>`;
  }
}

function firstLine(s?: string): string {
  return (s ?? "").split("\n")[0] ?? "";
}

export function toJUnit(report: RunReport): string {
  const byArea = new Map<string, TestResultEntry[]>();
  for (const t of report.tests) byArea.set(t.area, [...(byArea.get(t.area) ?? []), t]);
  const suites = [...byArea.entries()].map(([area, tests]) => {
    const c = report.areas[area]!;
    const time = tests.reduce((n, t) => n + t.durationMs, 0) / 1000;
    return `  <testsuite name="${esc(area)}" tests="${c.total}" failures="${c.failed}" errors="0" skipped="${c.skipped + c.expectedFailures}" time="${time.toFixed(3)}">\n${tests.map(testcase).join("\n")}\n  </testsuite>`;
  });
  const s = report.summary;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="matrix-conformance: ${esc(report.target.name)}" tests="${s.total}" failures="${s.failed}" errors="${report.runErrors.length}" skipped="${s.skipped + s.expectedFailures}" time="${(report.durationMs / 1000).toFixed(3)}">\n${suites.join("\n")}\n</testsuites>\n`;
}
