// State resolution v2 step by step (https://spec.matrix.org/v1.19/rooms/v2/#state-resolution),
// and each reading v2.ts takes where the text leaves a choice (R1-R9), at its boundary.

import { describe, expect, test } from "vitest";
import {
  EventStore,
  StateResInputError,
  authDifference,
  buildRoom,
  compareCodePoints,
  isPowerEvent,
  iterativeAuthChecks,
  mainlineOf,
  mainlineOrder,
  partitionStates,
  resolveState,
  resolveV2,
  reverseTopologicalPowerOrder,
  senderPowerFromAuthEvents,
  stateKey,
  type Pdu,
  type PduInput,
  type V2Trace,
} from "../../harness/stateres/index.ts";
import { ALICE, BOB, CAROL, DAVE, createEvent, member, pdu, readable, rulesOf, stateMap } from "./helpers.ts";

const v10 = rulesOf(10);

/** A small room: create, alice joins (creator, 100), power levels, public join rules, bob joins (50). */
function baseRoom(): { events: Pdu[]; create: Pdu; aliceJoin: Pdu; pl: Pdu; jr: Pdu; bobJoin: Pdu } {
  const create = createEvent(10, ALICE, { origin_server_ts: 1 });
  const aliceJoin = member(ALICE, ALICE, "join", { event_id: "$aj", prev_events: [create.event_id], auth_events: [create.event_id], origin_server_ts: 2 });
  const pl = pdu({
    event_id: "$pl0",
    type: "m.room.power_levels",
    state_key: "",
    sender: ALICE,
    content: { users: { [ALICE]: 100, [BOB]: 50 } },
    prev_events: ["$aj"],
    auth_events: [create.event_id, "$aj"],
    origin_server_ts: 3,
  });
  const jr = pdu({
    event_id: "$jr",
    type: "m.room.join_rules",
    state_key: "",
    sender: ALICE,
    content: { join_rule: "public" },
    prev_events: ["$pl0"],
    auth_events: [create.event_id, "$aj", "$pl0"],
    origin_server_ts: 4,
  });
  const bobJoin = member(BOB, BOB, "join", { event_id: "$bj", prev_events: ["$jr"], auth_events: [create.event_id, "$pl0", "$jr"], origin_server_ts: 5 });
  return { events: [create, aliceJoin, pl, jr, bobJoin], create, aliceJoin, pl, jr, bobJoin };
}

