// State resolution v2 (room versions 2-11) and v2.1 (room version 12).
//
//   v2:   https://spec.matrix.org/v1.19/rooms/v2/#state-resolution
//   v2.1: https://spec.matrix.org/v1.19/rooms/v12/#state-resolution
//
// v2.1 differs in exactly two places: the full conflicted set also holds the conflicted state
// subgraph, and step 2 (the iterative auth checks of the power events) starts from an empty state
// instead of the unconflicted state map.
//
// Readings taken where the text leaves a choice (each is tested at its boundary in
// test/stateres/v2.test.ts):
//   R1. Auth chains exclude the event itself ("all of E's auth events, ... recursively"), so the
//       full auth chain C_i of a state set is the union of its events' auth chains and does not
//       contain a state event unless some event of the set reaches it through auth_events. An
//       unconflicted event can therefore be in the auth difference.
//   R2. A key missing from some state sets is conflicted (the unconflicted map needs the key
//       "present in every S_i with the same value").
//   R3. Step 1 takes "the events in the auth chain of P which also belong to the full conflicted
//       set" literally: the whole auth chain, even through events outside the full conflicted
//       set. (Synapse and ruma only walk auth edges inside the full conflicted set.)
//   R4. "The DAG formed by auth events" on the sorted set X is the auth-chain order: x comes
//       before y whenever x is in the auth chain of y, even if the path between them leaves X.
//   R5. Sender power for the reverse topological power ordering comes from the event's own
//       auth_events: the first m.room.power_levels among them; with none, the creator (named by
//       the create event among the auth events) has 100 and others 0 (v2-v11); in v12 room
//       creators have infinite power and the create event comes from the room ID.
//   R6. The iterative auth checks apply every authorisation rule that depends on state, i.e. all
//       except "Considering the event's auth_events" (a property of the event alone, checked on
//       receipt; "no events rejected due to failure to auth against their auth chain should
//       appear in the process"). A key in the state whose event was rejected counts as absent.
//   R7. With several m.room.power_levels events among an event's auth_events (an invalid event),
//       the first one in auth_events order is the one mainline walks and power lookups use; the
//       same "first wins" holds for any key the iterative auth checks take from auth_events.
//   R8. Comparisons of event IDs use code point order (see compareCodePoints); timestamps compare
//       as numbers.
//   R9. Room v12: the create event is the room's identity, not contestable state. State sets that
//       lack it or disagree about it are bad input, so it never enters the conflicted set.
//   R10. "Power event" goes by type for power levels and join rules, whatever the state key (see
//       isPowerEvent). Mainline walks, which follow "the m.room.power_levels event in the
//       auth_events", only follow the (m.room.power_levels, "") entry the selection rules put there.
//
// Complexity, for n events reachable from the state sets, k state sets, |S| entries per set:
//   partition O(k|S|); auth difference O(k(n + auth edges)) with one visited set per state set
//   (no per-event auth-chain sets); v2.1 subgraph O(n + edges); step-1 set X one multi-source walk
//   O(n + edges); ordering edges between members of X through non-members O(n + edges) plus the
//   sizes of the "nearest X ancestors" sets (almost always tiny); Kahn's algorithm with a binary
//   heap O(|X| log |X| + edges); mainline positions memoised per power-levels event O(n); the two
//   iterative auth-check passes O(|full conflicted set| * auth keys) map lookups.

import { checkAuthRules, type AuthState } from "./auth.ts";
import { postOrder } from "./graph.ts";
import { MinHeap } from "./heap.ts";
import { userLevel } from "./power.ts";
import type { EventStore } from "./store.ts";
import {
  StateResInputError,
  T,
  compareCodePoints,
  eventStateKey,
  stateKey,
  type Pdu,
  type StateMap,
} from "./types.ts";
import type { RoomVersionRules } from "../crypto/index.ts";

