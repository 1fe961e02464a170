// Server ACLs enforced by the target against a denied peer.
// Spec: server-server-api/#server-access-control-lists-acls, client-server-api/#mroomserver_acl.
//
// ACLs match server names without their port, and the target and the default peers are all
// `localhost`. So the denied peer here is named by its IP literal (`127.0.0.1:<port>`) and the ACL
// denies IP literals (allow_ip_literals: false) while allowing every name: the target and
// `localhost` peers stay allowed, which the controls show.
//
// The room lives on an allowed peer; a target user and the denied peer join it, and only then
// does the room's creator set the ACL.
import {
  describe,
  expect,
  fed,
  joinPeerRoom,
  spec,
  test,
  type FederationPeer,
  type NewPeer,
  type Response,
  type UserClient,
} from "../../harness/fixtures/federation.ts";
import { ONE_VERSION } from "./room-version-classes.ts";

const ACL = "server-server-api/#server-access-control-lists-acls";
const MAKE_JOIN = "server-server-api/#get_matrixfederationv1make_joinroomiduserid";
const ACL_CONTENT = { allow: ["*"], deny: [], allow_ip_literals: false };

/**
 * A room on a `localhost` peer (so the test does not depend on the target's make_join), joined by
 * a target user and by a second peer named `127.0.0.1:<port>`, then an ACL denying IP literals
 * sent by the room's creator. Returns both peers; the target accepted the ACL over /send.
 */
async function roomDenyingIpLiteralPeer(newPeer: NewPeer, peer: FederationPeer, alice: UserClient) {
  const owner = peer.userId("owner");
  const room = peer.createRoom({ version: ONE_VERSION, creator: owner });
  peer.handle.transactions();
  await joinPeerRoom(peer, alice, room);
  const denied = await newPeer({ label: "denied peer", host: "127.0.0.1" });
  denied.handle.transactions();
  // The denied peer's user joins through the owner peer (peer to peer), then the owner tells the
  // target about the join.
  peer.handle.joins();
  const join = await denied.joinRoomOnTarget(room.roomId, denied.userId("eve"), ONE_VERSION, { destination: peer.serverName });
  await peer.sendPdus(room.roomId, [join.joinEvent], { destination: peer.targetServerName });
  await alice.syncUntilEvent(room.roomId, (e) => e.event_id === join.joinEventId, "the denied peer's join");
  const acl = peer.buildEvent(room.roomId, { type: "m.room.server_acl", state_key: "", sender: owner, content: ACL_CONTENT });
  await peer.sendPdus(room.roomId, [acl], { destination: peer.targetServerName });
  denied.room(room.roomId).addEvent(acl);
  const aclId = peer.eventId(room.roomId, acl);
  await alice.syncUntilEvent(room.roomId, (e) => e.event_id === aclId, "the m.room.server_acl event");
  return { room, owner, denied, eve: denied.userId("eve"), joinEventId: join.joinEventId };
}

