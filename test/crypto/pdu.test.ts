// PDU formats per room version: https://spec.matrix.org/v1.19/server-server-api/#pdus and each
// room version's "Event format" section; v12 room IDs and auth_events:
// https://spec.matrix.org/v1.19/rooms/v12/#event-format, /v12/#authorisation-rules
import { describe, expect, it } from "vitest";
import {
  buildPdu,
  buildSignedPdu,
  checkContentHash,
  computeEventId,
  CryptoError,
  eventReference,
  makeServerEventId,
  roomIdFromCreateEvent,
  ROOM_VERSION_IDS,
  ROOM_VERSIONS,
  signingKeyFromSeed,
  verifyEvent,
  type PduDraft,
  type PduV1,
} from "../../harness/crypto/index.ts";

const key = signingKeyFromSeed(new Uint8Array(32).fill(9), "k");
const keys = { "hs.test": { "ed25519:k": key.publicKey } };

const createDraft: PduDraft = {
  type: "m.room.create",
  state_key: "",
  sender: "@alice:hs.test",
  origin_server_ts: 1000,
  depth: 1,
  content: { room_version: "1", creator: "@alice:hs.test" },
  prev_events: [],
  auth_events: [],
};

describe("the room-version table's PDU facts", () => {
  it("groups versions by PDU shape and event ID format as the spec does", () => {
    const facts = Object.fromEntries(
      ROOM_VERSION_IDS.map((v) => [v, [ROOM_VERSIONS[v].format.pduShape, ROOM_VERSIONS[v].format.eventIdFormat]]),
    );
    expect(facts).toEqual({
      "1": ["v1", "server-assigned"],
      "2": ["v1", "server-assigned"],
      "3": ["v3", "reference-hash-base64"],
      "4": ["v3", "reference-hash-base64url"],
      "5": ["v3", "reference-hash-base64url"],
      "6": ["v3", "reference-hash-base64url"],
      "7": ["v3", "reference-hash-base64url"],
      "8": ["v3", "reference-hash-base64url"],
      "9": ["v3", "reference-hash-base64url"],
      "10": ["v3", "reference-hash-base64url"],
      "11": ["v11", "reference-hash-base64url"],
      "12": ["v12", "reference-hash-base64url"],
    });
    expect(ROOM_VERSION_IDS.filter((v) => ROOM_VERSIONS[v].format.roomIdFormat !== "server-assigned")).toEqual(["12"]);
    expect(ROOM_VERSION_IDS.filter((v) => !ROOM_VERSIONS[v].auth.createInAuthEvents)).toEqual(["12"]);
    expect(ROOM_VERSION_IDS.filter((v) => ROOM_VERSIONS[v].format.redactsLocation === "content")).toEqual(["11", "12"]);
    expect(ROOM_VERSION_IDS.filter((v) => ROOM_VERSIONS[v].format.maxDepth === 2n ** 63n - 1n)).toEqual(["1", "2", "3", "4", "5"]);
    expect(ROOM_VERSION_IDS.every((v) => ROOM_VERSIONS[v].stability === "stable")).toBe(true);
  });
});

describe("room versions 1-2", () => {
  it("carry event_id and refer to events by [id, {sha256}] pairs", () => {
    const create = buildPdu("1", { ...createDraft, room_id: "!r:hs.test", event_id: makeServerEventId("c", "hs.test") });
    expect(create.event_id).toBe("$c:hs.test");
    expect(checkContentHash(create, "1")).toBe(true);
    expect(create.signatures).toEqual({});
    const ref = eventReference(create, "1");
    const member: PduV1 = buildPdu("1", {
      type: "m.room.member",
      state_key: "@alice:hs.test",
      sender: "@alice:hs.test",
      room_id: "!r:hs.test",
      event_id: "$m:hs.test",
      origin_server_ts: 1001,
      depth: 2,
      content: { membership: "join" },
      prev_events: [ref],
      auth_events: [ref],
      origin: "hs.test",
    });
    expect(member.prev_events).toEqual([["$c:hs.test", { sha256: expect.stringMatching(/^[A-Za-z0-9+/]{43}$/) }]]);
    expect(member.origin).toBe("hs.test");
  });

  it("refuse a missing event_id and plain-ID references", () => {
    expect(() => buildPdu("2", { ...createDraft, room_id: "!r:hs.test" })).toThrow(/event_id/);
    expect(() =>
      buildPdu("2", { ...createDraft, room_id: "!r:hs.test", event_id: "$x:hs.test", prev_events: ["$y:hs.test"] }),
    ).toThrow(/pairs/);
  });
});

