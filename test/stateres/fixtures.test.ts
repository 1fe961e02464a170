// Every scenario in fixtures/stateres/ resolves to the full state it expects, under each room
// version it names. Also: what each of the two v2.1 changes does alone, on the two reset fixtures.

import { readFileSync, readdirSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, test } from "vitest";
import { buildRoom, resolveState, type StateMap } from "../../harness/stateres/index.ts";
import { roomVersion } from "../../harness/crypto/index.ts";
import { runScenario, stateToObject, type ScenarioInput } from "../../harness/stateres/scenario.ts";

const dir = new URL("../../fixtures/stateres/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
const load = (file: string): ScenarioInput => JSON.parse(readFileSync(new URL(file, dir), "utf8")) as ScenarioInput;

const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
const validateInput = ajv.compile(JSON.parse(readFileSync(new URL("../../schemas/stateres-scenario.schema.json", import.meta.url), "utf8")));
const validateOutput = ajv.compile(JSON.parse(readFileSync(new URL("../../schemas/stateres-output.schema.json", import.meta.url), "utf8")));

describe("fixture scenarios", () => {
  test("there are fixtures, and together they cover room versions 1-12", () => {
    expect(files.length).toBeGreaterThanOrEqual(15);
    const covered = new Set(files.flatMap((f) => {
      const s = load(f);
      return s.room_versions ?? [s.room_version!];
    }));
    for (let v = 1; v <= 12; v++) expect(covered.has(String(v)), `room version ${v}`).toBe(true);
  });

  for (const file of files) {
    const scenario = load(file);
    const versions = scenario.room_versions ?? [scenario.room_version!];
    describe(file, () => {
      test("matches the scenario schema, states its expectation and cites the spec", () => {
        expect(validateInput(scenario), JSON.stringify(validateInput.errors)).toBe(true);
        expect(scenario.expected).toBeDefined();
        expect(scenario.description).toMatch(/https:\/\/spec\.matrix\.org\/v1\.19\//);
      });
      for (const v of versions) {
        test(`room version ${v} resolves to the expected state`, () => {
          const result = runScenario(JSON.stringify({ ...scenario, room_versions: undefined, room_version: v }));
          if (!result.ok) throw new Error(result.message);
          expect(validateOutput(result.output), JSON.stringify(validateOutput.errors)).toBe(true);
          expect(result.output.state).toEqual(scenario.expected);
          expect(result.mismatch).toBeUndefined();
        });
      }
    });
  }
});

/** Resolves a fixture with only some of the v2.1 changes, under room version 11's rules. */
function resolveWithChanges(file: string, changes: { emptyStart: boolean; conflictedSubgraph: boolean }): Record<string, unknown> {
  const s = load(file);
  const rules = roomVersion("11")!;
  const room = buildRoom(s.events, rules, { keepStatesFor: s.resolve_at ?? [] });
  const sets: StateMap[] = s.resolve_at
    ? s.resolve_at.map((id) => room.stateAfter.get(id)!)
    : s.state_sets!.map((ids) => new Map(ids.map((id) => {
        const e = room.store.get(id);
        return [`${e.type.length}|${e.type}${e.state_key}`, id] as const;
      })));
  return stateToObject(resolveState(sets, room.store, rules, { v21Changes: changes }));
}

describe("the two v2.1 changes, one at a time (https://spec.matrix.org/v1.19/rooms/v12/#state-resolution)", () => {
  const fixed = (name: string): unknown => load(`${name}.v12.json`).expected;
  const broken = (name: string): unknown => load(`${name}.v11.json`).expected;

  test("the empty starting state alone fixes the unconflicted-start reset; the subgraph alone does not", () => {
    expect(resolveWithChanges("state-reset-unconflicted-start.v11.json", { emptyStart: true, conflictedSubgraph: false })).toEqual(fixed("state-reset-unconflicted-start"));
    expect(resolveWithChanges("state-reset-unconflicted-start.v11.json", { emptyStart: false, conflictedSubgraph: true })).toEqual(broken("state-reset-unconflicted-start"));
  });

  test("the conflicted state subgraph alone fixes the stale-power-levels reset; the empty start alone does not", () => {
    expect(resolveWithChanges("state-reset-conflicted-subgraph.v11.json", { emptyStart: false, conflictedSubgraph: true })).toEqual(fixed("state-reset-conflicted-subgraph"));
    expect(resolveWithChanges("state-reset-conflicted-subgraph.v11.json", { emptyStart: true, conflictedSubgraph: false })).toEqual(broken("state-reset-conflicted-subgraph"));
  });

  test("v11 and v12 fixtures of the same history differ", () => {
    for (const name of ["state-reset-unconflicted-start", "state-reset-conflicted-subgraph", "clashing-timestamps-rejected-invite"]) {
      expect(fixed(name)).not.toEqual(broken(name));
      expect(load(`${name}.v12.json`).events).toEqual(load(`${name}.v11.json`).events);
    }
  });
});
