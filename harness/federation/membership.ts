// Membership through the target, as the joining (leaving, knocking, inviting) server: make_join
// and send_join with the checks the spec asks of the joining server, make_leave/send_leave,
// make_knock/send_knock, and invites of the target's users to a peer's rooms. Each step throws
// StepFailed (with the exchange) when the target does not do what the step needs.
// FederationPeer exposes these as methods (peer.joinRoomOnTarget, ...).

import { randomBytes } from "node:crypto";
import { StepFailed, type Response } from "../client/client.ts";
import { ROOM_VERSION_IDS, hashAndSignEvent, roomVersion, type SigningKey } from "../crypto/index.ts";
import { describePdu, eventIdOf, knownVersion, type RoomVersionId, type WirePdu } from "./events.ts";
import { PeerRoom, stateKey } from "./room.ts";
import { fed } from "./router.ts";

/** What the membership steps need of a peer (FederationPeer provides it). */
export interface MembershipPeer {
  readonly serverName: string;
  readonly label: string;
  readonly signingKey: SigningKey;
  readonly rooms: Map<string, PeerRoom>;
  readonly handle: { transactions(): void };
  request(method: string, urlPath: string, opts?: { destination?: string; query?: Record<string, string | number | boolean | Array<string | number> | undefined>; body?: unknown }): Promise<Response>;
  checkPdu(pdu: WirePdu, version: RoomVersionId): Promise<string[]>;
  room(roomId: string): PeerRoom;
}

export interface JoinResult {
  room: PeerRoom;
  roomVersion: RoomVersionId;
  /** The join event as the target returned it (signed by both servers), or as sent. */
  joinEvent: WirePdu;
  joinEventId: string;
  /** `state` and `auth_chain` of the send_join response. */
  state: WirePdu[];
  authChain: WirePdu[];
  makeJoin: Response;
  sendJoin: Response;
  /** Verification problems found while loading the response, by event. */
  problems: string[];
}

/** GET /make_join; `versions` default: every spec room version. */
export function makeJoin(peer: MembershipPeer, roomId: string, userId: string, versions: readonly string[] = ROOM_VERSION_IDS, destination?: string): Promise<Response> {
  return peer.request("GET", fed.v1`/make_join/${roomId}/${userId}`, { destination, query: { ver: [...versions] } });
}

/**
 * Turns a make_join (make_leave, make_knock) template into an event: keeps the template's
 * fields, adds or replaces origin, origin_server_ts and (where the server assigns event IDs: v1-v2) the event ID as the spec's
 * joining server does (#joining-rooms), then hashes and signs.
 */
export function joinEventFromTemplate(peer: Pick<MembershipPeer, "serverName" | "signingKey">, template: Record<string, unknown>, version: RoomVersionId): WirePdu {
  const ev: Record<string, unknown> = {};
  for (const k of ["type", "room_id", "sender", "state_key", "content", "depth", "prev_events", "auth_events", "redacts"]) {
    if (template[k] !== undefined) ev[k] = template[k];
  }
  ev.origin_server_ts = Date.now();
  ev.origin = peer.serverName;
  if (roomVersion(version).format.eventIdFormat === "server-assigned") ev.event_id = `$${randomBytes(9).toString("base64url").replace(/[^A-Za-z0-9]/g, "x")}:${peer.serverName}`;
  return hashAndSignEvent(ev, version, peer.serverName, peer.signingKey) as WirePdu;
}

/** PUT /v2/send_join with a signed join event. */
export function sendJoin(peer: MembershipPeer, roomId: string, event: WirePdu, version: RoomVersionId, destination?: string): Promise<Response> {
  return peer.request("PUT", fed.v2`/send_join/${roomId}/${eventIdOf(event, version)}`, { destination, body: event });
}

/**
 * Joins `userId` (a user of this peer) to a room on the target: make_join, build and sign the
 * join, send_join, check the answer and load the state into the room model. Joining makes the
 * peer a participant the target must send the room's events to, so transactions are switched
 * on. Throws StepFailed when the target does not do what the join needs, or (with `strict`,
 * the default) when an event of the response fails verification.
 */
