// The `matrix-conformance stateres [FILE]` command: resolve a scenario and print the state.
//
// Input (schemas/stateres-scenario.schema.json): a room version (or several), the room's events,
// and either `state_sets` (lists of state event IDs, resolved directly) or `resolve_at` (events
// whose states-after are resolved, walking the DAG along prev_events; see walk.ts). Events
// without `auth_events` get them from the auth events selection rules over the state before
// them. Output (schemas/stateres-output.schema.json): {"state": {type: {state_key: event_id}}}.
//
// runScenario is pure (it parses and validates with ajv, nothing else). stateresCommand adds the
// I/O: reading FILE or stdin, writing stdout/stderr, the exit code:
//   0  resolved (and, when the scenario states `expected`, the answer matches it)
//   1  resolved, but the answer differs from `expected` (the diff goes to stderr); or an
//      internal error of the model (a bug: please report it with the scenario)
//   2  bad input: malformed JSON, schema violation, unknown room version, a missing referenced
//      event, a cycle, a state set that is not a state
// Messages are one or a few plain lines; never a stack trace.

import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import scenarioSchema from "../../schemas/stateres-scenario.schema.json" with { type: "json" };
import { resolveState } from "./resolve.ts";
import {
  StateResInputError,
  compareCodePoints,
  eventStateKey,
  splitStateKey,
  type PduInput,
  type StateMap,
} from "./types.ts";
import { ROOM_VERSION_IDS, isKnownRoomVersion, roomVersion } from "../crypto/index.ts";
import { buildRoom } from "./walk.ts";

/** {type: {state_key: event_id}} */
export type StateObject = Record<string, Record<string, string>>;

export interface ScenarioInput {
  description?: string;
  room_version?: string;
  room_versions?: string[];
  events: PduInput[];
  state_sets?: string[][];
  resolve_at?: string[];
  expected?: StateObject;
}

export interface ScenarioOutput {
  state?: StateObject;
  by_room_version?: Record<string, StateObject>;
}

export type ScenarioResult =
  | {
      ok: true;
      output: ScenarioOutput;
      /** Set when the input states `expected` and some room version's answer differs. */
      mismatch?: string;
    }
  | { ok: false; message: string; kind: "input" | "internal" };

