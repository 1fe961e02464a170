// A peer's in-memory model of one room: every event it has seen (by ID and in arrival order),
// the DAG of prev_events, the state after each event of the timeline, the current state, auth
// chains and forward extremities; and the building of new events on top of it.
//
// Readings taken (the model serves tests, it is not a full server):
//   - "Outliers" (events known only from a send_join response's state and auth chain, or fetched
//     for their own sake) are stored with no state of their own; they feed auth checks and auth
//     chains but are never forward extremities.
//   - The state before an event is the state after its prev event (one), the resolution of the
//     states after its prev events (several, with harness/stateres' algorithm of the room version),
//     or the given state (a join's state from send_join). A prev event the model has no state for
//     is skipped; if none has state, the current state is used.
//   - The current state is the state after the only forward extremity, or the resolution of the
//     states after all of them.
//   - Events added as rejected keep their place in the log but change no state and are not
//     forward extremities.

import { randomBytes } from "node:crypto";
import {
  buildPdu,
  hashAndSignEvent,
  createEventIdFromRoomId,
  eventReference,
  makeServerEventId,
  roomIdFromCreateEvent,
  roomVersion,
  serverNameOf,
  type JsonObject,
  type PduDraft,
  type RoomVersionRules,
  type SigningKey,
} from "../crypto/index.ts";
import {
  EventStore,
  authorizeEvent,
  resolveState,
  selectAuthEvents,
  splitStateKey,
  stateKey,
  type AuthDecision,
} from "../stateres/index.ts";
import { eventIdOf, knownVersion, toModelPdu, type ModelPdu, type RoomVersionId, type WirePdu } from "./events.ts";

export interface StoredEvent {
  eventId: string;
  pdu: WirePdu;
  model: ModelPdu;
  /** Known without its place in the DAG (state or auth chain of a send_join response, ...). */
  outlier: boolean;
  /** Why the event was rejected, when it was. */
  rejected?: string;
}

export interface Signer {
  serverName: string;
  key: SigningKey;
}

/** What a new event needs; the room fills in the rest. */
export interface EventInput {
  type: string;
  sender: string;
  content: JsonObject;
  state_key?: string;
  /** Default: now. */
  origin_server_ts?: number;
  /** Default: the forward extremities. */
  prev_events?: string[];
  /** Default: selected from the state before the event (auth events selection). */
  auth_events?: string[];
  /** Default: one more than the deepest prev event. */
  depth?: number;
  /** For m.room.redaction: placed where the room version wants it. */
  redacts?: string;
  unsigned?: JsonObject;
  /**
   * A legacy top-level `origin` to add (none by default): the PDU formats dropped it in v1.3; the
   * schemas that still require it are corrected by the `membership-origin` erratum.
   */
  origin?: string;
}

export type StateMapLike = ReadonlyMap<string, string>;

export class PeerRoom {
  readonly roomId: string;
  readonly version: RoomVersionId;
  readonly rules: RoomVersionRules;
  private readonly store = new EventStore();
  private readonly events = new Map<string, StoredEvent>();
  private readonly order: string[] = [];
  private readonly stateAfter = new Map<string, Map<string, string>>();
  private readonly stateBefore = new Map<string, Map<string, string>>();
  private readonly extremities = new Set<string>();

  constructor(roomId: string, version: RoomVersionId) {
    this.roomId = roomId;
    this.version = version;
    this.rules = roomVersion(version);
  }

  /** The room's create event ID: from the room ID in v12, else from the state. */
  get createEventId(): string | undefined {
    if (this.rules.format.roomIdFormat === "create-event-reference-hash") return createEventIdFromRoomId(this.roomId);
    return this.currentState().get(stateKey("m.room.create", "")) ?? this.allEvents().find((e) => e.pdu.type === "m.room.create")?.eventId;
  }

  has(eventId: string): boolean {
    return this.events.has(eventId);
  }

  event(eventId: string): StoredEvent | undefined {
    return this.events.get(eventId);
  }

  /** Every event in the order the model learned of it. */
  allEvents(): StoredEvent[] {
    return this.order.map((id) => this.events.get(id)!);
  }

  /** Events with a place in the DAG (not outliers), in arrival order. */
  timeline(): StoredEvent[] {
    return this.allEvents().filter((e) => !e.outlier);
  }

  forwardExtremities(): string[] {
    return [...this.extremities].sort();
  }

