// Two peers talking to each other over HTTPS with certificates from one CA: one signs, the other
// verifies; refusals, unexpected requests, joins, transactions, invites, leaves and the
// read-only endpoints. Every response and every request of both peers must match the spec's schemas.
import { afterEach, describe, expect, test } from "vitest";
import { ExchangeLog } from "../../harness/client/exchange.ts";
import { ROOM_VERSION_IDS, verifyEventSignature } from "../../harness/crypto/index.ts";
import { fed, formatXMatrix, signRequest, type FederationPeer } from "../../harness/federation/index.ts";
import { schemaFailures, startPair, startPeer } from "./helpers.ts";

const logs: ExchangeLog[] = [];
afterEach(() => {
  const bad = logs.splice(0).map(schemaFailures).filter(Boolean);
  expect(bad.join("\n"), "responses that break the spec's schemas").toBe("");
});

async function pair() {
  const p = await startPair();
  logs.push(p.log);
  return p;
}

const profile = (from: FederationPeer, to: FederationPeer, opts: Parameters<FederationPeer["request"]>[2] = {}) =>
  from.request("GET", fed.v1`/query/profile`, { destination: to.serverName, query: { user_id: to.userId("bob") }, ...opts });

describe("request authentication between two peers", () => {
  test("a request signed by one peer is verified by the other, which fetched the signer's key document", async () => {
    const { a, b, log } = await pair();
    b.handle.profiles();
    b.profiles.set(b.userId("bob"), { displayname: "Bob" });
    const res = await profile(a, b);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ displayname: "Bob" });
    const channels = log.exchanges.map((e) => `${e.channel} ${e.method} ${new URL(e.url).pathname}`);
    expect(channels).toContain(`federation-out:${a.serverName} GET /_matrix/key/v2/server`);
    expect(channels).toContain(`federation-in:${a.serverName} GET /_matrix/federation/v1/query/profile`);
    expect(b.unexpectedRequests()).toEqual([]);
  });

  test.each<[string, Parameters<FederationPeer["request"]>[2] | ((a: FederationPeer) => Parameters<FederationPeer["request"]>[2]), RegExp]>([
    ["no Authorization header", { authorization: null }, /no Authorization header/],
    ["a corrupted signature", { authorization: (p) => formatXMatrix({ ...p, sig: p.sig.startsWith("A") ? `B${p.sig.slice(1)}` : `A${p.sig.slice(1)}` }) }, /does not verify/],
    ["another destination", { authorization: (p, req) => signRequest({ ...req, destination: "elsewhere.example" }, undefined as never) }, /./],
    ["a key the origin does not publish", (a) => ({ authorization: (_p, req) => signRequest(req, a.unpublishedKey) }), /does not publish the key/],
    ["a malformed header", { authorization: 'X-Matrix origin="x"' }, /lacks key, sig/],
  ])("refuses %s with 401 M_UNAUTHORIZED and records it as unexpected", async (name, opts, reason) => {
    // Not through pair(): the header faults are also the sender's x-matrix violations (below).
    const { a, b, log } = await startPair();
    b.handle.profiles();
    b.profiles.set(b.userId("bob"), { displayname: "Bob" });
    let options = typeof opts === "function" ? opts(a) : opts;
    if (name === "another destination") options = { authorization: (_p, req) => signRequest({ ...req, destination: "elsewhere.example" }, a.signingKey) };
    const res = await profile(a, b, options);
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe("M_UNAUTHORIZED");
    const unexpected = b.takeUnexpected();
    expect(unexpected).toHaveLength(1);
    expect(unexpected[0]!.reason).toMatch(reason);
    if (name === "another destination") expect(unexpected[0]!.reason).toMatch(/destination "elsewhere.example"/);
    // The header itself is checked as the sender's request: a fault of its form is an x-matrix
    // violation on the inbound exchange; a bad signature or key is the verifier's refusal only.
    const inbound = log.exchanges.find((e) => e.channel.startsWith("federation-in:") && e.url.includes("/query/profile"))!;
    expect(inbound.schema?.subject).toBe("request");
    const headerFault = ["no Authorization header", "another destination", "a malformed header"].includes(name);
    expect(inbound.schema?.errors.map((v) => v.keyword)).toEqual(headerFault ? ["x-matrix"] : []);
  });

  test("an endpoint no handler serves is answered 404 M_UNRECOGNIZED and recorded as unexpected", async () => {
    const { a, b } = await pair();
    const res = await a.request("GET", fed.v1`/state_ids/${"!r:x"}`, { query: { event_id: "$e" } });
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe("M_UNRECOGNIZED");
    expect(b.takeUnexpected().map((u) => u.reason)).toEqual([expect.stringMatching(/no handler expects GET \/_matrix\/federation\/v1\/state_ids/)]);
  });

  test("the key document and version are served to anyone, without a handler", async () => {
    const { a, b } = await pair();
    const keys = await a.request("GET", fed.key`/server`, { authorization: null });
    expect(keys.status).toBe(200);
    expect(keys.body.server_name).toBe(b.serverName);
    const version = await a.request("GET", fed.v1`/version`, { authorization: null });
    expect(version.body.server.name).toBe("matrix-conformance peer");
    expect(b.unexpectedRequests()).toEqual([]);
  });
});

