// The redaction algorithm per room version, one row per rule that changes between versions:
// https://spec.matrix.org/v1.19/rooms/v1/#redactions (v1-v5), /v6/#redactions (v6-v7),
// /v8/#redactions, /v9/#redactions (v9-v10), /v11/#redactions (v11-v12).
import { describe, expect, it } from "vitest";
import { redactEvent, ROOM_VERSION_IDS, ROOM_VERSIONS, type RoomVersionId } from "../../harness/crypto/index.ts";

const base = {
  event_id: "$e:x",
  room_id: "!r:x",
  sender: "@s:x",
  depth: 4,
  prev_events: ["$p"],
  auth_events: ["$a"],
  origin_server_ts: 7,
  hashes: { sha256: "h" },
  signatures: { x: { "ed25519:1": "s" } },
};

interface Case {
  name: string;
  type: string;
  content: Record<string, unknown>;
  /** Kept content, by the first room version the expectation applies from. */
  keptFrom: [firstVersion: number, kept: Record<string, unknown>][];
}

const tpi = { display_name: "alice", signed: { mxid: "@b:x", token: "t", signatures: {} } };
const powerLevels = {
  ban: 50, events: { "m.room.name": 50 }, events_default: 0, kick: 50, redact: 50, state_default: 50,
  users: { "@s:x": 100 }, users_default: 0, invite: 0, notifications: { room: 50 },
};
const { invite: _i, notifications: _n, ...powerLevelsPreV11 } = powerLevels;
const { notifications: _n2, ...powerLevelsV11 } = powerLevels;

const cases: Case[] = [
  {
    name: "m.room.member keeps membership; v9 adds join_authorised_via_users_server; v11 adds third_party_invite.signed",
    type: "m.room.member",
    content: { membership: "join", displayname: "S", join_authorised_via_users_server: "@j:x", third_party_invite: tpi },
    keptFrom: [
      [1, { membership: "join" }],
      [9, { membership: "join", join_authorised_via_users_server: "@j:x" }],
      [11, { membership: "join", join_authorised_via_users_server: "@j:x", third_party_invite: { signed: tpi.signed } }],
    ],
  },
  {
    name: "m.room.member: v11 keeps third_party_invite as {} when it has no signed",
    type: "m.room.member",
    content: { membership: "invite", third_party_invite: { display_name: "a" } },
    keptFrom: [[1, { membership: "invite" }], [11, { membership: "invite", third_party_invite: {} }]],
  },
  {
    name: "m.room.member: v11 drops a third_party_invite that is not an object",
    type: "m.room.member",
    content: { membership: "invite", third_party_invite: "weird" },
    keptFrom: [[1, { membership: "invite" }]],
  },
  {
    name: "m.room.create keeps creator; v11 keeps all content",
    type: "m.room.create",
    content: { creator: "@s:x", room_version: "1", "m.federate": false, predecessor: { room_id: "!o:x" } },
    keptFrom: [
      [1, { creator: "@s:x" }],
      [11, { creator: "@s:x", room_version: "1", "m.federate": false, predecessor: { room_id: "!o:x" } }],
    ],
  },
  {
    name: "m.room.join_rules keeps join_rule; v8 adds allow",
    type: "m.room.join_rules",
    content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: "!o:x" }], other: 1 },
    keptFrom: [
      [1, { join_rule: "restricted" }],
      [8, { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: "!o:x" }] }],
    ],
  },
  {
    name: "m.room.power_levels keeps eight keys; v11 adds invite; notifications never",
    type: "m.room.power_levels",
    content: powerLevels,
    keptFrom: [[1, powerLevelsPreV11], [11, powerLevelsV11]],
  },
  {
    name: "m.room.aliases keeps aliases until v6",
    type: "m.room.aliases",
    content: { aliases: ["#a:x"] },
    keptFrom: [[1, { aliases: ["#a:x"] }], [6, {}]],
  },
  {
    name: "m.room.history_visibility keeps history_visibility",
    type: "m.room.history_visibility",
    content: { history_visibility: "shared", extra: true },
    keptFrom: [[1, { history_visibility: "shared" }]],
  },
  {
    name: "m.room.redaction: v11 keeps content.redacts",
    type: "m.room.redaction",
    content: { redacts: "$t", reason: "spam" },
    keptFrom: [[1, {}], [11, { redacts: "$t" }]],
  },
  {
    name: "other types lose all content",
    type: "m.room.message",
    content: { body: "hi", msgtype: "m.text", membership: "join", join_rule: "public" },
    keptFrom: [[1, {}]],
  },
  {
    name: "an unprotected state event loses all content but keeps state_key",
    type: "m.room.topic",
    content: { topic: "t" },
    keptFrom: [[1, {}]],
  },
];

