// Events crossing federation in transactions, both ways: bodies whose assertions depend on the PDU
// format once per format class (room-version-classes.ts), the rejection of a non-member's message
// once; a version the target does not list in m.room_versions is skipped, saying so. The room lives on a peer and a target user joins it, so these cases do not
// depend on the target's own make_join (see joins.test.ts for that).
// Spec: server-server-api/#transactions, #put_matrixfederationv1sendtxnid,
// #checks-performed-on-receipt-of-a-pdu, #validating-hashes-and-signatures-on-received-events,
// #auth-events-selection.
import { checkContentHash, verifyEventSignature } from "../../harness/crypto/index.ts";
import { FEDERATION_WAIT_MS,
  describe,
  describePdu,
  expect,
  expectAllowed,
  expectOk,
  peerRoomWithTargetUser,
  refIds,
  spec,
  test,
  type ClientEvent,
  type FederationPeer,
  type UserClient,
} from "../../harness/fixtures/federation.ts";
import { FORMAT_CLASSES, ONE_VERSION } from "./room-version-classes.ts";

const RECEIPT = "server-server-api/#checks-performed-on-receipt-of-a-pdu";

describe.each(FORMAT_CLASSES.map((v) => [v]))("room version %s", (version) => {
  const arrange = (peer: FederationPeer, alice: UserClient, skip: (note: string) => never) => peerRoomWithTargetUser(peer, alice, version, skip);

  test("a message a peer sends in a transaction is accepted and reaches the target user's /sync", spec("server-server-api/#put_matrixfederationv1sendtxnid", "1.0"), async ({ peer, alice, skip }) => {
    const { room, bob } = await arrange(peer, alice, skip);
    const pdu = peer.buildEvent(room.roomId, { type: "m.room.message", sender: bob, content: { msgtype: "m.text", body: `hello from ${peer.serverName}` } });
    const eventId = peer.eventId(room.roomId, pdu);
    const { response, errors } = await peer.sendPdus(room.roomId, [pdu], { expectAccepted: false });
    expect(response).toHaveStatus(200);
    // "The PDUs from the original transaction. The string key represents the ID of the PDU (event)
    // that was processed." "If no error is present, the PDU can be considered successfully handled."
    expect(response.body.pdus, "the result lists the PDU by its event ID").toHaveProperty([eventId]);
    expect(errors[eventId], "the error the target gave for the PDU").toBeUndefined();
    const seen = await alice.syncUntilEvent(room.roomId, (e) => e.event_id === eventId, "the peer's message", 10_000);
    expect(seen.sender, "the sender of the peer's message as the target's client sees it").toBe(bob);
    expect(seen.content.body, "the body of the peer's message as the target's client sees it").toBe(`hello from ${peer.serverName}`);
  });

  test("a target user's message reaches the peer in a transaction, hashed, signed by the target and authorised", spec("server-server-api/#validating-hashes-and-signatures-on-received-events", "1.0"), async ({ peer, alice, federation, skip }) => {
    const { room } = await arrange(peer, alice, skip);
    const eventId = await alice.sendMessage(room.roomId, "hello peer");
    const got = await peer.waitForPdu((p) => p.eventId === eventId, FEDERATION_WAIT_MS, `alice's message ${eventId}`);
    const event = got.event;
    expect(got.via, "delivered in a transaction").toBe("transaction");
    expect(checkContentHash(event, version), "hashes.sha256 is the content hash").toBe(true);
    const keys = await peer.eventKeys(federation.serverName);
    expectOk(verifyEventSignature(event, version, federation.serverName, keys), `the signature of ${federation.serverName}`);
    expectAllowed(room.authorize(event, "auth_events"), "the auth rules against its auth events");
    expectAllowed(room.authorize(event, "state_before"), "the auth rules against the state before it");
    expect(got.problems, "problems the peer found with the event").toEqual([]);
  });

  test("the target's message names the room's latest event as prev event, one more depth, and the selected auth events", spec("server-server-api/#auth-events-selection", "1.0"), async ({ peer, alice, skip }) => {
    const { room } = await arrange(peer, alice, skip);
    const latest = room.forwardExtremities();
    const latestDepth = Math.max(...latest.map((id) => room.event(id)!.model.depth ?? 0));
    const eventId = await alice.sendMessage(room.roomId, "where am I");
    const got = await peer.waitForPdu((p) => p.eventId === eventId, FEDERATION_WAIT_MS, `alice's message ${eventId}`);
    expect(refIds(got.event.prev_events), "prev_events: the forward extremities when it was sent").toEqual(latest);
    expect(got.event.depth, "depth: one more than its deepest prev event").toBe(latestDepth + 1);
    const before = room.stateBeforeEvent(eventId)!;
    expect(refIds(got.event.auth_events).sort(), "auth_events: create (not in v12), power levels, the sender's membership").toEqual(room.selectAuthEvents(got.event, before).sort());
  });

  // The auth rule (the sender must be joined) is the same in every version: one run.
  if (version === ONE_VERSION) test("a message from a user who is not in the room fails the auth rules and never reaches the target user", spec(RECEIPT, "1.0"), async ({ peer, alice, skip }) => {
    // Step 4 of the checks: an event that fails the authorization checks "based on the auth
    // events" is rejected, and rejected events are not sent to clients.
    const { room, bob } = await arrange(peer, alice, skip);
    const mallory = peer.userId("mallory");
    const forged = peer.buildEvent(room.roomId, { type: "m.room.message", sender: mallory, content: { msgtype: "m.text", body: "let me in" } }, { add: false });
    const forgedId = peer.eventId(room.roomId, forged);
    expect(room.authorize(forged, "auth_events"), "the peer's own model rejects it too").toMatchObject({ allowed: false });
    await peer.sendPdus(room.roomId, [forged], { expectAccepted: false });
    // A legitimate message after it, on the branch without the forged event, shows when the
    // target has processed both.
    const marker = await peer.sendMessage(room.roomId, bob, "after the forged event");
    const timeline: ClientEvent[] = [];
    await alice.syncUntil(`the peer's marker message ${marker}`, (res) => {
      timeline.push(...(res.rooms?.join?.[room.roomId]?.timeline?.events ?? []));
      return timeline.some((e) => e.event_id === marker);
    });
    expect(timeline.map((e) => e.event_id), `${describePdu(forged, forgedId)} reached the target user`).not.toContain(forgedId);
  });
});
