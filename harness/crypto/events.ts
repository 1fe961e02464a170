// Hashes, IDs and signatures of events (PDUs):
// - content hash: https://spec.matrix.org/v1.19/server-server-api/#calculating-the-content-hash-for-an-event
// - reference hash: https://spec.matrix.org/v1.19/server-server-api/#calculating-the-reference-hash-for-an-event
// - signing: https://spec.matrix.org/v1.19/server-server-api/#adding-hashes-and-signatures-to-outgoing-events
// - checking: https://spec.matrix.org/v1.19/server-server-api/#validating-hashes-and-signatures-on-received-events
// - event IDs: https://spec.matrix.org/v1.19/rooms/v1/#event-ids, /v3/#event-ids, /v4/#event-ids
// - v12 room IDs: https://spec.matrix.org/v1.19/appendices/#room-ids
//
// Everything here is a pure function of its arguments and returns new objects.

import { decodeBase64, encodeBase64, encodeBase64Url } from "./base64.ts";
import { canonicalJsonBytes, type CanonicalJsonOptions } from "./canonical.ts";
import { sha256, type SigningKey } from "./ed25519.ts";
import { CanonicalJsonError, CryptoError } from "./errors.ts";
import { serverNameOf } from "./identifiers.ts";
import { cloneJson, getOwn, isPlainObject, omitKeys, setOwn } from "./json.ts";
import { redactEvent } from "./redaction.ts";
import { roomVersion, type RoomVersionLike, type RoomVersionRules } from "./room-versions.ts";
import {
  checkJsonSignature,
  jsonSignature,
  withSignature,
  type SignatureCheck,
  type Signatures,
  type VerifyKeys,
} from "./signing.ts";

/** `hashes` of a PDU. */
export type EventHashes = { sha256: string };

/** Canonical JSON mode for a room version: strict from v6. */
export function canonicalOptionsFor(version: RoomVersionLike): CanonicalJsonOptions {
  return { strict: roomVersion(version).format.strictCanonicalJson };
}

/** SHA-256 over the canonical JSON of the event without `unsigned`, `signatures` and `hashes`. */
export function contentHash(event: object, version: RoomVersionLike): Uint8Array {
  const stripped = omitKeys(event, ["unsigned", "signatures", "hashes"]);
  return sha256(canonicalJsonBytes(stripped, canonicalOptionsFor(version)));
}

/** The content hash as it appears in `hashes.sha256` (unpadded Base64). */
export function contentHashBase64(event: object, version: RoomVersionLike): string {
  return encodeBase64(contentHash(event, version));
}

/**
 * A copy of the event with `hashes` set to `{ sha256: <content hash> }`, replacing any previous
 * `hashes`, as the spec's reference code does.
 */
export function withContentHash<T extends object>(event: T, version: RoomVersionLike): T & { hashes: EventHashes } {
  const out = cloneJson(event) as Record<string, unknown>;
  setOwn(out, "hashes", { sha256: contentHashBase64(event, version) });
  return out as T & { hashes: EventHashes };
}

/** Whether `hashes.sha256` matches the event's content hash. False when absent or malformed. */
export function checkContentHash(event: object, version: RoomVersionLike): boolean {
  const hashes = getOwn(event, "hashes");
  const claimed = isPlainObject(hashes) ? getOwn(hashes, "sha256") : undefined;
  if (typeof claimed !== "string") return false;
  let claimedBytes: Uint8Array;
  try {
    claimedBytes = decodeBase64(claimed);
  } catch {
    return false;
  }
  return bytesEqual(claimedBytes, contentHash(event, version));
}

/**
 * The reference hash: SHA-256 over the canonical JSON of the redacted event without
 * `signatures` and `unsigned` (redaction already drops `unsigned`; `hashes` stays). The event
 * is taken as given: a stray `event_id` is covered, since v1-v2 redaction keeps it.
 */
export function referenceHash(event: object, version: RoomVersionLike): Uint8Array {
  const redacted = omitKeys(redactEvent(event, version), ["signatures", "unsigned"]);
  return sha256(canonicalJsonBytes(redacted, canonicalOptionsFor(version)));
}

/**
 * The event's ID. v1-v2: the `event_id` the creating server put in the event (there is nothing
 * to compute; throws if it is missing). v3: `$` + unpadded Base64 of the reference hash.
 * v4+: `$` + unpadded URL-safe Base64 of it.
 *
 * For v3+ a top-level `event_id` is ignored: such events carry none over federation, and one
 * (e.g. added for clients) would otherwise change the hash it names.
 */
export function computeEventId(event: object, version: RoomVersionLike): string {
  const rules = roomVersion(version);
  switch (rules.format.eventIdFormat) {
    case "server-assigned": {
      const id = getOwn(event, "event_id");
      if (typeof id !== "string") {
        throw new CryptoError(`room version ${rules.id} events carry their event_id; this one has none`);
      }
      return id;
    }
    case "reference-hash-base64":
      return `$${encodeBase64(referenceHash(omitKeys(event, ["event_id"]), rules))}`;
    case "reference-hash-base64url":
      return `$${encodeBase64Url(referenceHash(omitKeys(event, ["event_id"]), rules))}`;
  }
}

/**
 * How other events refer to this one in `prev_events`/`auth_events`: the event ID (v3+) or the
 * `[event_id, { sha256: <reference hash> }]` pair (v1-v2).
 */