export async function joinRoomOnTarget(peer: MembershipPeer, roomId: string, userId: string, roomVersion?: string, opts: { strict?: boolean; destination?: string } = {}): Promise<JoinResult> {
  const versions = roomVersion ? [roomVersion] : ROOM_VERSION_IDS;
  const makeJoinRes = await makeJoin(peer, roomId, userId, versions, opts.destination);
  if (makeJoinRes.status !== 200) throw new StepFailed(`${peer.label}: make_join for ${userId}`, makeJoinRes.exchange, `expected 200, got ${makeJoinRes.status}`);
  const version = String(makeJoinRes.body?.room_version ?? "1");
  if (roomVersion && version !== roomVersion) throw new StepFailed(`${peer.label}: make_join`, makeJoinRes.exchange, `room_version is ${version}, expected ${roomVersion}`);
  const v = knownVersion(version);
  const template = makeJoinRes.body?.event as Record<string, unknown> | undefined;
  const templateProblems = checkMembershipTemplate(template, roomId, userId, "join");
  if (templateProblems.length > 0) throw new StepFailed(`${peer.label}: make_join`, makeJoinRes.exchange, `the template must be discarded: ${templateProblems.join("; ")}`);
  const join = joinEventFromTemplate(peer, template!, v);
  const sendJoinRes = await sendJoin(peer, roomId, join, v, opts.destination);
  if (sendJoinRes.status !== 200) throw new StepFailed(`${peer.label}: send_join for ${userId}`, sendJoinRes.exchange, `expected 200, got ${sendJoinRes.status}`);
  const body = sendJoinRes.body as { state?: unknown; auth_chain?: unknown; event?: unknown };
  if (!Array.isArray(body?.state) || !Array.isArray(body?.auth_chain)) {
    throw new StepFailed(`${peer.label}: send_join`, sendJoinRes.exchange, "the response lacks the state and auth_chain arrays");
  }
  const joinEvent = (body.event && typeof body.event === "object" ? body.event : join) as WirePdu;
  const joinEventId = eventIdOf(joinEvent, v);
  if (joinEventId !== eventIdOf(join, v)) {
    throw new StepFailed(`${peer.label}: send_join`, sendJoinRes.exchange, `the returned event has ID ${joinEventId}, not the join sent (${eventIdOf(join, v)})`);
  }
  const room = peer.rooms.get(roomId) ?? new PeerRoom(roomId, v);
  const problems: string[] = [];
  const state = body.state as WirePdu[];
  const authChain = body.auth_chain as WirePdu[];
  for (const [list, name] of [[authChain, "auth_chain"], [state, "state"]] as const) {
    for (const ev of list) {
      const found = await peer.checkPdu(ev, v);
      let id = "?";
      try {
        id = eventIdOf(ev, v);
      } catch {
        // reported through the format problems
      }
      if (found.length > 0) problems.push(`${name} ${describePdu(ev, id)}: ${found.join("; ")}`);
      else room.addOutlier(ev);
    }
  }
  const joinProblems = await peer.checkPdu(joinEvent, v);
  if (joinProblems.length > 0) problems.push(`the join event: ${joinProblems.join("; ")}`);
  const stateBefore = new Map<string, string>();
  for (const ev of state) {
    if (typeof ev.state_key !== "string") continue;
    try {
      stateBefore.set(stateKey(String(ev.type), ev.state_key), eventIdOf(ev, v));
    } catch {
      // reported above
    }
  }
  room.addEvent(joinEvent, { stateBefore });
  peer.rooms.set(roomId, room);
  peer.handle.transactions();
  if (opts.strict !== false && problems.length > 0) {
    throw new StepFailed(`${peer.label}: send_join`, sendJoinRes.exchange, `events of the response fail verification:\n  ${problems.join("\n  ")}`);
  }
  return { room, roomVersion: v, joinEvent, joinEventId, state, authChain, makeJoin: makeJoinRes, sendJoin: sendJoinRes, problems };
}

/**
 * Leaves (make_leave, send_leave v2) or knocks (make_knock, send_knock) for `userId` through
 * the target. The room must be in the peer's model for a leave; a knock needs no model. The
 * event the target accepted is added to the model when the peer has the room. Throws
 * StepFailed when the target does not do what the step needs.
 */