describe("room versions 3-10", () => {
  it.each(["3", "6", "10"] as const)("v%s: no event_id, plain ID lists, top-level redacts", (v) => {
    const pdu = buildPdu(v, {
      type: "m.room.redaction",
      sender: "@alice:hs.test",
      room_id: "!r:hs.test",
      origin_server_ts: 5,
      depth: 3,
      content: { reason: "spam" },
      prev_events: ["$p"],
      auth_events: ["$a"],
      redacts: "$target",
    });
    expect(pdu).not.toHaveProperty("event_id");
    expect(pdu.redacts).toBe("$target");
    expect(pdu.content).toEqual({ reason: "spam" });
    expect(pdu.prev_events).toEqual(["$p"]);
  });

  it("refuse an event_id and pair references", () => {
    expect(() => buildPdu("4", { ...createDraft, room_id: "!r:hs.test", event_id: "$x:hs.test" })).toThrow(/no event_id/);
    expect(() =>
      buildPdu("4", { ...createDraft, room_id: "!r:hs.test", auth_events: [["$a", { sha256: "x" }]] }),
    ).toThrow(/event ID only/);
  });
});

describe("room version 11", () => {
  it("puts redacts in content and has no origin", () => {
    const pdu = buildPdu("11", {
      type: "m.room.redaction",
      sender: "@alice:hs.test",
      room_id: "!r:hs.test",
      origin_server_ts: 5,
      depth: 3,
      content: {},
      prev_events: ["$p"],
      auth_events: ["$a"],
      redacts: "$target",
    });
    expect(pdu).not.toHaveProperty("redacts");
    expect(pdu.content).toEqual({ redacts: "$target" });
    expect(() => buildPdu("11", { ...createDraft, room_id: "!r:hs.test", origin: "hs.test" })).toThrow(/no origin/);
    expect(() =>
      buildPdu("11", { ...createDraft, type: "m.room.redaction", room_id: "!r:hs.test", content: { redacts: "$a" }, redacts: "$b" }),
    ).toThrow(/disagree/);
  });
});

describe("room version 12", () => {
  const create12 = buildSignedPdu("12", { ...createDraft, content: { room_version: "12" } }, "hs.test", key);
  const roomId = roomIdFromCreateEvent(create12);
  const createId = computeEventId(create12, "12");

  it("the create event has no room_id; the room ID is its event ID with !", () => {
    expect(create12).not.toHaveProperty("room_id");
    expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/);
    expect(roomId.slice(1)).toBe(createId.slice(1));
    expect(verifyEvent(create12, "12", keys)).toMatchObject({ ok: true, contentHashMatches: true });
  });

  it("other events carry the room ID and never list the create event in auth_events", () => {
    const member = buildSignedPdu(
      "12",
      {
        type: "m.room.member",
        state_key: "@alice:hs.test",
        sender: "@alice:hs.test",
        room_id: roomId,
        origin_server_ts: 1001,
        depth: 2,
        content: { membership: "join" },
        prev_events: [createId],
        auth_events: [],
      },
      "hs.test",
      key,
    );
    expect(member.room_id).toBe(roomId);
    expect(verifyEvent(member, "12", keys).ok).toBe(true);
    expect(() =>
      buildPdu("12", {
        type: "m.room.member",
        state_key: "@alice:hs.test",
        sender: "@alice:hs.test",
        room_id: roomId,
        origin_server_ts: 1001,
        depth: 2,
        content: { membership: "join" },
        prev_events: [createId],
        auth_events: [createId],
      }),
    ).toThrow(/must not list the m.room.create event/);
  });

  it("refuses a create event with room_id and other events without one", () => {
    expect(() => buildPdu("12", { ...createDraft, room_id: "!x" })).toThrow(/no room_id/);
    expect(() => buildPdu("12", { ...createDraft, type: "m.room.name", content: { name: "n" } })).toThrow(/need a room_id/);
  });
});

describe("builders in general", () => {
  it.each(ROOM_VERSION_IDS)("v%s: a signed PDU verifies and hashes its unsigned-free content", (v) => {
    const pdu = buildSignedPdu(
      v,
      {
        type: "m.room.message",
        sender: "@alice:hs.test",
        room_id: "!r:hs.test",
        event_id: Number(v) <= 2 ? "$e:hs.test" : undefined,
        origin_server_ts: 5,
        depth: 3,
        content: { body: "hi" },
        prev_events: Number(v) <= 2 ? [["$p:hs.test", { sha256: "x" }]] : ["$p"],
        auth_events: [],
        unsigned: { age: 3 },
      },
      "hs.test",
      key,
    );
    expect(pdu.unsigned).toEqual({ age: 3 });
    expect(verifyEvent(pdu, v, keys)).toMatchObject({ ok: true, contentHashMatches: true });
  });

  it("throws CryptoError for a non-object content", () => {
    expect(() => buildPdu("10", { ...createDraft, room_id: "!r:x", content: [] as never })).toThrow(CryptoError);
  });
});