  /** The state after an event of the timeline, if the model has it. */
  stateAfterEvent(eventId: string): ReadonlyMap<string, string> | undefined {
    return this.stateAfter.get(eventId);
  }

  /** The state before an event of the timeline, if the model has it. */
  stateBeforeEvent(eventId: string): Map<string, string> | undefined {
    const s = this.stateBefore.get(eventId);
    return s ? new Map(s) : undefined;
  }

  currentState(): Map<string, string> {
    const ext = [...this.extremities];
    if (ext.length === 0) return new Map();
    if (ext.length === 1) return new Map(this.stateAfter.get(ext[0]!) ?? []);
    return this.resolve(ext.map((id) => this.stateAfter.get(id)!).filter(Boolean)) ?? new Map(this.stateAfter.get(this.latest(ext))!);
  }

  /** The current state event for (type, state_key). */
  stateEvent(type: string, key = ""): StoredEvent | undefined {
    const id = this.currentState().get(stateKey(type, key));
    return id === undefined ? undefined : this.events.get(id);
  }

  /** The current state as a list of events. */
  stateEvents(state: StateMapLike = this.currentState()): StoredEvent[] {
    return [...state.values()].map((id) => this.events.get(id)).filter((e): e is StoredEvent => e !== undefined);
  }

  membership(userId: string): string | undefined {
    const m = this.stateEvent("m.room.member", userId)?.model.content.membership;
    return typeof m === "string" ? m : undefined;
  }

  joinedMembers(): string[] {
    const out: string[] = [];
    for (const [k, id] of this.currentState()) {
      const [type, key] = splitStateKey(k);
      if (type === "m.room.member" && this.events.get(id)?.model.content.membership === "join") out.push(key);
    }
    return out.sort();
  }

  /** Servers with at least one joined member. */
  joinedServers(): string[] {
    return [...new Set(this.joinedMembers().map((u) => serverNameOf(u)))].sort();
  }

  /** Adds an event known only through a state or auth chain list. Returns its stored form. */
  addOutlier(pdu: WirePdu): StoredEvent {
    return this.insert(pdu, true);
  }

  /**
   * Adds an event to the timeline: computes the state after it and moves the forward extremities.
   * `stateBefore` overrides the state computed from the prev events (a join from send_join).
   */
  addEvent(pdu: WirePdu, opts: { stateBefore?: StateMapLike; rejected?: string } = {}): StoredEvent {
    const existing = this.events.get(eventIdOf(pdu, this.version));
    if (existing && !existing.outlier) return existing;
    const stored = this.insert(pdu, false);
    stored.outlier = false;
    if (opts.rejected) {
      stored.rejected = opts.rejected;
      return stored;
    }
    const before = opts.stateBefore ? new Map(opts.stateBefore) : (this.stateFromPrevs(stored.model.prev_events) ?? this.currentState());
    this.stateBefore.set(stored.eventId, new Map(before));
    const after = before;
    if (stored.model.state_key !== undefined) after.set(stateKey(stored.model.type, stored.model.state_key), stored.eventId);
    this.stateAfter.set(stored.eventId, after);
    for (const p of stored.model.prev_events) this.extremities.delete(p);
    this.extremities.add(stored.eventId);
    return stored;
  }