export async function membershipOnTarget(peer: MembershipPeer, kind: "leave" | "knock", roomId: string, userId: string, opts: { versions?: readonly string[]; destination?: string } = {}): Promise<{ event: WirePdu; eventId: string; roomVersion: RoomVersionId; make: Response; send: Response }> {
  const make = await peer.request("GET", kind === "leave" ? fed.v1`/make_leave/${roomId}/${userId}` : fed.v1`/make_knock/${roomId}/${userId}`, {
    destination: opts.destination,
    ...(kind === "knock" ? { query: { ver: [...(opts.versions ?? ROOM_VERSION_IDS)] } } : {}),
  });
  if (make.status !== 200) throw new StepFailed(`${peer.label}: make_${kind} for ${userId}`, make.exchange, `expected 200, got ${make.status}`);
  const v = knownVersion(String(make.body?.room_version ?? peer.rooms.get(roomId)?.version ?? "1"));
  const problems = checkMembershipTemplate(make.body?.event, roomId, userId, kind);
  if (problems.length > 0) throw new StepFailed(`${peer.label}: make_${kind}`, make.exchange, `the template must be discarded: ${problems.join("; ")}`);
  const event = joinEventFromTemplate(peer, make.body.event, v);
  const eventId = eventIdOf(event, v);
  const send = await peer.request("PUT", kind === "leave" ? fed.v2`/send_leave/${roomId}/${eventId}` : fed.v1`/send_knock/${roomId}/${eventId}`, { destination: opts.destination, body: event });
  if (send.status !== 200) throw new StepFailed(`${peer.label}: send_${kind} for ${userId}`, send.exchange, `expected 200, got ${send.status}`);
  peer.rooms.get(roomId)?.addEvent(event);
  return { event, eventId, roomVersion: v, make, send };
}

/**
 * Invites a target user to one of the peer's rooms: builds the invite from `sender`, sends it
 * with PUT /v2/invite (with the room's create, join rules and name as invite_room_state),
 * checks the target's signature on the answer and adds the signed invite to the room.
 */
export async function inviteTargetUser(peer: MembershipPeer, roomId: string, sender: string, userId: string): Promise<{ event: WirePdu; eventId: string; response: Response }> {
  const room = peer.room(roomId);
  const invite = room.build({ type: "m.room.member", state_key: userId, sender, content: { membership: "invite" } }, { serverName: peer.serverName, key: peer.signingKey });
  const eventId = eventIdOf(invite, room.version);
  const strippedTypes = ["m.room.create", "m.room.join_rules", "m.room.name", "m.room.canonical_alias", "m.room.avatar", "m.room.encryption"];
  const inviteRoomState = strippedTypes.map((t) => room.stateEvent(t)?.pdu).filter((e): e is WirePdu => e !== undefined);
  const response = await peer.request("PUT", fed.v2`/invite/${roomId}/${eventId}`, { body: { room_version: room.version, event: invite, invite_room_state: inviteRoomState } });
  if (response.status !== 200) throw new StepFailed(`${peer.label}: invite ${userId}`, response.exchange, `expected 200, got ${response.status}`);
  const signed = response.body?.event as WirePdu | undefined;
  if (!signed || typeof signed !== "object") throw new StepFailed(`${peer.label}: invite ${userId}`, response.exchange, "the response has no event");
  if (eventIdOf(signed, room.version) !== eventId) throw new StepFailed(`${peer.label}: invite ${userId}`, response.exchange, "the returned event is not the invite sent");
  const problems = await peer.checkPdu(signed, room.version);
  if (problems.length > 0) throw new StepFailed(`${peer.label}: invite ${userId}`, response.exchange, `the returned invite fails verification: ${problems.join("; ")}`);
  room.addEvent(signed);
  return { event: signed, eventId, response };
}

/** What the spec says the requesting server MUST verify of a make_join/make_leave/make_knock template. */
export function checkMembershipTemplate(template: unknown, roomId: string, userId: string, membership: string): string[] {
  if (typeof template !== "object" || template === null) return ["the response has no event template"];
  const t = template as Record<string, unknown>;
  const problems: string[] = [];
  if (t.room_id !== roomId) problems.push(`room_id is ${JSON.stringify(t.room_id)}, not ${roomId}`);
  if (t.sender !== userId) problems.push(`sender is ${JSON.stringify(t.sender)}, not ${userId}`);
  if (t.state_key !== userId) problems.push(`state_key is ${JSON.stringify(t.state_key)}, not ${userId}`);
  if (t.type !== "m.room.member") problems.push(`type is ${JSON.stringify(t.type)}, not m.room.member`);
  const content = t.content as Record<string, unknown> | undefined;
  if (content?.membership !== membership) problems.push(`content.membership is ${JSON.stringify(content?.membership)}, not ${membership}`);
  return problems;
}