describe("definitions", () => {
  test("power events: power levels, join rules, kicks and bans; not own leaves, joins, or the create event", () => {
    expect(isPowerEvent(pdu({ type: "m.room.power_levels", state_key: "", sender: ALICE }))).toBe(true);
    expect(isPowerEvent(pdu({ type: "m.room.join_rules", state_key: "", sender: ALICE }))).toBe(true);
    expect(isPowerEvent(member(ALICE, BOB, "leave"))).toBe(true);
    expect(isPowerEvent(member(ALICE, BOB, "ban"))).toBe(true);
    expect(isPowerEvent(member(BOB, BOB, "leave"))).toBe(false);
    expect(isPowerEvent(member(BOB, BOB, "ban"))).toBe(false);
    expect(isPowerEvent(member(ALICE, BOB, "invite"))).toBe(false);
    expect(isPowerEvent(createEvent(10))).toBe(false);
    expect(isPowerEvent(pdu({ type: "m.room.topic", state_key: "", sender: ALICE }))).toBe(false);
    // R10: by type, whatever the state key; a message is never a power event.
    expect(isPowerEvent(pdu({ type: "m.room.power_levels", state_key: "x", sender: ALICE }))).toBe(true);
    expect(isPowerEvent(pdu({ type: "m.room.join_rules", sender: ALICE }))).toBe(false);
  });

  test("R2: a key missing from one state set is conflicted, not unconflicted", () => {
    const a = new Map([["k1", "$x"], ["k2", "$y"]]);
    const b = new Map([["k1", "$x"]]);
    const { unconflicted, conflicted, conflictedKeys } = partitionStates([a, b]);
    expect([...unconflicted]).toEqual([["k1", "$x"]]);
    expect([...conflicted]).toEqual(["$y"]);
    expect([...conflictedKeys]).toEqual(["k2"]);
  });

  test("conflicted state set holds every differing value", () => {
    const { conflicted } = partitionStates([new Map([["k", "$a"]]), new Map([["k", "$b"]]), new Map([["k", "$a"]])]);
    expect([...conflicted].sort()).toEqual(["$a", "$b"]);
  });

  test("R1: auth chains exclude the event itself, so an unconflicted event can be in the auth difference", () => {
    const { events, bobJoin } = baseRoom();
    const topic = pdu({ event_id: "$topic", type: "m.room.topic", state_key: "", sender: BOB, content: {}, auth_events: ["$create:example.com", "$pl0", "$bj"] });
    const store = new EventStore([...events, topic]);
    // Both sets hold bob's join; only the first holds an event whose auth events name it.
    const s1 = stateMap([...events, topic]);
    const s2 = stateMap(events);
    const diff = authDifference([s1, s2], store);
    expect(diff.has(bobJoin.event_id)).toBe(true);
    // Taken the other way (an event in its own chain, as the differential classifier tries), both
    // sets' chains hold the join and it leaves the auth difference.
    expect(authDifference([s1, s2], store, true).has(bobJoin.event_id)).toBe(false);
    expect(partitionStates([s1, s2]).unconflicted.get(stateKey("m.room.member", BOB))).toBe(bobJoin.event_id);
    // The event's own chain does not include it.
    expect(store.authChain(bobJoin.event_id).has(bobJoin.event_id)).toBe(false);
    expect([...store.authChain(bobJoin.event_id)].sort()).toEqual(["$aj", "$create:example.com", "$jr", "$pl0"]);
  });

  test("auth difference is empty for identical sets and symmetric in their order", () => {
    const { events } = baseRoom();
    const store = new EventStore(events);
    const s = stateMap(events);
    expect(authDifference([s, s], store).size).toBe(0);
    const t = stateMap(events.slice(0, 3));
    expect([...authDifference([s, t], store)].sort()).toEqual([...authDifference([t, s], store)].sort());
  });
});

