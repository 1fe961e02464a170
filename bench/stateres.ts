// Benchmark of the state-resolution reference model (harness/stateres) on two synthetic rooms,
// built deterministically:
//
//   A. "10k room, 100 conflicted power events": 9,900 events of common history (2,000 members
//      joining, messages, a power-levels change every 100 events), then two branches of 50 power
//      events each (power-level changes, kicks and bans by two admins).
//   B. "2x2,500 conflicted memberships": a short common history, then two branches that each
//      carry 2,500 membership events for the same 2,500 users (so every one of those keys is
//      conflicted) with a power-levels change every 50 events on each branch.
//
// For each room: resolution time of the two branch tips' states, events per second, sizes of the
// conflicted and full conflicted sets, and peak memory (the process's maximum resident set size
// from process.resourceUsage(); resolution is synchronous, so a timer could not sample inside it).
// Run: npx tsx bench/stateres.ts   (add --expose-gc through NODE_OPTIONS for steadier figures).

import {
  EventStore,
  eventStateKey,
  resolveV2,
  selectAuthEvents,
  type Pdu,
  type StateMap,
  type V2Trace,
} from "../harness/stateres/index.ts";
import { roomVersion, type RoomVersionRules } from "../harness/crypto/index.ts";

interface Room {
  store: EventStore;
  sets: StateMap[];
  events: number;
}

/** Appends events to one branch, selecting auth events from the branch's running state. */
class Branch {
  state: Map<string, string>;
  tip: string;
  constructor(
    readonly store: EventStore,
    readonly rules: RoomVersionRules,
    state: Map<string, string>,
    tip: string,
  ) {
    this.state = new Map(state);
    this.tip = tip;
  }
  add(id: string, partial: Omit<Pdu, "event_id" | "prev_events" | "auth_events">): void {
    const draft = { ...partial, event_id: id, prev_events: this.tip ? [this.tip] : [] };
    const event: Pdu = { ...draft, auth_events: selectAuthEvents(draft, this.state, this.rules) };
    this.store.add(event);
    if (event.state_key !== undefined) this.state.set(eventStateKey(event), id);
    this.tip = id;
  }
  fork(): Branch {
    return new Branch(this.store, this.rules, this.state, this.tip);
  }
}

const user = (i: number): string => `@user${i}:server${i % 7}.example`;
const ADMIN = "@admin:server0.example";
const ADMIN2 = "@admin2:server1.example";

function begin(rules: RoomVersionRules, store: EventStore): Branch {
  const b = new Branch(store, rules, new Map(), "");
  b.add("$create", { type: "m.room.create", state_key: "", sender: ADMIN, content: { creator: ADMIN, room_version: rules.id }, origin_server_ts: 0 });
  b.add("$admin-join", { type: "m.room.member", state_key: ADMIN, sender: ADMIN, content: { membership: "join" }, origin_server_ts: 1 });
  b.add("$pl-0", { type: "m.room.power_levels", state_key: "", sender: ADMIN, content: plContent(0), origin_server_ts: 2 });
  b.add("$jr", { type: "m.room.join_rules", state_key: "", sender: ADMIN, content: { join_rule: "public" }, origin_server_ts: 3 });
  b.add("$admin2-join", { type: "m.room.member", state_key: ADMIN2, sender: ADMIN2, content: { membership: "join" }, origin_server_ts: 4 });
  return b;
}

// Room v12 forbids listing a creator in `users` (the creator's power is infinite anyway).
let listCreator = true;

function plContent(epoch: number, extra: Record<string, number> = {}): Record<string, unknown> {
  const admins = listCreator ? { [ADMIN]: 100, [ADMIN2]: 100 } : { [ADMIN2]: 100 };
  return { users: { ...admins, ...extra }, events: { "m.room.topic": 50 + (epoch % 10) } };
}

