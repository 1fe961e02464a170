// Retried transactions: a sending server must retry a transaction until it gets 200 before it
// uses a new txnId, so the receiver must answer a retry, and the retry must not duplicate what it
// carried (an event is identified by its event ID).
// Spec: server-server-api/#put_matrixfederationv1sendtxnid, #transactions.
import { cs, describe, expect, peerRoomWithTargetUser, spec, test, type Body } from "../../harness/fixtures/federation.ts";
import { ONE_VERSION } from "./room-version-classes.ts";

const SEND = "server-server-api/#put_matrixfederationv1sendtxnid";

// Deduplicating a retried transaction does not depend on the room version: one run, in
// ONE_VERSION (room-version-classes.ts).
describe.each([[ONE_VERSION]])("room version %s", (version) => {
  test("a transaction retried with the same txnId is answered 200 again, and its event shows once in the room", spec(SEND, "1.0"), async ({ peer, alice, deployment, skip }) => {
    // Reading /messages may make the target backfill the room's history from the peer.
    peer.handle.backfill();
    const { room, bob } = await peerRoomWithTargetUser(peer, alice, version, skip);

    const pdu = peer.buildEvent(room.roomId, { type: "m.room.message", sender: bob, content: { msgtype: "m.text", body: "sent once, delivered twice" } });
    const eventId = peer.eventId(room.roomId, pdu);
    const txnId = `retry-${Date.now()}`;
    const first = await peer.sendTransaction(deployment.serverName, { pdus: [pdu] }, txnId);
    expect(first).toHaveStatus(200);
    const retry = await peer.sendTransaction(deployment.serverName, { pdus: [pdu] }, txnId);
    expect(retry, "the retry of the same transaction").toHaveStatus(200);

    await alice.syncUntilEvent(room.roomId, (e) => e.event_id === eventId, "the peer's message");
    const page = await alice.step<Body>("read the room's recent events", "GET", cs.v3`/rooms/${room.roomId}/messages`, { query: { dir: "b", limit: 50 } });
    const copies = (page.chunk as Array<{ event_id: string }>).filter((e) => e.event_id === eventId);
    expect(copies, "the event appears exactly once in /messages").toHaveLength(1);
  });
});