export interface ResolveOptions {
  /** Events known to be rejected: never used as auth events in the iterative auth checks. */
  readonly isRejected?: (eventId: string) => boolean;
  /** Room v12: the room's create event (by default the create entry every state set holds). */
  readonly roomCreateId?: string;
  /** Override for the third-party-invite signature check. */
  readonly verifyThirdPartySignature?: (signed: Record<string, unknown>, publicKeys: readonly string[]) => boolean;
  /**
   * For tests that show what each v2.1 change does on its own: overrides which of the two
   * changes resolveV2 applies. Not part of any room version.
   */
  readonly v21Changes?: { readonly emptyStart: boolean; readonly conflictedSubgraph: boolean };
  /**
   * For telling a target's answer apart from a deviation: takes some of the model's readings of
   * the spec the other way (see R1 and R3 above). Not part of any room version.
   */
  readonly readings?: OpenReadings;
}

/** Readings of the v2 algorithm that the spec's text leaves open, taken the other way. */
export interface OpenReadings {
  /** R1 the other way: an event belongs to its own auth chain (state events count in C_i). */
  readonly selfInclusiveChains?: boolean;
  /** R3 the other way (Synapse, ruma): step 1 follows auth edges only inside the full conflicted set. */
  readonly step1InsideOnly?: boolean;
}

/** What each step computed; filled in when a trace object is passed. */
export interface V2Trace {
  unconflicted?: Map<string, string>;
  /** The conflicted state set (event IDs). */
  conflicted?: Set<string>;
  authDifference?: Set<string>;
  /** v2.1 only; empty for v2. */
  conflictedSubgraph?: Set<string>;
  fullConflictedSet?: Set<string>;
  /** Step 1: X sorted by the reverse topological power ordering. */
  powerOrder?: string[];
  /** Step 2's result. */
  partiallyResolved?: Map<string, string>;
  /** The mainline of step 2's power levels, P0 first. */
  mainline?: string[];
  /** Step 3: the remaining events in mainline order. */
  mainlineOrder?: string[];
}

const NO_REJECTIONS = (): boolean => false;

// ---------------------------------------------------------------------------------------------
// Definitions

/**
 * https://spec.matrix.org/v1.19/rooms/v2/#definitions "Power events". R10: the definition names
 * types only, so a power-levels or join-rules event with a non-empty state key (which governs
 * nothing) still counts; implementations that also require state key "" differ only on such
 * events.
 */
export function isPowerEvent(event: Pdu): boolean {
  if (event.state_key === undefined) return false;
  if (event.type === T.powerLevels || event.type === T.joinRules) return true;
  if (event.type === T.member) {
    const m = event.content["membership"];
    return (m === "leave" || m === "ban") && event.sender !== event.state_key;
  }
  return false;
}

/**
 * Splits state sets into the unconflicted state map and the conflicted state set (R2: a key
 * absent from some set is conflicted).
 */
export function partitionStates(stateSets: readonly StateMap[]): {
  unconflicted: Map<string, string>;
  conflicted: Set<string>;
  conflictedKeys: Set<string>;
} {
  const unconflicted = new Map<string, string>();
  const conflicted = new Set<string>();
  const conflictedKeys = new Set<string>();
  const keys = new Set<string>();
  for (const s of stateSets) for (const k of s.keys()) keys.add(k);
  for (const k of keys) {
    const first = stateSets[0]?.get(k);
    let same = first !== undefined;
    for (let i = 1; same && i < stateSets.length; i++) if (stateSets[i]!.get(k) !== first) same = false;
    if (same) {
      unconflicted.set(k, first!);
    } else {
      conflictedKeys.add(k);
      for (const s of stateSets) {
        const v = s.get(k);
        if (v !== undefined) conflicted.add(v);
      }
    }
  }
  return { unconflicted, conflicted, conflictedKeys };
}

/**
 * ∪C_i − ∩C_i where C_i is the full auth chain of state set i (R1: events exclude themselves,
 * unless `selfInclusive` takes R1 the other way).
 */
