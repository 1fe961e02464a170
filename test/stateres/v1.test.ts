// State resolution v1 (https://spec.matrix.org/v1.19/rooms/v1/#state-resolution) and the
// readings Q1-Q6 of v1.ts at their boundaries.

import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { EventStore, resolveV1, stateKey, type Pdu, type V1Trace } from "../../harness/stateres/index.ts";
import { ALICE, BOB, CAROL, createEvent, member, pdu, rulesOf, stateMap } from "./helpers.ts";

const v1 = rulesOf(1);
const sha1 = (id: string): string => createHash("sha1").update(id, "utf8").digest("hex");

const create = createEvent(1, ALICE, { depth: 1 });
const aliceJoin = member(ALICE, ALICE, "join", { event_id: "$aj:example.com", depth: 2 });
const pl0 = pdu({ event_id: "$pl0:example.com", type: "m.room.power_levels", state_key: "", sender: ALICE, content: { users: { [ALICE]: 100, [BOB]: 50 } }, depth: 3 });
const jr = pdu({ event_id: "$jr:example.com", type: "m.room.join_rules", state_key: "", sender: ALICE, content: { join_rule: "public" }, depth: 4 });
const bobJoin = member(BOB, BOB, "join", { event_id: "$bj:example.com", depth: 5 });
const carolJoin = member(CAROL, CAROL, "join", { event_id: "$cj:example.com", depth: 6 });
const base = [create, aliceJoin, pl0, jr, bobJoin, carolJoin];

const pl = (id: string, sender: string, users: Record<string, number>, depth: number): Pdu =>
  pdu({ event_id: id, type: "m.room.power_levels", state_key: "", sender, content: { users }, depth });
const topic = (id: string, sender: string, depth: number): Pdu =>
  pdu({ event_id: id, type: "m.room.topic", state_key: "", sender, content: { topic: id }, depth });

function resolve(sets: Pdu[][], extra: Pdu[] = [], trace?: V1Trace): Map<string, string> {
  const store = new EventStore([...base, ...extra, ...sets.flat()]);
  return resolveV1(sets.map(stateMap), store, v1, {}, trace);
}

