// Walking a room's DAG: the state before and after events, and auth events selected where an event
// does not list its own.
//
// https://spec.matrix.org/v1.19/rooms/v2/#state-resolution (first paragraphs): the state after a
// state event is the state before it with the event's key replaced; after a message event it is
// the state before; the state before an event is the resolution of the states after its
// prev_events. The model adds: before an event without prev_events the state is empty, and the
// state before an event with one prev event is the state after that event unchanged. Events are
// applied without an auth check (the walk computes states, it does not reject events).
//
// Complexity: one topological sort O(n + edges); one resolution per event with several prev
// events; a state after an event is kept only until its last child has read it, and passed on
// without a copy to the last child that extends it (so a linear history costs O(n) map updates).

import { postOrder } from "./graph.ts";
import { resolveState } from "./resolve.ts";
import { selectAuthEvents } from "./selection.ts";
import { EventStore } from "./store.ts";
import { StateResInputError, T, eventStateKey, type Pdu, type PduInput, type StateMap } from "./types.ts";
import type { ResolveOptions } from "./v2.ts";
import type { RoomVersionRules } from "../crypto/index.ts";

export interface WalkOptions extends Omit<ResolveOptions, "roomCreateId"> {
  /** Events whose state-after to return. */
  readonly keepStatesFor?: readonly string[];
}

export interface Room {
  /** Every input event, with auth_events filled in where they were selected. */
  readonly store: EventStore;
  /** The room's create event (the only m.room.create with state key ""), if any. */
  readonly createId: string | undefined;
  /** The state after each event of `keepStatesFor`. */
  readonly stateAfter: ReadonlyMap<string, StateMap>;
  /** Events in a topological order of prev_events and auth_events (parents first). */
  readonly order: readonly string[];
}

/**
 * Checks a room's events (unique IDs, no missing references, no cycles, at most one create
 * event), selects auth events where they are absent, and computes the requested states.
 */
export function buildRoom(inputs: readonly PduInput[], rules: RoomVersionRules, options: WalkOptions = {}): Room {
  const byId = new Map<string, PduInput>();
  for (const e of inputs) {
    if (byId.has(e.event_id)) throw new StateResInputError(`event ${e.event_id} appears more than once`);
    byId.set(e.event_id, e);
  }
  const creates = inputs.filter((e) => e.type === T.create && e.state_key === "");
  if (creates.length > 1) {
    throw new StateResInputError(`more than one m.room.create event (${creates.map((e) => e.event_id).join(", ")})`);
  }
  const createId = creates[0]?.event_id;
  if (rules.format.roomIdFormat === "create-event-reference-hash" && createId === undefined && inputs.length > 0) {
    throw new StateResInputError("room version 12 needs the room's m.room.create event among the events");
  }
  for (const e of inputs) {
    for (const p of e.prev_events) {
      if (!byId.has(p)) throw new StateResInputError(`event ${e.event_id} names a missing prev event ${p}`);
    }
    for (const a of e.auth_events ?? []) {
      const ae = byId.get(a);
      if (!ae) throw new StateResInputError(`event ${e.event_id} names a missing auth event ${a}`);
      if (ae.state_key === undefined) throw new StateResInputError(`event ${e.event_id} names ${a}, not a state event, as an auth event`);
      // https://spec.matrix.org/v1.19/rooms/v12/#authorisation-rules: the create event "MUST NOT
      // be selected"; an event that lists it would be rejected on receipt, so it is bad input here.
      if (!rules.auth.createInAuthEvents && a === createId) {
        throw new StateResInputError(`room version ${rules.id}: event ${e.event_id} lists the m.room.create event among its auth events`);
      }
    }
  }

  // Parents first: prev_events and listed auth_events are edges.
  const parents = (id: string): readonly string[] => {
    const e = byId.get(id)!;
    return e.auth_events ? [...e.prev_events, ...e.auth_events] : e.prev_events;
  };
  const order = postOrder(
    inputs.map((e) => e.event_id),
    parents,
    (id) => {
      throw new StateResInputError(`the events form a cycle through ${id}`);
    },
  );

  const store = new EventStore();
  for (const e of inputs) if (e.auth_events) store.add(e as Pdu);

  const targets = options.keepStatesFor ?? [];
  for (const t of targets) if (!byId.has(t)) throw new StateResInputError(`unknown event ${t}`);
  const lacking = inputs.filter((e) => !e.auth_events).map((e) => e.event_id);
  // States are needed after the targets, their prev ancestors, and the prev ancestors of every
  // event whose auth events are to be selected.
  const needState = new Set<string>();
  const stack: string[] = [...targets];
  for (const id of lacking) stack.push(...byId.get(id)!.prev_events);
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (needState.has(id)) continue;
    needState.add(id);
    stack.push(...byId.get(id)!.prev_events);
  }
  const lackingSet = new Set(lacking);
  const refs = new Map<string, number>();
  for (const t of targets) refs.set(t, (refs.get(t) ?? 0) + 1);
  for (const id of order) {
    if (!needState.has(id) && !lackingSet.has(id)) continue;
    for (const p of new Set(byId.get(id)!.prev_events)) refs.set(p, (refs.get(p) ?? 0) + 1);
  }

  // States after events, kept while some child still has to read them. One Map object may be the
  // state after several events (a message event shares its parent's); `holders` counts them so a
  // map is only mutated in place when nothing else holds it.
  const after = new Map<string, Map<string, string>>();
  const holders = new Map<Map<string, string>, number>();
  const hold = (id: string, m: Map<string, string>): void => {
    after.set(id, m);
    holders.set(m, (holders.get(m) ?? 0) + 1);
  };
  const drop = (id: string): void => {
    const m = after.get(id)!;
    after.delete(id);
    const n = holders.get(m)! - 1;
    if (n === 0) holders.delete(m);
    else holders.set(m, n);
  };
  const release = (id: string): void => {
    const n = refs.get(id)! - 1;
    refs.set(id, n);
    if (n === 0) drop(id);
  };
  const resolveOptions: ResolveOptions = { ...options, ...(createId !== undefined ? { roomCreateId: createId } : {}) };

  for (const id of order) {
    if (!needState.has(id) && !lackingSet.has(id)) continue;
    const input = byId.get(id)!;
    const prevs = [...new Set(input.prev_events)];
    const willExtend = needState.has(id) && input.state_key !== undefined;
    let before: Map<string, string>;
    if (prevs.length === 0) {
      before = new Map();
    } else if (prevs.length === 1) {
      const p = prevs[0]!;
      const s = after.get(p)!;
      release(p);
      before = willExtend && holders.has(s) ? new Map(s) : s;
    } else {
      before = resolveState(
        prevs.map((p) => after.get(p)!),
        store,
        rules,
        resolveOptions,
      );
      for (const p of prevs) release(p);
    }
    let event: Pdu;
    if (input.auth_events) {
      event = input as Pdu;
    } else {
      event = { ...input, auth_events: selectAuthEvents(input, before, rules) };
      store.add(event);
    }
    if (needState.has(id)) {
      if (event.state_key !== undefined) before.set(eventStateKey(event), id);
      hold(id, before);
    }
  }

  const stateAfter = new Map<string, StateMap>();
  for (const t of targets) stateAfter.set(t, after.get(t)!);
  return { store, createId, stateAfter, order };
}
