// Pure helpers for differential state-resolution tests (suites/state-resolution): a seeded
// generator of forks (branches of operations from a common fork point), the model's answer for
// the state at a merge, the comparison with a target's answer per state key, the reading of a
// difference (target deviation, or the model's answer under another reading of an open point), and a scenario the
// `matrix-conformance stateres` command replays.
//
// No I/O, no clock; randomness only from a seeded PRNG (mulberry32) passed in or built here.

import { authorizeEvent } from "./receipt.ts";
import { runScenario, stateToObject, type ScenarioInput, type StateObject } from "./scenario.ts";
import { EventStore } from "./store.ts";
import { T, compareCodePoints, eventStateKey, splitStateKey, stateKey, type Pdu, type PduInput, type StateMap } from "./types.ts";
import { resolveV2, type OpenReadings, type V2Trace } from "./v2.ts";
import { resolveState } from "./resolve.ts";
import { ROOM_VERSION_IDS, type RoomVersionId, type RoomVersionRules } from "../crypto/index.ts";
import { buildRoom } from "./walk.ts";

// ---------------------------------------------------------------------------------------------
// Randomness

/** A seeded PRNG returning floats in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The seed of random fork case `run` in room version `version`, from the suite's seed. The run
 * and the version are mixed in with two primes (7919, the 1000th, and 104729, the 10000th):
 * being coprime, distinct (run, version) pairs give distinct seeds for any run below 104729, and
 * the large factor keeps each version's seeds far from the others'. A version counts by its
 * position in the spec's list (ROOM_VERSION_IDS, 1-based), which for 1-12 is its number, so the
 * seeds, and the forks a seed names, are those of earlier runs.
 */
export function forkSeed(seed: number, run: number, version: string): number {
  const ordinal = ROOM_VERSION_IDS.indexOf(version as RoomVersionId) + 1;
  if (ordinal === 0) throw new Error(`forkSeed: ${JSON.stringify(version)} is not a room version of the spec`);
  return (seed + run * 7919 + ordinal * 104729) >>> 0;
}

function pick<T>(rng: () => number, list: readonly T[]): T {
  return list[Math.floor(rng() * list.length)]!;
}

// ---------------------------------------------------------------------------------------------
// Operations

/** One thing one user does on one branch. `target` is a user ID (membership, power). */
export type Op =
  | { kind: "topic"; sender: string; text: string }
  | { kind: "name"; sender: string; text: string }
  | { kind: "power"; sender: string; target: string; level: number }
  | { kind: "state_default"; sender: string; level: number }
  | { kind: "join_rules"; sender: string; rule: "public" | "invite" }
  | { kind: "join"; sender: string }
  | { kind: "leave"; sender: string }
  | { kind: "invite"; sender: string; target: string }
  | { kind: "kick"; sender: string; target: string }
  | { kind: "ban"; sender: string; target: string }
  | { kind: "unban"; sender: string; target: string };

/** A fork: one list of operations per branch, each with a timestamp offset from the fork. */
export interface ForkCase {
  readonly name: string;
  readonly branches: readonly (readonly TimedOp[])[];
}

/**
 * A named fork of the suites' case table: its title, and its branches over the room's users
 * (built when the test runs, since the users' IDs come from its peers).
 */
export interface NamedFork<U> {
  readonly name: string;
  readonly branches: (users: U) => ForkCase["branches"];
}

export interface TimedOp {
  readonly op: Op;
  /** Added to the fork's base timestamp; equal offsets on two branches make timestamps clash. */
  readonly ts: number;
}

/** The event an operation becomes (structurally an EventInput of harness/federation). */
export interface OpEvent {
  type: string;
  state_key?: string;
  sender: string;
  content: Record<string, unknown>;
}

/**
 * The event of an operation on top of a state; `stateContent(type, key)` gives the content of the
 * current state event (the power levels to modify). Returns undefined when the operation makes
 * no sense there (no power levels event to change).
 */