describe("state resolution v1", () => {
  test("Q1: a key only some states hold is not a conflict; the union keeps it", () => {
    const t = topic("$t:example.com", ALICE, 7);
    const out = resolve([[...base, t], base]);
    expect(out.get(stateKey("m.room.topic", ""))).toBe("$t:example.com");
  });

  test("power levels: the smaller depth goes in first, the next must pass auth in R", () => {
    const ok = pl("$ok:example.com", ALICE, { [ALICE]: 100, [BOB]: 50, [CAROL]: 10 }, 9);
    expect(resolve([[...base, ok], base]).get(stateKey("m.room.power_levels", ""))).toBe("$ok:example.com");
    // Bob (50) cannot raise carol to 60 under $pl0: the list stops at $pl0.
    const bad = pl("$bad:example.com", BOB, { [ALICE]: 100, [BOB]: 50, [CAROL]: 60 }, 9);
    expect(resolve([[...base, bad], base]).get(stateKey("m.room.power_levels", ""))).toBe("$pl0:example.com");
  });

  test("Q3: the first failure ends the list, even if a later event would pass", () => {
    const a = pl("$pa:example.com", BOB, { [ALICE]: 100, [BOB]: 50, [CAROL]: 99 }, 8); // fails against $pl0
    const b = pl("$pb:example.com", ALICE, { [ALICE]: 100, [BOB]: 50, [CAROL]: 1 }, 9); // would pass
    expect(resolve([[...base, a], [...base, b], base]).get(stateKey("m.room.power_levels", ""))).toBe("$pl0:example.com");
  });

  test("Q3/Q5: equal depths go by descending sha1 of the event ID; the last one accepted wins", () => {
    const ids = ["$x1:example.com", "$x2:example.com"];
    const events = ids.map((id) => pl(id, ALICE, { [ALICE]: 100, [BOB]: 50 }, 8));
    const [greater, smaller] = [...ids].sort((p, q) => (sha1(p) > sha1(q) ? -1 : 1));
    // $pl0 (depth 3) first, then the greater sha1, then the smaller sha1: all pass, smaller wins.
    const out = resolve([[...base, events[0]!], [...base, events[1]!]]);
    expect(out.get(stateKey("m.room.power_levels", ""))).toBe(smaller);
    expect(greater).not.toBe(smaller);
  });

  test("other events: the greatest depth that passes auth in R", () => {
    const deep = topic("$deep:example.com", CAROL, 20); // carol (0) may not set the topic
    const mid = topic("$mid:example.com", ALICE, 15);
    const shallow = topic("$shallow:example.com", ALICE, 10);
    const trace: V1Trace = {};
    const out = resolve([[...base, deep], [...base, mid], [...base, shallow]], [], trace);
    expect(out.get(stateKey("m.room.topic", ""))).toBe("$mid:example.com");
    expect(trace.picked?.get(stateKey("m.room.topic", ""))).toBe("$mid:example.com");
  });

  test("other events at equal depth: the smallest sha1 that passes", () => {
    const ids = ["$y1:example.com", "$y2:example.com", "$y3:example.com"];
    const topics = ids.map((id) => topic(id, ALICE, 12));
    const smallest = [...ids].sort((p, q) => (sha1(p) < sha1(q) ? -1 : 1))[0];
    expect(resolve(topics.map((t) => [...base, t])).get(stateKey("m.room.topic", ""))).toBe(smallest);
  });

  test("Q4: when no conflicting event passes, the key is left out", () => {
    const a = topic("$ta:example.com", CAROL, 12);
    const b = topic("$tb:example.com", CAROL, 13);
    expect(resolve([[...base, a], [...base, b]]).has(stateKey("m.room.topic", ""))).toBe(false);
  });

  test("members are resolved after power levels and join rules, against the resolved R", () => {
    // One side demotes bob; the other has bob kick carol. The kick is checked against the new levels.
    const demote = pl("$demote:example.com", ALICE, { [ALICE]: 100, [BOB]: 0 }, 8);
    const kick = member(BOB, CAROL, "leave", { event_id: "$kick:example.com", depth: 9 });
    const out = resolve([[...base, demote], [...base, kick]]);
    expect(out.get(stateKey("m.room.power_levels", ""))).toBe("$demote:example.com");
    expect(out.get(stateKey("m.room.member", CAROL))).toBe("$cj:example.com");
  });

  test("Q2: member keys do not see each other's results within the pass", () => {
    // Bob renames himself on one side; on the other, bob kicks carol. Bob's key resolves to his
    // rename (still joined), but carol's key is checked against R from before the member pass,
    // where bob's key is conflicted and so absent: the kick fails. Had bob's key been resolved and
    // added first, the kick would pass; Q2 makes the answer independent of key order.
    const rename = member(BOB, BOB, "join", { event_id: "$bj2:example.com", depth: 9, content: { membership: "join", displayname: "B" } });
    const kick = member(BOB, CAROL, "leave", { event_id: "$kick2:example.com", depth: 9 });
    const out = resolve([[...base, rename], [...base, kick]]);
    expect(out.get(stateKey("m.room.member", BOB))).toBe("$bj2:example.com");
    expect(out.get(stateKey("m.room.member", CAROL))).toBe("$cj:example.com");
  });

  test("the result does not depend on the order of the state sets", () => {
    const a = [...base, pl("$p1:example.com", ALICE, { [ALICE]: 100 }, 8), topic("$t1:example.com", ALICE, 9)];
    const b = [...base, pl("$p2:example.com", ALICE, { [ALICE]: 100, [BOB]: 1 }, 8), topic("$t2:example.com", BOB, 9)];
    expect([...resolve([a, b])].sort()).toEqual([...resolve([b, a])].sort());
  });

  test("depth is derived from prev_events when absent", () => {
    const store = new EventStore([
      pdu({ event_id: "$r", type: "m.room.create", state_key: "", sender: ALICE }),
      pdu({ event_id: "$s", type: "m.room.message", sender: ALICE, prev_events: ["$r"] }),
      pdu({ event_id: "$t", type: "m.room.message", sender: ALICE, prev_events: ["$r", "$s"] }),
      pdu({ event_id: "$u", type: "m.room.message", sender: ALICE, prev_events: ["$t"], depth: 40 }),
      pdu({ event_id: "$w", type: "m.room.message", sender: ALICE, prev_events: ["$u"] }),
    ]);
    expect(["$r", "$s", "$t", "$u", "$w"].map((id) => store.depth(id))).toEqual([1, 2, 3, 40, 41]);
  });
});
