// Invites, leaves and knocks over federation, both ways. Invites and leaves carry events the
// target builds, signs or checks in the room's format: once per PDU format class
// (room-version-classes.ts). Knocking exists from room version 7: it runs in the format classes
// that have it (10, 11, 12); the refusal in a version without knocking (1-6) runs once, in 1.
// Spec: server-server-api/#inviting-to-a-room, #leaving-rooms-rejecting-invites, #knocking-rooms.
import { roomVersion as rulesOf, verifyEventSignature } from "../../harness/crypto/index.ts";
import { FEDERATION_WAIT_MS,
  describe,
  expect,
  expectAllowed,
  expectOk,
  fed,
  inRoomVersion,
  joinPeerRoom,
  knownVersion,
  roomVersionsWhere,
  spec,
  test,
} from "../../harness/fixtures/federation.ts";
import { FORMAT_CLASSES } from "./room-version-classes.ts";

const INVITE_V2 = "server-server-api/#put_matrixfederationv2inviteroomideventid";
const LEAVING = "server-server-api/#leaving-rooms-rejecting-invites";
const MAKE_KNOCK = "server-server-api/#get_matrixfederationv1make_knockroomiduserid";
const SEND_KNOCK = "server-server-api/#put_matrixfederationv1send_knockroomideventid";

/** The versions with knocking (7 and later), which a knocking server lists in make_knock's ver. */
const KNOCK_VERSIONS = roomVersionsWhere((r) => r.auth.knock);
/** The format class where the refusal in a version without knocking runs: the first without it (1). */
const NO_KNOCK_VERSION = FORMAT_CLASSES.find((v) => !rulesOf(v).auth.knock);

