// JUnit XML from a run report: one <testsuite> per area, failures with their message and exchanges.
import { formatExchange } from "../client/exchange.ts";
import type { RunReport, TestResultEntry } from "./model.ts";

function esc(s: string): string {
  // XML 1.0 forbids most control characters even when escaped: drop them.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function testcase(t: TestResultEntry, allowFlaky: boolean): string {
  const attrs = `classname="${esc(t.area)}" name="${esc(t.fullTitle)}" file="${esc(t.file)}" time="${(t.durationMs / 1000).toFixed(3)}"`;
  const ref = t.spec ? `spec: ${t.spec.url}\n` : "";
  const trace = (t.exchanges ?? []).map(formatExchange).join("\n");
  const sig = t.failure ? `signature: ${t.failure.signature}\n` : "";
  switch (t.status) {
    case "failed":
      return `    <testcase ${attrs}>\n      <failure message="${esc(t.failure?.signature ?? firstLine(t.error))}" type="${t.failure?.kind ?? "assertion"}">${esc(`${ref}${sig}${t.error ?? ""}\n${trace}`)}</failure>\n    </testcase>`;
    case "setup-failed":
      // JUnit's <error> is "the test could not do its job", which is what a set-up failure is.
      return `    <testcase ${attrs}>\n      <error message="${esc(t.failure?.signature ?? firstLine(t.error))}" type="setup">${esc(`${ref}${sig}${t.error ?? ""}\n${trace}`)}</error>\n    </testcase>`;
    case "warning":
      // Passed, with the unmet SHOULD beside it: JUnit has no warning state, so readers see it
      // as a property and in the test's output.
      return `    <testcase ${attrs}>\n      <properties><property name="warning" value="${esc(`${t.spec?.level ?? "SHOULD"}: ${t.failure?.signature ?? firstLine(t.error)}`)}"/></properties>\n      <system-out>${esc(`warning (${t.spec?.level ?? "SHOULD"}-level requirement not met)\n${ref}${sig}${t.error ?? ""}`)}</system-out>\n    </testcase>`;
    case "flaky":
      // Passed on a retry. By default that is a failure marked flaky (the verdict changed between
      // attempts); under --allow-flaky, a pass carrying the failed attempts as a warning.
      if (allowFlaky) return `    <testcase ${attrs}>\n      <properties><property name="flaky" value="${esc(`passed on attempt ${t.attempts ?? 2}: ${t.failure?.signature ?? firstLine(t.error)}`)}"/></properties>\n      <system-out>${esc(`flaky\n${ref}${sig}${t.error ?? ""}`)}</system-out>\n    </testcase>`;
      return `    <testcase ${attrs}>\n      <failure message="${esc(`flaky: ${t.failure?.signature ?? firstLine(t.error)}`)}" type="flaky">${esc(`${ref}${sig}${t.error ?? ""}`)}</failure>\n    </testcase>`;
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
  const allowFlaky = report.options.allowFlaky ?? false;
  const byArea = new Map<string, TestResultEntry[]>();
  for (const t of report.tests) byArea.set(t.area, [...(byArea.get(t.area) ?? []), t]);
  const suites = [...byArea.entries()].map(([area, tests]) => {
    const c = report.areas[area]!;
    const time = tests.reduce((n, t) => n + t.durationMs, 0) / 1000;
    return `  <testsuite name="${esc(area)}" tests="${c.total}" failures="${c.failed + (allowFlaky ? 0 : c.flaky)}" errors="${c.setupFailed}" skipped="${c.skipped + c.expectedFailures}" time="${time.toFixed(3)}">\n${tests.map((t) => testcase(t, allowFlaky)).join("\n")}\n  </testsuite>`;
  });
  const s = report.summary;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="matrix-conformance: ${esc(report.target.name)}" tests="${s.total}" failures="${s.failed + (allowFlaky ? 0 : s.flaky)}" errors="${s.setupFailed + report.runErrors.length}" skipped="${s.skipped + s.expectedFailures}" time="${(report.durationMs / 1000).toFixed(3)}">\n${suites.join("\n")}\n</testsuites>\n`;
}
