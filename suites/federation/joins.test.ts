// Joining rooms over federation, both ways. Bodies that check events in the room's format run once
// per PDU format class (room-version-classes.ts); version-independent ones once; the restricted
// join (room versions 8 and later) in 10 and 12, whose power rules for the authorising user
// differ (creators in 12). A version the target does not list in m.room_versions is skipped,
// saying so.
// Spec: server-server-api/#joining-rooms, #restricted-rooms, #get_matrixfederationv1make_joinroomiduserid,
// #put_matrixfederationv2send_joinroomideventid, #auth-events-selection,
// #validating-hashes-and-signatures-on-received-events.
import {
  ROOM_VERSION_IDS,
  checkContentHash,
  onePerRuleClass,
  roomVersion as rulesOf,
  serverNameOf,
  verifyEventSignature,
} from "../../harness/crypto/index.ts";
import {
  PeerRoom,
  checkMembershipTemplate,
  cs,
  describe,
  describePdu,
  eventIdOf,
  expect,
  expectAllowed,
  expectOk,
  fed,
  inRoomVersion,
  joinPeerRoom,
  knownVersion,
  refIds,
  spec,
  stateKey,
  test,
  type ExchangeLog,
  type FederationPeer,
  type UserClient,
  type WirePdu,
} from "../../harness/fixtures/federation.ts";
import { FORMAT_CLASSES, ONE_VERSION } from "./room-version-classes.ts";

const JOINING = "server-server-api/#joining-rooms";
const MAKE_JOIN = "server-server-api/#get_matrixfederationv1make_joinroomiduserid";
const SEND_JOIN = "server-server-api/#put_matrixfederationv2send_joinroomideventid";

/** The restricted join runs once per class of the authorising user's power among the format classes
 * with restricted rooms: finite levels (10) and infinite creator power (12). */
const RESTRICTED_JOIN_CLASSES: readonly string[] = onePerRuleClass(
  (r) => r.auth.infiniteCreatorPower,
  FORMAT_CLASSES.filter((v) => rulesOf(v).auth.restricted),
);

/** A public room on the target, created by `creator` in `version`. */
function targetRoom(creator: UserClient, version: string): Promise<string> {
  return creator.createRoom({ preset: "public_chat", room_version: version });
}

/** The ref shape of the version: [id, {sha256}] pairs in v1 PDUs (rooms v1-v2), event IDs from v3. */
function refShapeProblems(list: unknown, field: string, version: string): string[] {
  if (!Array.isArray(list)) return [`${field} is not an array`];
  const pairs = rulesOf(version).format.pduShape === "v1";
  return list.flatMap((ref, i) =>
    (pairs ? Array.isArray(ref) && typeof ref[0] === "string" && typeof ref[1]?.sha256 === "string" : typeof ref === "string" && ref.startsWith("$"))
      ? []
      : [`${field}[${i}] is ${JSON.stringify(ref)}, not ${pairs ? "an [event_id, {sha256}] pair" : "an event ID"}`],
  );
}

/** The make_join template the peer served, from the test's log. */
function servedTemplate(log: ExchangeLog, roomId: string): Record<string, unknown> {
  const exchange = log.exchanges.find((e) => {
    if (!e.channel.startsWith("federation-in:") || e.status !== 200) return false;
    const parts = new URL(e.url).pathname.split("/").map((p) => decodeURIComponent(p));
    return parts.includes("make_join") && parts.includes(roomId);
  });
  if (!exchange?.responseBody) throw new Error(`the peer served no make_join for ${roomId}`);
  return JSON.parse(exchange.responseBody).event;
}

