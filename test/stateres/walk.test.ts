// Auth events selection (https://spec.matrix.org/v1.19/server-server-api/#auth-events-selection)
// and the DAG walk that computes states before/after events.

import { describe, expect, test } from "vitest";
import {
  StateResInputError,
  authEventKeys,
  authorizeEvent,
  buildRoom,
  selectAuthEvents,
  stateKey,
  type PduInput,
} from "../../harness/stateres/index.ts";
import { ALICE, BOB, CAROL, DAVE, createEvent, member, pdu, readable, rulesOf, stateMap, storeOf, versions } from "./helpers.ts";

const keysOf = (e: Parameters<typeof authEventKeys>[0], v: number): string[] =>
  authEventKeys(e, rulesOf(v)).map((k) => `${k.type}|${k.stateKey}`);

describe("auth events selection", () => {
  test("the create event has no auth events", () => {
    for (const v of versions("1-12")) expect(keysOf(createEvent(v), v)).toEqual([]);
  });

  test("a message: create (before v12), power levels, the sender's membership", () => {
    const msg = pdu({ type: "m.room.message", sender: BOB });
    for (const v of versions("1-11")) expect(keysOf(msg, v)).toEqual(["m.room.create|", "m.room.power_levels|", `m.room.member|${BOB}`]);
    expect(keysOf(msg, 12)).toEqual(["m.room.power_levels|", `m.room.member|${BOB}`]);
  });

  test("membership: the target, and join rules for join, invite and knock only", () => {
    expect(keysOf(member(ALICE, BOB, "invite"), 10)).toEqual(["m.room.create|", "m.room.power_levels|", `m.room.member|${ALICE}`, `m.room.member|${BOB}`, "m.room.join_rules|"]);
    expect(keysOf(member(BOB, BOB, "knock"), 10)).toContain("m.room.join_rules|");
    expect(keysOf(member(BOB, BOB, "join"), 10)).toContain("m.room.join_rules|");
    expect(keysOf(member(ALICE, BOB, "ban"), 10)).not.toContain("m.room.join_rules|");
    expect(keysOf(member(BOB, BOB, "leave"), 10)).toEqual(["m.room.create|", "m.room.power_levels|", `m.room.member|${BOB}`]);
  });

  test("third-party invites add the m.room.third_party_invite named by the token", () => {
    const e = pdu({ type: "m.room.member", sender: ALICE, state_key: BOB, content: { membership: "invite", third_party_invite: { signed: { token: "abc", mxid: BOB } } } });
    expect(keysOf(e, 10)).toContain("m.room.third_party_invite|abc");
    const noToken = pdu({ type: "m.room.member", sender: ALICE, state_key: BOB, content: { membership: "invite", third_party_invite: {} } });
    expect(keysOf(noToken, 10).some((k) => k.startsWith("m.room.third_party_invite"))).toBe(false);
  });

  test("restricted joins add the authorising user's membership from v8", () => {
    const e = member(BOB, BOB, "join", { content: { membership: "join", join_authorised_via_users_server: CAROL } });
    for (const v of versions("1-7")) expect(keysOf(e, v)).not.toContain(`m.room.member|${CAROL}`);
    for (const v of versions("8-12")) expect(keysOf(e, v)).toContain(`m.room.member|${CAROL}`);
    const invite = member(ALICE, BOB, "invite", { content: { membership: "invite", join_authorised_via_users_server: CAROL } });
    expect(keysOf(invite, 10)).not.toContain(`m.room.member|${CAROL}`);
  });

  test("selection picks only what the state holds, without duplicates", () => {
    const create = createEvent(10);
    const aj = member(ALICE, ALICE, "join", { event_id: "$aj" });
    const state = stateMap([create, aj]);
    expect(selectAuthEvents(member(ALICE, ALICE, "leave"), state, rulesOf(10))).toEqual([create.event_id, "$aj"]);
  });

  test("selected auth events pass the auth-events-list rule (receipt check 4)", () => {
    const create = createEvent(12);
    const aj = member(ALICE, ALICE, "join", { event_id: "$aj", prev_events: [create.event_id] });
    const store = storeOf([create, aj]);
    const state = stateMap([create, aj]);
    const msg = pdu({ type: "m.room.message", sender: ALICE, auth_events: selectAuthEvents(pdu({ type: "m.room.message", sender: ALICE }), state, rulesOf(12)) });
    store.add(msg);
    expect(authorizeEvent(msg, "auth_events", store, rulesOf(12), { roomCreateId: create.event_id }).allowed).toBe(true);
    expect(authorizeEvent(msg, state, store, rulesOf(12), { roomCreateId: create.event_id }).allowed).toBe(true);
  });
});

