// Properties of state resolution over generated room histories (histories.ts), for every room
// version. Runs are bounded and seeded: STATERES_SEED (default 20250101) and STATERES_RUNS (runs
// per property and room version, default 20). A failing property prints its shrunk
// counterexample as a scenario JSON that `matrix-conformance stateres` replays.

import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  buildRoom,
  compareCodePoints,
  isPowerEvent,
  senderPowerFromAuthEvents,
  partitionStates,
  resolveState,
  resolveV2,
  splitStateKey,
  stateKey,
  type StateMap,
  type V2Trace,
} from "../../harness/stateres/index.ts";
import { ROOM_VERSION_IDS, roomVersion } from "../../harness/crypto/index.ts";
import { runScenario } from "../../harness/stateres/scenario.ts";
import { buildHistory, historyScenario, planArb, walkStates, type History, type Step } from "./histories.ts";

const SEED = Number(process.env["STATERES_SEED"] ?? 20250101);
const RUNS = Number(process.env["STATERES_RUNS"] ?? 20);

const same = (a: StateMap, b: StateMap): boolean => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
const show = (m: StateMap): Record<string, string> => Object.fromEntries([...m].map(([k, v]) => [splitStateKey(k).join(" | "), v]));

/** A deterministic permutation from a seed (the randomness is passed in). */
function permute<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * fc.check with the configured seed and runs. On failure, throws with the shrunk history as a
 * scenario JSON (events, resolve_at the tips) plus what the property saw.
 */
function checkHistories(
  version: string,
  plans: fc.Arbitrary<Step[]>,
  property: (h: History, seed: number, plan: Step[]) => void,
): void {
  const rules = roomVersion(version)!;
  const result = fc.check(
    fc.property(plans, fc.nat(), (plan, seed) => {
      property(buildHistory(rules, plan), seed, plan);
    }),
    { seed: SEED, numRuns: RUNS },
  );
  if (result.failed) {
    const [plan, seed] = result.counterexample ?? [[], 0];
    const scenario = historyScenario(buildHistory(rules, plan), { description: `property counterexample (seed ${SEED}, path ${result.counterexamplePath ?? ""}, permutation seed ${seed})` });
    const cause = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
    throw new Error(
      `property failed after ${result.numRuns} runs (STATERES_SEED=${SEED}): ${cause}\n` +
        `Replay with: matrix-conformance stateres <file> where <file> holds:\n${JSON.stringify(scenario)}`,
    );
  }
}

/** The union of the state sets' events and all their auth chains. */
function provenance(h: History, sets: readonly StateMap[]): Set<string> {
  const starts = sets.flatMap((s) => [...s.values()]);
  return h.store.ancestors(starts, true);
}

const plans = planArb(24);
const linearPlans = planArb(20, true);