describe("reverse topological power ordering", () => {
  const { events, create } = baseRoom();
  const carolJoin = member(CAROL, CAROL, "join", { event_id: "$cj", auth_events: ["$create:example.com", "$pl0", "$jr"], origin_server_ts: 6 });
  const plBy = (id: string, sender: string, ts: number, auth: string[]): Pdu =>
    pdu({ event_id: id, type: "m.room.power_levels", state_key: "", sender, content: { users: { [ALICE]: 100, [BOB]: 50 } }, auth_events: auth, origin_server_ts: ts });

  test("sender power first, then earlier timestamp, then smaller event ID", () => {
    const p1 = plBy("$b", BOB, 10, ["$create:example.com", "$pl0", "$bj"]); // power 50
    const p2 = plBy("$a", BOB, 10, ["$create:example.com", "$pl0", "$bj"]); // power 50, smaller ID
    const p3 = plBy("$c", ALICE, 99, ["$create:example.com", "$pl0", "$aj"]); // power 100, late
    const p4 = plBy("$d", CAROL, 1, ["$create:example.com", "$pl0", "$cj"]); // power 0, early
    const p5 = plBy("$e", BOB, 9, ["$create:example.com", "$pl0", "$bj"]); // power 50, earlier
    const store = new EventStore([...events, carolJoin, p1, p2, p3, p4, p5]);
    const order = reverseTopologicalPowerOrder(new Set(["$a", "$b", "$c", "$d", "$e"]), store, v10, undefined);
    expect(order).toEqual(["$c", "$e", "$a", "$b", "$d"]);
  });

  test("the auth DAG comes first: a low-power parent precedes its high-power child", () => {
    const low = plBy("$low", CAROL, 50, ["$create:example.com", "$pl0", "$cj"]);
    const high = plBy("$high", ALICE, 1, ["$create:example.com", "$low", "$aj"]);
    const store = new EventStore([...events, carolJoin, low, high]);
    expect(reverseTopologicalPowerOrder(new Set(["$high", "$low"]), store, v10, undefined)).toEqual(["$low", "$high"]);
  });

  test("R4: ancestry through an event outside the set still orders the set", () => {
    // $x (power 0) <- $mid (not sorted) <- $y (power 100): $x must come first.
    const x = plBy("$x", CAROL, 50, ["$create:example.com", "$pl0", "$cj"]);
    const mid = member(ALICE, DAVE, "invite", { event_id: "$mid", auth_events: ["$create:example.com", "$x", "$aj", "$jr"], origin_server_ts: 51 });
    const y = member(ALICE, BOB, "ban", { event_id: "$y", auth_events: ["$create:example.com", "$mid", "$aj", "$bj"], origin_server_ts: 1 });
    const store = new EventStore([...events, carolJoin, x, mid, y]);
    expect(reverseTopologicalPowerOrder(new Set(["$x", "$y"]), store, v10, undefined)).toEqual(["$x", "$y"]);
  });

  test("R5: power from the event's own auth events; creator 100 without power levels (v1-v11), infinite in v12", () => {
    const store = new EventStore(events);
    const noPl = member(ALICE, BOB, "invite", { auth_events: ["$create:example.com", "$aj"] });
    store.add(noPl);
    expect(senderPowerFromAuthEvents(noPl, store, v10, undefined)).toBe(100);
    const byBob = pdu({ type: "m.room.topic", state_key: "", sender: BOB, auth_events: ["$create:example.com", "$pl0", "$bj"] });
    store.add(byBob);
    expect(senderPowerFromAuthEvents(byBob, store, v10, undefined)).toBe(50);
    const v12create = createEvent(12, ALICE, { event_id: "$c12" });
    const v12event = pdu({ type: "m.room.topic", state_key: "", sender: ALICE, auth_events: ["$pl0"] });
    store.add(v12create);
    store.add(v12event);
    expect(senderPowerFromAuthEvents(v12event, store, rulesOf(12), v12create)).toBe(Number.POSITIVE_INFINITY);
    void create;
  });

  test("R8: event IDs compare by code point, not locale (\"$B\" < \"$a\")", () => {
    const p1 = plBy("$apple", BOB, 10, ["$create:example.com", "$pl0", "$bj"]);
    const p2 = plBy("$Banana", BOB, 10, ["$create:example.com", "$pl0", "$bj"]);
    const store = new EventStore([...events, p1, p2]);
    expect(reverseTopologicalPowerOrder(new Set(["$apple", "$Banana"]), store, v10, undefined)).toEqual(["$Banana", "$apple"]);
    expect("$apple".localeCompare("$Banana")).toBeLessThan(0); // what a locale-aware sort would do
    expect(compareCodePoints("\u{1F600}", "\uFFFF")).toBeGreaterThan(0); // astral above the BMP
  });
});

describe("mainline ordering", () => {
  // P0 <- P1 <- P2 is the mainline of P2. Q hangs off P1 but is not on the mainline.
  const { events } = baseRoom();
  const pl = (id: string, parent: string, ts: number): Pdu =>
    pdu({ event_id: id, type: "m.room.power_levels", state_key: "", sender: ALICE, content: { users: { [ALICE]: 100 } }, auth_events: ["$create:example.com", parent, "$aj"], origin_server_ts: ts });
  const p1 = pl("$p1", "$pl0", 10);
  const p2 = pl("$p2", "$p1", 20);
  const q = pl("$q", "$p1", 21);
  const topic = (id: string, plId: string | undefined, ts: number): Pdu =>
    pdu({ event_id: id, type: "m.room.topic", state_key: "", sender: ALICE, content: {}, auth_events: ["$create:example.com", "$aj", ...(plId ? [plId] : [])], origin_server_ts: ts });
  const store = new EventStore([...events, p1, p2, q]);

  test("the mainline of a power levels event", () => {
    expect(mainlineOf("$p2", store)).toEqual(["$p2", "$p1", "$pl0"]);
    expect(mainlineOf(undefined, store)).toEqual([]);
  });

  test("position: greater first; no mainline event = before all; the event itself not counted", () => {
    const onP0 = topic("$t_p0", "$pl0", 1); // position 2
    const onP2 = topic("$t_p2", "$p2", 2); // position 0
    const onQ = topic("$t_q", "$q", 3); // Q is off the mainline, its parent P1 is on it: position 1
    const noPl = topic("$t_none", undefined, 99); // reaches nothing: position infinity
    for (const e of [onP0, onP2, onQ, noPl]) store.add(e);
    // P1 itself as an event: its walk starts at its own power-levels auth event P0, position 2.
    const order = mainlineOrder(["$t_p2", "$t_q", "$p1", "$t_none", "$t_p0"], "$p2", store);
    expect(order).toEqual(["$t_none", "$t_p0", "$p1", "$t_q", "$t_p2"]);
  });

  test("equal positions: earlier timestamp, then smaller event ID", () => {
    const a = topic("$zz", "$p2", 5);
    const b = topic("$aa", "$p2", 6);
    const c = topic("$ab", "$p2", 6);
    for (const e of [a, b, c]) store.add(e);
    expect(mainlineOrder(["$ab", "$aa", "$zz"], "$p2", store)).toEqual(["$zz", "$aa", "$ab"]);
  });

  test("without power levels in the partial state every position is infinite", () => {
    const a = topic("$m1", "$p2", 7);
    const b = topic("$m2", "$pl0", 8);
    for (const e of [a, b]) store.add(e);
    expect(mainlineOrder(["$m2", "$m1"], undefined, store)).toEqual(["$m1", "$m2"]);
  });
});