export function opEvent(op: Op, stateContent: (type: string, key: string) => Record<string, unknown> | undefined): OpEvent | undefined {
  const member = (userId: string, membership: string, sender = op.sender): OpEvent => ({ type: T.member, state_key: userId, sender, content: { membership } });
  switch (op.kind) {
    case "topic":
      return { type: "m.room.topic", state_key: "", sender: op.sender, content: { topic: op.text } };
    case "name":
      return { type: "m.room.name", state_key: "", sender: op.sender, content: { name: op.text } };
    case "join_rules":
      return { type: T.joinRules, state_key: "", sender: op.sender, content: { join_rule: op.rule } };
    case "join":
      return member(op.sender, "join");
    case "leave":
      return member(op.sender, "leave");
    case "invite":
      return member(op.target, "invite");
    case "kick":
      return member(op.target, "leave");
    case "ban":
      return member(op.target, "ban");
    case "unban":
      return member(op.target, "leave");
    case "power":
    case "state_default": {
      const pl = stateContent(T.powerLevels, "");
      if (!pl) return undefined;
      const content: Record<string, unknown> = JSON.parse(JSON.stringify(pl)) as Record<string, unknown>;
      if (op.kind === "power") {
        const users = { ...((content["users"] as Record<string, number> | undefined) ?? {}) };
        users[op.target] = op.level;
        content["users"] = users;
      } else content["state_default"] = op.level;
      return { type: T.powerLevels, state_key: "", sender: op.sender, content };
    }
  }
}

export function describeOp(op: Op): string {
  switch (op.kind) {
    case "topic":
    case "name":
      return `${op.sender} sets the ${op.kind} to ${JSON.stringify(op.text)}`;
    case "power":
      return `${op.sender} sets ${op.target}'s power level to ${op.level}`;
    case "state_default":
      return `${op.sender} sets state_default to ${op.level}`;
    case "join_rules":
      return `${op.sender} sets the join rule to ${op.rule}`;
    case "join":
    case "leave":
      return `${op.sender} ${op.kind}s`;
    default:
      return `${op.sender} ${op.kind}s ${op.target}`;
  }
}

/**
 * A random fork: 2 (sometimes 3) branches of 1-4 operations by `users` (never aimed at
 * `protectedUser`, the room creator, who must stay able to send the merge). Timestamp offsets are
 * 0-3 so they clash across branches. Invalid operations are dropped when the case is played.
 */
export function randomFork(rng: () => number, users: readonly string[], protectedUser: string, name: string): ForkCase {
  const others = users.filter((u) => u !== protectedUser);
  const senders = [protectedUser, ...others, ...others];
  const branches: TimedOp[][] = [];
  const count = rng() < 0.2 ? 3 : 2;
  for (let b = 0; b < count; b++) {
    const ops: TimedOp[] = [];
    const n = 1 + Math.floor(rng() * 4);
    let ts = 0;
    for (let i = 0; i < n; i++) {
      ts += Math.floor(rng() * 2);
      const sender = pick(rng, senders);
      const target = pick(rng, others);
      const r = rng();
      let op: Op;
      if (r < 0.15) op = { kind: "topic", sender, text: `topic ${b}.${i}` };
      else if (r < 0.2) op = { kind: "name", sender, text: `name ${b}.${i}` };
      else if (r < 0.38) op = { kind: "power", sender, target, level: pick(rng, [0, 25, 50, 75]) };
      else if (r < 0.42) op = { kind: "state_default", sender, level: pick(rng, [0, 50, 75]) };
      else if (r < 0.5) op = { kind: "join_rules", sender, rule: pick(rng, ["public", "invite"] as const) };
      else if (r < 0.6) op = { kind: "join", sender: target };
      else if (r < 0.66) op = { kind: "leave", sender: target };
      else if (r < 0.72) op = { kind: "invite", sender, target };
      else if (r < 0.82) op = { kind: "kick", sender, target };
      else if (r < 0.94) op = { kind: "ban", sender, target };
      else op = { kind: "unban", sender, target };
      ops.push({ op, ts });
    }
    branches.push(ops);
  }
  return { name, branches };
}

/**
 * Whether `event` (already holding its auth events) passes the authorisation rules against its
 * auth events and against `stateBefore`, as a receiving server checks it (receipt steps 4 and 5).
 */
export function passesReceipt(event: Pdu, stateBefore: StateMap, store: EventStore, rules: RoomVersionRules, roomCreateId?: string): { allowed: boolean; reason: string } {
  const tmp = store.has(event.event_id) ? store : new EventStore([...store.values(), event]);
  const options = roomCreateId !== undefined ? { roomCreateId } : {};
  for (const against of ["auth_events", stateBefore] as const) {
    const d = authorizeEvent(event, against, tmp, rules, options);
    if (!d.allowed) return { allowed: false, reason: `${d.rule}: ${d.reason}` };
  }
  return { allowed: true, reason: "" };
}

