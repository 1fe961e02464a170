// Reading a room's history and state over federation from the target: bodies that verify the
// events served once per PDU format class (room-version-classes.ts), the version-independent
// ones (state excluding the event's own change, the outsider's refusal) once; a version the
// target does not list in m.room_versions is skipped, saying so. A peer creates the room and a target user joins it, then sends
// the events the peer asks the target about, so the peer's own model (every event of the room,
// each received one checked) is what the answers are compared with.
// Spec: server-server-api/#backfilling-and-retrieving-missing-events, #retrieving-events,
// #retrieving-event-authorisation-information.
import { FEDERATION_WAIT_MS,
  describe,
  describePdu,
  eventIdOf,
  expect,
  fed,
  inRoomVersion,
  joinPeerRoom,
  refIds,
  spec,
  test,
  type FederationPeer,
  type Response,
  type RoomVersionId,
  type UserClient,
  type WirePdu,
} from "../../harness/fixtures/federation.ts";
import { FORMAT_CLASSES, ONE_VERSION } from "./room-version-classes.ts";

const BACKFILL = "server-server-api/#get_matrixfederationv1backfillroomid";
const MISSING = "server-server-api/#post_matrixfederationv1get_missing_eventsroomid";
const STATE = "server-server-api/#get_matrixfederationv1stateroomid";
const STATE_IDS = "server-server-api/#get_matrixfederationv1state_idsroomid";
const EVENT = "server-server-api/#get_matrixfederationv1eventeventid";
const EVENT_AUTH = "server-server-api/#get_matrixfederationv1event_authroomideventid";

interface History {
  roomId: string;
  /** The target user's join. */
  joinEventId: string;
  v: RoomVersionId;
  /** The target user's messages after joining, oldest first. */
  messages: string[];
}

/**
 * A room created by the peer that the target user joins (so the target holds the room without
 * the test depending on the target's make_join), then `count` messages from the target user, each
 * received by the peer, so the peer's model holds every event the target may answer with.
 */
async function peerRoomWithHistory(peer: FederationPeer, alice: UserClient, version: string, count = 5): Promise<History> {
  const room = peer.createRoom({ version, creator: peer.userId("bob") });
  peer.handle.transactions();
  const join = await joinPeerRoom(peer, alice, room);
  const messages: string[] = [];
  for (let i = 0; i < count; i++) messages.push(await alice.sendMessage(room.roomId, `history ${i}`));
  for (const id of messages) await peer.waitForPdu((p) => p.eventId === id, FEDERATION_WAIT_MS, `the target user's message ${id}`);
  return { roomId: room.roomId, joinEventId: join.eventId, v: room.version, messages };
}

/** Problems of each event of a list: format, hash, signatures, and its room. */
async function listProblems(peer: FederationPeer, events: unknown, v: RoomVersionId, roomId: string, what: string): Promise<string[]> {
  if (!Array.isArray(events)) return [`${what} is not an array`];
  const out: string[] = [];
  for (const ev of events as WirePdu[]) {
    let id = "?";
    try {
      id = eventIdOf(ev, v);
    } catch {
      // the format check names the problem
    }
    const found = await peer.checkPdu(ev, v);
    if (ev.room_id !== undefined && ev.room_id !== roomId) found.push(`room_id is ${JSON.stringify(ev.room_id)}, not ${roomId}`);
    if (found.length > 0) out.push(`${what}: ${describePdu(ev, id)}: ${found.join("; ")}`);
  }
  return out;
}

/** The event IDs of a list of PDUs of version `v` (none when it is not a list). */
const eventIdsOf = (events: unknown, v: RoomVersionId): string[] => (Array.isArray(events) ? (events as WirePdu[]).map((e) => eventIdOf(e, v)) : []);

