// The `stateres` command: output format, error messages, exit codes.

import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, test } from "vitest";
import { runScenario, stateresCommand } from "../../harness/stateres/scenario.ts";

const validateOutput = new Ajv2020({ strict: true, strictRequired: false }).compile(
  JSON.parse(readFileSync(new URL("../../schemas/stateres-output.schema.json", import.meta.url), "utf8")),
);

const A = "@alice:example.com";
const events = [
  { event_id: "$c", type: "m.room.create", state_key: "", sender: A, content: { creator: A }, prev_events: [], origin_server_ts: 0 },
  { event_id: "$j", type: "m.room.member", state_key: A, sender: A, content: { membership: "join" }, prev_events: ["$c"], origin_server_ts: 1 },
  { event_id: "$t1", type: "m.room.topic", state_key: "", sender: A, content: { topic: "1" }, prev_events: ["$j"], origin_server_ts: 2 },
  { event_id: "$t2", type: "m.room.topic", state_key: "", sender: A, content: { topic: "2" }, prev_events: ["$j"], origin_server_ts: 3 },
  { event_id: "$m", type: "m.room.message", sender: A, content: { body: "hi" }, prev_events: ["$t1", "$t2"], origin_server_ts: 4 },
];
const good = { room_version: "10", events, resolve_at: ["$t1", "$t2"] };
const expectedState = { "m.room.create": { "": "$c" }, "m.room.member": { [A]: "$j" }, "m.room.topic": { "": "$t2" } };

function io(stdin = ""): { io: Parameters<typeof stateresCommand>[1]; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      readStdin: async () => stdin,
      readFile: async (path) => {
        if (path === "missing.json") throw Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
        return path;
      },
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
    },
  };
}

describe("runScenario", () => {
  test("resolve_at: the resolution of the states after the listed events", () => {
    const r = runScenario(JSON.stringify(good));
    expect(r).toEqual({ ok: true, output: { state: expectedState } });
    if (r.ok) expect(validateOutput(r.output)).toBe(true);
  });

  test("resolve_at a merge event: the state after it", () => {
    const r = runScenario(JSON.stringify({ ...good, resolve_at: ["$m"] }));
    expect(r.ok && r.output.state).toEqual(expectedState);
  });

  test("state_sets: the listed sets resolved directly", () => {
    const r = runScenario(JSON.stringify({ room_version: "10", events, state_sets: [["$c", "$j", "$t1"], ["$c", "$j", "$t2"]] }));
    expect(r.ok && r.output.state).toEqual(expectedState);
  });

  test("room_versions: one answer per version, and `state` when they agree", () => {
    const r = runScenario(JSON.stringify({ ...good, room_version: undefined, room_versions: ["2", "12"] }));
    expect(r.ok && r.output).toEqual({ state: expectedState, by_room_version: { "2": expectedState, "12": expectedState } });
    if (r.ok) expect(validateOutput(r.output)).toBe(true);
  });

  test("room_versions whose answers differ: no `state`, only `by_room_version`", () => {
    const fixture = JSON.parse(readFileSync(new URL("../../fixtures/stateres/state-reset-conflicted-subgraph.v11.json", import.meta.url), "utf8"));
    const r = runScenario(JSON.stringify({ ...fixture, expected: undefined, room_versions: ["11", "12"] }));
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.output.state).toBeUndefined();
      expect(Object.keys(r.output.by_room_version ?? {})).toEqual(["11", "12"]);
      expect(validateOutput(r.output)).toBe(true);
    }
  });

  test("an `expected` that differs is reported per key", () => {
    const r = runScenario(JSON.stringify({ ...good, expected: { ...expectedState, "m.room.topic": { "": "$t1" } } }));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.mismatch).toContain('(m.room.topic, ""): expected $t1, got $t2');
  });

  test("an output key order that is stable", () => {
    const r = runScenario(JSON.stringify(good));
    expect(r.ok && Object.keys(r.output.state!)).toEqual(["m.room.create", "m.room.member", "m.room.topic"]);
  });

  test.each([
    ["malformed JSON", "{", /^malformed JSON: /],
    ["not an object", "[]", /must be a JSON object/],
    ["neither state_sets nor resolve_at", JSON.stringify({ room_version: "1", events: [] }), /exactly one of "state_sets" and "resolve_at"/],
    ["both state_sets and resolve_at", JSON.stringify({ room_version: "1", events: [], state_sets: [], resolve_at: ["$x"] }), /exactly one of "state_sets" and "resolve_at"/],
    ["no room version", JSON.stringify({ events: [], state_sets: [] }), /exactly one of "room_version" and "room_versions"/],
    ["an unknown room version", JSON.stringify({ room_version: "13", events: [], state_sets: [] }), /unknown room version "13" \(known: 1, 2, .*12\)/],
    ["an unknown room version in a list", JSON.stringify({ room_versions: ["1", "x.y"], events: [], state_sets: [] }), /unknown room version "x\.y"/],
    ["a wrong field type", JSON.stringify({ ...good, events: [{ ...events[0], origin_server_ts: "0" }] }), /events\.0\.origin_server_ts: must be integer/],
    ["a missing event field", JSON.stringify({ ...good, events: [{ ...events[0], sender: undefined }] }), /events\.0: must have required property 'sender'/],
    ["an unknown top-level field", JSON.stringify({ ...good, statesets: [] }), /must NOT have additional properties \(statesets\)/],
    ["a missing prev event", JSON.stringify({ ...good, events: events.slice(1) }), /event \$j names a missing prev event \$c/],
    ["a missing resolve_at event", JSON.stringify({ ...good, resolve_at: ["$nope"] }), /unknown event \$nope/],
    ["a missing state-set event", JSON.stringify({ room_version: "10", events, state_sets: [["$c", "$nope"]] }), /state set 0 names unknown event \$nope/],
    ["a message event in a state set", JSON.stringify({ room_version: "10", events, state_sets: [["$c", "$m"]] }), /state set 0 names \$m, which is not a state event/],
    ["two events for one key in a state set", JSON.stringify({ room_version: "10", events, state_sets: [["$t1", "$t2"]] }), /state set 0 holds two events for \(m\.room\.topic, ""\)/],
    ["a cycle", JSON.stringify({ ...good, events: [...events.slice(0, 4), { ...events[4], prev_events: ["$m2"] }, { ...events[4], event_id: "$m2", prev_events: ["$m"] }] }), /cycle/],
    ["a v12 state set without the create event", JSON.stringify({ room_version: "12", events, state_sets: [["$c", "$t1"], ["$t2"]] }), /every state set must contain the m\.room\.create event/],
  ])("%s is bad input with a clear message", (_name, text, message) => {
    const r = runScenario(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.kind).toBe("input");
      expect(r.message).toMatch(message);
      expect(r.message).not.toMatch(/\n\s+at /); // no stack trace
    }
  });
});