  /**
   * The auth chain of the given events: their auth events, those events' auth events, and so on
   * (the events themselves are not included unless another reaches them). Events the model does
   * not know are skipped; `missing` lists them.
   */
  authChain(eventIds: Iterable<string>): { events: StoredEvent[]; missing: string[] } {
    const seen = new Set<string>();
    const missing = new Set<string>();
    const stack: string[] = [];
    for (const id of eventIds) {
      const e = this.events.get(id);
      if (e) stack.push(...e.model.auth_events);
      else missing.add(id);
    }
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      const e = this.events.get(id);
      if (!e) {
        missing.add(id);
        continue;
      }
      seen.add(id);
      stack.push(...e.model.auth_events);
    }
    return { events: this.order.filter((id) => seen.has(id)).map((id) => this.events.get(id)!), missing: [...missing] };
  }

  /**
   * Authorises an event with harness/stateres: against its own auth events (receipt step 4),
   * the state before it (step 5) or the current state (soft failure). An auth event the model
   * does not have is a rejection with rule "missing".
   */
  authorize(event: WirePdu | StoredEvent, against: "auth_events" | "state_before" | "current_state" = "auth_events"): AuthDecision {
    const model = "model" in event && "eventId" in event ? (event as StoredEvent).model : toModelPdu(event as WirePdu, this.version);
    const store = this.store;
    if (!store.has(model.event_id)) {
      // Authorising an event not (yet) stored: a throwaway store that also has it.
      const tmp = new EventStore(store.values());
      tmp.add(model);
      return this.authorizeIn(model, against, tmp);
    }
    return this.authorizeIn(model, against, store);
  }

  private authorizeIn(model: ModelPdu, against: "auth_events" | "state_before" | "current_state", store: EventStore): AuthDecision {
    const missing = model.auth_events.filter((id) => !store.has(id));
    if (missing.length > 0) return { allowed: false, rule: "missing", reason: `the peer does not have the auth events ${missing.join(", ")}` };
    const roomCreateId = this.rules.format.roomIdFormat === "create-event-reference-hash" && model.type !== "m.room.create" ? createEventIdFromRoomId(this.roomId) : undefined;
    if (roomCreateId !== undefined && !store.has(roomCreateId)) {
      return { allowed: false, rule: "missing", reason: `the peer does not have the room's create event ${roomCreateId}` };
    }
    let state: "auth_events" | Map<string, string>;
    if (against === "auth_events") state = "auth_events";
    else if (against === "current_state") state = this.currentState();
    else {
      const before = this.stateBeforeEvent(model.event_id) ?? this.stateFromPrevs(model.prev_events);
      if (!before) return { allowed: false, rule: "missing", reason: "the peer does not know the state before the event" };
      state = before;
    }
    try {
      return authorizeEvent(model, state, store, this.rules, roomCreateId !== undefined ? { roomCreateId } : {});
    } catch (e) {
      return { allowed: false, rule: "error", reason: (e as Error).message };
    }
  }

  /** The event IDs the auth events selection names for `event` in `state` (default: the current state). */
  selectAuthEvents(event: WirePdu, state: StateMapLike = this.currentState()): string[] {
    return selectAuthEvents(toModelPdu(event, this.version), state, this.rules);
  }

  /** How other events refer to `eventId` (an ID, or an [id, hashes] pair in v1-v2). */
  reference(eventId: string): string | [string, { sha256: string }] {
    const e = this.events.get(eventId);
    if (!e) throw new Error(`the room model has no event ${eventId} to refer to`);
    return eventReference(e.pdu, this.version);
  }

  /** The draft of a new event, with prev events, auth events and depth filled in. */
  draft(input: EventInput, serverName: string): PduDraft {
    const prevIds = input.prev_events ?? this.forwardExtremities();
    const state = input.prev_events ? (this.stateFromPrevs(prevIds) ?? this.currentState()) : this.currentState();
    const model = {
      event_id: "$draft",
      type: input.type,
      sender: input.sender,
      content: input.content,
      prev_events: prevIds,
      origin_server_ts: 0,
      ...(input.state_key !== undefined ? { state_key: input.state_key } : {}),
    };
    const authIds = input.auth_events ?? selectAuthEvents(model, state, this.rules);
    const depth = input.depth ?? Math.max(0, ...prevIds.map((id) => this.depthOf(id))) + 1;
    const pairs = this.rules.format.pduShape === "v1";
    const ref = (id: string) => (pairs ? this.reference(id) : id);
    const isCreate = input.type === "m.room.create" && input.state_key === "";
    return {
      type: input.type,
      sender: input.sender,
      origin_server_ts: input.origin_server_ts ?? Date.now(),
      content: input.content,
      depth,
      prev_events: prevIds.map(ref),
      auth_events: authIds.map(ref),
      ...(input.state_key !== undefined ? { state_key: input.state_key } : {}),
      ...(this.rules.format.roomIdFormat === "create-event-reference-hash" && isCreate ? {} : { room_id: this.roomId }),
      ...(pairs ? { event_id: makeServerEventId(randomBytes(9).toString("base64url").replace(/[^A-Za-z0-9]/g, "x"), serverName) } : {}),
      ...(input.redacts !== undefined ? { redacts: input.redacts } : {}),
      ...(input.unsigned !== undefined ? { unsigned: input.unsigned } : {}),
    };
  }

  /** Builds, hashes and signs a new event. It is not added to the room (see addEvent). */
  build(input: EventInput, signer: Signer): WirePdu {
    const unsigned = buildPdu(this.version, this.draft(input, signer.serverName)) as unknown as WirePdu;
    const pdu = input.origin === undefined ? unsigned : { ...unsigned, origin: input.origin };
    return hashAndSignEvent(pdu, this.version, signer.serverName, signer.key);
  }

  /** The deepest `depth` among the timeline's events. */
  maxDepth(): number {
    return Math.max(0, ...this.timeline().map((e) => e.model.depth ?? 0));
  }

  private depthOf(eventId: string): number {
    return this.events.get(eventId)?.model.depth ?? 0;
  }

  private insert(pdu: WirePdu, outlier: boolean): StoredEvent {
    const eventId = eventIdOf(pdu, this.version);
    const known = this.events.get(eventId);
    if (known) return known;
    const model = toModelPdu(pdu, this.version, eventId);
    const stored: StoredEvent = { eventId, pdu, model, outlier };
    this.events.set(eventId, stored);
    this.order.push(eventId);
    this.store.add(model);
    return stored;
  }

  private stateFromPrevs(prevIds: readonly string[]): Map<string, string> | undefined {
    const states = prevIds.map((id) => this.stateAfter.get(id)).filter((s): s is Map<string, string> => s !== undefined);
    if (states.length === 0) return undefined;
    if (states.length === 1) return new Map(states[0]!);
    return this.resolve(states) ?? new Map(states[states.length - 1]!);
  }

  private resolve(states: Map<string, string>[]): Map<string, string> | undefined {
    try {
      const roomCreateId = this.rules.format.roomIdFormat === "create-event-reference-hash" ? createEventIdFromRoomId(this.roomId) : undefined;
      return resolveState(states, this.store, this.rules, roomCreateId !== undefined ? { roomCreateId } : {});
    } catch {
      return undefined;
    }
  }

  private latest(ids: string[]): string {
    return ids.reduce((a, b) => (this.order.indexOf(a) > this.order.indexOf(b) ? a : b));
  }
}