// ---------------------------------------------------------------------------------------------
// The model's answer

export interface ModelAnswer {
  /** The resolved state of the branch tips' states. */
  readonly state: Map<string, string>;
  readonly stateSets: readonly StateMap[];
  readonly store: EventStore;
  readonly trace: V2Trace;
  readonly createId: string | undefined;
}

/**
 * The model's state at a merge of `tips`: walks the room's events (buildRoom) for the states after
 * the tips and resolves them with the room version's algorithm.
 */
export function modelAnswer(events: readonly PduInput[], tips: readonly string[], rules: RoomVersionRules): ModelAnswer {
  const room = buildRoom(events, rules, { keepStatesFor: [...tips] });
  const stateSets = tips.map((t) => room.stateAfter.get(t)!);
  const options = room.createId !== undefined ? { roomCreateId: room.createId } : {};
  const trace: V2Trace = {};
  const state = rules.stateRes === "v1" ? resolveState(stateSets, room.store, rules, options) : resolveV2(stateSets, room.store, rules, options, trace);
  return { state, stateSets, store: room.store, trace, createId: room.createId };
}

// ---------------------------------------------------------------------------------------------
// Comparison

export interface KeyDifference {
  /** "(type, state_key)" */
  readonly key: string;
  readonly target: string | undefined;
  readonly model: string | undefined;
}

export function compareStates(target: StateMap, model: StateMap): KeyDifference[] {
  const out: KeyDifference[] = [];
  const keys = [...new Set([...target.keys(), ...model.keys()])].sort(compareCodePoints);
  for (const k of keys) {
    const t = target.get(k);
    const m = model.get(k);
    if (t !== m) {
      const [type, sk] = splitStateKey(k);
      out.push({ key: `(${type}, ${JSON.stringify(sk)})`, target: t, model: m });
    }
  }
  return out;
}

/** A state map from a list of event IDs (state_ids' pdu_ids), looked up in `store`. */
export function stateFromIds(ids: readonly string[], store: EventStore): { state: Map<string, string>; unknown: string[] } {
  const state = new Map<string, string>();
  const unknown: string[] = [];
  for (const id of ids) {
    const e = store.tryGet(id);
    if (!e || e.state_key === undefined) unknown.push(id);
    else state.set(eventStateKey(e), id);
  }
  return { state, unknown };
}

/** A state map from client-format state events. */
export function stateFromClientEvents(events: ReadonlyArray<{ event_id?: unknown; type?: unknown; state_key?: unknown }>): Map<string, string> {
  const state = new Map<string, string>();
  for (const e of events) {
    if (typeof e.type === "string" && typeof e.state_key === "string" && typeof e.event_id === "string") state.set(stateKey(e.type, e.state_key), e.event_id);
  }
  return state;
}

// ---------------------------------------------------------------------------------------------
// Reading a difference

export interface Classification {
  /** "open-reading" when the target's answer is the model's under another reading of an open point. */
  readonly kind: "open-reading" | "target-deviation";
  /** The readings (harness/stateres/v2.ts) under whose alternative the model gives the target's answer. */
  readonly readings: string[];
  readonly text: string;
}

/** Alternative readings the model can resolve under, for telling open points from deviations. */
export const VARIANTS: ReadonlyArray<{ reading: string; variant: OpenReadings }> = [
  { reading: "R1 (auth chains include the event itself)", variant: { selfInclusiveChains: true } },
  { reading: "R3 (step 1 walks auth edges only inside the full conflicted set)", variant: { step1InsideOnly: true } },
  { reading: "R1 and R3 together", variant: { selfInclusiveChains: true, step1InsideOnly: true } },
];

/**
 * Whether a difference between `target` and the model is an open reading: the model, with one of
 * its readings (VARIANTS) taken the other way, gives exactly the target's answer. Otherwise the
 * target deviates from the spec's algorithm, unless the model has a bug.
 */
