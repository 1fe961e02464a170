// The handlers a test switches on for a peer (`peer.handle.joins()`, ...). Each answers as a
// real server must, using the peer's room model, and records the PDUs and EDUs it receives so
// tests can wait for them. A request for an endpoint no handler serves is "unexpected" (see
// router.ts). Switching a handler on twice is harmless.
//
// Endpoints (https://spec.matrix.org/v1.19/server-server-api/):
//   joins        GET v1/make_join, PUT v2/send_join          (#joining-rooms)
//   leaves       GET v1/make_leave, PUT v1+v2/send_leave     (#leaving-rooms-rejecting-invites)
//   knocks       GET v1/make_knock, PUT v1/send_knock        (#knocking-rooms)
//   invites      PUT v1/invite, v2/invite                     (#inviting-to-a-room)
//   transactions PUT v1/send/{txnId}                          (#transactions)
//   backfill     GET v1/backfill                              (#backfilling-and-retrieving-missing-events)
//   missingEvents POST v1/get_missing_events
//   state        GET v1/state, v1/state_ids                   (#retrieving-events)
//   events       GET v1/event/{eventId}
//   eventAuth    GET v1/event_auth                            (#retrieving-event-authorisation-information)
//   profiles     GET v1/query/profile                         (#querying-for-information)
//   directory    GET v1/query/directory
//   userDevices  GET v1/user/devices/{userId}                 (#device-management)
//   publicRooms  GET and POST v1/publicRooms                  (#published-room-directory)
//
// send_join v1 is not served: the spec no longer defines it.

import { serverNameOf, signEvent, type SigningKey } from "../crypto/index.ts";
import { describePdu, eventIdOf, isKnownVersionId, pduFormatProblems, type RoomVersionId, type WirePdu } from "./events.ts";
import type { PeerRoom } from "./room.ts";
import type { Handler, HandlerResult, InboundRequest } from "./router.ts";
import type { ReceivedEdu, ReceivedPdu } from "./waiters.ts";

/** What the handlers need of a peer (FederationPeer provides it; handlers.ts does not import peer.ts). */
export interface HandlerHost {
  readonly serverName: string;
  readonly label: string;
  readonly signingKey: SigningKey;
  readonly rooms: Map<string, PeerRoom>;
  readonly profiles: Map<string, Record<string, string>>;
  readonly aliases: Map<string, string>;
  readonly devices: Map<string, Array<Record<string, unknown>>>;
  readonly publishedRooms: Set<string>;
  route(method: string, template: string, handler: Handler, opts?: { name?: string; open?: boolean }): void;
  checkPdu(pdu: WirePdu, version: RoomVersionId): Promise<string[]>;
  recordPdu(p: ReceivedPdu): void;
  recordEdu(e: ReceivedEdu): void;
}

export interface PeerHandlers {
  /** make_join and send_join for the peer's rooms. */
  joins(): void;
  /** make_leave and send_leave. */
  leaves(): void;
  /** make_knock and send_knock. */
  knocks(): void;
  /** Invites to users of this peer (v1 and v2); `reject` answers 403 M_FORBIDDEN. */
  invites(opts?: { reject?: boolean }): void;
  /** PUT /send/{txnId}: PDUs are checked and added to the room models, EDUs recorded. */
  transactions(): void;
  backfill(): void;
  missingEvents(): void;
  /** /state and /state_ids. */
  state(): void;
  /** GET /event/{eventId}. */
  events(): void;
  eventAuth(): void;
  /** Profile queries answered from `peer.profiles`. */
  profiles(): void;
  /** Directory queries answered from `peer.aliases`. */
  directory(): void;
  /** Device lists answered from `peer.devices`. */
  userDevices(): void;
  /** The rooms in `peer.publishedRooms`. */
  publicRooms(): void;
  /** Which handlers are on. */
  readonly enabled: ReadonlySet<string>;
}

const error = (status: number, errcode: string, message: string, extra: Record<string, unknown> = {}): HandlerResult => ({ status, body: { errcode, error: message, ...extra } });
const ok = (body: unknown): HandlerResult => ({ status: 200, body });