describe("iterative auth checks", () => {
  const { events, create } = baseRoom();
  const store = new EventStore(events);
  const state = stateMap(events);

  test("a failed check drops the event and the next one is still checked", () => {
    const bad = pdu({ event_id: "$bad", type: "m.room.name", state_key: "", sender: DAVE, auth_events: ["$create:example.com", "$pl0"] });
    const good = pdu({ event_id: "$good", type: "m.room.topic", state_key: "", sender: ALICE, auth_events: ["$create:example.com", "$pl0", "$aj"] });
    store.add(bad);
    store.add(good);
    const out = iterativeAuthChecks(state, ["$bad", "$good"], store, v10);
    expect(out.has(stateKey("m.room.name", ""))).toBe(false);
    expect(out.get(stateKey("m.room.topic", ""))).toBe("$good");
  });

  test("keys missing from the state come from the event's auth events", () => {
    const t = pdu({ event_id: "$t1", type: "m.room.topic", state_key: "", sender: BOB, auth_events: ["$create:example.com", "$pl0", "$bj"] });
    store.add(t);
    // An empty state: the create event, power levels and bob's membership come from $t1's auth events.
    const out = iterativeAuthChecks(new Map(), ["$t1"], store, v10);
    expect(out.get(stateKey("m.room.topic", ""))).toBe("$t1");
  });

  test("a key present in the state wins over the event's auth events", () => {
    const t = pdu({ event_id: "$t2", type: "m.room.topic", state_key: "", sender: BOB, auth_events: ["$create:example.com", "$pl0", "$bj"] });
    const kicked = member(ALICE, BOB, "leave", { event_id: "$kick", auth_events: ["$create:example.com", "$pl0", "$aj", "$bj"] });
    store.add(t);
    store.add(kicked);
    const out = iterativeAuthChecks(new Map([[stateKey("m.room.member", BOB), "$kick"]]), ["$t2"], store, v10);
    expect(out.has(stateKey("m.room.topic", ""))).toBe(false);
  });

  test("rejected auth events are never used; a rejected state entry counts as absent", () => {
    const t = pdu({ event_id: "$t3", type: "m.room.topic", state_key: "", sender: BOB, auth_events: ["$create:example.com", "$pl0", "$bj"] });
    store.add(t);
    const rejected = (id: string): boolean => id === "$bj";
    expect(iterativeAuthChecks(new Map(), ["$t3"], store, v10, { isRejected: rejected }).size).toBe(0);
    const withState = new Map([[stateKey("m.room.member", BOB), "$bj"]]);
    expect(iterativeAuthChecks(withState, ["$t3"], store, v10, { isRejected: rejected }).has(stateKey("m.room.topic", ""))).toBe(false);
    void create;
  });
});

