import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { MatrixInputError, readReport, toHtml, toMarkdown, writeMatrix } from "../../harness/report/matrix.ts";
import { requestStats, summarise, type RunReport, type TestResultEntry } from "../../harness/report/model.ts";

function t(id: string, area: string, status: TestResultEntry["status"], extra: Partial<TestResultEntry> = {}): TestResultEntry {
  return { id, title: id, fullTitle: id, file: `suites/${area}.test.ts`, area, status, durationMs: 1, behaviour: id, ...extra };
}

function report(target: string, version: string, tests: TestResultEntry[]): RunReport {
  const { summary, areas } = summarise(tests);
  return {
    format: "matrix-conformance-report/2",
    tool: { name: "matrix-conformance", version: "0.1.0" },
    target: { name: target, version, serverName: "localhost:1", baseUrl: "http://127.0.0.1:1" },
    spec: { version: "v1.19", dir: "/spec" },
    options: { errata: true, strictShould: false, retries: 0, allowFlaky: false },
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:00:02.000Z",
    durationMs: 2000,
    summary,
    areas,
    stats: requestStats([]),
    schema: [],
    errata: [],
    runErrors: [],
    tests,
  };
}

const spec = { section: "client-server-api/#login", since: "1.0", url: "https://spec.matrix.org/v1.19/client-server-api/#login" };
const synapse = report("synapse", "Synapse 1.163.2", [t("a", "client-server/login", "passed"), t("b", "client-server/rooms", "passed")]);
const dendrite = report("dendrite", "Dendrite 0.13.8", [
  t("a", "client-server/login", "failed", { error: "expected 403 M_FORBIDDEN: status 401 instead of 403\nmore", spec }),
  t("b", "client-server/rooms", "expected-failure", { reason: "no <b>knock</b> support (spec link)" }),
]);

describe("the cross-server matrix", () => {
  test("Markdown puts targets side by side by area, and lists each target's failures with spec links", () => {
    const md = toMarkdown([synapse, dendrite]);
    expect(md).toContain("| area | synapse (Synapse 1.163.2) | dendrite (Dendrite 0.13.8) |");
    expect(md).toContain("| client-server/login | 1/1 | 0/1, 1 failed |");
    expect(md).toContain("| client-server/rooms | 1/1 | 0/1, 1 xfail |");
    expect(md).toContain("client-server/login › a ([spec](https://spec.matrix.org/v1.19/client-server-api/#login)) — failed: expected 403 M_FORBIDDEN: status 401 instead of 403");
    expect(md).not.toContain("\nmore");
  });

  test("HTML escapes text and links cells to the failures", () => {
    const html = toHtml([synapse, dendrite]);
    expect(html).toContain("no &lt;b&gt;knock&lt;/b&gt; support");
    expect(html).toMatch(/<td class="fail"><a href="#t1-a">0\/1, 1 failed<\/a><\/td>/);
    expect(html).toContain('<li id="t1-a">');
  });

  test("reads report files, refuses what is not a report, and writes both files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mc-matrix-"));
    try {
      await writeFile(join(dir, "s.json"), JSON.stringify(synapse));
      await writeFile(join(dir, "bad.json"), JSON.stringify({ hello: 1 }));
      expect(readReport(join(dir, "s.json")).target.name).toBe("synapse");
      expect(() => readReport(join(dir, "bad.json"))).toThrow(MatrixInputError);
      expect(() => readReport(join(dir, "missing.json"))).toThrow(/no such file/);
      const out = await writeMatrix([join(dir, "s.json")], join(dir, "out"));
      expect(await readFile(out.markdown, "utf8")).toContain("# Matrix conformance: 1 target, spec v1.19");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