for (const version of ROOM_VERSION_IDS) {
  describe(`room version ${version}`, () => {
    const rules = roomVersion(version)!;
    const tipSets = (h: History): StateMap[] => h.tips.map((t) => h.states.get(t)!);

    test("determinism: the same plan builds the same history and resolves the same way twice", () => {
      checkHistories(version, plans, (h, _seed, plan) => {
        expect(buildHistory(rules, plan).events).toEqual(h.events);
        const r1 = resolveState(tipSets(h), h.store, rules);
        const r2 = resolveState(tipSets(h), h.store, rules);
        expect(show(r2)).toEqual(show(r1));
        // Walking the events from scratch reproduces the builder's states at the tips.
        const walked = walkStates(h);
        for (const t of h.tips) expect(show(walked.get(t)!)).toEqual(show(h.states.get(t)!));
      });
    });

    test("independence from the order of the state sets and of the events", () => {
      checkHistories(version, plans, (h, seed) => {
        const sets = tipSets(h);
        const expected = resolveState(sets, h.store, rules);
        expect(show(resolveState(permute(sets, seed), h.store, rules))).toEqual(show(expected));
        // Entries of each set in another order.
        const shuffledEntries = sets.map((s, i) => new Map(permute([...s], seed + i)));
        expect(show(resolveState(shuffledEntries, h.store, rules))).toEqual(show(expected));
        // The input events in another order: the walk finds the same states.
        const walked = walkStates(h, permute(h.events, seed));
        expect(show(resolveState(h.tips.map((t) => walked.get(t)!), h.store, rules))).toEqual(show(expected));
      });
    });

    test("one set, or the same set twice, resolves to itself", () => {
      checkHistories(version, plans, (h) => {
        for (const s of tipSets(h)) {
          expect(same(resolveState([s], h.store, rules), s)).toBe(true);
          expect(same(resolveState([s, s], h.store, rules), s)).toBe(true);
        }
      });
    });

    test("unconflicted entries are kept", () => {
      checkHistories(version, plans, (h) => {
        const sets = tipSets(h);
        const out = resolveState(sets, h.store, rules);
        // v2/v2.1: step 5 puts back the whole unconflicted state map. v1: R starts from the union
        // minus conflicting events and never replaces an unconflicted key.
        for (const [k, v] of partitionStates(sets).unconflicted) expect(out.get(k)).toBe(v);
      });
    });

    test("every resolved event comes from the inputs or their auth chains, under its own key", () => {
      checkHistories(version, plans, (h) => {
        const sets = tipSets(h);
        const allowed = provenance(h, sets);
        for (const [k, id] of resolveState(sets, h.store, rules)) {
          expect(allowed.has(id), `${id} is neither in a state set nor an auth chain`).toBe(true);
          const e = h.store.get(id);
          expect(k).toBe(stateKey(e.type, e.state_key!));
        }
      });
    });

    if (rules.stateRes !== "v1") {
      test("each step agrees with a brute-force reading of its definition", () => {
        checkHistories(version, plans, (h) => {
          const sets = tipSets(h);
          const trace: V2Trace = {};
          resolveV2(sets, h.store, rules, {}, trace);
          if (trace.conflicted!.size === 0) return;
          const chain = (id: string): ReadonlySet<string> => h.store.authChain(id);

          // Auth difference: per-set unions of per-event auth chains (events excluded from their own).
          const full = sets.map((s) => new Set([...s.values()].flatMap((id) => [...chain(id)])));
          const union = new Set(full.flatMap((c) => [...c]));
          const diff = [...union].filter((id) => !full.every((c) => c.has(id)));
          expect([...trace.authDifference!].sort()).toEqual(diff.sort());

          // Conflicted state subgraph: v lies on a path c1 -> ... -> v -> ... -> c2, c1 != c2.
          const conflicted = trace.conflicted!;
          if (rules.stateRes === "v2.1") {
            const candidates = new Set([...conflicted, ...[...conflicted].flatMap((c) => [...chain(c)])]);
            const onPath = [...candidates].filter((v) =>
              [...conflicted].some((c1) => (c1 === v || chain(c1).has(v)) && [...conflicted].some((c2) => c2 !== c1 && (c2 === v || chain(v).has(c2)))),
            );
            expect([...trace.conflictedSubgraph!].sort()).toEqual(onPath.sort());
          }

          // Step 1's set and its order: at each step the smallest event whose ancestors in the set
          // have all been taken.
          const fcs = trace.fullConflictedSet!;
          const power = [...fcs].filter((id) => isPowerEvent(h.store.get(id)));
          const x = new Set([...power, ...power.flatMap((p) => [...chain(p)].filter((a) => fcs.has(a)))]);
          expect([...trace.powerOrder!].sort()).toEqual([...x].sort());
          const roomCreate = rules.auth.createInAuthEvents ? undefined : h.store.get(h.createId);
          const key = (id: string) => [-senderPowerFromAuthEvents(h.store.get(id), h.store, rules, roomCreate), h.store.get(id).origin_server_ts, id] as const;
          const less = (a: string, b: string): boolean => {
            const [pa, ta, ia] = key(a);
            const [pb, tb, ib] = key(b);
            return pa !== pb ? pa < pb : ta !== tb ? ta < tb : compareCodePoints(ia, ib) < 0;
          };
          const taken = new Set<string>();
          for (const id of trace.powerOrder!) {
            const ready = [...x].filter((y) => !taken.has(y) && [...chain(y)].every((a) => !x.has(a) || taken.has(a)));
            expect(ready).toContain(id);
            for (const other of ready) if (other !== id) expect(less(id, other), `${id} before ${other}`).toBe(true);
            taken.add(id);
          }

          // Step 3: the rest in mainline order (greater position first, then ts, then ID).
          const rest = [...fcs].filter((id) => !x.has(id));
          expect([...trace.mainlineOrder!].sort()).toEqual(rest.sort());
          const mainline = trace.mainline!;
          const position = (id: string): number => {
            let p = h.store.authEventOfType(h.store.get(id), "m.room.power_levels");
            while (p) {
              const i = mainline.indexOf(p.event_id);
              if (i >= 0) return i;
              p = h.store.authEventOfType(p, "m.room.power_levels");
            }
            return Number.POSITIVE_INFINITY;
          };
          const order = trace.mainlineOrder!;
          for (let i = 1; i < order.length; i++) {
            const a = order[i - 1]!;
            const b = order[i]!;
            const [pa, pb] = [position(a), position(b)];
            const [ta, tb] = [h.store.get(a).origin_server_ts, h.store.get(b).origin_server_ts];
            expect(pa > pb || (pa === pb && (ta < tb || (ta === tb && compareCodePoints(a, b) < 0))), `${a} before ${b}`).toBe(true);
          }
        });
      });
    }

    if (rules.stateRes === "v2.1") {
      test("v12: the create event never enters the full conflicted set, and stays in the state", () => {
        checkHistories(version, plans, (h) => {
          const trace: V2Trace = {};
          const out = resolveV2(tipSets(h), h.store, rules, {}, trace);
          expect(trace.conflicted?.has(h.createId)).toBe(false);
          expect(trace.fullConflictedSet?.has(h.createId) ?? false).toBe(false);
          expect(out.get(stateKey("m.room.create", ""))).toBe(h.createId);
        });
      });
    }

    test("walking a history without forks gives its plain state", () => {
      checkHistories(version, linearPlans, (h) => {
        expect(h.tips).toHaveLength(1);
        const plain = new Map<string, string>();
        for (const e of h.events) if (e.state_key !== undefined) plain.set(stateKey(e.type, e.state_key), e.event_id);
        const room = buildRoom(h.events.map(({ auth_events: _ignored, ...rest }) => rest), rules, { keepStatesFor: h.tips });
        expect(show(room.stateAfter.get(h.tips[0]!)!)).toEqual(show(plain));
      });
    });
  });
}

describe("counterexample reporting", () => {
  test("a failing property prints a scenario the stateres command replays", () => {
    let message = "";
    try {
      checkHistories("10", plans, (h) => {
        expect(h.events.length).toBeLessThan(7); // false for most histories
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("STATERES_SEED=");
    const json = message.slice(message.indexOf("{"));
    const replay = runScenario(json);
    expect(replay.ok, replay.ok ? "" : replay.message).toBe(true);
    // Shrinking leaves the smallest history that breaks the property: exactly 7 events.
    expect((JSON.parse(json) as { events: unknown[] }).events).toHaveLength(7);
  });
});
