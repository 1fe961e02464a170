// harness/settings.ts is the one place MATRIX_CONFORMANCE_* variables are defined: every such name
// that appears under harness/, suites/ or bin/ must be a setting there and a row of README.md's
// "Settings" tables, with the same default and unit; and each setting parses as documented (a bad
// value is an error naming the variable, a deprecated alias is read with a warning).

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { SETTINGS, SettingError, readSetting, readSettings, type SettingDefinition } from "../harness/settings.ts";

const ROOT = join(import.meta.dirname, "..");
const SCANNED = ["harness", "suites", "bin"];
const NAME = /\bMATRIX_CONFORMANCE_[A-Z0-9_]*[A-Z0-9]/g;

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(ROOT, dir))) {
    const p = posix.join(dir, name);
    if (statSync(join(ROOT, p)).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Each MATRIX_CONFORMANCE_ name and the first file:line it appears at. */
function namesInCode(): Map<string, string> {
  const found = new Map<string, string>();
  for (const root of SCANNED) {
    for (const file of walk(root)) {
      const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
      lines.forEach((line, i) => {
        for (const m of line.matchAll(NAME)) if (!found.has(m[0])) found.set(m[0], `${file}:${i + 1}`);
      });
    }
  }
  return found;
}

/** The rows of the tables in README.md's "## Settings" section: variable -> { default, unit }. */
function readmeRows(markdown: string): Map<string, { default: string; unit: string }> {
  const start = markdown.indexOf("\n## Settings\n");
  if (start < 0) throw new Error('README.md has no "## Settings" section');
  const end = markdown.indexOf("\n## ", start + 1);
  const rows = new Map<string, { default: string; unit: string }>();
  for (const line of markdown.slice(start, end < 0 ? undefined : end).split("\n")) {
    const m = /^\|\s*`([A-Z0-9_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    const cells = m[2]!.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
    rows.set(m[1]!, { default: cells[0] ?? "", unit: cells[1] ?? "" });
  }
  return rows;
}

const definitions = Object.values(SETTINGS) as SettingDefinition<unknown>[];
const defined = new Set(definitions.map((d) => d.name));

describe("settings: one module, one README table", () => {
  it("every MATRIX_CONFORMANCE_ name under harness/, suites/ and bin/ is a setting of harness/settings.ts", () => {
    const missing = [...namesInCode()].filter(([name]) => !defined.has(name)).map(([name, where]) => `${name} (${where})`);
    expect(missing, "names used in the code but not defined in harness/settings.ts").toEqual([]);
  });

  it("every setting is a row of README.md's Settings tables, with the same default and unit", () => {
    const rows = readmeRows(readFileSync(join(ROOT, "README.md"), "utf8"));
    const problems: string[] = [];
    for (const d of definitions) {
      const row = rows.get(d.name);
      if (!row) problems.push(`${d.name} has no row`);
      else {
        if (row.default !== d.default) problems.push(`${d.name}: README default '${row.default}', settings.ts '${d.default}'`);
        if (row.unit !== d.unit) problems.push(`${d.name}: README unit '${row.unit}', settings.ts '${d.unit}'`);
      }
    }
    for (const name of rows.keys()) if (!defined.has(name)) problems.push(`README lists ${name}, which harness/settings.ts does not define`);
    expect(problems, "README.md and harness/settings.ts disagree").toEqual([]);
  });

  it("a setting the code reads is found by the scan (the check would notice a new name)", () => {
    const names = namesInCode();
    expect(names.get("MATRIX_CONFORMANCE_FEDERATION_WAIT_MS"), "the federation wait is used in the code").toBeDefined();
    const fake = "const x = process.env.MATRIX_CONFORMANCE_NOT_A_SETTING;";
    expect([...fake.matchAll(NAME)].map((m) => m[0]).filter((n) => !defined.has(n)), "an undefined name in a source line").toEqual(["MATRIX_CONFORMANCE_NOT_A_SETTING"]);
  });
});

describe("settings: parsing", () => {
  it("unset or empty variables give the documented defaults", () => {
    const s = readSettings({ MATRIX_CONFORMANCE_SYNC_WAIT_MS: "", XDG_CACHE_HOME: "/xdg" });
    expect(
      [s.requestTimeoutMs, s.federationWaitMs, s.syncWaitMs, s.syncPollMs, s.stateresDiffSeed, s.stateresDiffRuns, s.errata, s.target, s.cacheDir, s.selftest],
      "defaults",
    ).toEqual([20_000, 25_000, 10_000, 5_000, 1, 4, true, "synapse", "/xdg/matrix-conformance", false]);
    for (const d of definitions) {
      if (d.unit === "ms" || d.unit === "count") expect(String(readSetting(Object.keys(SETTINGS).find((k) => SETTINGS[k as keyof typeof SETTINGS] === d) as keyof typeof SETTINGS, {})), `${d.name}'s documented default`).toBe(d.default);
    }
  });

  it("values are parsed", () => {
    const s = readSettings({
      MATRIX_CONFORMANCE_FEDERATION_WAIT_MS: "40000",
      MATRIX_CONFORMANCE_ERRATA: "OFF",
      MATRIX_CONFORMANCE_CONTAINER_NETWORK: "host",
      MATRIX_CONFORMANCE_STATERES_DIFF_RUNS: "0",
      MATRIX_CONFORMANCE_CACHE: "/cache",
    });
    expect([s.federationWaitMs, s.errata, s.containerNetwork, s.stateresDiffRuns, s.cacheDir], "parsed values").toEqual([40_000, false, "host", 0, "/cache"]);
  });

  it("a bad value is an error naming the variable and what it takes", () => {
    expect(() => readSetting("federationWaitMs", { MATRIX_CONFORMANCE_FEDERATION_WAIT_MS: "25s" }), "a unit in a number").toThrow(
      /^MATRIX_CONFORMANCE_FEDERATION_WAIT_MS takes milliseconds as a positive whole number, not '25s'$/,
    );
    expect(() => readSetting("requestTimeoutMs", { MATRIX_CONFORMANCE_REQUEST_TIMEOUT_MS: "0" }), "zero milliseconds").toThrow(SettingError);
    expect(() => readSetting("containerNetwork", { MATRIX_CONFORMANCE_CONTAINER_NETWORK: "none" }), "a value outside the list").toThrow(/MATRIX_CONFORMANCE_CONTAINER_NETWORK takes 'host' or 'bridge', not 'none'/);
    expect(() => readSetting("stateresDiffSeed", { MATRIX_CONFORMANCE_STATERES_DIFF_SEED: String(2 ** 32) }), "a seed beyond 32 bits").toThrow(/STATERES_DIFF_SEED takes a whole number from 0 to 4294967295/);
    let caught: unknown;
    try {
      readSettings({ MATRIX_CONFORMANCE_SYNC_POLL_MS: "-1", MATRIX_CONFORMANCE_ERRATA: "maybe" });
    } catch (e) {
      caught = e;
    }
    expect(caught, "readSettings reports every bad variable at once").toBeInstanceOf(SettingError);
    expect((caught as SettingError).message, "both variables named").toMatch(/MATRIX_CONFORMANCE_SYNC_POLL_MS takes .*; MATRIX_CONFORMANCE_ERRATA takes 'on' or 'off', not 'maybe'/);
  });

  it("the state-resolution seed and runs still read their old names, with a deprecation warning", () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    try {
      expect(readSetting("stateresDiffSeed", { STATERES_DIFF_SEED: "7" }), "the old name is read").toBe(7);
      expect(readSetting("stateresDiffSeed", { STATERES_DIFF_SEED: "7", MATRIX_CONFORMANCE_STATERES_DIFF_SEED: "9" }), "the new name wins").toBe(9);
      expect(() => readSetting("stateresDiffRuns", { STATERES_DIFF_RUNS: "many" }), "a bad value under the old name names the old name").toThrow(/^STATERES_DIFF_RUNS takes a whole number/);
      expect(String(warn.mock.calls[0]?.[0]), "the warning names both").toBe("STATERES_DIFF_SEED is deprecated: set MATRIX_CONFORMANCE_STATERES_DIFF_SEED instead");
    } finally {
      warn.mockRestore();
    }
  });
});
