// The cross-server matrix: several report.json files side by side, as Markdown and HTML. For each
// area and target: passed / failed / expected failures / skipped, then every failing test per
// target with its spec section, so any server can appear on one "are we there yet" page.
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { Counts, RunReport, TestResultEntry } from "./model.ts";

export class MatrixInputError extends Error {}

const SCHEMA = JSON.parse(readFileSync(fileURLToPath(new URL("../../schemas/report.schema.json", import.meta.url)), "utf8"));
const ajv = new Ajv2020.default({ allErrors: true });
addFormats.default(ajv);
const validate = ajv.compile<RunReport>(SCHEMA);

export function readReport(file: string): RunReport {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new MatrixInputError(`${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : `not JSON (${(err as Error).message})`}`);
  }
  if (!validate(data)) {
    const why = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
    throw new MatrixInputError(`${file} is not a matrix-conformance report.json: ${why}`);
  }
  return data;
}

interface Column {
  label: string;
  report: RunReport;
}

function columns(reports: RunReport[]): Column[] {
  const seen = new Map<string, number>();
  return reports.map((report) => {
    const base = `${report.target.name}${report.target.version ? ` (${report.target.version})` : ""}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return { label: n > 1 ? `${base} #${n}` : base, report };
  });
}

function cellText(c: Counts | undefined): string {
  if (!c || c.total === 0) return "–";
  const parts = [`${c.passed}/${c.total}`];
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.setupFailed) parts.push(`${c.setupFailed} set-up failed`);
  if (c.warnings) parts.push(`${c.warnings} warnings`);
  if (c.expectedFailures) parts.push(`${c.expectedFailures} xfail`);
  if (c.fixed) parts.push(`${c.fixed} fixed`);
  if (c.skipped) parts.push(`${c.skipped} skipped`);
  return parts.join(", ");
}

function notPassing(r: RunReport): TestResultEntry[] {
  return r.tests.filter((t) => t.status !== "passed" && t.status !== "skipped");
}

/** One failing test's line in the matrix: what happened, with its signature or reason. */
function outcomeText(t: TestResultEntry, esc: (s: string) => string, mark: (cls: string, text: string) => string = (_c, text) => text): string {
  const firstLine = esc((t.error ?? "").split("\n")[0] ?? "");
  const sig = t.failure ? esc(t.failure.signature) : firstLine;
  switch (t.status) {
    case "failed":
      return `${mark("fail", "failed")}: ${sig}`;
    case "setup-failed":
      return `${mark("fail", "set-up failed")}: ${sig}`;
    case "warning":
      return `${mark("xfail", `warning (${t.spec?.level ?? "SHOULD"})`)}: ${sig}`;
    case "fixed":
      return `${mark("xfail", "fixed")}: passes, but is listed in the baseline`;
    case "flaky":
      return `${mark("fail", `flaky (passed on attempt ${t.attempts ?? 2})`)}: ${sig}`;
    default:
      return `${mark("xfail", "expected failure")}: ${esc(t.reason ?? "")}`;
  }
}

function areasOf(cols: Column[]): string[] {
  return [...new Set(cols.flatMap((c) => Object.keys(c.report.areas)))].sort();
}

const mdEscape = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function toMarkdown(reports: RunReport[]): string {
  const cols = columns(reports);
  const specs = [...new Set(reports.map((r) => r.spec.version))].join(", ");
  const out = [`# Matrix conformance: ${cols.length} target${cols.length === 1 ? "" : "s"}, spec ${specs}`, ""];
  out.push("Cells: passed/total, then failures, expected failures (xfail: in the target's baseline), fixed baseline entries and skips.", "");
  out.push(`| area | ${cols.map((c) => mdEscape(c.label)).join(" | ")} |`, `|---|${cols.map(() => "---").join("|")}|`);
  for (const area of areasOf(cols)) out.push(`| ${area} | ${cols.map((c) => cellText(c.report.areas[area])).join(" | ")} |`);
  out.push(`| **all** | ${cols.map((c) => `**${cellText(c.report.summary)}**`).join(" | ")} |`, "");
  for (const c of cols) {
    const bad = notPassing(c.report);
    out.push(`## ${mdEscape(c.label)}`, "", `${c.report.target.serverName}, run ${c.report.startedAt}, ${(c.report.durationMs / 1000).toFixed(1)} s.`, "");
    if (!bad.length) {
      out.push("No failures.", "");
      continue;
    }
    for (const t of bad) {
      const title = `${t.area} › ${mdEscape(t.fullTitle)}`;
      const link = t.spec ? ` ([spec](${t.spec.url}))` : "";
      const what = outcomeText(t, mdEscape);
      out.push(`- ${title}${link} — ${what}`);
    }
    out.push("");
  }
  return out.join("\n");
}