const ev = (id: string, type: string, sk: string | undefined, sender: string, content: Record<string, unknown>, prev: string[], extra: Partial<PduInput> = {}): PduInput => ({
  event_id: id,
  type,
  ...(sk !== undefined ? { state_key: sk } : {}),
  sender,
  content,
  prev_events: prev,
  origin_server_ts: 0,
  ...extra,
});

const linear: PduInput[] = [
  ev("$c", "m.room.create", "", ALICE, { creator: ALICE }, []),
  ev("$aj", "m.room.member", ALICE, ALICE, { membership: "join" }, ["$c"]),
  ev("$pl", "m.room.power_levels", "", ALICE, { users: { [ALICE]: 100 } }, ["$aj"]),
  ev("$jr", "m.room.join_rules", "", ALICE, { join_rule: "public" }, ["$pl"]),
  ev("$m1", "m.room.message", undefined, ALICE, {}, ["$jr"]),
  ev("$bj", "m.room.member", BOB, BOB, { membership: "join" }, ["$m1"]),
  ev("$t", "m.room.topic", "", ALICE, { topic: "x" }, ["$bj"]),
];

describe("walking the DAG", () => {
  test("a linear history: the state after each event is the fold of its state events", () => {
    const room = buildRoom(linear, rulesOf(10), { keepStatesFor: ["$m1", "$t", "$c"] });
    expect(readable(room.stateAfter.get("$c")!)).toEqual({ "m.room.create|": "$c" });
    expect(Object.keys(readable(room.stateAfter.get("$m1")!))).toHaveLength(4);
    expect(readable(room.stateAfter.get("$t")!)).toEqual({
      "m.room.create|": "$c",
      "m.room.join_rules|": "$jr",
      [`m.room.member|${ALICE}`]: "$aj",
      [`m.room.member|${BOB}`]: "$bj",
      "m.room.power_levels|": "$pl",
      "m.room.topic|": "$t",
    });
  });

  test("missing auth events are selected from the state before each event", () => {
    const room = buildRoom(linear, rulesOf(10));
    expect(room.store.get("$bj").auth_events).toEqual(["$c", "$pl", "$jr"]);
    expect(room.store.get("$t").auth_events).toEqual(["$c", "$pl", "$aj"]);
    const v12 = buildRoom(linear, rulesOf(12));
    expect(v12.store.get("$t").auth_events).toEqual(["$pl", "$aj"]);
    expect(v12.store.get("$aj").auth_events).toEqual([]);
  });

  test("given auth events are kept as they are", () => {
    const events = linear.map((e) => (e.event_id === "$t" ? { ...e, auth_events: ["$c", "$aj"] } : e));
    expect(buildRoom(events, rulesOf(10)).store.get("$t").auth_events).toEqual(["$c", "$aj"]);
  });

  test("a fork is resolved where it merges", () => {
    const forked: PduInput[] = [
      ...linear,
      ev("$t2", "m.room.topic", "", ALICE, { topic: "y" }, ["$bj"], { origin_server_ts: 5 }),
      ev("$merge", "m.room.message", undefined, ALICE, {}, ["$t", "$t2"]),
    ];
    const room = buildRoom(forked, rulesOf(10), { keepStatesFor: ["$merge"] });
    // Same mainline position; $t2 has the later timestamp, so it is applied last and wins.
    expect(room.stateAfter.get("$merge")!.get(stateKey("m.room.topic", ""))).toBe("$t2");
  });

  test("keeping the state of an event does not let a later child change it", () => {
    const forked: PduInput[] = [...linear, ev("$n1", "m.room.name", "", ALICE, { name: "a" }, ["$m1"]), ev("$n2", "m.room.name", "", ALICE, { name: "b" }, ["$m1"])];
    const room = buildRoom(forked, rulesOf(10), { keepStatesFor: ["$m1", "$n1", "$n2", "$t"] });
    expect(room.stateAfter.get("$m1")!.has(stateKey("m.room.name", ""))).toBe(false);
    expect(room.stateAfter.get("$n1")!.get(stateKey("m.room.name", ""))).toBe("$n1");
    expect(room.stateAfter.get("$n2")!.get(stateKey("m.room.name", ""))).toBe("$n2");
    expect(room.stateAfter.get("$t")!.has(stateKey("m.room.name", ""))).toBe(false);
  });

  test.each([
    ["a missing prev event", [...linear, ev("$x", "m.room.message", undefined, ALICE, {}, ["$nope"])], /missing prev event \$nope/],
    ["a missing auth event", [...linear, ev("$x", "m.room.message", undefined, ALICE, {}, ["$t"], { auth_events: ["$nope"] })], /missing auth event \$nope/],
    ["an auth event that is not state", [...linear, ev("$x", "m.room.message", undefined, ALICE, {}, ["$t"], { auth_events: ["$m1"] })], /not a state event/],
    ["a duplicate event ID", [...linear, linear[1]!], /appears more than once/],
    ["two create events", [...linear, ev("$c2", "m.room.create", "", BOB, { creator: BOB }, [])], /more than one m\.room\.create/],
    ["a prev_events cycle", [...linear, ev("$y", "m.room.message", undefined, ALICE, {}, ["$z"]), ev("$z", "m.room.message", undefined, ALICE, {}, ["$y"])], /cycle/],
  ])("%s is bad input", (_name, events, message) => {
    expect(() => buildRoom(events as PduInput[], rulesOf(10))).toThrow(StateResInputError);
    expect(() => buildRoom(events as PduInput[], rulesOf(10))).toThrow(message as RegExp);
  });

  test("room v12 events must not list the create event as an auth event", () => {
    const events = linear.map((e) => (e.event_id === "$t" ? { ...e, auth_events: ["$c", "$aj"] } : e));
    expect(() => buildRoom(events, rulesOf(12))).toThrow(/lists the m\.room\.create event among its auth events/);
    expect(() => buildRoom(events, rulesOf(11))).not.toThrow();
  });

  test("room v12 needs the create event", () => {
    const noCreate = [{ ...linear[1]!, prev_events: [] }, ...linear.slice(2)];
    expect(() => buildRoom(noCreate, rulesOf(12))).toThrow(/needs the room's m\.room\.create/);
    expect(() => buildRoom(noCreate, rulesOf(11))).not.toThrow();
  });

  test("a long linear history walks without deep recursion", () => {
    const events: PduInput[] = [linear[0]!, linear[1]!];
    for (let i = 0; i < 20_000; i++) events.push(ev(`$m${i}x`, "m.room.message", undefined, ALICE, {}, [events[events.length - 1]!.event_id]));
    const last = events[events.length - 1]!.event_id;
    const room = buildRoom(events, rulesOf(10), { keepStatesFor: [last] });
    expect(room.stateAfter.get(last)!.size).toBe(2);
    expect(room.store.depth(last)).toBe(20_002);
    void DAVE;
  });
});