export interface StateresIo {
  readStdin(): Promise<string>;
  /** Reads FILE; defaults to node:fs. */
  readFile?(path: string): Promise<string>;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

let validator: ReturnType<Ajv2020["compile"]> | undefined;

function validate(data: unknown): string[] {
  validator ??= new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(scenarioSchema);
  if (validator(data)) return [];
  // The two top-level "exactly one of" rules are checked first with clearer words; drop their noise.
  const alternatives = new Set(["state_sets", "resolve_at", "room_version", "room_versions"]);
  const errors = (validator.errors ?? []).filter(
    (e: ErrorObject) =>
      !(e.instancePath === "" && (e.keyword === "oneOf" || (e.keyword === "required" && alternatives.has(String(e.params["missingProperty"]))))),
  );
  const lines = errors.map((e: ErrorObject) => {
    const where = e.instancePath === "" ? "the scenario" : e.instancePath.slice(1).replaceAll("/", ".");
    const extra = e.keyword === "additionalProperties" ? ` (${String(e.params["additionalProperty"])})` : "";
    return `${where}: ${e.message ?? "is invalid"}${extra}`;
  });
  return [...new Set(lines)];
}

/** Turns a state map into the output's nested object, keys in code point order. */
export function stateToObject(state: StateMap): StateObject {
  const entries = [...state].map(([k, id]) => [...splitStateKey(k), id] as const);
  entries.sort((a, b) => compareCodePoints(a[0], b[0]) || compareCodePoints(a[1], b[1]));
  const out: StateObject = {};
  for (const [type, key, id] of entries) (out[type] ??= {})[key] = id;
  return out;
}

function describeDiff(expected: StateObject, actual: StateObject): string[] {
  const lines: string[] = [];
  const flat = (s: StateObject): Map<string, string> => {
    const m = new Map<string, string>();
    for (const [type, keys] of Object.entries(s)) for (const [key, id] of Object.entries(keys)) m.set(`(${type}, ${JSON.stringify(key)})`, id);
    return m;
  };
  const e = flat(expected);
  const a = flat(actual);
  for (const k of [...new Set([...e.keys(), ...a.keys()])].sort(compareCodePoints)) {
    const x = e.get(k);
    const y = a.get(k);
    if (x !== y) lines.push(`  ${k}: expected ${x ?? "(absent)"}, got ${y ?? "(absent)"}`);
  }
  return lines;
}

function resolveOne(input: ScenarioInput, version: string): StateObject {
  if (!isKnownRoomVersion(version)) {
    throw new StateResInputError(`unknown room version ${JSON.stringify(version)} (known: ${ROOM_VERSION_IDS.join(", ")})`);
  }
  const rules = roomVersion(version);
  const room = buildRoom(input.events, rules, { keepStatesFor: input.resolve_at ?? [] });
  const options = room.createId !== undefined ? { roomCreateId: room.createId } : {};
  let sets: StateMap[];
  if (input.resolve_at) {
    sets = input.resolve_at.map((id) => room.stateAfter.get(id)!);
  } else {
    sets = (input.state_sets ?? []).map((ids, i) => {
      const set = new Map<string, string>();
      for (const id of ids) {
        const e = room.store.tryGet(id);
        if (!e) throw new StateResInputError(`state set ${i} names unknown event ${id}`);
        if (e.state_key === undefined) throw new StateResInputError(`state set ${i} names ${id}, which is not a state event`);
        const k = eventStateKey(e);
        const other = set.get(k);
        if (other !== undefined) {
          throw new StateResInputError(`state set ${i} holds two events for (${e.type}, ${JSON.stringify(e.state_key)}): ${other} and ${id}`);
        }
        set.set(k, id);
      }
      return set;
    });
  }
  return stateToObject(resolveState(sets, room.store, rules, options));
}

/** Resolves a scenario given as JSON text. Pure. */
export function runScenario(inputText: string): ScenarioResult {
  let data: unknown;
  try {
    data = JSON.parse(inputText);
  } catch (e) {
    return { ok: false, kind: "input", message: `malformed JSON: ${(e as Error).message}` };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { ok: false, kind: "input", message: "the scenario must be a JSON object" };
  }
  const has = (k: string): boolean => Object.hasOwn(data as object, k);
  if (has("state_sets") === has("resolve_at")) {
    return { ok: false, kind: "input", message: "the scenario needs exactly one of \"state_sets\" and \"resolve_at\"" };
  }
  if (has("room_version") === has("room_versions")) {
    return { ok: false, kind: "input", message: "the scenario needs exactly one of \"room_version\" and \"room_versions\"" };
  }
  let problems: string[];
  try {
    problems = validate(data);
  } catch (e) {
    return { ok: false, kind: "internal", message: `internal error compiling the scenario schema: ${(e as Error).message}` };
  }
  if (problems.length > 0) {
    return { ok: false, kind: "input", message: `the scenario does not match schemas/stateres-scenario.schema.json:\n${problems.map((p) => `  ${p}`).join("\n")}` };
  }
  const input = data as ScenarioInput;
  const versions = input.room_versions ?? [input.room_version!];
  try {
    const results = new Map<string, StateObject>();
    for (const v of versions) results.set(v, resolveOne(input, v));
    const distinct = new Set([...results.values()].map((s) => JSON.stringify(s)));
    const output: ScenarioOutput = {};
    if (distinct.size === 1) output.state = results.values().next().value!;
    if (input.room_versions) output.by_room_version = Object.fromEntries(results);
    let mismatch: string | undefined;
    if (input.expected) {
      const lines: string[] = [];
      for (const [v, s] of results) {
        const diff = describeDiff(input.expected, s);
        if (diff.length > 0) lines.push(`room version ${v} differs from "expected":`, ...diff);
      }
      if (lines.length > 0) mismatch = lines.join("\n");
    }
    return mismatch === undefined ? { ok: true, output } : { ok: true, output, mismatch };
  } catch (e) {
    if (e instanceof StateResInputError) return { ok: false, kind: "input", message: e.message };
    return { ok: false, kind: "internal", message: `internal error in the state resolution model: ${(e as Error).message ?? String(e)}` };
  }
}

/** The CLI command. `file` undefined or "-" reads stdin. Returns the exit code. */
export async function stateresCommand(file: string | undefined, io: StateresIo): Promise<number> {
  let text: string;
  try {
    if (file === undefined || file === "-") {
      text = await io.readStdin();
    } else if (io.readFile) {
      text = await io.readFile(file);
    } else {
      const fs = await import("node:fs/promises");
      text = await fs.readFile(file, "utf8");
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message;
    io.stderr.write(`stateres: cannot read ${file ?? "stdin"}: ${why}\n`);
    return 2;
  }
  const result = runScenario(text);
  if (!result.ok) {
    io.stderr.write(`stateres: ${file ?? "stdin"}: ${result.message}\n`);
    return result.kind === "input" ? 2 : 1;
  }
  io.stdout.write(`${JSON.stringify(result.output, null, 2)}\n`);
  if (result.mismatch !== undefined) {
    io.stderr.write(`stateres: ${file ?? "stdin"}: ${result.mismatch}\n`);
    return 1;
  }
  return 0;
}
