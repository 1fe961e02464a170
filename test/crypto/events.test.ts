// Event hashes, IDs, room IDs and signatures:
// https://spec.matrix.org/v1.19/server-server-api/#signing-events, the "Event IDs" section of
// each room version, and https://spec.matrix.org/v1.19/appendices/#room-ids (v12).
//
// The expected IDs below were computed independently with the spec's Python canonical JSON
// snippet, hashlib and base64, over a redacted copy written out by hand.
import { describe, expect, it } from "vitest";
import {
  checkContentHash,
  computeEventId,
  contentHashBase64,
  createEventIdFromRoomId,
  CryptoError,
  decodeBase64,
  encodeBase64,
  eventReference,
  hashAndSignEvent,
  referenceHash,
  requiredSigningServers,
  roomIdFromCreateEvent,
  ROOM_VERSION_IDS,
  ROOM_VERSIONS,
  signEvent,
  signingKeyFromSeed,
  verifyEvent,
  verifyEventSignature,
  type RoomVersionId,
} from "../../harness/crypto/index.ts";

const message = {
  auth_events: ["$auth1", "$auth2"],
  content: { body: "hello", msgtype: "m.text" },
  depth: 5,
  hashes: { sha256: "fakehashfakehash" },
  origin_server_ts: 1700000000000,
  prev_events: ["$prev"],
  room_id: "!room:example.org",
  sender: "@alice:example.org",
  signatures: { "example.org": { "ed25519:1": "fakesig" } },
  type: "m.room.message",
  unsigned: { age: 5 },
};

describe("event IDs", () => {
  it("v1-v2: the server-assigned event_id, taken from the event", () => {
    for (const v of ["1", "2"] as const) {
      expect(computeEventId({ ...message, event_id: "$abc:example.org" }, v)).toBe("$abc:example.org");
      expect(() => computeEventId(message, v)).toThrow(CryptoError);
    }
  });

  it("v3: $ + unpadded standard Base64 of the reference hash", () => {
    expect(computeEventId(message, "3")).toBe("$8hmoLE+2rt5Z8TPpMa0edovV88tyCtnEsGysvqqY9Es");
  });

  it.each(ROOM_VERSION_IDS.filter((v) => ROOM_VERSIONS[v].format.eventIdFormat === "reference-hash-base64url"))("v%s: $ + unpadded URL-safe Base64", (v) => {
    expect(computeEventId(message, v)).toBe("$8hmoLE-2rt5Z8TPpMa0edovV88tyCtnEsGysvqqY9Es");
  });

  it("the reference hash ignores signatures and unsigned, and covers hashes and redacted fields only", () => {
    const ref = referenceHash(message, "4");
    expect(referenceHash({ ...message, signatures: {}, unsigned: { age: 1000 } }, "4")).toEqual(ref);
    expect(referenceHash({ ...message, content: { body: "other" } }, "4")).toEqual(ref);
    expect(referenceHash({ ...message, hashes: { sha256: "other" } }, "4")).not.toEqual(ref);
    expect(referenceHash({ ...message, depth: 6 }, "4")).not.toEqual(ref);
  });

  it("ignores a stray event_id in hash-based versions", () => {
    expect(computeEventId({ ...message, event_id: "$whatever" }, "4")).toBe(computeEventId(message, "4"));
  });

  it("eventReference gives [id, {sha256: reference hash}] in v1-v2 and the ID after", () => {
    const withId = { ...message, event_id: "$abc:example.org" };
    expect(eventReference(withId, "1")).toEqual([
      "$abc:example.org",
      { sha256: encodeBase64(referenceHash(withId, "1")) },
    ]);
    expect(eventReference(message, "10")).toBe(computeEventId(message, "10"));
  });
});

describe("v12 room IDs", () => {
  const create = {
    auth_events: [],
    content: { room_version: "12", "m.federate": true, additional_creators: ["@bob:example.org"] },
    depth: 1,
    hashes: { sha256: "fakehashfakehash" },
    origin_server_ts: 1700000000000,
    prev_events: [],
    sender: "@alice:example.org",
    signatures: { "example.org": { "ed25519:1": "fakesig" } },
    state_key: "",
    type: "m.room.create",
    unsigned: { age: 1 },
  };

  it("is ! + URL-safe unpadded Base64 of the create event's reference hash", () => {
    const roomId = roomIdFromCreateEvent(create);
    expect(roomId).toBe("!asuNWDcC4Cw5rYx33RJEtxQ2wyMp8Wq5rC0TQWlfd9U");
    expect(computeEventId(create, "12")).toBe("$asuNWDcC4Cw5rYx33RJEtxQ2wyMp8Wq5rC0TQWlfd9U");
    expect(createEventIdFromRoomId(roomId)).toBe(computeEventId(create, "12"));
  });

  it("covers all of the create event's content (v11+ redaction keeps it)", () => {
    const other = { ...create, content: { ...create.content, additional_creators: [] } };
    expect(roomIdFromCreateEvent(other)).not.toBe(roomIdFromCreateEvent(create));
  });

  it("refuses a create event with a room_id, other event types, and older versions", () => {
    expect(() => roomIdFromCreateEvent({ ...create, room_id: "!x" })).toThrow(/no room_id/);
    expect(() => roomIdFromCreateEvent({ ...create, type: "m.room.name" })).toThrow(CryptoError);
    expect(() => roomIdFromCreateEvent(create, "11")).toThrow(/chosen by the server/);
  });

  it("content hash agrees with the independent computation", () => {
    expect(contentHashBase64(create, "12")).toBe("DP7cr34JFYLi2fGwzpYpCDPggrnqeA+sWHxoo5A+chw");
  });
});