export function classify(answer: ModelAnswer, target: StateMap, rules: RoomVersionRules): Classification {
  const readings: string[] = [];
  if (rules.stateRes !== "v1") {
    for (const { reading, variant } of VARIANTS) {
      const alt = resolveV2(answer.stateSets, answer.store, rules, { readings: variant, ...(answer.createId !== undefined ? { roomCreateId: answer.createId } : {}) });
      if (compareStates(target, alt).length === 0) readings.push(reading);
    }
  }
  if (readings.length > 0) {
    return {
      kind: "open-reading",
      readings,
      text: `the spec leaves this open: the model gives the target's answer when it reads ${readings.join(", or ")} (see harness/stateres/v2.ts)`,
    };
  }
  return {
    kind: "target-deviation",
    readings,
    text:
      "the model gives the target's answer under none of its alternative readings (R1, R3 and both): the target deviates from the state resolution algorithm, " +
      "unless the model has a bug (replay the scenario with `matrix-conformance stateres`, check each step)",
  };
}

// ---------------------------------------------------------------------------------------------
// The scenario

const AUTH_TYPES = new Set<string>([T.create, T.powerLevels, T.joinRules, T.member, T.thirdPartyInvite]);

/**
 * The smallest replayable scenario this module can derive for a resolution: the two state sets
 * with the keys that are equal in every set and never read by the auth rules (topic, name, ...)
 * left out, the events of the sets and their auth chains with prev_events dropped (state
 * resolution v2 reads only auth_events, timestamps and IDs), and `expected` = the target's
 * answer on the remaining keys, so `matrix-conformance stateres FILE` prints the difference.
 * Returns the full form (resolve_at over every event) when the reduced form does not replay to
 * the model's answer.
 */
export function scenarioFor(opts: {
  version: string;
  description: string;
  events: readonly PduInput[];
  tips: readonly string[];
  answer: ModelAnswer;
  target: StateMap;
}): ScenarioInput {
  const { answer } = opts;
  const sets = answer.stateSets;
  const droppable = new Set<string>();
  const keys = new Set(sets.flatMap((s) => [...s.keys()]));
  for (const k of keys) {
    const [type] = splitStateKey(k);
    const v = sets[0]!.get(k);
    if (!AUTH_TYPES.has(type) && v !== undefined && sets.every((s) => s.get(k) === v) && opts.target.get(k) === v) droppable.add(k);
  }
  const keep = (s: StateMap) => new Map([...s].filter(([k]) => !droppable.has(k)));
  const reducedSets = sets.map(keep);
  const needed = new Set<string>();
  const stack = reducedSets.flatMap((s) => [...s.values()]);
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (needed.has(id)) continue;
    needed.add(id);
    stack.push(...answer.store.get(id).auth_events);
  }
  const strip = (e: Pdu): PduInput => {
    const { depth: _d, ...rest } = e;
    void _d;
    return { ...rest, prev_events: [] };
  };
  const reduced: ScenarioInput = {
    description: opts.description,
    room_version: opts.version,
    events: [...answer.store.values()].filter((e) => needed.has(e.event_id)).map(strip),
    state_sets: reducedSets.map((s) => [...s.values()]),
    expected: stateToObject(keep(opts.target)),
  };
  const replay = runScenario(JSON.stringify(reduced));
  const modelReduced = JSON.stringify(stateToObject(keep(answer.state)));
  if (replay.ok && JSON.stringify(replay.output.state) === modelReduced) return reduced;
  return {
    description: `${opts.description} (full form: the reduced one did not replay)`,
    room_version: opts.version,
    events: [...opts.events],
    resolve_at: [...opts.tips],
    expected: stateToObject(opts.target),
  };
}

/** The failure message: both answers per differing key, the reading, the scenario. */
export function differenceReport(opts: {
  view: string;
  differences: readonly KeyDifference[];
  classification: Classification;
  scenario: ScenarioInput;
  describeEvent: (id: string | undefined) => string;
  history: string;
}): string {
  const lines = [
    `${opts.view} differs from the reference model (harness/stateres) on ${opts.differences.length} key(s):`,
    ...opts.differences.map((d) => `  ${d.key}: target ${opts.describeEvent(d.target)}; model ${opts.describeEvent(d.model)}`),
    `Reading: ${opts.classification.kind}: ${opts.classification.text}`,
    `History:\n${opts.history}`,
    "Scenario (`matrix-conformance stateres FILE` replays it; `expected` holds the target's answer, so the command prints the difference):",
    JSON.stringify(opts.scenario),
  ];
  return lines.join("\n");
}

export type { StateObject };