describe("transactions", () => {
  test("background EDUs are tolerated without the transactions handler; a PDU is not", async () => {
    const { a, b } = await pair();
    const presence = await a.sendTransaction(b.serverName, { edus: [{ edu_type: "m.presence", content: { push: [] } }] });
    expect(presence.status).toBe(200);
    expect(b.tolerated()).toHaveLength(1);
    expect(b.unexpectedRequests()).toEqual([]);
    const typing = await a.sendTransaction(b.serverName, { edus: [{ edu_type: "m.typing", content: { room_id: "!r:x", user_id: a.userId("u"), typing: true } }] });
    expect(typing.status).toBe(404);
    expect(b.takeUnexpected()[0]!.reason).toMatch(/transactions are not switched on/);
  });

  test("waitForPdu names what it waited for and what arrived when it times out", async () => {
    const { a, b } = await pair();
    b.handle.transactions();
    await a.sendTransaction(b.serverName, { edus: [{ edu_type: "m.receipt", content: {} }] });
    const err = await b.waitForPdu((p) => p.event.type === "m.room.message", 200, "a message from alice").catch((e: Error) => e);
    expect(String(err)).toMatch(/timed out after 200 ms waiting for a message from alice at .*no PDUs arrived/);
    const eduErr = await b.waitForEdu((e) => e.edu_type === "m.typing", 200, "a typing notification").catch((e: Error) => e);
    expect(String(eduErr)).toMatch(/a typing notification .*1 EDUs arrived, none matching:\n {2}- m\.receipt from/);
  });
});

describe.each(ROOM_VERSION_IDS.map((v) => [v]))("room version %s between two peers", (version) => {
  test("b joins a's room with make_join and send_join: the join is countersigned and both models agree on the state", async () => {
    const { a, b } = await pair();
    a.handle.joins();
    const room = a.createRoom({ version, creator: a.userId("alice") });
    const join = await b.joinRoomOnTarget(room.roomId, b.userId("bob"), version);
    expect(join.problems).toEqual([]);
    const aKeys = { [a.signingKey.keyId]: a.signingKey.publicKey };
    expect(verifyEventSignature(join.joinEvent, version, a.serverName, aKeys)).toMatchObject({ ok: true });
    expect(join.room.currentState()).toEqual(room.currentState());
    expect(room.joinedMembers()).toEqual([a.userId("alice"), b.userId("bob")].sort());
    const received = await a.waitForPdu((p) => p.via === "send_join", 1000, "b's join");
    expect(received.problems).toEqual([]);
    expect(a.unexpectedRequests()).toEqual([]);
  });

  test("messages go both ways in transactions, each checked and added to the other's model", async () => {
    const { a, b } = await pair();
    a.handle.joins();
    const room = a.createRoom({ version, creator: a.userId("alice") });
    await b.joinRoomOnTarget(room.roomId, b.userId("bob"), version);
    a.handle.transactions();
    const fromB = await b.sendMessage(room.roomId, b.userId("bob"), "hello a");
    const got = await a.waitForPdu((p) => p.eventId === fromB, 2000, "b's message");
    expect(got.problems).toEqual([]);
    expect(room.forwardExtremities()).toEqual([fromB]);
    const fromA = await a.sendMessage(room.roomId, a.userId("alice"), "hello b");
    const back = await b.waitForPdu((p) => p.eventId === fromA, 2000, "a's message");
    expect(back.problems).toEqual([]);
    expect(b.room(room.roomId).forwardExtremities()).toEqual([fromA]);
  });
});

