// The events a resolution may look at, by ID, with the graph helpers the algorithms share.
//
// Auth chains follow the spec's definition (https://spec.matrix.org/v1.19/rooms/v2/#definitions):
// the auth chain of E is E's auth events, their auth events, and so on. E itself is NOT part of
// its own auth chain. Every helper here keeps to that definition.

import { StateResInputError, type Pdu } from "./types.ts";

export class EventStore {
  readonly #events = new Map<string, Pdu>();
  readonly #depth = new Map<string, number>();
  #authChainMemo = new Map<string, ReadonlySet<string>>();

  constructor(events: Iterable<Pdu> = []) {
    for (const e of events) this.add(e);
  }

  /** Adds (or replaces) an event. Replacing clears memoised auth chains. */
  add(event: Pdu): void {
    if (this.#events.has(event.event_id)) this.#authChainMemo = new Map();
    this.#events.set(event.event_id, event);
  }

  has(id: string): boolean {
    return this.#events.has(id);
  }

  /** The event with this ID; a missing event is bad input. */
  get(id: string): Pdu {
    const e = this.#events.get(id);
    if (!e) throw new StateResInputError(`unknown event ${id}`);
    return e;
  }

  tryGet(id: string): Pdu | undefined {
    return this.#events.get(id);
  }

  get size(): number {
    return this.#events.size;
  }

  values(): IterableIterator<Pdu> {
    return this.#events.values();
  }

  /**
   * The event's depth: its own `depth` if given, else one more than the deepest prev event
   * (1 for an event without prev events). Iterative, so long chains cannot overflow the stack.
   */
  depth(id: string): number {
    const known = this.#depth.get(id);
    if (known !== undefined) return known;
    const stack = [id];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (this.#depth.has(top)) {
        stack.pop();
        continue;
      }
      const e = this.get(top);
      if (e.depth !== undefined) {
        this.#depth.set(top, e.depth);
        stack.pop();
        continue;
      }
      let max = 0;
      let pending = false;
      for (const p of e.prev_events) {
        const d = this.#depth.get(p);
        if (d === undefined) {
          if (stack.length > this.#events.size + 1) throw new StateResInputError(`prev_events of ${id} form a cycle`);
          stack.push(p);
          pending = true;
        } else if (d > max) max = d;
      }
      if (!pending) {
        this.#depth.set(top, max + 1);
        stack.pop();
      }
    }
    return this.#depth.get(id)!;
  }

  /**
   * The auth chain of one event (not including the event itself), memoised. Meant for tests and
   * small inputs; the resolvers use the set-at-a-time walks below, which need no per-event sets.
   */
  authChain(id: string): ReadonlySet<string> {
    const memo = this.#authChainMemo.get(id);
    if (memo) return memo;
    const chain = this.ancestors([id], false);
    this.#authChainMemo.set(id, chain);
    return chain;
  }

  /**
   * Every event reachable from `starts` along auth_events edges. With `includeStarts` false a
   * start event is included only when another start (or one of its ancestors) reaches it.
   * O(events visited + edges).
   */
  ancestors(starts: Iterable<string>, includeStarts: boolean): Set<string> {
    const seen = new Set<string>();
    const stack: string[] = [];
    for (const s of starts) {
      if (includeStarts) {
        if (!seen.has(s)) {
          seen.add(s);
          stack.push(s);
        }
      } else {
        stack.push(s);
      }
    }
    // Start events are expanded once even when not (yet) in `seen`.
    const expanded = new Set<string>();
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (expanded.has(id)) continue;
      expanded.add(id);
      for (const a of this.get(id).auth_events) {
        if (!seen.has(a)) {
          seen.add(a);
          stack.push(a);
        }
      }
    }
    return seen;
  }

  /** The first event of `type` (with state key "") among the event's auth events, if any. */
  authEventOfType(event: Pdu, type: string): Pdu | undefined {
    for (const a of event.auth_events) {
      const e = this.get(a);
      if (e.type === type && e.state_key === "") return e;
    }
    return undefined;
  }
}
