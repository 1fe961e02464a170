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

/**
 * One known deviation of a target. It covers tests by `id`, a list of `ids` or an `idPattern`
 * (a regular expression over test ids), and names the failure it expects: a `signature` (exact)
 * or a `signaturePattern` (a regular expression). A covered test that fails with another
 * signature is a new failure.
 */
export interface BaselineEntry {
  id?: string;
  ids?: string[];
  idPattern?: string;
  signature?: string;
  signaturePattern?: string;
  /** What the target does instead of what the spec says. */
  reason: string;
  /** The spec section the target deviates from. */
  spec: string;
  /** The spec's sentence the target breaks, quoted. */
  breaks: string;
  issue?: string;
  /**
   * The deviation shows in some runs only (it depends on the target's timing, e.g. a batched
   * write): a covered test that passes is not "fixed", and --update-baseline keeps the entry.
   */
  intermittent?: boolean;
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

/**
 * Reads and checks a baseline. `allowLegacy` (for --update-baseline) accepts entries of the old
 * form, without signatures, so that a run can write their signatures in: their reasons are kept.
 */
export function loadBaseline(file: string, opts: { allowLegacy?: boolean } = {}): Baseline | undefined {
  if (!existsSync(file)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new BaselineError(`baseline ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const legacy = (data as { entries?: Array<Record<string, unknown>> })?.entries?.find?.((e) => e && typeof e === "object" && e.signature === undefined && e.signaturePattern === undefined);
  if (legacy && opts.allowLegacy) {
    const entries = (data as { entries: unknown[] }).entries;
    if (!entries.every((e) => e && typeof e === "object" && typeof (e as BaselineEntry).reason === "string" && typeof (e as BaselineEntry).spec === "string")) {
      throw new BaselineError(`baseline ${file}: every entry needs at least a reason and a spec link`);
    }
    return data as Baseline;
  }
  if (legacy) {
    throw new BaselineError(
      `baseline ${file}: the entry for '${String(legacy.id ?? legacy.idPattern ?? "?")}' names no signature. Entries now name the failure they expect ("signature" or "signaturePattern"), so that a new failure of a listed test is not taken for the known one: run with --update-baseline to write the signatures, then review them.`,
    );
  }
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map((e) => `  ${e.instancePath || "/"} ${e.message}`).join("\n");
    throw new BaselineError(`baseline ${file} does not match schemas/baseline.schema.json:\n${problems}`);
  }
  const seen = new Set<string>();
  for (const e of data.entries) {
    for (const id of [...(e.id ? [e.id] : []), ...(e.ids ?? [])]) {
      if (seen.has(id)) throw new BaselineError(`baseline ${file} lists '${id}' twice`);
      seen.add(id);
    }
    for (const [what, source] of [["idPattern", e.idPattern], ["signaturePattern", e.signaturePattern]] as const) {
      if (source === undefined) continue;
      try {
        new RegExp(source);
      } catch (err) {
        throw new BaselineError(`baseline ${file}: ${what} ${JSON.stringify(source)} is not a regular expression: ${(err as Error).message}`);
      }
    }
  }
  return data;
}

/** How an entry is named in messages: its id, its pattern, or its first id and how many more. */
export function entryName(e: BaselineEntry): string {
  if (e.id) return e.id;
  if (e.idPattern) return `/${e.idPattern}/`;
  const ids = e.ids ?? [];
  return ids.length > 1 ? `${ids[0]} (and ${ids.length - 1} more)` : (ids[0] ?? "?");
}

function covers(e: BaselineEntry, id: string): boolean {
  if (e.id !== undefined) return e.id === id;
  if (e.ids !== undefined) return e.ids.includes(id);
  return e.idPattern !== undefined && new RegExp(e.idPattern).test(id);
}

function expects(e: BaselineEntry, signature: string | undefined): boolean {
  if (signature === undefined) return false;
  if (e.signature !== undefined) return e.signature === signature;
  return e.signaturePattern !== undefined && new RegExp(e.signaturePattern).test(signature);
}

function expectedText(e: BaselineEntry): string {
  if (e.signature === undefined && e.signaturePattern === undefined) return "(no signature: an entry of the old form)";
  return e.signature ?? `/${e.signaturePattern}/`;
}

export interface VerdictOptions {
  /** SHOULD- and MAY-level failures fail the run instead of warning. */
  strictShould?: boolean;
}

/**
 * Turns raw results into verdicts, in place:
 *   1. a failure of kind "setup" makes the test setup-failed (its behaviour was not reached);
 *   2. a failed or setup-failed test that a baseline entry covers becomes an expected failure
 *      when its signature is the one the entry names; otherwise it stays failed, with the
 *      expected signature beside the new one (baselineMismatch);
 *   3. a test an entry covers that passed is "fixed" (for an idPattern entry: when none of the
 *      tests it covers failed; never for an intermittent entry);
 *   4. a failure of a SHOULD- or MAY-level test left over is a warning, unless strictShould.
 * Returns the entries that cover no test of this run's files (stale).
 */
export function applyVerdicts(tests: TestResultEntry[], baseline: Baseline | undefined, opts: VerdictOptions = {}): { stale: string[] } {
  for (const t of tests) if (t.status === "failed" && t.failure?.kind === "setup") t.status = "setup-failed";
  const entries = baseline?.entries ?? [];
  const used = new Set<BaselineEntry>();
  const failingUnder = new Set<BaselineEntry>();
  for (const t of tests) {
    const mine = entries.filter((e) => covers(e, t.id));
    if (mine.length === 0) continue;
    mine.forEach((e) => used.add(e));
    if (t.status === "flaky") {
      // Failed, then passed on a retry: an entry expecting that failure (an intermittent
      // deviation, typically) accounts for it; otherwise it stays flaky, with its evidence.
      const hit = mine.find((e) => expects(e, t.failure?.signature));
      if (hit) {
        failingUnder.add(hit);
        t.status = "expected-failure";
        t.reason = `${hit.reason} (${hit.spec}); passed on attempt ${t.attempts ?? 2}`;
      }
      continue;
    }
    if (t.status === "failed" || t.status === "setup-failed") {
      mine.forEach((e) => failingUnder.add(e));
      const hit = mine.find((e) => expects(e, t.failure?.signature));
      if (hit) {
        t.status = "expected-failure";
        t.reason = `${hit.reason} (${hit.spec})`;
      } else {
        const e = mine[0]!;
        t.baselineMismatch = { expected: expectedText(e), entry: entryName(e) };
        t.error = `The baseline expects this test to fail with\n  ${expectedText(e)}\nbut it failed with\n  ${t.failure?.signature ?? "(no signature)"}\nso this is a new failure.\n\n${t.error ?? ""}`;
      }
    }
  }
  for (const t of tests) {
    if (t.status !== "passed") continue;
    const e = entries.find((x) => !x.intermittent && covers(x, t.id) && (x.idPattern === undefined || !failingUnder.has(x)));
    if (!e) continue;
    t.status = "fixed";
    t.reason = `listed in the baseline as failing: ${e.reason}`;
  }
  if (!opts.strictShould) {
    for (const t of tests) {
      const level = t.spec?.level ?? "MUST";
      if (t.status === "failed" && level !== "MUST") t.status = "warning";
    }
  }
  // Entries naming no test of the suite at all (renamed or removed tests). Entries for tests that
  // a --grep or --area filter left out are not stale: they show up as absent from `tests` too,
  // so only report them when the run covered the entry's file.
  const files = new Set(tests.map((t) => t.file));
  const fileOf = (e: BaselineEntry) => (e.id ?? e.ids?.[0] ?? e.idPattern?.replace(/^\^/, "").replace(/\\/g, "") ?? "").split("::")[0] ?? "";
  const stale = entries.filter((e) => !used.has(e) && files.has(fileOf(e))).map(entryName);
  return { stale };
}

/**
 * The baseline a run's failures call for, for review before committing it:
 *   - entries whose tests did not run (left out by --grep or --area) stay as they are;
 *   - an entry whose covered failures all carry its signature stays; entries whose tests now
 *     pass are dropped;
 *   - a failure no entry expects gets its own entry with its signature, marked TODO for the
 *     reason and the spec sentence (keeping the old reason when an entry covered the test).
 */
export function baselineFromRun(target: string, version: string | undefined, tests: TestResultEntry[], previous: Baseline | undefined): Baseline {
  const ran = tests.filter((t) => t.status !== "skipped");
  const failing = ran.filter((t) => t.status === "expected-failure" || t.status === "failed" || t.status === "setup-failed" || t.status === "warning");
  const entries: BaselineEntry[] = [];
  const expected = new Set<string>();
  for (const e of previous?.entries ?? []) {
    const covered = ran.filter((t) => covers(e, t.id));
    if (covered.length === 0) {
      entries.push(e);
      continue;
    }
    const mine = failing.filter((t) => covers(e, t.id) && expects(e, t.failure?.signature));
    mine.forEach((t) => expected.add(t.id));
    if (e.intermittent) {
      entries.push(e);
      continue;
    }
    if (mine.length === 0) continue;
    // A list keeps only the tests that still fail as expected.
    if (e.ids) entries.push({ ...e, ids: e.ids.filter((id) => mine.some((t) => t.id === id)) });
    else entries.push(e);
  }
  for (const t of failing) {
    if (expected.has(t.id)) continue;
    const old = (previous?.entries ?? []).find((e) => covers(e, t.id));
    // An entry of the old form (no signature) adopts the signature the run saw, keeping its reason.
    const adopted = old !== undefined && old.signature === undefined && old.signaturePattern === undefined;
    const reason = !old
      ? `TODO: explain. First failure line: ${(t.error ?? "").split("\n")[0]}`
      : adopted
        ? old.reason
        : `TODO: the failure changed (it was ${expectedText(old)}); re-check: ${old.reason}`;
    entries.push({
      id: t.id,
      signature: t.failure?.signature ?? "error: (no signature)",
      reason,
      spec: old?.spec ?? t.spec?.url ?? "https://spec.matrix.org/",
      breaks: old?.breaks ?? "TODO: quote the spec sentence the target breaks",
    });
  }
  entries.sort((a, b) => entryName(a).localeCompare(entryName(b)));
  return { target, version: version ?? previous?.version, entries };
}

export async function writeBaseline(file: string, baseline: Baseline): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify({ $schema: "../../schemas/baseline.schema.json", ...baseline }, null, 2)}\n`);
}