const h = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function cellClass(c: Counts | undefined): string {
  if (!c || c.total === 0) return "none";
  if (c.failed || c.setupFailed) return "fail";
  if (c.expectedFailures || c.fixed) return "xfail";
  if (c.skipped === c.total) return "none";
  return "pass";
}

export function toHtml(reports: RunReport[]): string {
  const cols = columns(reports);
  const specs = [...new Set(reports.map((r) => r.spec.version))].join(", ");
  const anchor = (i: number, t: TestResultEntry) => `t${i}-${t.id.replace(/[^a-zA-Z0-9]+/g, "-")}`;
  const rows = areasOf(cols).map((area) => {
    const cells = cols.map((c, i) => {
      const counts = c.report.areas[area];
      const first = notPassing(c.report).find((t) => t.area === area);
      const text = h(cellText(counts));
      return `<td class="${cellClass(counts)}">${first ? `<a href="#${anchor(i, first)}">${text}</a>` : text}</td>`;
    });
    return `<tr><th scope="row">${h(area)}</th>${cells.join("")}</tr>`;
  });
  const total = `<tr class="total"><th scope="row">all</th>${cols.map((c) => `<td class="${cellClass(c.report.summary)}">${h(cellText(c.report.summary))}</td>`).join("")}</tr>`;
  const details = cols.map((c, i) => {
    const bad = notPassing(c.report);
    const items = bad.map((t) => {
      const spec = t.spec ? ` <a href="${h(t.spec.url)}">spec</a>` : "";
      const what = outcomeText(t, h, (cls, text) => `<span class="${cls}">${text}</span>`);
      return `<li id="${anchor(i, t)}"><b>${h(t.area)}</b> › ${h(t.fullTitle)}${spec}<br>${what}</li>`;
    });
    return `<section><h2>${h(c.label)}</h2><p>${h(c.report.target.serverName)}, run ${h(c.report.startedAt)}, ${(c.report.durationMs / 1000).toFixed(1)} s.</p>${items.length ? `<ul>${items.join("")}</ul>` : "<p>No failures.</p>"}</section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Matrix conformance matrix</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
td.pass{background:#e6f4ea}td.fail{background:#fce8e6}td.xfail{background:#fef7e0}td.none{color:#888}
span.fail{color:#b3261e;font-weight:bold}span.xfail{color:#8a6d00;font-weight:bold}tr.total{font-weight:bold}
li{margin:.4rem 0}
</style></head><body>
<h1>Matrix conformance: ${cols.length} target${cols.length === 1 ? "" : "s"}, spec ${h(specs)}</h1>
<p>Cells: passed/total, then failures, expected failures (xfail: in the target's baseline), fixed baseline entries and skips. Click a cell to see its failures.</p>
<table><thead><tr><th>area</th>${cols.map((c) => `<th scope="col">${h(c.label)}</th>`).join("")}</tr></thead>
<tbody>${rows.join("\n")}
${total}</tbody></table>
${details.join("\n")}
</body></html>
`;
}

export async function writeMatrix(files: string[], outDir: string): Promise<{ markdown: string; html: string }> {
  if (!files.length) throw new MatrixInputError("give at least one report.json");
  const reports = files.map(readReport);
  await mkdir(outDir, { recursive: true });
  const markdown = join(outDir, "matrix.md");
  const html = join(outDir, "matrix.html");
  await writeFile(markdown, toMarkdown(reports));
  await writeFile(html, toHtml(reports));
  return { markdown, html };
}

