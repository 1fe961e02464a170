// What the target does with PDUs that fail the checks on receipt: bad signatures, bad content
// hashes and forged senders once per PDU format class (room-version-classes.ts: signing,
// redaction and the v1-v2 event-ID rule differ by version); events that fail an auth rule every
// version shares, events from a user who left and oversized events once. A version the target
// does not list in m.room_versions is skipped, saying so.
// A peer creates the room and a target user joins it (no dependence on the target's make_join).
//
// The transaction itself: "The server is to use this response even in the event of one or more
// PDUs failing to be processed" and a rejected event "should not cause the transaction request to
// be responded to with an error response", so every /send here must be answered 200 with a `pdus`
// object. Whether a dropped or rejected PDU appears in it with an error is not asserted: the spec
// keys the map by the PDUs "that [were] processed" and does not require an entry for each.
//
// Each bad event is followed by a legitimate marker from the peer on a branch without it; once the
// target user sees the marker, the target has processed both.
// Spec: server-server-api/#checks-performed-on-receipt-of-a-pdu, #validating-hashes-and-signatures-on-received-events,
// #rejection, client-server-api/#size-limits, rooms/vN authorization rules.
import { signEvent } from "../../harness/crypto/index.ts";
import { cs, describe, describePdu, expect, peerRoomWithTargetUser, spec, test, type ClientEvent, type FederationPeer, type PeerRoom, type UserClient, type WirePdu } from "../../harness/fixtures/federation.ts";
import { FORMAT_CLASSES, ONE_VERSION } from "./room-version-classes.ts";

const RECEIPT = "server-server-api/#checks-performed-on-receipt-of-a-pdu";
const SIGNATURES = "server-server-api/#validating-hashes-and-signatures-on-received-events";
const SIZE = "client-server-api/#size-limits";

/** Sends `bad` (not added to the peer's model), then a marker; returns what the target user saw up to the marker. */
async function sendBadThenMarker(peer: FederationPeer, alice: UserClient, room: PeerRoom, bad: WirePdu, markerSender: string): Promise<{ badId: string; timeline: ClientEvent[] }> {
  const badId = peer.eventId(room.roomId, bad);
  const { response } = await peer.sendPdus(room.roomId, [bad], { expectAccepted: false });
  expect(response, "the transaction is answered 200 even when a PDU fails").toHaveStatus(200);
  expect(typeof response.body?.pdus, "the answer carries the pdus results object").toBe("object");
  const marker = await peer.sendMessage(room.roomId, markerSender, "marker after the bad event");
  const timeline: ClientEvent[] = [];
  await alice.syncUntil(`the peer's marker ${marker}`, (res) => {
    timeline.push(...(res.rooms?.join?.[room.roomId]?.timeline?.events ?? []));
    return timeline.some((e) => e.event_id === marker);
  });
  return { badId, timeline };
}

/** The event as the target serves it to its user: undefined when it does not serve it. */
async function servedEvent(alice: UserClient, roomId: string, eventId: string): Promise<ClientEvent | undefined> {
  const res = await alice.get(cs.v3`/rooms/${roomId}/event/${eventId}`);
  return res.status === 200 ? (res.body as ClientEvent) : undefined;
}

