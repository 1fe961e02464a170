// The peers' room model builds valid events for every room version: hashes, signatures and IDs
// check out with harness/crypto, and the events pass (or fail) harness/stateres' auth rules as the
// spec says they should.
import { describe, expect, test } from "vitest";
import { checkContentHash, computeEventId, encodeBase64, referenceHash, verifyEvent, ROOM_VERSION_IDS } from "../../harness/crypto/index.ts";
import { createPeerRoom, newSigningKey, pduFormatProblems, refIds, type PeerRoom, type Signer } from "../../harness/federation/index.ts";

const serverName = "peer.example:8448";
const signer: Signer = { serverName, key: newSigningKey("r1") };
const keys = { [serverName]: { [signer.key.keyId]: signer.key.publicKey } };
const alice = `@alice:${serverName}`;
const bob = `@bob:${serverName}`;

function build(room: PeerRoom, input: Parameters<PeerRoom["build"]>[0], add = true) {
  const pdu = room.build(input, signer);
  return add ? room.addEvent(pdu) : room.addOutlier(pdu);
}

describe.each(ROOM_VERSION_IDS.map((v) => [v]))("room version %s", (version) => {
  const fresh = () => createPeerRoom(signer, { version, creator: alice, name: "test room" });

  test("every event of a new room is well formed, hashed, signed, and its ID has the version's format", () => {
    const room = fresh();
    expect(room.allEvents().map((e) => e.pdu.type)).toEqual(["m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules", "m.room.history_visibility", "m.room.name"]);
    for (const e of room.allEvents()) {
      expect(pduFormatProblems(e.pdu, version), e.eventId).toEqual([]);
      const check = verifyEvent(e.pdu, version, keys);
      expect(check.ok, `${e.eventId}: ${check.ok ? "" : check.reason}`).toBe(true);
      expect(checkContentHash(e.pdu, version)).toBe(true);
      expect(computeEventId(e.pdu, version)).toBe(e.eventId);
      const format = version === "1" || version === "2" ? /^\$[A-Za-z0-9]+:peer\.example:8448$/ : version === "3" ? /^\$[A-Za-z0-9+/]{43}$/ : /^\$[A-Za-z0-9_-]{43}$/;
      expect(e.eventId).toMatch(format);
    }
  });

  test("the room ID is the create event's reference hash in v12, a server-chosen ID before", () => {
    const room = fresh();
    const create = room.allEvents()[0]!;
    if (version === "12") {
      expect(room.roomId).toBe(`!${create.eventId.slice(1)}`);
      expect(create.pdu.room_id).toBeUndefined();
    } else {
      expect(room.roomId).toMatch(/^![A-Za-z0-9]+:peer\.example:8448$/);
      expect(create.pdu.room_id).toBe(room.roomId);
    }
  });

  test("every event passes the auth rules against its auth events and against the state before it", () => {
    const room = fresh();
    build(room, { type: "m.room.member", state_key: bob, sender: bob, content: { membership: "join" } });
    build(room, { type: "m.room.message", sender: bob, content: { msgtype: "m.text", body: "hi" } });
    build(room, { type: "m.room.member", state_key: bob, sender: bob, content: { membership: "leave" } });
    for (const e of room.allEvents()) {
      expect(room.authorize(e, "auth_events"), `${e.eventId} ${e.pdu.type} against its auth events`).toMatchObject({ allowed: true });
      expect(room.authorize(e, "state_before"), `${e.eventId} ${e.pdu.type} against the state before it`).toMatchObject({ allowed: true });
    }
    expect(room.joinedMembers()).toEqual([alice]);
  });

  test("auth events are the ones the selection names: create (not in v12), power levels, sender's membership, join rules for a join", () => {
    const room = fresh();
    const id = (type: string, key = "") => room.stateEvent(type, key)!.eventId;
    const join = build(room, { type: "m.room.member", state_key: bob, sender: bob, content: { membership: "join" } });
    const expected = [...(version === "12" ? [] : [id("m.room.create")]), id("m.room.power_levels"), id("m.room.join_rules")];
    expect(join.model.auth_events.slice().sort()).toEqual(expected.sort());
    const msg = build(room, { type: "m.room.message", sender: bob, content: { msgtype: "m.text", body: "hi" } });
    expect(msg.model.auth_events.slice().sort()).toEqual([...(version === "12" ? [] : [id("m.room.create")]), id("m.room.power_levels"), join.eventId].sort());
  });

  test("new events take the forward extremities as prev events and one more depth", () => {
    const room = fresh();
    let last = room.forwardExtremities();
    expect(last).toHaveLength(1);
    for (let i = 0; i < 3; i++) {
      const prevDepth = room.event(last[0]!)!.model.depth!;
      const e = build(room, { type: "m.room.message", sender: alice, content: { msgtype: "m.text", body: `m${i}` } });
      expect(e.model.prev_events).toEqual(last);
      expect(e.model.depth).toBe(prevDepth + 1);
      last = room.forwardExtremities();
      expect(last).toEqual([e.eventId]);
    }
    if (version === "1" || version === "2") {
      const e = room.event(last[0]!)!;
      const [ref] = e.pdu.prev_events as Array<[string, { sha256: string }]>;
      expect(ref![1].sha256).toBe(encodeBase64(referenceHash(room.event(ref![0])!.pdu, version)));
    }
  });

  test("a message from a user who never joined, and a join to an invite-only room, fail the auth rules", () => {
    const room = fresh();
    const mallory = `@mallory:${serverName}`;
    const msg = room.build({ type: "m.room.message", sender: mallory, content: { msgtype: "m.text", body: "x" } }, signer);
    expect(room.authorize(msg, "auth_events")).toMatchObject({ allowed: false, rule: "sender.joined" });
    const closed = createPeerRoom(signer, { version, creator: alice, joinRule: "invite" });
    const join = closed.build({ type: "m.room.member", state_key: bob, sender: bob, content: { membership: "join" } }, signer);
    expect(closed.authorize(join, "current_state")).toMatchObject({ allowed: false, rule: "member.join.invited" });
    // ...and an invite from the creator lets the same user join.
    build(closed, { type: "m.room.member", state_key: bob, sender: alice, content: { membership: "invite" } });
    const joinAfterInvite = closed.build({ type: "m.room.member", state_key: bob, sender: bob, content: { membership: "join" } }, signer);
    expect(closed.authorize(joinAfterInvite, "auth_events")).toMatchObject({ allowed: true });
  });

  test("two branches from one event merge: the state after both holds each branch's change", () => {
    const room = fresh();
    const fork = room.forwardExtremities();
    const topic = build(room, { type: "m.room.topic", state_key: "", sender: alice, content: { topic: "t" }, prev_events: fork });
    const avatar = build(room, { type: "m.room.avatar", state_key: "", sender: alice, content: { url: "mxc://x/y" }, prev_events: fork });
    expect(room.forwardExtremities()).toEqual([topic.eventId, avatar.eventId].sort());
    const merge = build(room, { type: "m.room.message", sender: alice, content: { msgtype: "m.text", body: "merge" } });
    expect(refIds(merge.pdu.prev_events).sort()).toEqual([topic.eventId, avatar.eventId].sort());
    expect(room.forwardExtremities()).toEqual([merge.eventId]);
    expect(room.stateEvent("m.room.topic")?.eventId).toBe(topic.eventId);
    expect(room.stateEvent("m.room.avatar")?.eventId).toBe(avatar.eventId);
    expect(room.authorize(merge, "state_before")).toMatchObject({ allowed: true });
  });

  test("the auth chain of an event holds its auth events and theirs, down to the create event (v12: which no event lists)", () => {
    const room = fresh();
    const join = build(room, { type: "m.room.member", state_key: bob, sender: bob, content: { membership: "join" } });
    const chain = room.authChain([join.eventId]);
    expect(chain.missing).toEqual([]);
    const ids = new Set(chain.events.map((e) => e.eventId));
    for (const e of chain.events) for (const a of e.model.auth_events) expect(ids.has(a), `${a}, an auth event of ${e.eventId}`).toBe(true);
    // In v12 the room ID stands for the create event, which is never an auth event.
    expect(ids.has(room.allEvents()[0]!.eventId)).toBe(version !== "12");
    expect(ids.has(join.eventId)).toBe(false);
  });
});