describe("signing and verifying events", () => {
  const keyA = signingKeyFromSeed(new Uint8Array(32).fill(7), "a");
  const keyB = signingKeyFromSeed(new Uint8Array(32).fill(8), "b");
  const keys = { "example.org": { "ed25519:a": keyA.publicKey }, "other.org": { "ed25519:b": keyB.publicKey } };
  const { hashes: _h, signatures: _s, ...draft } = message;

  it.each(ROOM_VERSION_IDS)("v%s: a signed event verifies, redacted or not", (v) => {
    const event = hashAndSignEvent(
      Number(v) <= 2 ? { ...draft, event_id: "$m:example.org" } : draft,
      v,
      "example.org",
      keyA,
    );
    expect(checkContentHash(event, v)).toBe(true);
    expect(verifyEvent(event, v, keys)).toMatchObject({ ok: true, contentHashMatches: true });
  });

  it("a corrupted content fails the content hash; the redacted copy is what remains", () => {
    const event = hashAndSignEvent(draft, "10", "example.org", keyA);
    const tampered = { ...event, content: { body: "goodbye", msgtype: "m.text" } };
    const check = verifyEvent(tampered, "10", keys);
    expect(check).toMatchObject({ ok: true, contentHashMatches: false });
    if (check.ok) expect(check.event["content"]).toEqual({});
  });

  it("a corrupted essential field fails the signature", () => {
    const event = hashAndSignEvent(draft, "10", "example.org", keyA);
    expect(verifyEvent({ ...event, depth: 6 }, "10", keys)).toMatchObject({ ok: false });
    expect(verifyEvent({ ...event, hashes: { sha256: encodeBase64(new Uint8Array(32)) } }, "10", keys)).toMatchObject({
      ok: false,
    });
  });

  it("a corrupted signature fails", () => {
    const event = hashAndSignEvent(draft, "10", "example.org", keyA);
    const sig = decodeBase64(event.signatures["example.org"]!["ed25519:a"]!);
    sig[0]! ^= 0x80;
    const bad = { ...event, signatures: { "example.org": { "ed25519:a": encodeBase64(sig) } } };
    expect(verifyEvent(bad, "10", keys)).toEqual({
      ok: false,
      reason: "signature example.org ed25519:a does not verify",
    });
  });

  it("a missing key or missing signature fails", () => {
    const event = hashAndSignEvent(draft, "10", "example.org", keyA);
    expect(verifyEvent(event, "10", {}).ok).toBe(false);
    expect(verifyEvent({ ...event, signatures: {} }, "10", keys).ok).toBe(false);
  });

  it("signEvent adds a co-signature without touching hashes; both verify", () => {
    const event = hashAndSignEvent(draft, "10", "example.org", keyA);
    const cosigned = signEvent(event, "10", "other.org", keyB);
    expect(cosigned.hashes).toEqual(event.hashes);
    expect(Object.keys(cosigned.signatures).sort()).toEqual(["example.org", "other.org"]);
    expect(verifyEventSignature(cosigned, "10", "other.org", keys["other.org"]).ok).toBe(true);
    expect(verifyEventSignature(cosigned, "10", "example.org", keys["example.org"]).ok).toBe(true);
  });

  it("v1-v2 also require the event_id's server to sign when it differs from the sender's", () => {
    const foreign = { ...draft, event_id: "$m:other.org" };
    expect(requiredSigningServers(foreign, "1")).toEqual(["example.org", "other.org"]);
    expect(requiredSigningServers(foreign, "3")).toEqual(["example.org"]);
    const onlySender = hashAndSignEvent(foreign, "1", "example.org", keyA);
    expect(verifyEvent(onlySender, "1", keys)).toMatchObject({ ok: false, reason: "no signatures from other.org" });
    const both = signEvent(onlySender, "1", "other.org", keyB);
    expect(verifyEvent(both, "1", keys)).toMatchObject({ ok: true, contentHashMatches: true });
  });

  it("v6+: an event that is not canonical JSON is rejected even where redaction hides the value", () => {
    const event = hashAndSignEvent(draft, "10", "example.org", keyA);
    const floaty = { ...event, content: { ...event.content, score: 0.5 } };
    expect(verifyEvent(floaty, "10", keys)).toMatchObject({ ok: false, reason: expect.stringMatching(/float 0\.5 .* at \$\.content\.score/) });
  });

  it("v1-v5 tolerate floats and big integers in hashes and signatures", () => {
    const legacy = { ...draft, content: { body: "x", score: 0.5, big: 2 ** 60 } };
    for (const v of ["3", "5"] as RoomVersionId[]) {
      const event = hashAndSignEvent(legacy, v, "example.org", keyA);
      expect(verifyEvent(event, v, keys)).toMatchObject({ ok: true, contentHashMatches: true });
    }
    expect(() => hashAndSignEvent(legacy, "6", "example.org", keyA)).toThrow(/integer 1152921504606846976 is outside .* at \$\.content\.big/);
    expect(() => hashAndSignEvent({ ...legacy, content: { score: 0.5 } }, "6", "example.org", keyA)).toThrow(/float/);
  });

  it("does not modify its inputs", () => {
    const input = structuredClone(draft);
    hashAndSignEvent(input, "10", "example.org", keyA);
    expect(input).toEqual(draft);
  });
});
