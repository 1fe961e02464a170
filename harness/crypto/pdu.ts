// PDU formats of room versions 1-12 and builders for them.
// Schemas: https://spec.matrix.org/v1.19/server-server-api/#pdus and each version's "Event
// format" section (https://spec.matrix.org/v1.19/rooms/v1/#event-format, /v3/, /v4/, /v6/,
// /v11/, /v12/#event-format).
//
// `origin` is no longer part of any PDU schema (removed in spec v1.3 as unused). It still
// matters to hashes and signatures of old events (v1-v10 redaction keeps it), so v1-v10 PDUs
// may carry it; v11+ PDUs may not (https://spec.matrix.org/v1.19/rooms/v11/#redactions).

import { CryptoError } from "./errors.ts";
import { createEventIdFromRoomId, hashAndSignEvent, withContentHash, type EventHashes } from "./events.ts";
import type { SigningKey } from "./ed25519.ts";
import { cloneJson, isPlainObject, setOwn, type JsonObject } from "./json.ts";
import { roomVersion, type RoomVersionId, type RoomVersionLike } from "./room-versions.ts";
import type { Signatures } from "./signing.ts";

export type { EventHashes } from "./events.ts";

/** Fields every PDU has. */
export interface PduCommon {
  type: string;
  sender: string;
  origin_server_ts: number;
  content: JsonObject;
  /** Present exactly on state events. */
  state_key?: string;
  depth: number;
  hashes: EventHashes;
  signatures: Signatures;
  unsigned?: JsonObject;
}

/** `[event_id, { sha256: reference hash }]`, how v1-v2 events refer to others. */
export type EventReferencePair = [eventId: string, hashes: EventHashes];

/** Room versions 1 and 2. */
export interface PduV1 extends PduCommon {
  room_id: string;
  event_id: string;
  auth_events: EventReferencePair[];
  prev_events: EventReferencePair[];
  /** `m.room.redaction` only. */
  redacts?: string;
  /** Legacy; no longer in the schema but covered by hashes and signatures when present. */
  origin?: string;
}

/** Room versions 3-10 (v4 changes only the event ID alphabet, v6 only the depth limit). */
export interface PduV3 extends PduCommon {
  room_id: string;
  auth_events: string[];
  prev_events: string[];
  redacts?: string;
  origin?: string;
}

/** Room version 11: `redacts` lives in `content` of `m.room.redaction`; no `origin`. */
export interface PduV11 extends PduCommon {
  room_id: string;
  auth_events: string[];
  prev_events: string[];
}

/** Room version 12: as v11, but the `m.room.create` event has no `room_id`. */
export interface PduV12 extends PduCommon {
  room_id?: string;
  auth_events: string[];
  prev_events: string[];
}

export interface PduByRoomVersion {
  "1": PduV1;
  "2": PduV1;
  "3": PduV3;
  "4": PduV3;
  "5": PduV3;
  "6": PduV3;
  "7": PduV3;
  "8": PduV3;
  "9": PduV3;
  "10": PduV3;
  "11": PduV11;
  "12": PduV12;
}

export type Pdu = PduV1 | PduV3 | PduV11 | PduV12;

/** A reference to another event: its ID (v3+) or its `[id, hashes]` pair (v1-v2). */
export type EventRef = string | readonly [string, EventHashes];

/**
 * Everything a PDU needs except `hashes` and `signatures`, with the version-dependent parts
 * given uniformly: the builder places `redacts` where the room version wants it.
 */
export interface PduDraft {
  type: string;
  sender: string;
  origin_server_ts: number;
  content: JsonObject;
  depth: number;
  prev_events: readonly EventRef[];
  auth_events: readonly EventRef[];
  state_key?: string;
  /** Required except on a v12 `m.room.create` event, which must not have one. */
  room_id?: string;
  /** v1-v2 only, and required there: `$opaque:domain` (see makeServerEventId). */
  event_id?: string;
  /** For `m.room.redaction`: top-level in v1-v10, `content.redacts` in v11+. */
  redacts?: string;
  /** v1-v10 only (legacy). */
  origin?: string;
  unsigned?: JsonObject;
}

function isCreateEvent(draft: { type: string; state_key?: string | undefined }): boolean {
  return draft.type === "m.room.create" && draft.state_key === "";
}