describe.each(FORMAT_CLASSES.map((v) => [v]))("room version %s", (version) => {
  const arrange = (peer: FederationPeer, alice: UserClient, skip: (note: string) => never) => peerRoomWithTargetUser(peer, alice, version, skip);

  test("an event whose signature does not verify is dropped: never in /sync nor served", spec(SIGNATURES, "1.0"), async ({ peer, alice, skip }) => {
    // Step 2 of the checks: an event that fails the signature checks is dropped.
    const { room, bob } = await arrange(peer, alice, skip);
    const pdu = peer.buildEvent(room.roomId, { type: "m.room.message", sender: bob, content: { msgtype: "m.text", body: "badly signed" } }, { add: false });
    // A valid ed25519 signature, but by a key the peer does not publish, labelled with the ID of
    // the key it does publish. Signatures are not part of the event ID, so the ID is unchanged.
    const { signatures: _drop, ...unsigned } = pdu;
    const other = signEvent(unsigned, version, peer.serverName, peer.unpublishedKey) as WirePdu;
    const wrongSig = Object.values((other.signatures as Record<string, Record<string, string>>)[peer.serverName]!)[0]!;
    const bad = { ...pdu, signatures: { [peer.serverName]: { [peer.signingKey.keyId]: wrongSig } } };
    const { badId, timeline } = await sendBadThenMarker(peer, alice, room, bad, bob);
    expect(timeline.map((e) => e.event_id), `${describePdu(bad, badId)} in the target user's timeline`).not.toContain(badId);
    expect(await servedEvent(alice, room.roomId, badId), "GET /rooms/{roomId}/event serves the dropped event").toBeUndefined();
  });

  test("an event whose content hash does not match is redacted, not dropped: the target user gets it without its content", spec(RECEIPT, "1.0"), async ({ peer, alice, skip }) => {
    // Step 3 of the checks on receipt: the event "Passes hash checks, otherwise it is redacted
    // before being processed further" -- redacted, then on to the auth checks, which a redacted
    // message passes; so the event belongs in the room, without the content that failed. (That the
    // receiver "should use the redacted copy it calculated" is the SHOULD of the signing section;
    // here the redaction is what step 3 requires.) A message's content is not covered by the
    // signature (it is checked on the redacted event), so the signature still verifies and the
    // event ID, a hash of the redacted event from v3, is unchanged.
    const { room, bob } = await arrange(peer, alice, skip);
    const pdu = peer.buildEvent(room.roomId, { type: "m.room.message", sender: bob, content: { msgtype: "m.text", body: "the original" } }, { add: false });
    const tampered = "tampered after hashing";
    const bad = { ...pdu, content: { msgtype: "m.text", body: tampered } };
    const { badId, timeline } = await sendBadThenMarker(peer, alice, room, bad, bob);
    const inTimeline = timeline.find((e) => e.event_id === badId);
    const served = await servedEvent(alice, room.roomId, badId);
    expect(
      inTimeline !== undefined || served !== undefined,
      `${describePdu(bad, badId)} is neither in the target user's /sync timeline nor served by GET /rooms/{roomId}/event: it was dropped, but an event failing the hash check is redacted and processed further, and a redacted message passes the auth rules`,
    ).toBe(true);
    for (const [where, ev] of [["/sync", inTimeline], ["GET /event", served]] as const) {
      if (ev === undefined) continue;
      expect(ev.content?.body, `${where} shows the content that failed the hash check`).toBeUndefined();
    }
  });

  test("an event whose sender belongs to another server than its signer is dropped", spec(SIGNATURES, "1.0"), async ({ peer, alice, skip }) => {
    // The sender's server must sign (from room version 3 the originating server is the server of
    // the sender; v1-v2 add the server of the event ID). Here the peer forges a message from the
    // target's own user, signed by the peer only: it passes every auth rule but not that check.
    const { room, bob } = await arrange(peer, alice, skip);
    const forged = peer.buildEvent(room.roomId, { type: "m.room.message", sender: alice.userId, content: { msgtype: "m.text", body: "not really from alice" } }, { add: false });
    const { badId, timeline } = await sendBadThenMarker(peer, alice, room, forged, bob);
    expect(timeline.map((e) => e.event_id), `${describePdu(forged, badId)} in the target user's timeline`).not.toContain(badId);
    expect(await servedEvent(alice, room.roomId, badId), "GET /rooms/{roomId}/event serves the forged event").toBeUndefined();
  });

  // The power rule for state events is the same in every version: one run.
  if (version === ONE_VERSION) test("a state event from a member without the power for it is rejected: room state unchanged", spec(RECEIPT, "1.0"), async ({ peer, alice, skip }) => {
    // Step 4: an event failing the authorisation rules based on its auth events is rejected,
    // and a rejected event is neither relayed to clients nor used as state.
    const { room, bob } = await arrange(peer, alice, skip);
    const carol = peer.userId("carol");
    const join = peer.buildEvent(room.roomId, { type: "m.room.member", state_key: carol, sender: carol, content: { membership: "join" } });
    await peer.sendPdus(room.roomId, [join]);
    const name = peer.buildEvent(room.roomId, { type: "m.room.name", state_key: "", sender: carol, content: { name: "renamed without power" } }, { add: false });
    expect(room.authorize(name, "auth_events"), "the peer's own model rejects it too").toMatchObject({ allowed: false });
    const { badId, timeline } = await sendBadThenMarker(peer, alice, room, name, bob);
    expect(timeline.map((e) => e.event_id), `${describePdu(name, badId)} in the target user's timeline`).not.toContain(badId);
    const state = await alice.get(cs.v3`/rooms/${room.roomId}/state/m.room.name/`);
    if (state.status === 200) expect(state.body.name, "the room name the target user sees").not.toBe("renamed without power");
    else expect(state).toBeMatrixError(404, "M_NOT_FOUND");
  });

  // The sender must be joined, in every version: one run.
  if (version === ONE_VERSION) test("a message from a peer user sent after their leave is rejected", spec(RECEIPT, "1.0"), async ({ peer, alice, skip }) => {
    // After bob leaves, a message from bob on top of his leave fails the auth rules (the sender
    // is not joined) and never reaches the target user. The marker comes from dave, another user
    // of the peer who joined first.
    const { room, bob } = await arrange(peer, alice, skip);
    const dave = peer.userId("dave");
    const daveJoin = peer.buildEvent(room.roomId, { type: "m.room.member", state_key: dave, sender: dave, content: { membership: "join" } });
    await peer.sendPdus(room.roomId, [daveJoin]);
    const leave = peer.buildEvent(room.roomId, { type: "m.room.member", state_key: bob, sender: bob, content: { membership: "leave" } });
    await peer.sendPdus(room.roomId, [leave]);
    const leaveId = peer.eventId(room.roomId, leave);
    await alice.syncUntilEvent(room.roomId, (e) => e.event_id === leaveId, "bob's leave");
    const late = peer.buildEvent(room.roomId, { type: "m.room.message", sender: bob, content: { msgtype: "m.text", body: "after leaving" } }, { add: false });
    const { badId, timeline } = await sendBadThenMarker(peer, alice, room, late, dave);
    expect(timeline.map((e) => e.event_id), `${describePdu(late, badId)} in the target user's timeline`).not.toContain(badId);
  });

  // The size limit is the same in every version: one run.
  if (version === ONE_VERSION) test("an event larger than 65536 bytes of canonical JSON is not accepted", spec(SIZE, "1.0"), async ({ peer, alice, skip }) => {
    // "The complete event MUST NOT be larger than 65536 bytes" in the federation format with its
    // signatures, as canonical JSON; step 1 of the checks drops an event that is not valid.
    const { room, bob } = await arrange(peer, alice, skip);
    const big = peer.buildEvent(room.roomId, { type: "m.room.message", sender: bob, content: { msgtype: "m.text", body: "x".repeat(66_000) } }, { add: false });
    expect(JSON.stringify(big).length, "the event is over the limit").toBeGreaterThan(65_536);
    const { badId, timeline } = await sendBadThenMarker(peer, alice, room, big, bob);
    expect(timeline.map((e) => e.event_id), "the oversized event in the target user's timeline").not.toContain(badId);
    expect(await servedEvent(alice, room.roomId, badId), "GET /rooms/{roomId}/event serves the oversized event").toBeUndefined();
  });
});