describe("stateresCommand", () => {
  test("prints the output as JSON and exits 0", async () => {
    const h = io(JSON.stringify(good));
    expect(await stateresCommand(undefined, h.io)).toBe(0);
    expect(JSON.parse(h.out.join(""))).toEqual({ state: expectedState });
    expect(h.err).toEqual([]);
  });

  test("reads FILE (here the fake reader returns the path as content), '-' reads stdin", async () => {
    const h = io(JSON.stringify(good));
    expect(await stateresCommand(JSON.stringify(good), h.io)).toBe(0);
    expect(await stateresCommand("-", h.io)).toBe(0);
  });

  test("bad input: exit 2, one message on stderr naming the file, nothing on stdout", async () => {
    const h = io("{nope");
    expect(await stateresCommand(undefined, h.io)).toBe(2);
    expect(h.out).toEqual([]);
    expect(h.err.join("")).toMatch(/^stateres: stdin: malformed JSON: /);
  });

  test("an unreadable file: exit 2", async () => {
    const h = io();
    expect(await stateresCommand("missing.json", h.io)).toBe(2);
    expect(h.err.join("")).toBe("stateres: cannot read missing.json: no such file\n");
  });

  test("an answer that differs from `expected`: the output, the difference on stderr, exit 1", async () => {
    const h = io(JSON.stringify({ ...good, expected: { "m.room.create": { "": "$c" } } }));
    expect(await stateresCommand(undefined, h.io)).toBe(1);
    expect(JSON.parse(h.out.join(""))).toEqual({ state: expectedState });
    expect(h.err.join("")).toContain("room version 10 differs from \"expected\"");
  });

  test("the default reader reads real files", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const file = new URL("../../fixtures/stateres/ban-racing-power-change.json", import.meta.url).pathname;
    const code = await stateresCommand(file, { readStdin: async () => "", stdout: { write: (s) => out.push(s) }, stderr: { write: (s) => err.push(s) } });
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const missing = await stateresCommand("/nonexistent/x.json", { readStdin: async () => "", stdout: { write: (s) => out.push(s) }, stderr: { write: (s) => err.push(s) } });
    expect(missing).toBe(2);
    expect(err.join("")).toContain("no such file");
  });
});