export function authDifference(stateSets: readonly StateMap[], store: EventStore, selfInclusive = false): Set<string> {
  const counts = new Map<string, number>();
  for (const s of stateSets) {
    for (const id of store.ancestors(s.values(), selfInclusive)) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const diff = new Set<string>();
  for (const [id, n] of counts) if (n < stateSets.length) diff.add(id);
  return diff;
}

/**
 * v2.1's conflicted state subgraph: every event on an auth_events path from one conflicted event
 * to another, endpoints included. https://spec.matrix.org/v1.19/rooms/v12/#definitions
 */
export function conflictedStateSubgraph(conflicted: ReadonlySet<string>, store: EventStore): Set<string> {
  // reaches(v): v reaches a conflicted event along at least one auth edge.
  const order = postOrder(conflicted, (id) => store.get(id).auth_events, cycle);
  const reaches = new Set<string>();
  for (const id of order) {
    for (const a of store.get(id).auth_events) {
      if (conflicted.has(a) || reaches.has(a)) {
        reaches.add(id);
        break;
      }
    }
  }
  // An event is on such a path if a conflicted event reaches it (it is in their auth chains, or is
  // itself conflicted) and it reaches a conflicted event (or is itself the far endpoint).
  const below = store.ancestors(conflicted, false);
  const subgraph = new Set<string>();
  for (const id of order) {
    const reachedFromConflicted = below.has(id);
    if (conflicted.has(id)) {
      if (reachedFromConflicted || reaches.has(id)) subgraph.add(id);
    } else if (reachedFromConflicted && reaches.has(id)) {
      subgraph.add(id);
    }
  }
  return subgraph;
}

function cycle(id: string): never {
  throw new StateResInputError(`auth_events form a cycle through ${id}`);
}

/** R5: the sender's power level "when looking at their respective auth_events". */
export function senderPowerFromAuthEvents(
  event: Pdu,
  store: EventStore,
  rules: RoomVersionRules,
  roomCreate: Pdu | undefined,
): number {
  const pl = store.authEventOfType(event, T.powerLevels);
  const create = rules.auth.createInAuthEvents ? store.authEventOfType(event, T.create) : roomCreate;
  return userLevel(event.sender, pl, create, rules);
}

/**
 * The reverse topological power ordering of `events` (R4: ordered by the auth-chain relation
 * restricted to `events`), by Kahn's algorithm taking the smallest ready event each step: greater
 * sender power first, then smaller origin_server_ts, then smaller event ID.
 */
export function reverseTopologicalPowerOrder(
  events: ReadonlySet<string>,
  store: EventStore,
  rules: RoomVersionRules,
  roomCreate: Pdu | undefined,
): string[] {
  const EMPTY: ReadonlySet<string> = new Set();
  // For events outside the set: the nearest members of the set below them.
  const nearest = new Map<string, ReadonlySet<string>>();
  const outsideStarts: string[] = [];
  for (const id of events) for (const a of store.get(id).auth_events) if (!events.has(a)) outsideStarts.push(a);
  const outsideOrder = postOrder(
    outsideStarts,
    (id) => (events.has(id) ? [] : store.get(id).auth_events),
    cycle,
  );
  const gather = (authIds: readonly string[]): ReadonlySet<string> => {
    let result: ReadonlySet<string> = EMPTY;
    let owned = false;
    for (const a of authIds) {
      const add: ReadonlySet<string> = events.has(a) ? new Set([a]) : (nearest.get(a) ?? EMPTY);
      if (add.size === 0) continue;
      if (result.size === 0) {
        result = add;
        continue;
      }
      if (!owned) {
        result = new Set(result);
        owned = true;
      }
      for (const x of add) (result as Set<string>).add(x);
    }
    return result;
  };
  for (const id of outsideOrder) if (!events.has(id)) nearest.set(id, gather(store.get(id).auth_events));

  const indegree = new Map<string, number>();
  const children = new Map<string, string[]>();
  for (const id of events) {
    const parents = gather(store.get(id).auth_events);
    indegree.set(id, parents.size);
    for (const p of parents) {
      const list = children.get(p);
      if (list) list.push(id);
      else children.set(p, [id]);
    }
  }

  const power = new Map<string, number>();
  for (const id of events) power.set(id, senderPowerFromAuthEvents(store.get(id), store, rules, roomCreate));
  const heap = new MinHeap<string>((x, y) => {
    const px = power.get(x)!;
    const py = power.get(y)!;
    if (px !== py) return px > py ? -1 : 1;
    const tx = store.get(x).origin_server_ts;
    const ty = store.get(y).origin_server_ts;
    if (tx !== ty) return tx < ty ? -1 : 1;
    return compareCodePoints(x, y);
  });
  for (const [id, d] of indegree) if (d === 0) heap.push(id);
  const sorted: string[] = [];
  while (heap.size > 0) {
    const id = heap.pop()!;
    sorted.push(id);
    for (const c of children.get(id) ?? []) {
      const d = indegree.get(c)! - 1;
      indegree.set(c, d);
      if (d === 0) heap.push(c);
    }
  }
  if (sorted.length !== events.size) throw new StateResInputError("auth_events form a cycle");
  return sorted;
}

/** The mainline of a power-levels event: P0, the power levels in its auth events, and so on. */
export function mainlineOf(pl: string | undefined, store: EventStore): string[] {
  const mainline: string[] = [];
  const seen = new Set<string>();
  let p = pl;
  while (p !== undefined) {
    if (seen.has(p)) throw new StateResInputError(`power-levels auth events form a cycle through ${p}`);
    seen.add(p);
    mainline.push(p);
    p = store.authEventOfType(store.get(p), T.powerLevels)?.event_id;
  }
  return mainline;
}

/**
 * Orders events by their mainline position based on `pl` (greater position first, Infinity for
 * events that reach no mainline event, the event itself not counted), then origin_server_ts,
 * then event ID.
 */
export function mainlineOrder(events: readonly string[], pl: string | undefined, store: EventStore): string[] {
  const index = new Map<string, number>();
  mainlineOf(pl, store).forEach((id, i) => index.set(id, i));
  const memo = new Map<string, number>(); // position of a power-levels event counted as e_j
  const chainPosition = (start: string): number => {
    const path: string[] = [];
    let q: string | undefined = start;
    let result = Number.POSITIVE_INFINITY;
    while (q !== undefined) {
      const i = index.get(q);
      if (i !== undefined) {
        result = i;
        break;
      }
      const known = memo.get(q);
      if (known !== undefined) {
        result = known;
        break;
      }
      path.push(q);
      if (path.length > store.size) throw new StateResInputError(`power-levels auth events form a cycle through ${start}`);
      q = store.authEventOfType(store.get(q), T.powerLevels)?.event_id;
    }
    for (const p of path) memo.set(p, result);
    return result;
  };
  const position = new Map<string, number>();
  for (const id of events) {
    const first = store.authEventOfType(store.get(id), T.powerLevels);
    position.set(id, first ? chainPosition(first.event_id) : Number.POSITIVE_INFINITY);
  }
  return [...events].sort((x, y) => {
    const px = position.get(x)!;
    const py = position.get(y)!;
    if (px !== py) return px > py ? -1 : 1;
    const tx = store.get(x).origin_server_ts;
    const ty = store.get(y).origin_server_ts;
    if (tx !== ty) return tx < ty ? -1 : 1;
    return compareCodePoints(x, y);
  });
}

/**
 * The iterative auth checks: each event, in order, is checked against the state built so far
 * (keys missing from it taken from the event's own non-rejected auth events) and applied if
 * allowed; a failed check drops the event and never aborts.
 */
export function iterativeAuthChecks(
  initial: StateMap,
  events: readonly string[],
  store: EventStore,
  rules: RoomVersionRules,
  options: ResolveOptions & { roomCreate?: Pdu | undefined } = {},
): Map<string, string> {
  const isRejected = options.isRejected ?? NO_REJECTIONS;
  const state = new Map(initial);
  for (const id of events) {
    const event = store.get(id);
    if (event.state_key === undefined) continue;
    let fromAuthEvents: Map<string, Pdu> | undefined;
    const authState: AuthState = {
      get(type, key) {
        const k = stateKey(type, key);
        const inState = state.get(k);
        if (inState !== undefined && !isRejected(inState)) return store.get(inState);
        if (!fromAuthEvents) {
          fromAuthEvents = new Map();
          for (const a of event.auth_events) {
            if (isRejected(a)) continue;
            const ae = store.get(a);
            if (ae.state_key === undefined) continue;
            const ak = stateKey(ae.type, ae.state_key);
            if (!fromAuthEvents.has(ak)) fromAuthEvents.set(ak, ae);
          }
        }
        return fromAuthEvents.get(k);
      },
    };
    const decision = checkAuthRules(event, authState, {
      rules,
      roomCreate: options.roomCreate,
      ...(options.verifyThirdPartySignature ? { verifyThirdPartySignature: options.verifyThirdPartySignature } : {}),
    });
    if (decision.allowed) state.set(eventStateKey(event), id);
  }
  return state;
}

// ---------------------------------------------------------------------------------------------
// The algorithm

/** The room v12 create event the state sets agree on (R9), or bad input. */
export function roomCreateForV21(stateSets: readonly StateMap[], store: EventStore, given?: string): Pdu {
  const key = stateKey(T.create, "");
  let id = given;
  for (const s of stateSets) {
    const v = s.get(key);
    if (v === undefined) throw new StateResInputError("room version 12: every state set must contain the m.room.create event");
    if (id === undefined) id = v;
    else if (v !== id) throw new StateResInputError(`room version 12: state sets name different create events (${id}, ${v})`);
  }
  if (id === undefined) throw new StateResInputError("room version 12: no m.room.create event");
  return store.get(id);
}

/** Resolves state sets with state resolution v2 (rules.stateRes "v2") or v2.1 ("v2.1"). */
export function resolveV2(
  stateSets: readonly StateMap[],
  store: EventStore,
  rules: RoomVersionRules,
  options: ResolveOptions = {},
  trace?: V2Trace,
): Map<string, string> {
  const v21 = rules.stateRes === "v2.1";
  const emptyStart = options.v21Changes?.emptyStart ?? v21;
  const withSubgraph = options.v21Changes?.conflictedSubgraph ?? v21;
  const roomCreate = v21 && stateSets.length > 0 ? roomCreateForV21(stateSets, store, options.roomCreateId) : undefined;
  const { unconflicted, conflicted } = partitionStates(stateSets);
  if (trace) {
    trace.unconflicted = unconflicted;
    trace.conflicted = conflicted;
  }
  if (conflicted.size === 0) {
    // Every set is the same state: the auth difference is empty and nothing is left to resolve.
    if (trace) {
      trace.authDifference = new Set();
      trace.conflictedSubgraph = new Set();
      trace.fullConflictedSet = new Set();
      trace.powerOrder = [];
      trace.partiallyResolved = new Map(emptyStart ? [] : unconflicted);
      trace.mainline = [];
      trace.mainlineOrder = [];
    }
    return new Map(unconflicted);
  }

  const readings = options.readings ?? {};
  const diff = authDifference(stateSets, store, readings.selfInclusiveChains === true);
  const subgraph = withSubgraph ? conflictedStateSubgraph(conflicted, store) : new Set<string>();
  const full = new Set<string>([...conflicted, ...diff, ...subgraph]);

  // Step 1: power events of the full conflicted set, enlarged by their auth chains within it (R3),
  // or, with R3 the other way, by what auth edges inside the full conflicted set reach.
  const power = [...full].filter((id) => isPowerEvent(store.get(id)));
  const x = new Set<string>(power);
  if (readings.step1InsideOnly) {
    const stack = [...power];
    while (stack.length > 0) {
      for (const a of store.get(stack.pop()!).auth_events) {
        if (full.has(a) && !x.has(a)) {
          x.add(a);
          stack.push(a);
        }
      }
    }
  } else {
    for (const a of store.ancestors(power, false)) if (full.has(a)) x.add(a);
  }
  const powerOrder = reverseTopologicalPowerOrder(x, store, rules, roomCreate);

  // Step 2: iterative auth checks from the unconflicted state map (v2) or an empty map (v2.1).
  const authOptions = { ...options, roomCreate };
  const partial = iterativeAuthChecks(emptyStart ? new Map() : unconflicted, powerOrder, store, rules, authOptions);

  // Step 3: everything else, by mainline order based on the partially resolved power levels.
  const partialPl = partial.get(stateKey(T.powerLevels, ""));
  const rest = [...full].filter((id) => !x.has(id));
  const restOrder = mainlineOrder(rest, partialPl, store);

  // Step 4 and 5.
  const resolved = iterativeAuthChecks(partial, restOrder, store, rules, authOptions);
  for (const [k, v] of unconflicted) resolved.set(k, v);

  if (trace) {
    trace.authDifference = diff;
    trace.conflictedSubgraph = subgraph;
    trace.fullConflictedSet = full;
    trace.powerOrder = powerOrder;
    trace.partiallyResolved = partial;
    trace.mainline = mainlineOf(partialPl, store);
    trace.mainlineOrder = restOrder;
  }
  return resolved;
}