export interface CreateRoomOptions {
  /** Default "12". */
  version?: string;
  /** A user of the creating server. */
  creator: string;
  /** Default "public". */
  joinRule?: string;
  name?: string;
  /** State events added after the initial ones. */
  extraState?: EventInput[];
}

/**
 * A new room: create event (v12: its hash gives the room ID), the creator's join, power levels
 * (creator 100; in v12 creators have infinite power and must not be listed), join rules
 * (default public), history visibility "shared", and optionally a name and more state.
 */
export function createPeerRoom(signer: Signer, opts: CreateRoomOptions): PeerRoom {
  const version = knownVersion(opts.version ?? "12");
  const rules = roomVersion(version);
  const createContent: JsonObject = { room_version: version };
  if (rules.auth.createRequiresCreator) createContent.creator = opts.creator;
  const createInput: EventInput = { type: "m.room.create", state_key: "", sender: opts.creator, content: createContent };
  let room: PeerRoom;
  if (rules.format.roomIdFormat === "create-event-reference-hash") {
    const create = new PeerRoom("!unused:unused", version).build(createInput, signer);
    room = new PeerRoom(roomIdFromCreateEvent(create, version), version);
    room.addEvent(create);
  } else {
    room = new PeerRoom(`!${randomBytes(9).toString("base64url").replace(/[^A-Za-z0-9]/g, "x")}:${signer.serverName}`, version);
    room.addEvent(room.build(createInput, signer));
  }
  const add = (input: EventInput) => room.addEvent(room.build(input, signer));
  add({ type: "m.room.member", state_key: opts.creator, sender: opts.creator, content: { membership: "join" } });
  add({
    type: "m.room.power_levels",
    state_key: "",
    sender: opts.creator,
    content: {
      users: rules.auth.infiniteCreatorPower ? {} : { [opts.creator]: 100 },
      users_default: 0,
      events: {},
      events_default: 0,
      state_default: 50,
      ban: 50,
      kick: 50,
      redact: 50,
      invite: 0,
    },
  });
  add({ type: "m.room.join_rules", state_key: "", sender: opts.creator, content: { join_rule: opts.joinRule ?? "public" } });
  add({ type: "m.room.history_visibility", state_key: "", sender: opts.creator, content: { history_visibility: "shared" } });
  if (opts.name !== undefined) add({ type: "m.room.name", state_key: "", sender: opts.creator, content: { name: opts.name } });
  for (const extra of opts.extraState ?? []) add(extra);
  return room;
}

export { stateKey, splitStateKey };
