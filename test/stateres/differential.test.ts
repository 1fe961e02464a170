// The pure helpers of the differential state-resolution suite (harness/stateres/differential.ts):
// seeded forks, operations as events, the model's answer, per-key comparison, the reading of a
// difference and the replayable scenario.
import { describe, expect, it } from "vitest";
import {
  classify,
  compareStates,
  modelAnswer,
  opEvent,
  randomFork,
  scenarioFor,
  seededRandom,
  stateFromClientEvents,
  stateFromIds,
} from "../../harness/stateres/differential.ts";
import { runScenario } from "../../harness/stateres/scenario.ts";
import { stateKey, type PduInput } from "../../harness/stateres/index.ts";
import { rulesOf } from "./helpers.ts";

const A = "@alice:a.example";
const B = "@bob:b.example";

/** v10: alice creates (100), bob (50) joins; fork: alice demotes bob / bob sets the topic. */
function room(): { events: PduInput[]; tips: [string, string] } {
  const e = (id: string, type: string, sender: string, content: Record<string, unknown>, prev: string[], ts: number, state_key = ""): PduInput => ({
    event_id: id,
    type,
    state_key,
    sender,
    content,
    prev_events: prev,
    origin_server_ts: ts,
  });
  const pl = (bob: number) => ({ users: { [A]: 100, [B]: bob }, state_default: 50, events_default: 0, ban: 50, kick: 50, redact: 50, invite: 0, users_default: 0, events: {} });
  const events = [
    e("$create", "m.room.create", A, { creator: A, room_version: "10" }, [], 1),
    e("$ajoin", "m.room.member", A, { membership: "join" }, ["$create"], 2, A),
    e("$pl1", "m.room.power_levels", A, pl(50), ["$ajoin"], 3),
    e("$jr", "m.room.join_rules", A, { join_rule: "public" }, ["$pl1"], 4),
    e("$name", "m.room.name", A, { name: "n" }, ["$jr"], 5),
    e("$bjoin", "m.room.member", B, { membership: "join" }, ["$name"], 6, B),
    e("$pl2", "m.room.power_levels", A, pl(0), ["$bjoin"], 7),
    e("$topic", "m.room.topic", B, { topic: "bob's" }, ["$bjoin"], 7),
  ];
  return { events, tips: ["$pl2", "$topic"] };
}

describe("differential helpers", () => {
  it("seededRandom and randomFork are deterministic per seed and never aim at the protected user", () => {
    const users = [A, B, "@carol:c.example"];
    const f1 = randomFork(seededRandom(42), users, A, "x");
    const f2 = randomFork(seededRandom(42), users, A, "x");
    expect(f1).toEqual(f2);
    expect(randomFork(seededRandom(43), users, A, "x")).not.toEqual(f1);
    for (let s = 0; s < 200; s++) {
      for (const branch of randomFork(seededRandom(s), users, A, "x").branches) {
        for (const { op } of branch) if ("target" in op) expect(op.target).not.toBe(A);
      }
    }
  });

  it("opEvent changes only the named user's power level", () => {
    const pl = { users: { [A]: 100 }, state_default: 50 };
    const ev = opEvent({ kind: "power", sender: A, target: B, level: 25 }, () => pl);
    expect(ev).toEqual({ type: "m.room.power_levels", state_key: "", sender: A, content: { users: { [A]: 100, [B]: 25 }, state_default: 50 } });
    expect(pl.users).toEqual({ [A]: 100 });
    expect(opEvent({ kind: "power", sender: A, target: B, level: 25 }, () => undefined)).toBeUndefined();
    expect(opEvent({ kind: "kick", sender: A, target: B }, () => undefined)).toMatchObject({ state_key: B, content: { membership: "leave" } });
  });

  it("the model drops the topic of a concurrently demoted user; a target that keeps it differs on that key only", () => {
    const { events, tips } = room();
    const answer = modelAnswer(events, tips, rulesOf(10));
    expect(answer.state.get(stateKey("m.room.power_levels", ""))).toBe("$pl2");
    expect(answer.state.has(stateKey("m.room.topic", ""))).toBe(false);
    const target = new Map(answer.state);
    target.set(stateKey("m.room.topic", ""), "$topic");
    expect(compareStates(target, answer.state)).toEqual([{ key: '(m.room.topic, "")', target: "$topic", model: undefined }]);
    expect(classify(answer, target, rulesOf(10)).kind).toBe("target-deviation");

    const scenario = scenarioFor({ version: "10", description: "d", events, tips, answer, target });
    // Reduced: state sets, the unconflicted name left out, prev_events dropped.
    expect(scenario.state_sets).toBeDefined();
    expect(scenario.events.some((e) => e.event_id === "$name")).toBe(false);
    expect(scenario.events.every((e) => e.prev_events.length === 0)).toBe(true);
    const replay = runScenario(JSON.stringify(scenario));
    expect(replay.ok).toBe(true);
    if (!replay.ok) return;
    expect(replay.output.state?.["m.room.topic"]).toBeUndefined();
    expect(replay.mismatch).toContain("(m.room.topic, \"\"): expected $topic, got (absent)");
  });

  it("reads the target's views: state_ids through the store, client events by type and state key", () => {
    const { events, tips } = room();
    const answer = modelAnswer(events, tips, rulesOf(10));
    const { state, unknown } = stateFromIds(["$create", "$pl2", "$nope"], answer.store);
    expect([...state.values()]).toEqual(["$create", "$pl2"]);
    expect(unknown).toEqual(["$nope"]);
    const client = stateFromClientEvents([{ event_id: "$x", type: "m.room.topic", state_key: "" }, { event_id: "$m", type: "m.room.message" }]);
    expect([...client]).toEqual([[stateKey("m.room.topic", ""), "$x"]]);
  });
});