export function eventReference(event: object, version: RoomVersionLike): string | [string, EventHashes] {
  const rules = roomVersion(version);
  const id = computeEventId(event, rules);
  if (rules.format.pduShape !== "v1") return id;
  return [id, { sha256: encodeBase64(referenceHash(event, rules)) }];
}

/**
 * The room ID of a room whose version derives it from the create event (v12): `!` + unpadded
 * URL-safe Base64 of the create event's reference hash, i.e. its event ID with `!` for `$`.
 * The create event itself must have no `room_id`.
 */
export function roomIdFromCreateEvent(createEvent: object, version: RoomVersionLike = "12"): string {
  const rules = roomVersion(version);
  if (rules.format.roomIdFormat !== "create-event-reference-hash") {
    throw new CryptoError(`room version ${rules.id} room IDs are chosen by the server, not derived`);
  }
  if (getOwn(createEvent, "type") !== "m.room.create") {
    throw new CryptoError("a room ID derives only from an m.room.create event");
  }
  if (getOwn(createEvent, "room_id") !== undefined) {
    throw new CryptoError(`a room version ${rules.id} m.room.create event has no room_id`);
  }
  return `!${computeEventId(createEvent, rules).slice(1)}`;
}

/** In v12 rooms, the ID of the create event a room ID names (`!` replaced by `$`). */
export function createEventIdFromRoomId(roomId: string): string {
  if (!roomId.startsWith("!")) throw new CryptoError(`${JSON.stringify(roomId)} is not a room ID`);
  return `$${roomId.slice(1)}`;
}

/**
 * Adds `entity`'s signature to an event without touching `hashes`: the redacted event is
 * signed, and the signature is copied into the returned copy of the full event. Use this to
 * co-sign an event someone else built (joins, invites); use hashAndSignEvent for events of
 * your own.
 */
export function signEvent<T extends object>(
  event: T,
  version: RoomVersionLike,
  entity: string,
  key: SigningKey,
): T & { signatures: Signatures } {
  const rules = roomVersion(version);
  const signature = jsonSignature(redactEvent(event, rules), key, canonicalOptionsFor(rules));
  return withSignature(event, entity, key.keyId, signature);
}

/** Computes the content hash into `hashes`, then signs the redacted event (an outgoing event). */
export function hashAndSignEvent<T extends object>(
  event: T,
  version: RoomVersionLike,
  entity: string,
  key: SigningKey,
): T & { hashes: EventHashes; signatures: Signatures } {
  return signEvent(withContentHash(event, version), version, entity, key);
}

/**
 * The servers whose signatures an event needs: the sender's server, and in v1-v2 also the
 * server named in `event_id` when it differs. (Third-party-invite joins, where another server
 * may send the event, are left to the caller.)
 */
export function requiredSigningServers(event: object, version: RoomVersionLike): string[] {
  const rules = roomVersion(version);
  const sender = getOwn(event, "sender");
  if (typeof sender !== "string") throw new CryptoError("the event has no sender");
  const servers = [serverNameOf(sender)];
  if (rules.signatures.eventIdDomainMustSign) {
    const eventId = getOwn(event, "event_id");
    if (typeof eventId !== "string") throw new CryptoError(`room version ${rules.id} events need an event_id`);
    const domain = serverNameOf(eventId);
    if (!servers.includes(domain)) servers.push(domain);
  }
  return servers;
}

/** Checks one server's signature on an event (on its redacted form, as the spec says). */
export function verifyEventSignature(
  event: object,
  version: RoomVersionLike,
  entity: string,
  keys: VerifyKeys,
): SignatureCheck {
  const rules = roomVersion(version);
  try {
    return checkJsonSignature(redactEvent(event, rules), entity, keys, canonicalOptionsFor(rules));
  } catch (e) {
    if (e instanceof CanonicalJsonError) return { ok: false, reason: e.message };
    throw e;
  }
}

/** Public keys by server name, then key ID. */
export type ServerKeys = { readonly [serverName: string]: VerifyKeys };

export type EventCheck =
  | { readonly ok: false; readonly reason: string }
  | {
      readonly ok: true;
      /** False when `hashes.sha256` is missing or wrong: only the redacted form is trusted. */
      readonly contentHashMatches: boolean;
      /** The event to use: a copy of the original if the hash matched, else the redacted copy. */
      readonly event: Record<string, unknown>;
    };

/**
 * Validates an incoming event: signatures from every required server (on the redacted event),
 * then the content hash. A failed signature check rejects the event; a failed hash check means
 * the redacted copy must be used instead.
 */
export function verifyEvent(event: object, version: RoomVersionLike, keys: ServerKeys): EventCheck {
  const rules: RoomVersionRules = roomVersion(version);
  let servers: string[];
  try {
    servers = requiredSigningServers(event, rules);
  } catch (e) {
    if (e instanceof CryptoError) return { ok: false, reason: e.message };
    throw e;
  }
  for (const server of servers) {
    const serverKeys = (getOwn(keys, server) as VerifyKeys | undefined) ?? {};
    const check = verifyEventSignature(event, rules, server, serverKeys);
    if (!check.ok) return { ok: false, reason: check.reason };
  }
  let matches: boolean;
  try {
    matches = checkContentHash(event, rules);
  } catch (e) {
    // v6+: an event that is not canonical JSON is discarded, even where redaction would hide it.
    if (e instanceof CanonicalJsonError) return { ok: false, reason: e.message };
    throw e;
  }
  return {
    ok: true,
    contentHashMatches: matches,
    event: matches ? cloneJson(event as Record<string, unknown>) : redactEvent(event, rules),
  };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