describe.for(FORMAT_CLASSES)("room version %s", (version) => {
  test.override(inRoomVersion(version));

  describe("GET /backfill", () => {
    test("returns the events given in v and those before them, no more than limit, each hashed and signed", spec(BACKFILL, "1.0"), async ({ peer, alice, roomVersion }) => {
      // "Starting from the PDU ID(s) given in the v argument, the PDUs given in v and the PDUs
      // that preceded them are retrieved, up to the total number given by the limit."
      const { roomId, v, messages } = await peerRoomWithHistory(peer, alice, roomVersion);
      const latest = messages[messages.length - 1]!;
      const res = await peer.request("GET", fed.v1`/backfill/${roomId}`, { query: { v: [latest], limit: 3 } });
      expect(res).toHaveStatus(200);
      const got = eventIdsOf(res.body.pdus, v);
      expect(got.length, `at most limit (3) PDUs: ${got.join(", ")}`).toBeLessThanOrEqual(3);
      expect(got, "the event given in v is included").toContain(latest);
      expect(await listProblems(peer, res.body.pdus, v, roomId, "backfill"), "events that fail verification").toEqual([]);
      // Each event other than the one asked for precedes it: it is a prev event of another event
      // of the answer (the walk goes backwards through prev_events).
      const prevs = new Set((res.body.pdus as WirePdu[]).flatMap((e) => refIds(e.prev_events)));
      expect(got.filter((id) => id !== latest && !prevs.has(id)), "events that do not precede the given event").toEqual([]);
    });

    test("with a large enough limit reaches back over every earlier message", spec(BACKFILL, "1.0"), async ({ peer, alice, roomVersion }) => {
      const { roomId, v, messages, joinEventId } = await peerRoomWithHistory(peer, alice, roomVersion);
      const latest = messages[messages.length - 1]!;
      const res = await peer.request("GET", fed.v1`/backfill/${roomId}`, { query: { v: [latest], limit: 100 } });
      expect(res).toHaveStatus(200);
      const got = eventIdsOf(res.body.pdus, v);
      expect(got.length, "at most limit PDUs").toBeLessThanOrEqual(100);
      for (const id of [...messages, joinEventId]) expect(got, `the earlier event ${id}`).toContain(id);
      expect(await listProblems(peer, res.body.pdus, v, roomId, "backfill"), "events that fail verification").toEqual([]);
    });
  });

  test("POST /get_missing_events returns the events between earliest_events and latest_events", spec(MISSING, "1.0"), async ({ peer, alice, roomVersion }) => {
    // "The previous events for latest_events, excluding any earliest_events, up to the provided
    // limit." The messages form a chain, so the gap is exactly the messages in between.
    const { roomId, v, messages } = await peerRoomWithHistory(peer, alice, roomVersion);
    const [first, ...rest] = messages;
    const last = rest.pop()!;
    const res = await peer.request("POST", fed.v1`/get_missing_events/${roomId}`, { body: { earliest_events: [first], latest_events: [last], limit: 10, min_depth: 0 } });
    expect(res).toHaveStatus(200);
    const got = eventIdsOf(res.body.events, v);
    for (const id of rest) expect(got, `the missing event ${id}`).toContain(id);
    expect(got, "the earliest event, which the requester has").not.toContain(first);
    expect(got.length, "at most limit events").toBeLessThanOrEqual(10);
    expect(await listProblems(peer, res.body.events, v, roomId, "get_missing_events"), "events that fail verification").toEqual([]);
  });

  describe("GET /state and /state_ids", () => {
    test("/state_ids at an event is the state before it, as the peer's model has it, with its auth chain", spec(STATE_IDS, "1.0"), async ({ peer, alice, roomVersion }) => {
      // "The fully resolved state for the room, prior to considering any state changes induced by
      // the requested event. Includes the authorisation chain for the events."
      const { roomId, messages } = await peerRoomWithHistory(peer, alice, roomVersion, 2);
      const room = peer.room(roomId);
      const at = messages[1]!;
      const res = await peer.request("GET", fed.v1`/state_ids/${roomId}`, { query: { event_id: at } });
      expect(res).toHaveStatus(200);
      const expected = room.stateBeforeEvent(at)!;
      expect([...(res.body.pdu_ids as string[])].sort(), "pdu_ids").toEqual([...expected.values()].sort());
      const have = new Set<string>([...(res.body.auth_chain_ids as string[]), ...(res.body.pdu_ids as string[])]);
      const chain = room.authChain(expected.values()).events.map((e) => e.eventId);
      expect(chain.filter((id) => !have.has(id)), "auth events of the state missing from auth_chain_ids").toEqual([]);
    });

    // Which events precede a state event does not depend on the version: one run.
    if (version === ONE_VERSION) test("/state at a state event excludes that event's own change", spec(STATE_IDS, "1.0"), async ({ peer, alice, roomVersion }) => {
      const { roomId, v } = await peerRoomWithHistory(peer, alice, roomVersion, 0);
      // The peer's creator (who has the power) names the room; the target accepts it over /send.
      const name = peer.buildEvent(roomId, { type: "m.room.name", state_key: "", sender: peer.userId("bob"), content: { name: "before and after" } });
      await peer.sendPdus(roomId, [name]);
      const nameId = peer.eventId(roomId, name);
      await alice.syncUntilEvent(roomId, (e) => e.event_id === nameId, "the m.room.name event");
      const res = await peer.request("GET", fed.v1`/state_ids/${roomId}`, { query: { event_id: nameId } });
      expect(res).toHaveStatus(200);
      expect(res.body.pdu_ids, "the state before the name event does not hold it").not.toContain(nameId);
      const later = await alice.sendMessage(roomId, "after the name");
      await peer.waitForPdu((p) => p.eventId === later, FEDERATION_WAIT_MS, "a later message");
      const after = await peer.request("GET", fed.v1`/state/${roomId}`, { query: { event_id: later } });
      expect(after).toHaveStatus(200);
      expect(eventIdsOf(after.body.pdus, v), "the state before a later event holds the name event").toContain(nameId);
    });

    test("/state at an event returns the state events and their auth chain in full, each hashed and signed", spec(STATE, "1.0"), async ({ peer, alice, roomVersion }) => {
      const { roomId, v, messages } = await peerRoomWithHistory(peer, alice, roomVersion, 2);
      const room = peer.room(roomId);
      const at = messages[1]!;
      const res = await peer.request("GET", fed.v1`/state/${roomId}`, { query: { event_id: at } });
      expect(res).toHaveStatus(200);
      const expected = room.stateBeforeEvent(at)!;
      expect(eventIdsOf(res.body.pdus, v).sort(), "pdus: the state before the event").toEqual([...expected.values()].sort());
      expect(await listProblems(peer, res.body.pdus, v, roomId, "pdus"), "state events that fail verification").toEqual([]);
      expect(await listProblems(peer, res.body.auth_chain, v, roomId, "auth_chain"), "auth chain events that fail verification").toEqual([]);
      const have = new Set([...eventIdsOf(res.body.pdus, v), ...eventIdsOf(res.body.auth_chain, v)]);
      const missing = [...(res.body.pdus as WirePdu[]), ...(res.body.auth_chain as WirePdu[])].flatMap((e) => refIds(e.auth_events).filter((a) => !have.has(a)));
      expect(missing, "auth events named but not returned").toEqual([]);
    });
  });

  test("GET /event returns the event as the peer received it, signed by the target", spec(EVENT, "1.0"), async ({ peer, alice, roomVersion }) => {
    const { roomId, v, messages } = await peerRoomWithHistory(peer, alice, roomVersion, 1);
    const id = messages[0]!;
    const res = await peer.request("GET", fed.v1`/event/${id}`);
    expect(res).toHaveStatus(200);
    expect((res.body.pdus as unknown[]).length, "a transaction containing a single PDU").toBe(1);
    expect(eventIdsOf(res.body.pdus, v), "the event asked for").toEqual([id]);
    expect(await listProblems(peer, res.body.pdus, v, roomId, "event"), "problems of the event").toEqual([]);
    const served = (res.body.pdus as WirePdu[])[0]!;
    expect(served.content, "the content as sent over /send").toEqual(peer.room(roomId).event(id)!.pdu.content);
  });

  test("GET /event_auth returns the whole auth chain of an event, each event hashed, signed and closed under auth_events", spec(EVENT_AUTH, "1.0"), async ({ peer, alice, roomVersion }) => {
    const { roomId, v, messages } = await peerRoomWithHistory(peer, alice, roomVersion, 1);
    const id = messages[0]!;
    const res = await peer.request("GET", fed.v1`/event_auth/${roomId}/${id}`);
    expect(res).toHaveStatus(200);
    const got = new Set(eventIdsOf(res.body.auth_chain, v));
    const expected = peer.room(roomId).authChain([id]).events.map((e) => e.eventId);
    expect(expected.filter((e) => !got.has(e)), "events of the auth chain (from the peer's model) missing").toEqual([]);
    const open = (res.body.auth_chain as WirePdu[]).flatMap((e) => refIds(e.auth_events).filter((a) => !got.has(a)));
    expect(open, "auth events named inside the chain but not returned").toEqual([]);
    expect(await listProblems(peer, res.body.auth_chain, v, roomId, "auth_chain"), "events that fail verification").toEqual([]);
  });

  // Membership of the asking server decides, the same in every version: one run.
  if (version === ONE_VERSION) test("a server that is not in the room is refused the state at an event (403) and is handed none of its events elsewhere", spec(STATE_IDS, "1.0"), async ({ peer, newPeer, alice, roomVersion }) => {
    // /state_ids: 403 "The requesting host is not in the room". The other endpoints document no
    // refusal status, so for them the requirement taken is that no event of the room is handed
    // to a server that is not in it: either a refusal with an errcode or an empty answer.
    const { roomId, v, messages, joinEventId } = await peerRoomWithHistory(peer, alice, roomVersion, 2);
    const outsider = await newPeer({ label: "outsider" });
    const at = messages[1]!;
    // Control: the member peer gets an answer to the same request.
    expect(await peer.request("GET", fed.v1`/state_ids/${roomId}`, { query: { event_id: at } }), "the control, asked by the member peer").toHaveStatus(200);
    const stateIds = await outsider.request("GET", fed.v1`/state_ids/${roomId}`, { query: { event_id: at } });
    expect(stateIds).toBeMatrixError(403, "M_FORBIDDEN");
    const handedOver = (res: Response, field: string): string[] => (res.status === 200 ? eventIdsOf(res.body?.[field], v) : []);
    const refusedOrEmpty = (res: Response, field: string, what: string) => {
      if (res.status !== 200) expect(res).toBeMatrixError(res.status, undefined, `${what} documents no refusal status; a refusal of a server not in the room carries an errcode`);
      expect(handedOver(res, field), `${what}: events handed to a server not in the room`).toEqual([]);
    };
    refusedOrEmpty(await outsider.request("GET", fed.v1`/state/${roomId}`, { query: { event_id: at } }), "pdus", "/state");
    refusedOrEmpty(await outsider.request("GET", fed.v1`/backfill/${roomId}`, { query: { v: [at], limit: 10 } }), "pdus", "/backfill");
    refusedOrEmpty(await outsider.request("GET", fed.v1`/event_auth/${roomId}/${at}`), "auth_chain", "/event_auth");
    refusedOrEmpty(
      await outsider.request("POST", fed.v1`/get_missing_events/${roomId}`, { body: { earliest_events: [joinEventId], latest_events: [at], limit: 10 } }),
      "events",
      "/get_missing_events",
    );
  });
});
