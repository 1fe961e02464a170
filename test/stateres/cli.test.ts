// Every project scenario through the real command, as a user runs it: `matrix-conformance stateres
// FILE` exits 0 when the resolved state equals the scenario's stated answer for each of its room
// versions (1 on a difference, 2 on bad input).
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const SCENARIOS = readdirSync(join(ROOT, "fixtures/stateres")).filter((f) => f.endsWith(".json")).sort();

function runStateres(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, "bin/matrix-conformance.mjs"), "stateres", ...args], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => done({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? "");
  });
}

describe("matrix-conformance stateres", () => {
  test("resolves every project scenario to its stated answer", async () => {
    expect(SCENARIOS.length).toBeGreaterThan(10);
    const runs = await Promise.all(SCENARIOS.map(async (f) => ({ f, ...(await runStateres([join("fixtures/stateres", f)])) })));
    for (const r of runs) {
      expect(r.code, `${r.f}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout), `${r.f} printed JSON`).toBeTypeOf("object");
    }
  }, 120_000);

  test("reads standard input and exits 2 with a message, not a stack trace, on bad input", async () => {
    const r = await runStateres([], '{"room_version": "2", "events": [], "state_sets": [["$missing"]]}');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^stateres: stdin: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