function refs(list: readonly EventRef[], pairs: boolean, field: string, versionId: string): unknown[] {
  return list.map((ref, i) => {
    if (pairs) {
      if (typeof ref === "string") {
        throw new CryptoError(
          `${field}[${i}]: room version ${versionId} refers to events as [event_id, {sha256}] pairs (see eventReference)`,
        );
      }
      return [ref[0], { ...ref[1] }];
    }
    if (typeof ref !== "string") {
      throw new CryptoError(`${field}[${i}]: room version ${versionId} refers to events by event ID only`);
    }
    return ref;
  });
}

/**
 * Builds an unsigned PDU for a room version: fields laid out as that version's schema wants,
 * `hashes.sha256` computed, `signatures` empty. Throws CryptoError when the draft cannot be
 * expressed in that version (missing `event_id` in v1-v2, `room_id` on a v12 create event, the
 * create event listed in v12 `auth_events`, ...). Limits the spec states for valid events
 * (list lengths, depth) are not enforced, so tests can build such events on purpose.
 */
export function buildPdu<V extends RoomVersionId>(version: V, draft: PduDraft): PduByRoomVersion[V];
export function buildPdu(version: RoomVersionLike, draft: PduDraft): Pdu;
export function buildPdu(version: RoomVersionLike, draft: PduDraft): Pdu {
  const rules = roomVersion(version);
  const v = rules.id;
  const shape = rules.format.pduShape;
  const out: Record<string, unknown> = {};
  const put = (key: string, value: unknown): void => {
    if (value !== undefined) setOwn(out, key, cloneJson(value));
  };

  if (!isPlainObject(draft.content)) throw new CryptoError("content must be a JSON object");
  put("type", draft.type);
  put("sender", draft.sender);

  if (rules.format.roomIdFormat === "create-event-reference-hash" && isCreateEvent(draft)) {
    if (draft.room_id !== undefined) {
      throw new CryptoError(`a room version ${v} m.room.create event has no room_id: the room ID is derived from it`);
    }
  } else {
    if (draft.room_id === undefined) throw new CryptoError(`room version ${v} events need a room_id`);
    put("room_id", draft.room_id);
  }

  if (shape === "v1") {
    if (draft.event_id === undefined) {
      throw new CryptoError(`room version ${v} events carry an event_id chosen by their server`);
    }
    put("event_id", draft.event_id);
  } else if (draft.event_id !== undefined) {
    throw new CryptoError(`room version ${v} PDUs have no event_id: it is the reference hash`);
  }

  put("origin_server_ts", draft.origin_server_ts);
  put("state_key", draft.state_key);
  put("depth", draft.depth);

  if (!rules.auth.createInAuthEvents && draft.room_id !== undefined) {
    const createId = createEventIdFromRoomId(draft.room_id);
    if (draft.auth_events.some((r) => (typeof r === "string" ? r : r[0]) === createId)) {
      throw new CryptoError(`room version ${v} events must not list the m.room.create event (${createId}) in auth_events`);
    }
  }
  put("auth_events", refs(draft.auth_events, shape === "v1", "auth_events", v));
  put("prev_events", refs(draft.prev_events, shape === "v1", "prev_events", v));

  const content = cloneJson(draft.content);
  if (draft.redacts !== undefined) {
    if (rules.format.redactsLocation === "content") {
      const already = content["redacts"];
      if (already !== undefined && already !== draft.redacts) {
        throw new CryptoError("redacts and content.redacts disagree");
      }
      setOwn(content, "redacts", draft.redacts);
    } else {
      put("redacts", draft.redacts);
    }
  }
  put("content", content);

  if (draft.origin !== undefined) {
    if (shape === "v11" || shape === "v12") {
      throw new CryptoError(`room version ${v} PDUs have no origin`);
    }
    put("origin", draft.origin);
  }
  put("unsigned", draft.unsigned);
  setOwn(out, "signatures", {});
  return withContentHash(out, rules) as unknown as Pdu;
}

/** buildPdu, then hash and sign as `serverName` with `key`. */
export function buildSignedPdu<V extends RoomVersionId>(
  version: V,
  draft: PduDraft,
  serverName: string,
  key: SigningKey,
): PduByRoomVersion[V];
export function buildSignedPdu(version: RoomVersionLike, draft: PduDraft, serverName: string, key: SigningKey): Pdu;
export function buildSignedPdu(version: RoomVersionLike, draft: PduDraft, serverName: string, key: SigningKey): Pdu {
  return hashAndSignEvent(buildPdu(version, draft), version, serverName, key);
}
