// PDUs as they travel over federation, and the bridges to harness/crypto (IDs, hashes,
// signatures) and harness/stateres (the model's event shape, auth rules) that the peers need.
//
// Formats: https://spec.matrix.org/v1.19/server-server-api/#pdus and each room version's "Event
// format"; checks: https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu

import {
  computeEventId,
  isKnownRoomVersion,
  requiredSigningServers,
  roomVersion,
  verifyEvent,
  type RoomVersionId,
  type RoomVersionRules,
  type VerifyKeys,
} from "../crypto/index.ts";
import type { Pdu as ModelPdu } from "../stateres/index.ts";

/** A PDU as JSON (any room version). */
export type WirePdu = Record<string, unknown>;

export type { ModelPdu, RoomVersionId };

/** The room version as a known ID, or a readable error. */
export function knownVersion(version: string): RoomVersionId {
  if (!isKnownRoomVersion(version)) throw new Error(`room version ${JSON.stringify(version)} is not one of the spec's versions 1-12`);
  return version;
}

/** Whether a string is one of the spec's room version IDs. */
export function isKnownVersionId(version: string): version is RoomVersionId {
  return isKnownRoomVersion(version);
}

/** The rules of a room version (harness/crypto's one table): the flags of `auth`, `format`, ... */
export function authRulesFor(version: RoomVersionId): RoomVersionRules {
  return roomVersion(version);
}

/** The event ID an entry of `prev_events`/`auth_events` names: a string (v3+) or `[id, hashes]` (v1-v2). */
export function refId(ref: unknown): string | undefined {
  if (typeof ref === "string") return ref;
  if (Array.isArray(ref) && typeof ref[0] === "string") return ref[0];
  return undefined;
}

export function refIds(list: unknown): string[] {
  return Array.isArray(list) ? list.map(refId).filter((x): x is string => x !== undefined) : [];
}

/** The event's ID under its room version (given in v1-v2, the reference hash from v3). */
export function eventIdOf(pdu: WirePdu, version: RoomVersionId): string {
  return computeEventId(pdu, version);
}

/** The event as harness/stateres models it. */
export function toModelPdu(pdu: WirePdu, version: RoomVersionId, eventId = eventIdOf(pdu, version)): ModelPdu {
  const content = (typeof pdu.content === "object" && pdu.content !== null ? pdu.content : {}) as Record<string, unknown>;
  const redacts = typeof pdu.redacts === "string" ? pdu.redacts : typeof content.redacts === "string" && roomVersion(version).format.redactsLocation === "content" ? content.redacts : undefined;
  return {
    event_id: eventId,
    type: String(pdu.type),
    ...(typeof pdu.state_key === "string" ? { state_key: pdu.state_key } : {}),
    sender: String(pdu.sender),
    content,
    prev_events: refIds(pdu.prev_events),
    auth_events: refIds(pdu.auth_events),
    origin_server_ts: Number(pdu.origin_server_ts),
    ...(typeof pdu.depth === "number" ? { depth: pdu.depth } : {}),
    ...(redacts !== undefined ? { redacts } : {}),
    ...(typeof pdu.room_id === "string" ? { room_id: pdu.room_id } : {}),
  };
}

/** One line naming an event for messages: type, membership, sender, ID. */
export function describePdu(pdu: WirePdu, eventId?: string): string {
  const content = (pdu.content ?? {}) as Record<string, unknown>;
  const membership = pdu.type === "m.room.member" ? `(${String(content.membership)} ${String(pdu.state_key)})` : "";
  const stateKey = pdu.type !== "m.room.member" && typeof pdu.state_key === "string" ? `[${JSON.stringify(pdu.state_key)}]` : "";
  return `${String(pdu.type)}${membership}${stateKey} from ${String(pdu.sender)}${eventId ? ` ${eventId}` : ""}`;
}

/** Shape problems of a PDU under its room version (the fields the formats differ on). */
export function pduFormatProblems(pdu: WirePdu, version: RoomVersionId): string[] {
  const rules = roomVersion(version);
  const problems: string[] = [];
  const isCreate = pdu.type === "m.room.create" && pdu.state_key === "";
  for (const field of ["type", "sender"]) if (typeof pdu[field] !== "string") problems.push(`${field} is not a string`);
  if (!Number.isInteger(pdu.origin_server_ts)) problems.push("origin_server_ts is not an integer");
  if (!Number.isInteger(pdu.depth)) problems.push("depth is not an integer");
  if (typeof pdu.content !== "object" || pdu.content === null || Array.isArray(pdu.content)) problems.push("content is not an object");
  if (rules.format.roomIdFormat === "create-event-reference-hash" && isCreate) {
    if (pdu.room_id !== undefined) problems.push(`a room version ${version} m.room.create event must not have a room_id`);
  } else if (typeof pdu.room_id !== "string") problems.push("room_id is missing");
  const pairs = rules.format.pduShape === "v1";
  for (const field of ["prev_events", "auth_events"]) {
    const list = pdu[field];
    if (!Array.isArray(list)) {
      problems.push(`${field} is not an array`);
      continue;
    }
    for (const [i, ref] of list.entries()) {
      const ok = pairs ? Array.isArray(ref) && typeof ref[0] === "string" && typeof ref[1] === "object" : typeof ref === "string";
      if (!ok) problems.push(`${field}[${i}] is not ${pairs ? "an [event_id, {sha256}] pair" : "an event ID"} as room version ${version} requires`);
    }
  }
  if (pairs && typeof pdu.event_id !== "string") problems.push(`room version ${version} events carry an event_id`);
  if ((rules.format.pduShape === "v11" || rules.format.pduShape === "v12") && pdu.redacts !== undefined) problems.push(`room version ${version} keeps redacts in content, not at the top level`);
  return problems;
}

/**
 * Checks a received PDU's signatures (every server that must sign it) and content hash with
 * harness/crypto. Returns problems as sentences; empty when all is well.
 */
export async function pduCryptoProblems(pdu: WirePdu, version: RoomVersionId, keysFor: (server: string) => Promise<VerifyKeys>): Promise<string[]> {
  let servers: string[];
  try {
    servers = requiredSigningServers(pdu, version);
  } catch (e) {
    return [(e as Error).message];
  }
  const keys: Record<string, VerifyKeys> = {};
  const problems: string[] = [];
  for (const s of servers) {
    try {
      keys[s] = await keysFor(s);
    } catch (e) {
      problems.push(`the keys of ${s}, which must sign this event, could not be had: ${(e as Error).message}`);
    }
  }
  if (problems.length > 0) return problems;
  const check = verifyEvent(pdu, version, keys);
  if (!check.ok) return [`signature check failed: ${check.reason}`];
  if (!check.contentHashMatches) return ["hashes.sha256 does not match the content hash of the event"];
  return [];
}