function roomA(rules: RoomVersionRules): Room {
  const store = new EventStore();
  const main = begin(rules, store);
  let ts = 10;
  let n = 5;
  let epoch = 0;
  let members = 0;
  while (n < 9_900) {
    if (n % 100 === 0) {
      main.add(`$pl-${++epoch}`, { type: "m.room.power_levels", state_key: "", sender: ADMIN, content: plContent(epoch), origin_server_ts: ts++ });
    } else if (n % 5 === 0 && members < 2_000) {
      const u = user(members++);
      main.add(`$join-${u}`, { type: "m.room.member", state_key: u, sender: u, content: { membership: "join" }, origin_server_ts: ts++ });
    } else {
      main.add(`$msg-${n}`, { type: "m.room.message", sender: user(n % Math.max(members, 1)), content: { body: `${n}` }, origin_server_ts: ts++ });
    }
    n++;
  }
  const left = main.fork();
  const right = main.fork();
  for (let i = 0; i < 50; i++) {
    // Left: the first admin changes power levels and kicks; right: the second admin bans.
    if (i % 2 === 0) {
      left.add(`$left-pl-${i}`, { type: "m.room.power_levels", state_key: "", sender: ADMIN, content: plContent(epoch + i, { [user(i)]: 10 + i }), origin_server_ts: ts + i });
      right.add(`$right-pl-${i}`, { type: "m.room.power_levels", state_key: "", sender: ADMIN2, content: plContent(epoch + i, { [user(i + 1)]: 20 + i }), origin_server_ts: ts + i });
    } else {
      left.add(`$left-kick-${i}`, { type: "m.room.member", state_key: user(100 + i), sender: ADMIN, content: { membership: "leave" }, origin_server_ts: ts + i });
      right.add(`$right-ban-${i}`, { type: "m.room.member", state_key: user(200 + i), sender: ADMIN2, content: { membership: "ban" }, origin_server_ts: ts + i });
    }
  }
  return { store, sets: [left.state, right.state], events: store.size };
}

function roomB(rules: RoomVersionRules): Room {
  const store = new EventStore();
  const main = begin(rules, store);
  const left = main.fork();
  const right = main.fork();
  let ts = 100;
  let epoch = 0;
  for (let i = 0; i < 2_500; i++) {
    const u = user(i);
    for (const [side, b] of [["l", left], ["r", right]] as const) {
      if (i % 50 === 0) {
        b.add(`$${side}-pl-${i}`, { type: "m.room.power_levels", state_key: "", sender: side === "l" ? ADMIN : ADMIN2, content: plContent(++epoch, { [u]: i % 100 }), origin_server_ts: ts });
      }
      b.add(`$${side}-join-${i}`, { type: "m.room.member", state_key: u, sender: u, content: { membership: "join", displayname: `${side}${i}` }, origin_server_ts: ts + (side === "l" ? 0 : 1) });
    }
    ts += 2;
  }
  return { store, sets: [left.state, right.state], events: store.size };
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

function bench(name: string, build: () => Room, rules: RoomVersionRules): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const room = build();
  gc?.();
  const rssBefore = process.memoryUsage().rss;
  const trace: V2Trace = {};
  const start = performance.now();
  const resolved = resolveV2(room.sets, room.store, rules, {}, trace);
  const ms = performance.now() - start;
  const rssAfter = process.memoryUsage().rss;
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(`${name} (room version ${rules.id})`);
  console.log(`  events in room:          ${room.events}`);
  console.log(`  conflicted state events: ${trace.conflicted?.size ?? 0}`);
  console.log(`  full conflicted set:     ${trace.fullConflictedSet?.size ?? 0}`);
  console.log(`  power events sorted:     ${trace.powerOrder?.length ?? 0}`);
  console.log(`  resolved state entries:  ${resolved.size}`);
  console.log(`  resolution time:         ${ms.toFixed(1)} ms`);
  console.log(`  events per second:       ${Math.round(room.events / (ms / 1000)).toLocaleString("en-US")} (room events / resolution time)`);
  console.log(`  rss before / after:      ${mb(rssBefore)} / ${mb(rssAfter)}`);
  console.log(`  peak rss of the process: ${mb(peak)}`);
}

for (const id of ["11", "12"]) {
  const rules = roomVersion(id)!;
  listCreator = !rules.auth.infiniteCreatorPower;
  bench("A: 10k-event room, 100 conflicted power events", () => roomA(rules), rules);
  bench("B: two branches of 2,500 conflicted memberships with power-level churn", () => roomB(rules), rules);
}