describe("the whole algorithm", () => {
  // A history with forks, auth events selected by the walk.
  const ev = (id: string, type: string, sk: string | undefined, sender: string, content: Record<string, unknown>, prev: string[], ts: number): PduInput => ({
    event_id: id,
    type,
    ...(sk !== undefined ? { state_key: sk } : {}),
    sender,
    content,
    prev_events: prev,
    origin_server_ts: ts,
  });
  const history = (version: number): PduInput[] => [
    ev("$create", "m.room.create", "", ALICE, { creator: ALICE }, [], 1),
    ev("$aj", "m.room.member", ALICE, ALICE, { membership: "join" }, ["$create"], 2),
    ev("$pl0", "m.room.power_levels", "", ALICE, { users: version >= 12 ? { [BOB]: 50 } : { [ALICE]: 100, [BOB]: 50 } }, ["$aj"], 3),
    ev("$jr", "m.room.join_rules", "", ALICE, { join_rule: "public" }, ["$pl0"], 4),
    ev("$bj", "m.room.member", BOB, BOB, { membership: "join" }, ["$jr"], 5),
    ev("$cj", "m.room.member", CAROL, CAROL, { membership: "join" }, ["$bj"], 6),
    // Fork: alice demotes bob; bob concurrently bans carol.
    ev("$pl1", "m.room.power_levels", "", ALICE, { users: version >= 12 ? { [BOB]: 0 } : { [ALICE]: 100, [BOB]: 0 } }, ["$cj"], 10),
    ev("$ban", "m.room.member", CAROL, BOB, { membership: "ban" }, ["$cj"], 11),
  ];

  for (const version of [2, 10, 11, 12]) {
    test(`v${version}: each step of a ban racing a demotion`, () => {
      const rules = rulesOf(version);
      const room = buildRoom(history(version), rules, { keepStatesFor: ["$pl1", "$ban"] });
      const trace: V2Trace = {};
      const sets = [room.stateAfter.get("$pl1")!, room.stateAfter.get("$ban")!];
      const out = resolveV2(sets, room.store, rules, { roomCreateId: "$create" }, trace);
      expect([...trace.conflicted!].sort()).toEqual(["$ban", "$cj", "$pl0", "$pl1"]);
      // R1: bob's join is unconflicted, but only the ban's auth events name it.
      expect([...trace.authDifference!].sort()).toEqual(["$bj", "$cj"]);
      if (version === 12) {
        // v2.1: the join rules lie on auth paths from the ban to $pl0 (via the joins), so the
        // conflicted state subgraph brings them into the full conflicted set; they are a power event.
        expect([...trace.conflictedSubgraph!].sort()).toEqual(["$ban", "$bj", "$cj", "$jr", "$pl0", "$pl1"]);
        expect(trace.powerOrder).toEqual(["$pl0", "$jr", "$pl1", "$bj", "$cj", "$ban"]);
      } else {
        expect(trace.conflictedSubgraph!.size).toBe(0);
        expect(trace.powerOrder).toEqual(["$pl0", "$pl1", "$bj", "$cj", "$ban"]);
      }
      expect(trace.partiallyResolved!.get(stateKey("m.room.power_levels", ""))).toBe("$pl1");
      expect(trace.partiallyResolved!.get(stateKey("m.room.member", CAROL))).toBe("$cj");
      expect(trace.mainline).toEqual(["$pl1", "$pl0"]);
      expect(trace.mainlineOrder).toEqual([]);
      expect(out.get(stateKey("m.room.member", CAROL))).toBe("$cj");
      expect(out.get(stateKey("m.room.power_levels", ""))).toBe("$pl1");
      if (version === 12) {
        expect(trace.partiallyResolved!.has(stateKey("m.room.create", ""))).toBe(false);
        expect(trace.fullConflictedSet!.has("$create")).toBe(false);
      }
    });
  }

  test("R3: step 1 takes the power events' whole auth chains, even through events outside the full conflicted set", () => {
    // Bob's join $j1 is conflicted (bob renames himself on one branch). The kick's auth chain
    // reaches $j1 only through bob's power-levels change $pl1, which every branch holds and cites
    // (so it is outside the full conflicted set). $j1 is still sorted with the power events.
    const h: PduInput[] = [
      ev("$create", "m.room.create", "", ALICE, { creator: ALICE }, [], 1),
      ev("$aj", "m.room.member", ALICE, ALICE, { membership: "join" }, ["$create"], 2),
      ev("$pl0", "m.room.power_levels", "", ALICE, { users: { [ALICE]: 100, [BOB]: 100 } }, ["$aj"], 3),
      ev("$jr", "m.room.join_rules", "", ALICE, { join_rule: "public" }, ["$pl0"], 4),
      ev("$j1", "m.room.member", BOB, BOB, { membership: "join" }, ["$jr"], 5),
      ev("$pl1", "m.room.power_levels", "", BOB, { users: { [ALICE]: 100, [BOB]: 100, [CAROL]: 1 } }, ["$j1"], 6),
      ev("$cj", "m.room.member", CAROL, CAROL, { membership: "join" }, ["$pl1"], 7),
      ev("$kick", "m.room.member", CAROL, ALICE, { membership: "leave" }, ["$cj"], 8),
      ev("$j2", "m.room.member", BOB, BOB, { membership: "join", displayname: "B" }, ["$cj"], 9),
    ];
    const rules = rulesOf(10);
    const room = buildRoom(h, rules, { keepStatesFor: ["$kick", "$j2"] });
    const trace: V2Trace = {};
    resolveV2([room.stateAfter.get("$kick")!, room.stateAfter.get("$j2")!], room.store, rules, {}, trace);
    expect(trace.fullConflictedSet!.has("$pl1")).toBe(false);
    expect(trace.fullConflictedSet!.has("$j1")).toBe(true);
    expect(new Set(trace.powerOrder)).toEqual(new Set(["$kick", "$cj", "$j1"]));
    expect(trace.mainlineOrder).toEqual(["$j2"]);
    // Walking auth edges only inside the full conflicted set (R3 the other way) leaves $j1 to step 3.
    const inside: V2Trace = {};
    resolveV2([room.stateAfter.get("$kick")!, room.stateAfter.get("$j2")!], room.store, rules, { readings: { step1InsideOnly: true } }, inside);
    expect(new Set(inside.powerOrder)).toEqual(new Set(["$kick", "$cj"]));
    expect(new Set(inside.mainlineOrder)).toEqual(new Set(["$j1", "$j2"]));
  });

  test("step 5: the unconflicted state map has the last word", () => {
    const rules = rulesOf(10);
    const room = buildRoom(history(10), rules, { keepStatesFor: ["$pl1", "$ban"] });
    const out = resolveState([room.stateAfter.get("$pl1")!, room.stateAfter.get("$ban")!], room.store, rules);
    for (const [k, v] of partitionStates([room.stateAfter.get("$pl1")!, room.stateAfter.get("$ban")!]).unconflicted) {
      expect(out.get(k)).toBe(v);
    }
  });

  test("one state set, or the same one twice, resolves to itself", () => {
    const rules = rulesOf(10);
    const room = buildRoom(history(10), rules, { keepStatesFor: ["$ban"] });
    const s = room.stateAfter.get("$ban")!;
    expect(readable(resolveState([s], room.store, rules))).toEqual(readable(s));
    expect(readable(resolveState([s, s], room.store, rules))).toEqual(readable(s));
  });

  test("R9: v12 state sets must agree on the create event", () => {
    const rules = rulesOf(12);
    const room = buildRoom(history(12), rules, { keepStatesFor: ["$pl1", "$ban"] });
    const a = room.stateAfter.get("$pl1")!;
    const b = new Map(room.stateAfter.get("$ban")!);
    b.delete(stateKey("m.room.create", ""));
    expect(() => resolveState([a, b], room.store, rules)).toThrow(StateResInputError);
    expect(() => resolveState([a, b], room.store, rulesOf(11))).not.toThrow();
  });

  test("a cycle in auth events is bad input", () => {
    const a = pdu({ event_id: "$ca", type: "m.room.power_levels", state_key: "", sender: ALICE, auth_events: ["$cb"] });
    const b = pdu({ event_id: "$cb", type: "m.room.power_levels", state_key: "", sender: ALICE, auth_events: ["$ca"] });
    const store = new EventStore([a, b]);
    expect(() => reverseTopologicalPowerOrder(new Set(["$ca", "$cb"]), store, v10, undefined)).toThrow(StateResInputError);
  });
});