const STRIPPED_STATE_TYPES = ["m.room.create", "m.room.join_rules", "m.room.name", "m.room.canonical_alias", "m.room.avatar", "m.room.encryption", "m.room.topic"];

export function installHandlers(peer: HandlerHost): PeerHandlers {
  const enabled = new Set<string>();
  const once = (name: string, install: () => void) => {
    if (enabled.has(name)) return;
    enabled.add(name);
    install();
  };
  const signer = () => ({ serverName: peer.serverName, key: peer.signingKey });
  const roomOf = (req: InboundRequest): PeerRoom | HandlerResult => {
    const room = peer.rooms.get(req.params.roomId ?? "");
    return room ?? error(404, "M_NOT_FOUND", `${peer.label} does not know room ${req.params.roomId}`);
  };
  const isResult = (x: unknown): x is HandlerResult => typeof x === "object" && x !== null && "status" in x && "body" in x;
  const inRoom = (room: PeerRoom, origin: string) => room.joinedServers().includes(origin);
  const record = (via: ReceivedPdu["via"], origin: string, room: { roomId: string; version?: RoomVersionId }, event: WirePdu, eventId: string, problems: string[]) =>
    peer.recordPdu({ via, origin, roomId: room.roomId, ...(room.version ? { roomVersion: room.version } : {}), eventId, event, problems, receivedAt: Date.now() });

  // make_join / make_leave / make_knock
  const makeMembership = (membership: "join" | "leave" | "knock") => (req: InboundRequest): HandlerResult => {
    const room = roomOf(req);
    if (isResult(room)) return room;
    const userId = req.params.userId ?? "";
    let userServer: string;
    try {
      userServer = serverNameOf(userId);
    } catch {
      return error(400, "M_INVALID_PARAM", `${userId} is not a user ID`);
    }
    if (userServer !== req.origin) return error(403, "M_FORBIDDEN", `${userId} is not a user of the requesting server ${req.origin}`);
    if (membership !== "leave") {
      const ver = req.query.getAll("ver");
      const supported = ver.length > 0 ? ver : ["1"];
      if (!supported.includes(room.version)) {
        return error(400, "M_INCOMPATIBLE_ROOM_VERSION", `the room is version ${room.version}, which the requesting server does not list`, { room_version: room.version });
      }
    }
    const draft = room.draft({ type: "m.room.member", state_key: userId, sender: userId, content: { membership } }, peer.serverName);
    const decision = room.authorize(draft as unknown as WirePdu, "current_state");
    if (!decision.allowed) return error(403, "M_FORBIDDEN", `the ${membership} would not be authorised: ${decision.reason} (${decision.rule})`);
    const template: Record<string, unknown> = { ...draft };
    delete template.event_id;
    return ok({ room_version: room.version, event: template });
  };

  // send_join / send_leave / send_knock
  const sendMembership = (membership: "join" | "leave" | "knock", shape: "v1" | "v2") => async (req: InboundRequest): Promise<HandlerResult> => {
    const room = roomOf(req);
    if (isResult(room)) return room;
    const event = req.body as WirePdu;
    if (typeof event !== "object" || event === null || Array.isArray(event)) return error(400, "M_BAD_JSON", "the body is not an event");
    const problems = pduFormatProblems(event, room.version);
    let eventId = req.params.eventId ?? "";
    try {
      eventId = eventIdOf(event, room.version);
    } catch (e) {
      problems.push((e as Error).message);
    }
    if (eventId !== req.params.eventId) problems.push(`the event's ID is ${eventId}, not ${req.params.eventId} as in the path`);
    const content = (event.content ?? {}) as Record<string, unknown>;
    if (event.type !== "m.room.member") problems.push(`type is ${JSON.stringify(event.type)}, not m.room.member`);
    if (content.membership !== membership) problems.push(`membership is ${JSON.stringify(content.membership)}, not ${membership}`);
    if (event.state_key !== event.sender) problems.push("state_key is not the sender");
    if (typeof event.sender === "string" && !event.sender.endsWith(`:${req.origin}`)) problems.push(`the sender ${event.sender} is not a user of the origin ${req.origin}`);
    if (event.room_id !== room.roomId) problems.push(`room_id is ${JSON.stringify(event.room_id)}, not ${room.roomId}`);
    problems.push(...(await peer.checkPdu(event, room.version)).filter((p) => !problems.includes(p)));
    if (problems.length > 0) {
      record(`send_${membership}`, req.origin, room, event, eventId, problems);
      return error(400, "M_INVALID_PARAM", `the ${membership} event is not acceptable: ${problems.join("; ")}`);
    }
    const byAuthEvents = room.authorize(event, "auth_events");
    const byState = byAuthEvents.allowed ? room.authorize(event, "current_state") : byAuthEvents;
    if (!byState.allowed) {
      const reason = `not authorised against ${byAuthEvents.allowed ? "the current state" : "its auth events"}: ${byState.reason} (${byState.rule})`;
      record(`send_${membership}`, req.origin, room, event, eventId, [reason]);
      return error(403, "M_FORBIDDEN", `the ${membership} is ${reason}`);
    }
    const signed = signEvent(event, room.version, peer.serverName, peer.signingKey) as WirePdu;
    const stateBefore = room.currentState();
    const serversBefore = room.joinedServers();
    room.addEvent(signed, { stateBefore });
    record(`send_${membership}`, req.origin, room, signed, eventId, []);
    let body: unknown;
    if (membership === "join") {
      const stateEvents = room.stateEvents(stateBefore);
      const chain = room.authChain([...stateBefore.values(), eventId]).events;
      body = {
        origin: peer.serverName,
        state: stateEvents.map((e) => e.pdu),
        auth_chain: chain.map((e) => e.pdu),
        event: signed,
        members_omitted: false,
        servers_in_room: serversBefore,
      };
    } else if (membership === "knock") {
      body = { knock_room_state: STRIPPED_STATE_TYPES.map((t) => room.stateEvent(t)?.pdu).filter(Boolean) };
    } else body = {};
    return ok(shape === "v1" ? [200, body] : body);
  };

  // Invites
  let rejectInvites = false;
  const invite = (shape: "v1" | "v2") => async (req: InboundRequest): Promise<HandlerResult> => {
    const body = req.body as Record<string, unknown> | undefined;
    const event = (shape === "v2" ? body?.event : body) as WirePdu | undefined;
    if (typeof event !== "object" || event === null) return error(400, "M_BAD_JSON", "no invite event in the body");
    let version: string;
    if (shape === "v2") version = String(body?.room_version ?? "");
    else version = typeof event.event_id === "string" ? "1" : "";
    if (!isKnownVersionId(version)) {
      return error(400, "M_INCOMPATIBLE_ROOM_VERSION", `${peer.label} does not support room version ${JSON.stringify(version)}${shape === "v1" ? " over the v1 invite API" : ""}`, { room_version: version });
    }
    const roomRef = { roomId: String(req.params.roomId), version };
    const problems = pduFormatProblems(event, version);
    let eventId = "";
    try {
      eventId = eventIdOf(event, version);
    } catch (e) {
      problems.push((e as Error).message);
    }
    if (eventId !== req.params.eventId) problems.push(`the event's ID is ${eventId}, not ${req.params.eventId} as in the path`);
    const content = (event.content ?? {}) as Record<string, unknown>;
    if (event.type !== "m.room.member" || content.membership !== "invite") problems.push("not an m.room.member invite event");
    if (typeof event.state_key !== "string" || !event.state_key.endsWith(`:${peer.serverName}`)) problems.push(`the invitee ${String(event.state_key)} is not a user of ${peer.serverName}`);
    if (typeof event.sender === "string" && !event.sender.endsWith(`:${req.origin}`)) problems.push(`the sender ${event.sender} is not a user of the origin ${req.origin}`);
    problems.push(...(await peer.checkPdu(event, version)).filter((p) => !problems.includes(p)));
    record("invite", req.origin, roomRef, event, eventId, problems);
    if (problems.length > 0) return error(400, "M_INVALID_PARAM", `the invite is not acceptable: ${problems.join("; ")}`);
    if (rejectInvites) return error(403, "M_FORBIDDEN", `${peer.label} declines invites in this test`);
    const signed = signEvent(event, version, peer.serverName, peer.signingKey);
    return ok(shape === "v1" ? [200, { event: signed }] : { event: signed });
  };

  // Transactions: always routed, so background traffic is tolerated even when the test did not
  // switch transactions on.
  const seenTxns = new Map<string, unknown>();
  peer.route("PUT", "/_matrix/federation/v1/send/{txnId}", async (req) => {
    const body = (req.body ?? {}) as { origin?: unknown; pdus?: unknown; edus?: unknown };
    const pdus = Array.isArray(body.pdus) ? (body.pdus as WirePdu[]) : [];
    const edus = Array.isArray(body.edus) ? (body.edus as Array<{ edu_type?: unknown; content?: unknown }>) : [];
    if (!enabled.has("transactions")) {
      if (pdus.length === 0 && edus.every((e) => typeof e.edu_type === "string" && BACKGROUND.has(e.edu_type))) {
        for (const e of edus) peer.recordEdu({ origin: req.origin, edu_type: String(e.edu_type), content: e.content, receivedAt: Date.now() });
        return { status: 200, body: { pdus: {} }, tolerated: "background EDUs" };
      }
      return {
        status: 404,
        body: { errcode: "M_UNRECOGNIZED", error: `${peer.label} does not take transactions in this test` },
        unexpected: `a transaction with ${pdus.length} PDU(s) and EDUs [${edus.map((e) => String(e.edu_type)).join(", ")}] arrived, but transactions are not switched on (peer.handle.transactions())`,
      };
    }
    const key = `${req.origin} ${req.params.txnId}`;
    if (seenTxns.has(key)) return ok(seenTxns.get(key));
    const results: Record<string, { error?: string }> = {};
    const notes: string[] = [];
    if (body.origin !== req.origin) notes.push(`the transaction's origin field is ${JSON.stringify(body.origin)}, but it was signed by ${req.origin}`);
    if (pdus.length > 50) notes.push(`the transaction carries ${pdus.length} PDUs; the limit is 50`);
    if (edus.length > 100) notes.push(`the transaction carries ${edus.length} EDUs; the limit is 100`);
    for (const pdu of pdus) {
      const roomId = typeof pdu.room_id === "string" ? pdu.room_id : "";
      const room = peer.rooms.get(roomId);
      if (!room) {
        notes.push(`a PDU for room ${roomId || "(none)"}, which ${peer.label} is not in: ${describePdu(pdu)}`);
        continue;
      }
      const problems = pduFormatProblems(pdu, room.version);
      let eventId = "";
      try {
        eventId = eventIdOf(pdu, room.version);
      } catch (e) {
        problems.push((e as Error).message);
        continue;
      }
      const crypto = await peer.checkPdu(pdu, room.version);
      problems.push(...crypto.filter((p) => !problems.includes(p)));
      let rejected: string | undefined;
      if (crypto.length === 0) {
        const decision = room.authorize(pdu, "auth_events");
        if (!decision.allowed) rejected = `not authorised by its auth events: ${decision.reason} (${decision.rule})`;
        if (rejected) problems.push(rejected);
        room.addEvent(pdu, rejected ? { rejected } : {});
      }
      record("transaction", req.origin, room, pdu, eventId, problems);
      results[eventId] = problems.length > 0 ? { error: problems.join("; ") } : {};
    }
    for (const e of edus) peer.recordEdu({ origin: req.origin, edu_type: String(e.edu_type), content: e.content, receivedAt: Date.now() });
    const response = { pdus: results };
    seenTxns.set(key, response);
    return { status: 200, body: response, ...(notes.length > 0 ? { unexpected: notes.join("; ") } : {}) };
  });

  const walkPrev = (room: PeerRoom, starts: string[], limit: number, skip: Set<string>, includeStarts: boolean): WirePdu[] => {
    const out: string[] = [];
    const seen = new Set<string>(skip);
    const queue = includeStarts ? [...starts] : starts.flatMap((s) => room.event(s)?.model.prev_events ?? []);
    while (queue.length > 0 && out.length < limit) {
      const id = queue.shift()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const e = room.event(id);
      if (!e) continue;
      out.push(id);
      queue.push(...e.model.prev_events);
    }
    return out.map((id) => room.event(id)!.pdu);
  };

  const handlers: PeerHandlers = {
    enabled,
    joins: () =>
      once("joins", () => {
        peer.route("GET", "/_matrix/federation/v1/make_join/{roomId}/{userId}", makeMembership("join"));
        peer.route("PUT", "/_matrix/federation/v2/send_join/{roomId}/{eventId}", sendMembership("join", "v2"));
      }),
    leaves: () =>
      once("leaves", () => {
        peer.route("GET", "/_matrix/federation/v1/make_leave/{roomId}/{userId}", makeMembership("leave"));
        peer.route("PUT", "/_matrix/federation/v1/send_leave/{roomId}/{eventId}", sendMembership("leave", "v1"));
        peer.route("PUT", "/_matrix/federation/v2/send_leave/{roomId}/{eventId}", sendMembership("leave", "v2"));
      }),
    knocks: () =>
      once("knocks", () => {
        peer.route("GET", "/_matrix/federation/v1/make_knock/{roomId}/{userId}", makeMembership("knock"));
        peer.route("PUT", "/_matrix/federation/v1/send_knock/{roomId}/{eventId}", sendMembership("knock", "v2"));
      }),
    invites: (opts = {}) => {
      rejectInvites = !!opts.reject;
      once("invites", () => {
        peer.route("PUT", "/_matrix/federation/v1/invite/{roomId}/{eventId}", invite("v1"));
        peer.route("PUT", "/_matrix/federation/v2/invite/{roomId}/{eventId}", invite("v2"));
      });
    },
    transactions: () => once("transactions", () => undefined),
    backfill: () =>
      once("backfill", () => {
        peer.route("GET", "/_matrix/federation/v1/backfill/{roomId}", (req) => {
          const room = roomOf(req);
          if (isResult(room)) return room;
          if (!inRoom(room, req.origin)) return error(403, "M_FORBIDDEN", `${req.origin} is not in the room`);
          const limit = Math.max(0, Number(req.query.get("limit") ?? "10") || 0);
          const pdus = walkPrev(room, req.query.getAll("v"), limit, new Set(), true);
          return ok({ origin: peer.serverName, origin_server_ts: Date.now(), pdus });
        });
      }),
    missingEvents: () =>
      once("missingEvents", () => {
        peer.route("POST", "/_matrix/federation/v1/get_missing_events/{roomId}", (req) => {
          const room = roomOf(req);
          if (isResult(room)) return room;
          if (!inRoom(room, req.origin)) return error(403, "M_FORBIDDEN", `${req.origin} is not in the room`);
          const b = (req.body ?? {}) as { earliest_events?: string[]; latest_events?: string[]; limit?: number; min_depth?: number };
          const events = walkPrev(room, b.latest_events ?? [], b.limit ?? 10, new Set(b.earliest_events ?? []), false).filter(
            (e) => Number(e.depth ?? 0) >= (b.min_depth ?? 0),
          );
          return ok({ events: events.reverse() });
        });
      }),
    state: () =>
      once("state", () => {
        const stateAt = (req: InboundRequest): { room: PeerRoom; state: Map<string, string> } | HandlerResult => {
          const room = roomOf(req);
          if (isResult(room)) return room;
          if (!inRoom(room, req.origin)) return error(403, "M_FORBIDDEN", `${req.origin} is not in the room`);
          const at = req.query.get("event_id") ?? "";
          const state = room.stateBeforeEvent(at);
          if (!state) return error(404, "M_NOT_FOUND", `${peer.label} does not know the state at ${at}`);
          return { room, state };
        };
        peer.route("GET", "/_matrix/federation/v1/state/{roomId}", (req) => {
          const r = stateAt(req);
          if (isResult(r)) return r;
          return ok({ pdus: r.room.stateEvents(r.state).map((e) => e.pdu), auth_chain: r.room.authChain(r.state.values()).events.map((e) => e.pdu) });
        });
        peer.route("GET", "/_matrix/federation/v1/state_ids/{roomId}", (req) => {
          const r = stateAt(req);
          if (isResult(r)) return r;
          return ok({ pdu_ids: [...r.state.values()], auth_chain_ids: r.room.authChain(r.state.values()).events.map((e) => e.eventId) });
        });
      }),
    events: () =>
      once("events", () => {
        peer.route("GET", "/_matrix/federation/v1/event/{eventId}", (req) => {
          for (const room of peer.rooms.values()) {
            const e = room.event(req.params.eventId ?? "");
            if (e) return ok({ origin: peer.serverName, origin_server_ts: Date.now(), pdus: [e.pdu] });
          }
          return error(404, "M_NOT_FOUND", `${peer.label} does not have event ${req.params.eventId}`);
        });
      }),
    eventAuth: () =>
      once("eventAuth", () => {
        peer.route("GET", "/_matrix/federation/v1/event_auth/{roomId}/{eventId}", (req) => {
          const room = roomOf(req);
          if (isResult(room)) return room;
          if (!inRoom(room, req.origin)) return error(403, "M_FORBIDDEN", `${req.origin} is not in the room`);
          if (!room.has(req.params.eventId ?? "")) return error(404, "M_NOT_FOUND", `${peer.label} does not have event ${req.params.eventId}`);
          return ok({ auth_chain: room.authChain([req.params.eventId!]).events.map((e) => e.pdu) });
        });
      }),
    profiles: () =>
      once("profiles", () => {
        peer.route("GET", "/_matrix/federation/v1/query/profile", (req) => {
          const userId = req.query.get("user_id") ?? "";
          const profile = peer.profiles.get(userId);
          if (!profile) return error(404, "M_NOT_FOUND", `${peer.label} has no profile for ${userId}`);
          const field = req.query.get("field");
          if (field) return field in profile ? ok({ [field]: profile[field] }) : error(404, "M_NOT_FOUND", `no ${field} in the profile`);
          return ok(profile);
        });
      }),
    directory: () =>
      once("directory", () => {
        peer.route("GET", "/_matrix/federation/v1/query/directory", (req) => {
          const alias = req.query.get("room_alias") ?? "";
          const roomId = peer.aliases.get(alias);
          if (!roomId) return error(404, "M_NOT_FOUND", `${peer.label} has no alias ${alias}`);
          return ok({ room_id: roomId, servers: [peer.serverName] });
        });
      }),
    userDevices: () =>
      once("userDevices", () => {
        peer.route("GET", "/_matrix/federation/v1/user/devices/{userId}", (req) => {
          const userId = req.params.userId ?? "";
          if (!userId.endsWith(`:${peer.serverName}`)) return error(403, "M_FORBIDDEN", `${userId} is not a user of ${peer.label}`);
          return ok({ user_id: userId, stream_id: 1, devices: peer.devices.get(userId) ?? [] });
        });
      }),
    publicRooms: () =>
      once("publicRooms", () => {
        const list = () => {
          const chunk = [...peer.publishedRooms]
            .map((id) => peer.rooms.get(id))
            .filter((r): r is PeerRoom => r !== undefined)
            .map((room) => {
              const name = room.stateEvent("m.room.name")?.model.content.name;
              const hv = room.stateEvent("m.room.history_visibility")?.model.content.history_visibility;
              const jr = room.stateEvent("m.room.join_rules")?.model.content.join_rule;
              return {
                room_id: room.roomId,
                num_joined_members: room.joinedMembers().length,
                world_readable: hv === "world_readable",
                guest_can_join: room.stateEvent("m.room.guest_access")?.model.content.guest_access === "can_join",
                ...(typeof name === "string" ? { name } : {}),
                ...(typeof jr === "string" ? { join_rule: jr } : {}),
              };
            });
          return ok({ chunk, total_room_count_estimate: chunk.length });
        };
        peer.route("GET", "/_matrix/federation/v1/publicRooms", list);
        peer.route("POST", "/_matrix/federation/v1/publicRooms", list);
      }),
  };
  return handlers;
}

/**
 * EDU types a server sends on its own (presence of its users, their device lists): a transaction
 * carrying only these is answered 200 and recorded as tolerated even when the test has not
 * switched transactions on.
 */
export const BACKGROUND_EDU_TYPES: ReadonlySet<string> = new Set(["m.presence", "m.device_list_update"]);
const BACKGROUND = BACKGROUND_EDU_TYPES;