describe.for(FORMAT_CLASSES)("room version %s", (version) => {
  test.override(inRoomVersion(version));

  describe("invites", () => {
    test("a target user inviting a peer user sends PUT /v2/invite with the room version and the invite signed by the target", spec(INVITE_V2, "1.0"), async ({ peer, alice, federation, log, roomVersion }) => {
      const roomId = await alice.createRoom({ preset: "private_chat", room_version: roomVersion });
      peer.handle.invites();
      const dave = peer.userId("dave");
      // The inviting server may look up the invitee's profile (for the invite's display name).
      peer.profiles.set(dave, { displayname: "Dave" });
      peer.handle.profiles();
      await alice.invite(roomId, dave);
      const got = await peer.waitForPdu((p) => p.via === "invite" && p.event.state_key === dave, FEDERATION_WAIT_MS, `the invite of ${dave}`);
      expect(got.problems, "problems the peer found with the invite").toEqual([]);
      expect([got.event.type, got.event.sender, (got.event.content as Record<string, unknown>)?.membership, got.event.room_id], "type, sender, membership, room").toEqual(["m.room.member", alice.userId, "invite", roomId]);
      const keys = await peer.eventKeys(federation.serverName);
      expectOk(verifyEventSignature(got.event, knownVersion(roomVersion), federation.serverName, keys), `the signature of ${federation.serverName}`);
      const exchange = log.exchanges.find((e) => e.channel.startsWith("federation-in:") && e.method === "PUT" && e.url.includes("/_matrix/federation/"));
      expect(exchange?.url, "the invite used the v2 API").toContain("/_matrix/federation/v2/invite/");
      expect(JSON.parse(exchange!.requestBody ?? "{}").room_version, "room_version in the request").toBe(roomVersion);
    });

    test("a peer user's invite to a target user shows in the target user's /sync under rooms.invite", spec(INVITE_V2, "1.0"), async ({ peer, alice, roomVersion }) => {
      const bob = peer.userId("bob");
      const room = peer.createRoom({ version: roomVersion, creator: bob, name: "invited over federation" });
      await peer.inviteTargetUser(room.roomId, bob, alice.userId);
      const res = await alice.syncUntil(`the invite to ${room.roomId}`, (s) => s.rooms?.invite?.[room.roomId] !== undefined);
      const events = (res.rooms!.invite![room.roomId]!.invite_state?.events ?? []) as Array<{ type: string; state_key?: string; content?: Record<string, unknown> }>;
      const member = events.find((e) => e.type === "m.room.member" && e.state_key === alice.userId);
      expect(member?.content?.membership, "invite_state holds the invite for the user").toBe("invite");
    });

    test("rejecting a peer's invite goes through make_leave and send_leave at the peer with a correct leave", spec(LEAVING, "1.0"), async ({ peer, alice, federation, roomVersion }) => {
      const bob = peer.userId("bob");
      const room = peer.createRoom({ version: roomVersion, creator: bob });
      await peer.inviteTargetUser(room.roomId, bob, alice.userId);
      peer.handle.leaves();
      await alice.syncUntil(`the invite to ${room.roomId}`, (s) => s.rooms?.invite?.[room.roomId] !== undefined);
      await alice.leave(room.roomId);
      const got = await peer.waitForPdu((p) => p.via === "send_leave" && p.event.state_key === alice.userId, FEDERATION_WAIT_MS, `the send_leave of ${alice.userId}`);
      expect(got.problems, "problems the peer found with the leave").toEqual([]);
      expect([got.event.sender, (got.event.content as Record<string, unknown>)?.membership], "sender, membership").toEqual([alice.userId, "leave"]);
      const keys = await peer.eventKeys(federation.serverName);
      expectOk(verifyEventSignature(got.event, knownVersion(roomVersion), federation.serverName, keys), `the signature of ${federation.serverName}`);
    });
  });

  describe("leaves", () => {
    test("a target user leaving a peer's room sends a leave the peer accepts: signed and authorised", spec(LEAVING, "1.0"), async ({ peer, alice, federation, roomVersion }) => {
      const room = peer.createRoom({ version: roomVersion, creator: peer.userId("bob") });
      peer.handle.transactions();
      await joinPeerRoom(peer, alice, room);
      await alice.leave(room.roomId);
      const got = await peer.waitForPdu((p) => p.event.type === "m.room.member" && p.event.state_key === alice.userId && (p.event.content as Record<string, unknown>)?.membership === "leave", FEDERATION_WAIT_MS, `the leave of ${alice.userId}`);
      expect(got.problems, "problems the peer found with the leave").toEqual([]);
      expect(got.event.sender, "sender").toBe(alice.userId);
      const keys = await peer.eventKeys(federation.serverName);
      expectOk(verifyEventSignature(got.event, knownVersion(roomVersion), federation.serverName, keys), `the signature of ${federation.serverName}`);
      expectAllowed(room.authorize(got.event, "auth_events"), "the auth rules against its auth events");
      expect(room.membership(alice.userId), "the peer's view of the membership").toBe("leave");
    });

    test("a peer user leaves through the target with make_leave and send_leave, and the target user sees the leave", spec(LEAVING, "1.0"), async ({ peer, alice, roomVersion }) => {
      // The room lives on the peer (so the test does not depend on the target's make_join); carol
      // joins through the peer, then leaves through the target, a resident server of the room.
      const room = peer.createRoom({ version: roomVersion, creator: peer.userId("bob") });
      peer.handle.transactions();
      await joinPeerRoom(peer, alice, room);
      const carol = peer.userId("carol");
      const join = peer.buildEvent(room.roomId, { type: "m.room.member", state_key: carol, sender: carol, content: { membership: "join" } });
      await peer.sendPdus(room.roomId, [join]);
      const joinId = peer.eventId(room.roomId, join);
      await alice.syncUntilEvent(room.roomId, (e) => e.event_id === joinId, "carol's join");
      const { eventId } = await peer.leaveRoomOnTarget(room.roomId, carol);
      const seen = await alice.syncUntilEvent(room.roomId, (e) => e.event_id === eventId, "the peer user's leave");
      expect(seen.content.membership, "membership").toBe("leave");
      const state = await alice.getState<{ membership: string }>(room.roomId, "m.room.member", carol);
      expect(state.membership, "the room state").toBe("leave");
    });
  });

  describe("knocks", () => {
    const knocking = rulesOf(version).auth.knock;
    if (knocking) {
      test("a peer user knocks on a target room with make_knock and send_knock; the room admin sees the knock", spec(SEND_KNOCK, "1.1"), async ({ peer, alice, roomVersion }) => {
        const roomId = await alice.createRoom({ preset: "private_chat", room_version: roomVersion, initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "knock" } }] });
        const bob = peer.userId("bob");
        const { eventId, send } = await peer.membershipOnTarget("knock", roomId, bob, { versions: [roomVersion] });
        expect(Array.isArray(send.body.knock_room_state), "knock_room_state is a list of stripped state").toBe(true);
        const seen = await alice.syncUntilEvent(roomId, (e) => e.event_id === eventId, "the knock");
        expect([seen.type, seen.state_key, seen.content.membership], "the knock as the admin sees it").toEqual(["m.room.member", bob, "knock"]);
      });
    } else if (version === NO_KNOCK_VERSION) {
      // Versions 1-6 share the rule (no knocking): one run.
      test("make_knock for a room of a version without knocking is refused with 400 M_INCOMPATIBLE_ROOM_VERSION", spec(MAKE_KNOCK, "1.1"), async ({ peer, alice, roomVersion }) => {
        // A knocking server lists the versions it can knock in (7 and later); the room's version is
        // not among them, the case make_knock answers with 400 M_INCOMPATIBLE_ROOM_VERSION.
        const roomId = await alice.createRoom({ preset: "public_chat", room_version: roomVersion });
        const res = await peer.request("GET", fed.v1`/make_knock/${roomId}/${peer.userId("bob")}`, { query: { ver: KNOCK_VERSIONS } });
        expect(res).toBeMatrixError(400, "M_INCOMPATIBLE_ROOM_VERSION");
        expect(res.body.room_version, "room_version names the room's roomVersion").toBe(roomVersion);
      });
    }
  });
});