function expectedFor(c: Case, v: number): Record<string, unknown> {
  let kept: Record<string, unknown> = {};
  for (const [from, k] of c.keptFrom) if (v >= from) kept = k;
  return kept;
}

describe("content kept by redaction, per room version", () => {
  const rows = cases.flatMap((c) => ROOM_VERSION_IDS.map((v) => [c.name, v, c] as const));
  it.each(rows)("%s (v%s)", (_name, v, c) => {
    const event = { ...base, type: c.type, state_key: "", content: c.content };
    const redacted = redactEvent(event, v);
    expect(redacted["content"]).toEqual(expectedFor(c, Number(v)));
    expect(redacted["state_key"]).toBe("");
  });
});

describe("top-level keys kept by redaction", () => {
  const legacy = { origin: "x", membership: "join", prev_state: [] };
  const dropped = { redacts: "$t", unsigned: { age: 1 }, custom: 1, user_id: "@s:x", age: 3 };
  const event = { ...base, type: "m.room.message", state_key: "k", content: {}, ...legacy, ...dropped };

  it.each(ROOM_VERSION_IDS)("v%s", (v) => {
    const redacted = redactEvent(event, v);
    const keptLegacy = Number(v) < 11 ? legacy : {};
    expect(redacted).toEqual({ ...base, type: "m.room.message", state_key: "k", content: {}, ...keptLegacy });
  });

  it("v11 removes exactly origin, membership and prev_state from the v1 list", () => {
    const v1 = new Set(ROOM_VERSIONS["1"].redaction.keptTopLevelKeys);
    const v11 = new Set(ROOM_VERSIONS["11"].redaction.keptTopLevelKeys);
    expect([...v1].filter((k) => !v11.has(k)).sort()).toEqual(["membership", "origin", "prev_state"]);
    expect([...v11].filter((k) => !v1.has(k))).toEqual([]);
  });
});

describe("rule sets per version", () => {
  it("matches the spec's grouping", () => {
    const names = Object.fromEntries(ROOM_VERSION_IDS.map((v) => [v, ROOM_VERSIONS[v].redaction.name]));
    expect(names).toEqual({
      "1": "v1", "2": "v1", "3": "v1", "4": "v1", "5": "v1",
      "6": "v6", "7": "v6", "8": "v8", "9": "v9", "10": "v9", "11": "v11", "12": "v11",
    });
  });
});

describe("edge cases", () => {
  it("gives a missing or non-object content an empty content", () => {
    expect(redactEvent({ ...base, type: "m.room.member" }, "9")["content"]).toEqual({});
    expect(redactEvent({ ...base, type: "m.room.create", content: "x" }, "11")["content"]).toEqual({});
  });

  it("keeps a protected key whatever its value, and skips absent ones", () => {
    expect(redactEvent({ ...base, type: "m.room.join_rules", content: { allow: null } }, "8")["content"]).toEqual({ allow: null });
  });

  it("does not modify its input or share structure with it", () => {
    const event = { ...base, type: "m.room.create", content: { creator: "@s:x", predecessor: { room_id: "!o:x" } } };
    const snapshot = JSON.parse(JSON.stringify(event)) as unknown;
    const redacted = redactEvent(event, "11") as { content: { predecessor: { room_id: string } } };
    redacted.content.predecessor.room_id = "changed";
    expect(event).toEqual(snapshot);
  });

  it("treats a __proto__ member as data", () => {
    const event = JSON.parse(
      '{"type":"m.room.power_levels","content":{"__proto__":{"ban":1},"users":{"__proto__":5}},"__proto__":{"x":1}}',
    ) as object;
    const redacted = redactEvent(event, "10");
    expect(Object.keys(redacted)).toEqual(["type", "content"]);
    expect(JSON.stringify(redacted)).toBe('{"type":"m.room.power_levels","content":{"users":{"__proto__":5}}}');
  });

  it("looks event types up as own keys only (\"constructor\" is just an unprotected type)", () => {
    for (const type of ["constructor", "toString", "__proto__"]) {
      expect(redactEvent({ ...base, type, content: { length: 1, name: "x" } }, "11")["content"]).toEqual({});
    }
  });

  it("is idempotent", () => {
    for (const v of ROOM_VERSION_IDS as RoomVersionId[]) {
      for (const c of cases) {
        const once = redactEvent({ ...base, type: c.type, content: c.content }, v);
        expect(redactEvent(once, v)).toEqual(once);
      }
    }
  });
});