describe("a peer denied by m.room.server_acl", () => {
  test("its PDUs in /send are ignored, each with an error in the response, and never reach the target user", spec(ACL, "1.0"), async ({ peer, newPeer, alice }) => {
    // ACLs "MUST be applied to all PDUs on a per-PDU basis": a denied server's PDU "MUST be
    // ignored with an appropriate error included in the response for the respective event ID".
    const { room, owner, denied, eve } = await roomDenyingIpLiteralPeer(newPeer, peer, alice);
    const pdu = denied.buildEvent(room.roomId, { type: "m.room.message", sender: eve, content: { msgtype: "m.text", body: "denied" } });
    const eventId = denied.eventId(room.roomId, pdu);
    const { response, errors } = await denied.sendPdus(room.roomId, [pdu], { destination: denied.targetServerName, expectAccepted: false });
    expect(response).toHaveStatus(200);
    expect(typeof errors[eventId], `an error for ${eventId} in the response`).toBe("string");
    // The allowed peer's message afterwards, as a marker (sent to the target explicitly: the
    // denied peer is also a resident server of the room).
    const markerPdu = peer.buildEvent(room.roomId, { type: "m.room.message", sender: owner, content: { msgtype: "m.text", body: "allowed" } });
    await peer.sendPdus(room.roomId, [markerPdu], { destination: peer.targetServerName });
    const marker = peer.eventId(room.roomId, markerPdu);
    const seen: string[] = [];
    await alice.syncUntil("the allowed peer's marker", (s) => {
      seen.push(...(s.rooms?.join?.[room.roomId]?.timeline?.events ?? []).map((e) => e.event_id));
      return seen.includes(marker);
    });
    expect(seen, "the denied server's message in the target user's timeline").not.toContain(eventId);
  });

  test("its make_join is refused with 403 M_FORBIDDEN, while an allowed server's gets past the ACL", spec(MAKE_JOIN, "1.0"), async ({ peer, newPeer, alice }) => {
    // The act is make_join. #server-access-control-lists-acls: "If the server is denied access to
    // a room, the receiving server MUST reply with a 403 HTTP status code and an errcode of
    // M_FORBIDDEN", and /_matrix/federation/v1/make_join is among the prefixes that "MUST be
    // protected".
    const { room, denied } = await roomDenyingIpLiteralPeer(newPeer, peer, alice);
    // The control: an allowed server's make_join gets past the ACL to the room version check (it
    // lists no version the room has, so the answer is 400 M_INCOMPATIBLE_ROOM_VERSION, not 403).
    const allowed = await newPeer({ label: "allowed peer" });
    const control = await allowed.makeJoin(room.roomId, allowed.userId("carol"), ["9"]);
    expect(control, "the control: an allowed server's make_join").toBeMatrixError(400, "M_INCOMPATIBLE_ROOM_VERSION");
    const res = await denied.makeJoin(room.roomId, denied.userId("mallory"), [ONE_VERSION]);
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
  });

  test("its requests for the room's state, history and auth chains are refused with 403 M_FORBIDDEN", spec(ACL, "1.0"), async ({ peer, newPeer, alice }) => {
    const { room, denied, joinEventId } = await roomDenyingIpLiteralPeer(newPeer, peer, alice);
    const roomId = room.roomId;
    const requests: Array<[string, () => Promise<Response>]> = [
      ["/state", () => denied.request("GET", fed.v1`/state/${roomId}`, { query: { event_id: joinEventId } })],
      ["/state_ids", () => denied.request("GET", fed.v1`/state_ids/${roomId}`, { query: { event_id: joinEventId } })],
      ["/backfill", () => denied.request("GET", fed.v1`/backfill/${roomId}`, { query: { v: [joinEventId], limit: 10 } })],
      ["/event_auth", () => denied.request("GET", fed.v1`/event_auth/${roomId}/${joinEventId}`)],
      ["/get_missing_events", () => denied.request("POST", fed.v1`/get_missing_events/${roomId}`, { body: { earliest_events: [], latest_events: [joinEventId], limit: 10 } })],
      ["/make_leave", () => denied.request("GET", fed.v1`/make_leave/${roomId}/${denied.userId("eve")}`)],
    ];
    const wrong: string[] = [];
    for (const [what, send] of requests) {
      const res = await send();
      if (res.status !== 403 || res.body?.errcode !== "M_FORBIDDEN") wrong.push(`${what}: ${res.status} ${JSON.stringify(res.body?.errcode)}`);
    }
    expect(wrong, "protected endpoints that did not answer 403 M_FORBIDDEN").toEqual([]);
  });

  test("its m.typing EDUs for the room are ignored", spec(ACL, "1.13", { msc: "4163" }), async ({ peer, newPeer, alice }) => {
    // For m.typing, "if the sending server is denied access to the room ... the EDU MUST be ignored".
    const { room, owner, denied, eve } = await roomDenyingIpLiteralPeer(newPeer, peer, alice);
    const typing = (user: string) => ({ edu_type: "m.typing", content: { room_id: room.roomId, user_id: user, typing: true } });
    expect(await denied.sendTransaction(denied.targetServerName, { edus: [typing(eve)] })).toHaveStatus(200);
    // Then the allowed peer's typing, which must show.
    expect(await peer.sendTransaction(peer.targetServerName, { edus: [typing(owner)] })).toHaveStatus(200);
    const typists = new Set<string>();
    await alice.syncUntil(`${owner} typing`, (s) => {
      for (const e of s.rooms?.join?.[room.roomId]?.ephemeral?.events ?? []) if (e.type === "m.typing") for (const u of e.content?.user_ids ?? []) typists.add(u);
      return typists.has(owner);
    });
    expect([...typists], "the denied server's user shown typing").not.toContain(eve);
  });
});