describe.for(FORMAT_CLASSES)("room version %s", (version) => {
  test.override(inRoomVersion(version));

  describe("a peer joins a room created on the target", () => {
    test("make_join offers a template for the room's version with the room, user, type and membership the joining server must check", spec(MAKE_JOIN, "1.0"), async ({ peer, alice, roomVersion }) => {
      const roomId = await targetRoom(alice, roomVersion);
      const bob = peer.userId("bob");
      const res = await peer.makeJoin(roomId, bob, [roomVersion]);
      expect(res).toHaveStatus(200);
      // "If not provided, the room version is assumed to be either "1" or "2"."
      // Versions 1 and 2 are the versions with v1 PDUs (server-assigned event IDs).
      if (res.body.room_version !== undefined || rulesOf(roomVersion).format.pduShape !== "v1") expect(res.body.room_version, "room_version").toBe(roomVersion);
      const template = res.body.event as Record<string, unknown>;
      expect(checkMembershipTemplate(template, roomId, bob, "join"), "fields the joining server MUST verify").toEqual([]);
      expect(refShapeProblems(template.prev_events, "prev_events", roomVersion), "prev_events").toEqual([]);
      expect((template.prev_events as unknown[]).length, "prev_events names the room's latest event(s)").toBeGreaterThan(0);
      expect(refShapeProblems(template.auth_events, "auth_events", roomVersion), "auth_events").toEqual([]);
      expect(Number.isInteger(template.depth) && (template.depth as number) > 0, `depth ${JSON.stringify(template.depth)} is a positive integer`).toBe(true);
    });

    // The refusal does not depend on the room's version: one run.
    if (version === ONE_VERSION) test("make_join refuses a joining server that does not list the room's version: 400 M_INCOMPATIBLE_ROOM_VERSION with room_version", spec(MAKE_JOIN, "1.0"), async ({ peer, alice, roomVersion }) => {
      // The 400 response covers a room "that has a version that is not listed in the ver
      // parameters"; M_INCOMPATIBLE_ROOM_VERSION is the errcode defined for it, and its
      // room_version is "Required if the errcode is M_INCOMPATIBLE_ROOM_VERSION".
      const roomId = await targetRoom(alice, roomVersion);
      const res = await peer.makeJoin(roomId, peer.userId("bob"), ROOM_VERSION_IDS.filter((v) => v !== roomVersion));
      expect(res).toBeMatrixError(400, "M_INCOMPATIBLE_ROOM_VERSION");
      expect(res.body.room_version, "room_version names the room's version").toBe(roomVersion);
    });

    test("send_join returns the state before the join and an auth chain holding every auth event, all hashed, signed and authorised", spec(SEND_JOIN, "1.0"), async ({ peer, alice, roomVersion }) => {
      const roomId = await targetRoom(alice, roomVersion);
      const bob = peer.userId("bob");
      const join = await peer.joinRoomOnTarget(roomId, bob, roomVersion, { strict: false });
      const v = join.roomVersion;
      // Hashes and signatures of every event, checked with harness/crypto.
      expect(join.problems, "events of the response that fail their hash or signature check").toEqual([]);
      expect(join.sendJoin.body.members_omitted, "members_omitted without omit_members in the request").not.toBe(true);

      // "The resolved current room state prior to the join event."
      const keys = join.state.map((e) => stateKey(String(e.type), String(e.state_key)));
      for (const [type, key] of [["m.room.create", ""], ["m.room.power_levels", ""], ["m.room.join_rules", ""], ["m.room.member", alice.userId]] as const) {
        expect(keys, `the state has ${type} with state key ${JSON.stringify(key)}`).toContain(stateKey(type, key));
      }
      expect(keys, "the state before the join has no membership for the joining user").not.toContain(stateKey("m.room.member", bob));
      for (const e of join.state) expect(typeof e.state_key, `${describePdu(e)} in state is a state event`).toBe("string");

      // "All events in the auth chain for the new join event, as well as those in the auth chains
      // for any events returned in state."
      const known = new Map<string, WirePdu>();
      for (const e of [...join.authChain, ...join.state]) known.set(eventIdOf(e, v), e);
      const missing: string[] = [];
      for (const e of [join.joinEvent, ...join.state, ...join.authChain]) {
        for (const a of refIds(e.auth_events)) if (!known.has(a)) missing.push(`${a} (an auth event of ${describePdu(e, eventIdOf(e, v))})`);
      }
      expect(missing, "auth events missing from state and auth_chain").toEqual([]);

      // Every event passes the auth rules against its own auth events (harness/stateres).
      const model = new PeerRoom(roomId, v);
      for (const e of known.values()) model.addOutlier(e);
      for (const e of [...known.values(), join.joinEvent]) {
        const decision = model.authorize(e, "auth_events");
        expect(decision.allowed, `${describePdu(e, eventIdOf(e, v))}: ${decision.reason} (${decision.rule})`).toBe(true);
      }
    });

    // Co-signing outside restricted rooms. "Joining Rooms" says the resident homeserver "then
    // adds its signature to this event and accepts it into the room's event graph", without an
    // RFC 2119 keyword; the sentence came with restricted rooms in v1.2, and the only normative
    // statements about the resident's signature (send_join's `event`,
    // join_authorised_via_users_server) concern restricted joins. So the general case is a
    // SHOULD: a server that does not co-sign gets a warning, not a failure. It is checked once
    // (the restricted join below is the MUST).
    if (version === ONE_VERSION) test("the resident server adds its signature to a join outside restricted rooms, as GET /event then serves it", spec(JOINING, "1.2", { level: "SHOULD" }), async ({ peer, alice, federation, roomVersion }) => {
      const roomId = await targetRoom(alice, roomVersion);
      const join = await peer.joinRoomOnTarget(roomId, peer.userId("bob"), roomVersion, { strict: false });
      const res = await peer.request("GET", fed.v1`/event/${join.joinEventId}`);
      expect(res).toHaveStatus(200);
      const served = res.body.pdus?.[0] as WirePdu | undefined;
      expect(served, "GET /event returns the join in pdus").toBeDefined();
      expect(eventIdOf(served!, join.roomVersion), "the served event is the join").toBe(join.joinEventId);
      const keys = await peer.eventKeys(federation.serverName);
      expectOk(verifyEventSignature(served!, join.roomVersion, federation.serverName, keys), "the resident's signature on the join");
      const ownKeys = { [peer.signingKey.keyId]: peer.signingKey.publicKey };
      expectOk(verifyEventSignature(served!, join.roomVersion, peer.serverName, ownKeys), "the joining server's signature survives");
    });

    if (version === ONE_VERSION) test("send_join's event, when present, is the join sent with the resident's signature added", spec(SEND_JOIN, "1.2", { level: "SHOULD" }), async ({ peer, alice, federation, skip, roomVersion }) => {
      // `event`: "The membership event sent to other servers by the resident server including a
      // signature from the resident server." It is required only for a join authorised by a
      // restricted room's condition (the MUST test below); outside those, the resident's signature
      // on it is the co-signing above, which no RFC 2119 keyword requires: the same SHOULD.
      const roomId = await targetRoom(alice, roomVersion);
      const join = await peer.joinRoomOnTarget(roomId, peer.userId("bob"), roomVersion, { strict: false });
      if (join.sendJoin.body.event === undefined) skip("the target's send_join response has no `event` (optional outside restricted rooms)");
      const keys = await peer.eventKeys(federation.serverName);
      expectOk(verifyEventSignature(join.joinEvent, join.roomVersion, federation.serverName, keys), "the resident's signature on send_join's event");
      const ownKeys = { [peer.signingKey.keyId]: peer.signingKey.publicKey };
      expectOk(verifyEventSignature(join.joinEvent, join.roomVersion, peer.serverName, ownKeys), "the joining server's signature survives");
    });
  });

  if (RESTRICTED_JOIN_CLASSES.includes(version)) {
    describe("a peer joins a restricted room on the target through a room its user is in", () => {
      test("send_join returns the join with join_authorised_via_users_server and the resident server's valid signature", spec(SEND_JOIN, "1.2"), async ({ peer, alice, federation, roomVersion }) => {
        // send_join's 200 `event` is "Required if the room is restricted and the joining user is
        // authorised by one of the conditions", and of join_authorised_via_users_server: "The
        // resident server which owns the provided user ID must have a valid signature on the
        // event." The make_join template must carry that field ("Required if the room is
        // restricted and is joining through one of the conditions available").
        const bob = peer.userId("bob");
        const allowedRoom = await targetRoom(alice, roomVersion);
        await peer.joinRoomOnTarget(allowedRoom, bob, roomVersion, { strict: false });
        const roomId = await alice.createRoom({
          preset: "private_chat",
          room_version: roomVersion,
          initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: allowedRoom }] } }],
        });
        const v = knownVersion(roomVersion);
        const makeJoin = await peer.makeJoin(roomId, bob, [roomVersion]);
        expect(makeJoin, `make_join for ${bob}, who is in the allowed room ${allowedRoom}`).toHaveStatus(200);
        const template = makeJoin.body.event as Record<string, unknown>;
        const via = (template?.content as Record<string, unknown> | undefined)?.join_authorised_via_users_server;
        // alice is the only member of the room, and the one who can invite.
        expect(via, "the template's content.join_authorised_via_users_server names a user of the resident server who can invite").toBe(alice.userId);
        const join = peer.joinEventFromTemplate(template, v);
        const res = await peer.sendJoin(roomId, join, v);
        expect(res).toHaveStatus(200);
        const event = res.body.event as WirePdu | undefined;
        expect(event, "send_join's `event`, required for a join authorised by a restricted room's condition").toBeDefined();
        expect(eventIdOf(event!, v), "send_join's `event` is the join sent").toBe(eventIdOf(join, v));
        expect((event!.content as Record<string, unknown>)?.join_authorised_via_users_server, "join_authorised_via_users_server").toBe(alice.userId);
        const keys = await peer.eventKeys(federation.serverName);
        expectOk(verifyEventSignature(event!, v, federation.serverName, keys), `the signature of ${federation.serverName}, which owns ${alice.userId}`);
        const ownKeys = { [peer.signingKey.keyId]: peer.signingKey.publicKey };
        expectOk(verifyEventSignature(event!, v, peer.serverName, ownKeys), "the joining server's signature survives");
      });
    });
  }

  describe("a target user joins a peer's room", () => {
    /** A room of `roomVersion` the peer creates (bob as creator) and alice joins; her join as the peer received it. */
    const peerRoomWithAliceJoined = async (peer: FederationPeer, alice: UserClient, roomVersion: string) => {
      const room = peer.createRoom({ version: roomVersion, creator: peer.userId("bob") });
      const received = await joinPeerRoom(peer, alice, room);
      return { room, received, v: knownVersion(roomVersion) };
    };

    test("the join the target sends is hashed and signed by the target", spec("server-server-api/#validating-hashes-and-signatures-on-received-events", "1.0"), async ({ peer, alice, federation, roomVersion }) => {
      const { received, v } = await peerRoomWithAliceJoined(peer, alice, roomVersion);
      const event = received.event;
      expect(checkContentHash(event, v), "hashes.sha256 is the content hash of the join").toBe(true);
      const keys = await peer.eventKeys(federation.serverName);
      expectOk(verifyEventSignature(event, v, federation.serverName, keys), `the signature of ${federation.serverName}`);
      if (rulesOf(v).format.eventIdFormat === "server-assigned") expect(serverNameOf(String(event.event_id)), "a server-assigned event ID (rooms v1-v2) names its server").toBe(federation.serverName);
      expect(received.problems, "problems the peer found with the join").toEqual([]);
    });

    test("its auth events are ones the auth events selection names, without duplicates, and it passes the auth rules", spec("server-server-api/#auth-events-selection", "1.0"), async ({ peer, alice, roomVersion }) => {
      const { room, received } = await peerRoomWithAliceJoined(peer, alice, roomVersion);
      const ids = refIds(received.event.auth_events);
      expect(new Set(ids).size, "auth_events has no duplicates").toBe(ids.length);
      const before = room.stateBeforeEvent(received.eventId)!;
      // The create event is selected only where the room version puts it in auth_events (not v12).
      const selected: Array<[string, string]> = [
        ...(rulesOf(roomVersion).auth.createInAuthEvents ? [["m.room.create", ""] as [string, string]] : []),
        ["m.room.power_levels", ""],
        ["m.room.join_rules", ""],
        ["m.room.member", alice.userId],
      ];
      const allowed = new Set(selected.map(([type, key]) => before.get(stateKey(type, key))).filter((x): x is string => x !== undefined));
      expect(ids.filter((id) => !allowed.has(id)), "auth events that the selection does not name for a join").toEqual([]);
      expectAllowed(room.authorize(received.event, "auth_events"), "the auth rules against its auth events");
      expectAllowed(room.authorize(received.event, "state_before"), "the auth rules against the state before it");
    });

    test("it is built on the make_join template: same room, prev_events, auth_events and depth", spec(JOINING, "1.0"), async ({ peer, alice, log, roomVersion }) => {
      // The joining server "is expected to add or replace the origin, origin_server_ts, and
      // event_id on the templated event"; the rest of the template is what it signs.
      const { room, received } = await peerRoomWithAliceJoined(peer, alice, roomVersion);
      const template = servedTemplate(log, room.roomId);
      const event = received.event;
      expect(event.room_id, "room_id").toBe(template.room_id);
      expect(event.prev_events, "prev_events").toEqual(template.prev_events);
      expect(event.auth_events, "auth_events").toEqual(template.auth_events);
      expect(event.depth, "depth").toBe(template.depth);
      expect([event.type, event.state_key, event.sender, (event.content as Record<string, unknown>)?.membership], "type, state_key, sender, membership").toEqual(["m.room.member", alice.userId, alice.userId, "join"]);
    });

    // Which state the target serves does not depend on the version: one run.
    if (version === ONE_VERSION) test("afterwards the target serves its user the room state the peer has, event for event", spec(JOINING, "1.0"), async ({ peer, alice, roomVersion }) => {
      // The joining server "receives the full set of state for the newly-joined room".
      const { room } = await peerRoomWithAliceJoined(peer, alice, roomVersion);
      const res = await alice.get(cs.v3`/rooms/${room.roomId}/state`);
      expect(res).toHaveStatus(200);
      const seen = (res.body as Array<{ type: string; state_key: string; event_id: string }>).map((e) => `${e.type} ${JSON.stringify(e.state_key)} ${e.event_id}`).sort();
      const expected = room.stateEvents().map((e) => `${String(e.pdu.type)} ${JSON.stringify(e.pdu.state_key)} ${e.eventId}`).sort();
      expect(seen, "the room state as the target serves it to its user").toEqual(expected);
    });
  });
});
