// Expected-failure baselines: fixtures/baselines/<target>.json lists tests known to fail on a
// target, each with a reason and the spec section it deviates from (schema:
// schemas/baseline.schema.json). Applying one turns those failures into expected failures and
// flags baseline entries whose tests now pass as "fixed", so the baseline can only shrink.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import type { TestResultEntry } from "./model.ts";

export interface BaselineEntry {
  id: string;
  reason: string;
  spec: string;
  issue?: string;
}

export interface Baseline {
  target: string;
  version?: string;
  entries: BaselineEntry[];
}

export class BaselineError extends Error {}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCHEMA = JSON.parse(readFileSync(join(ROOT, "schemas/baseline.schema.json"), "utf8"));
const ajv = new Ajv2020.default({ allErrors: true });
const validate = ajv.compile<Baseline>(SCHEMA);

/** The default baseline file of a target: fixtures/baselines/<name>.json ("image:a/b:c" -> "image-a-b-c"). */
export function defaultBaselinePath(target: string): string {
  return join(ROOT, "fixtures/baselines", `${target.replace(/[^a-zA-Z0-9._-]+/g, "-")}.json`);
}

export function loadBaseline(file: string): Baseline | undefined {
  if (!existsSync(file)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new BaselineError(`baseline ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map((e) => `  ${e.instancePath || "/"} ${e.message}`).join("\n");
    throw new BaselineError(`baseline ${file} does not match schemas/baseline.schema.json:\n${problems}`);
  }
  const seen = new Set<string>();
  for (const e of data.entries) {
    if (seen.has(e.id)) throw new BaselineError(`baseline ${file} lists '${e.id}' twice`);
    seen.add(e.id);
  }
  return data;
}

/** Rewrites statuses in place: a listed failure is expected, a listed pass is fixed. */
export function applyBaseline(tests: TestResultEntry[], baseline: Baseline | undefined): { stale: string[] } {
  if (!baseline) return { stale: [] };
  const byId = new Map(baseline.entries.map((e) => [e.id, e]));
  const seen = new Set<string>();
  for (const t of tests) {
    const entry = byId.get(t.id);
    if (!entry) continue;
    seen.add(t.id);
    if (t.status === "failed") {
      t.status = "expected-failure";
      t.reason = `${entry.reason} (${entry.spec})`;
    } else if (t.status === "passed") {
      t.status = "fixed";
      t.reason = `listed in the baseline as failing: ${entry.reason}`;
    }
  }
  // Entries naming no test of the suite at all (renamed or removed tests). Entries for tests that
  // a --grep or --area filter left out are not stale: they show up as absent from `tests` too,
  // so only report them when the run covered the entry's file.
  const files = new Set(tests.map((t) => t.file));
  const stale = baseline.entries.filter((e) => !seen.has(e.id) && files.has(e.id.split("::")[0] ?? "")).map((e) => e.id);
  return { stale };
}

/**
 * The baseline a run's failures call for: every failed or expected-failure test, keeping the
 * reasons already written and marking new entries for review. Entries of tests that did not run
 * (left out by --grep or --area) are kept as they are.
 */
export function baselineFromRun(target: string, version: string | undefined, tests: TestResultEntry[], previous: Baseline | undefined): Baseline {
  const old = new Map((previous?.entries ?? []).map((e) => [e.id, e]));
  const ran = new Set(tests.filter((t) => t.status !== "skipped").map((t) => t.id));
  const kept = (previous?.entries ?? []).filter((e) => !ran.has(e.id));
  const failing = tests
    .filter((t) => t.status === "failed" || t.status === "expected-failure")
    .map((t): BaselineEntry => old.get(t.id) ?? { id: t.id, reason: `TODO: explain. First failure line: ${(t.error ?? "").split("\n")[0]}`, spec: t.spec?.url ?? "https://spec.matrix.org/" });
  const entries = [...kept, ...failing].sort((a, b) => a.id.localeCompare(b.id));
  return { target, version: version ?? previous?.version, entries };
}

export async function writeBaseline(file: string, baseline: Baseline): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify({ $schema: "../../schemas/baseline.schema.json", ...baseline }, null, 2)}\n`);
}