describe("more handlers between two peers", () => {
  test("an event rejected by the auth rules is reported in the /send response", async () => {
    const { a, b } = await pair();
    a.handle.joins();
    const room = a.createRoom({ version: "10", creator: a.userId("alice") });
    await b.joinRoomOnTarget(room.roomId, b.userId("bob"), "10");
    a.handle.transactions();
    const bad = b.buildEvent(room.roomId, { type: "m.room.message", sender: b.userId("mallory"), content: { msgtype: "m.text", body: "x" } }, { add: false });
    const result = await b.sendPdus(room.roomId, [bad], { expectAccepted: false });
    expect(Object.values(result.errors)[0]).toMatch(/not authorised by its auth events/);
  });

  test("invites: a invites b's user; b checks and countersigns", async () => {
    const { a, b } = await pair();
    b.handle.invites();
    const room = a.createRoom({ version: "11", creator: a.userId("alice"), joinRule: "invite" });
    const invite = await a.inviteTargetUser(room.roomId, a.userId("alice"), b.userId("bob"));
    const bKeys = { [b.signingKey.keyId]: b.signingKey.publicKey };
    expect(verifyEventSignature(invite.event, "11", b.serverName, bKeys)).toMatchObject({ ok: true });
    expect(room.membership(b.userId("bob"))).toBe("invite");
    const seen = await b.waitForPdu((p) => p.via === "invite", 1000, "the invite");
    expect(seen.problems).toEqual([]);
  });

  test("leaves: b leaves a's room with make_leave and send_leave", async () => {
    const { a, b } = await pair();
    a.handle.joins();
    a.handle.leaves();
    const room = a.createRoom({ version: "9", creator: a.userId("alice") });
    await b.joinRoomOnTarget(room.roomId, b.userId("bob"), "9");
    await b.leaveRoomOnTarget(room.roomId, b.userId("bob"));
    expect(room.membership(b.userId("bob"))).toBe("leave");
    expect(b.room(room.roomId).membership(b.userId("bob"))).toBe("leave");
  });

  test("knocks: b knocks on a's knock room and gets the stripped state", async () => {
    const { a, b } = await pair();
    a.handle.knocks();
    const room = a.createRoom({ version: "7", creator: a.userId("alice"), joinRule: "knock", name: "knock here" });
    const knock = await b.membershipOnTarget("knock", room.roomId, b.userId("bob"));
    expect(room.membership(b.userId("bob"))).toBe("knock");
    expect(knock.send.body.knock_room_state.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(["m.room.create", "m.room.join_rules", "m.room.name"]));
  });

  test("state, state_ids, event, event_auth, backfill and get_missing_events answer from a's model", async () => {
    const { a, b } = await pair();
    a.handle.joins();
    a.handle.state();
    a.handle.events();
    a.handle.eventAuth();
    a.handle.backfill();
    a.handle.missingEvents();
    const room = a.createRoom({ version: "12", creator: a.userId("alice") });
    const { joinEventId } = await b.joinRoomOnTarget(room.roomId, b.userId("bob"), "12");
    const m1 = a.buildEvent(room.roomId, { type: "m.room.message", sender: a.userId("alice"), content: { msgtype: "m.text", body: "1" } });
    const m2 = a.buildEvent(room.roomId, { type: "m.room.message", sender: a.userId("alice"), content: { msgtype: "m.text", body: "2" } });
    const [id1, id2] = [a.eventId(room.roomId, m1), a.eventId(room.roomId, m2)];

    const ids = await b.request("GET", fed.v1`/state_ids/${room.roomId}`, { query: { event_id: id2 } });
    expect(ids.status).toBe(200);
    expect(new Set(ids.body.pdu_ids)).toEqual(new Set(room.currentState().values()));
    const state = await b.request("GET", fed.v1`/state/${room.roomId}`, { query: { event_id: id2 } });
    expect(state.body.pdus).toHaveLength(room.currentState().size);
    const single = await b.request("GET", fed.v1`/event/${id1}`);
    expect(single.body.pdus).toEqual([m1]);
    const auth = await b.request("GET", fed.v1`/event_auth/${room.roomId}/${joinEventId}`);
    expect(auth.body.auth_chain.length).toBeGreaterThan(0);
    const back = await b.request("GET", fed.v1`/backfill/${room.roomId}`, { query: { v: id2, limit: 2 } });
    expect(back.body.pdus).toEqual([m2, m1]);
    const missing = await b.request("POST", fed.v1`/get_missing_events/${room.roomId}`, { body: { earliest_events: [joinEventId], latest_events: [id2], limit: 10 } });
    expect(missing.body.events).toEqual([m1]);
    expect(a.unexpectedRequests()).toEqual([]);
  });

  test("a third peer, not in the room, is refused room state with 403", async () => {
    const { a, b } = await pair();
    a.handle.state();
    const room = a.createRoom({ version: "12", creator: a.userId("alice") });
    const c = await startPeer(b.log, a);
    const res = await c.request("GET", fed.v1`/state_ids/${room.roomId}`, { query: { event_id: room.forwardExtremities()[0]! } });
    expect(res.status).toBe(403);
    expect(res.body.errcode).toBe("M_FORBIDDEN");
  });
});
