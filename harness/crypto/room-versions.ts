// Room versions 1-12 as data: the event-format, redaction and signing facts harness/crypto
// needs. Authorisation-rule and state-resolution facts live in harness/stateres.
//
// Sources, per version: https://spec.matrix.org/v1.19/rooms/v1/ ... /rooms/v12/ and the fragments
// they include. Each field's comment says which version changed it.

import { CryptoError } from "./errors.ts";

/**
 * Keys kept under `content` when redacting: `true` keeps the member whatever its value; a nested
 * tree keeps that member only if it is an object, and then only the listed keys inside it.
 */
export type ContentKeepTree = { readonly [key: string]: true | ContentKeepTree };

/** One redaction algorithm. */
export interface RedactionRules {
  /** The room version that introduced this algorithm, used as its name. */
  readonly name: "v1" | "v6" | "v8" | "v9" | "v11";
  /** Top-level keys that survive redaction; all others are removed. */
  readonly keptTopLevelKeys: readonly string[];
  /** Per event type, what survives under `content` ("all" keeps the whole content). Types not
   * listed lose all content keys. */
  readonly keptContent: { readonly [eventType: string]: "all" | ContentKeepTree };
}

const KEPT_TOP_LEVEL_V1 = [
  "event_id",
  "type",
  "room_id",
  "sender",
  "state_key",
  "content",
  "hashes",
  "signatures",
  "depth",
  "prev_events",
  "prev_state",
  "auth_events",
  "origin",
  "origin_server_ts",
  "membership",
] as const;

const POWER_LEVELS_V1 = {
  ban: true,
  events: true,
  events_default: true,
  kick: true,
  redact: true,
  state_default: true,
  users: true,
  users_default: true,
} as const;

/** v1-v5: https://spec.matrix.org/v1.19/rooms/v1/#redactions */
export const REDACTION_V1: RedactionRules = {
  name: "v1",
  keptTopLevelKeys: KEPT_TOP_LEVEL_V1,
  keptContent: {
    "m.room.member": { membership: true },
    "m.room.create": { creator: true },
    "m.room.join_rules": { join_rule: true },
    "m.room.power_levels": POWER_LEVELS_V1,
    "m.room.aliases": { aliases: true },
    "m.room.history_visibility": { history_visibility: true },
  },
};

/** v6-v7: `m.room.aliases` loses its protected `aliases`.
 * https://spec.matrix.org/v1.19/rooms/v6/#redactions */
export const REDACTION_V6: RedactionRules = {
  name: "v6",
  keptTopLevelKeys: KEPT_TOP_LEVEL_V1,
  keptContent: {
    "m.room.member": { membership: true },
    "m.room.create": { creator: true },
    "m.room.join_rules": { join_rule: true },
    "m.room.power_levels": POWER_LEVELS_V1,
    "m.room.history_visibility": { history_visibility: true },
  },
};

/** v8: `m.room.join_rules` also keeps `allow`. https://spec.matrix.org/v1.19/rooms/v8/#redactions */
export const REDACTION_V8: RedactionRules = {
  name: "v8",
  keptTopLevelKeys: KEPT_TOP_LEVEL_V1,
  keptContent: {
    "m.room.member": { membership: true },
    "m.room.create": { creator: true },
    "m.room.join_rules": { join_rule: true, allow: true },
    "m.room.power_levels": POWER_LEVELS_V1,
    "m.room.history_visibility": { history_visibility: true },
  },
};

/** v9-v10: `m.room.member` also keeps `join_authorised_via_users_server`.
 * https://spec.matrix.org/v1.19/rooms/v9/#redactions */
export const REDACTION_V9: RedactionRules = {
  name: "v9",
  keptTopLevelKeys: KEPT_TOP_LEVEL_V1,
  keptContent: {
    "m.room.member": { membership: true, join_authorised_via_users_server: true },
    "m.room.create": { creator: true },
    "m.room.join_rules": { join_rule: true, allow: true },
    "m.room.power_levels": POWER_LEVELS_V1,
    "m.room.history_visibility": { history_visibility: true },
  },
};

/**
 * v11-v12: top-level `origin`, `membership` and `prev_state` are no longer kept;
 * `m.room.create` keeps all of `content`; `m.room.member` keeps `third_party_invite.signed`;
 * `m.room.power_levels` keeps `invite`; `m.room.redaction` keeps `content.redacts`.
 * https://spec.matrix.org/v1.19/rooms/v11/#redactions
 */
export const REDACTION_V11: RedactionRules = {
  name: "v11",
  keptTopLevelKeys: KEPT_TOP_LEVEL_V1.filter(
    (k) => k !== "origin" && k !== "membership" && k !== "prev_state",
  ),
  keptContent: {
    "m.room.member": {
      membership: true,
      join_authorised_via_users_server: true,
      third_party_invite: { signed: true },
    },
    "m.room.create": "all",
    "m.room.join_rules": { join_rule: true, allow: true },
    "m.room.power_levels": { ...POWER_LEVELS_V1, invite: true },
    "m.room.history_visibility": { history_visibility: true },
    "m.room.redaction": { redacts: true },
  },
};

/**
 * How event IDs are formed.
 * - "server-assigned": `$opaque_id:domain`, chosen by the creating server (v1-v2).
 * - "reference-hash-base64": `$` + unpadded standard Base64 of the reference hash (v3).
 * - "reference-hash-base64url": `$` + unpadded URL-safe Base64 of the reference hash (v4+).
 */
export type EventIdFormat = "server-assigned" | "reference-hash-base64" | "reference-hash-base64url";

/**
 * The PDU schema a version uses (https://spec.matrix.org/v1.19/server-server-api/#pdus):
 * - "v1": has `event_id`; `auth_events`/`prev_events` are `[event_id, {sha256}]` pairs.
 * - "v3": no `event_id`; `auth_events`/`prev_events` are event ID lists (v3-v10; v6 only
 *   lowers the depth limit).
 * - "v11": as v3, but `redacts` moves into `content` for `m.room.redaction`.
 * - "v12": as v11, but the `m.room.create` event has no `room_id`.
 */
export type PduShape = "v1" | "v3" | "v11" | "v12";

/**
 * How room IDs are formed.
 * - "server-assigned": `!opaque_id:domain` (v1-v11).
 * - "create-event-reference-hash": the create event's ID with `!` for `$` (v12).
 *   https://spec.matrix.org/v1.19/appendices/#room-ids
 */
export type RoomIdFormat = "server-assigned" | "create-event-reference-hash";

export type RoomVersionId = "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "10" | "11" | "12";

export interface RoomVersionRules {
  readonly id: string;
  /** https://spec.matrix.org/v1.19/rooms/#complete-list-of-room-versions */
  readonly stability: "stable" | "unstable";
  readonly spec: string;
  readonly eventIdFormat: EventIdFormat;
  readonly pduShape: PduShape;
  readonly roomIdFormat: RoomIdFormat;
  readonly redaction: RedactionRules;
  /**
   * Canonical JSON is enforced strictly (floats and integers outside [-(2**53)+1, (2**53)-1]
   * forbidden): v6+. v1-v5 servers must accept such values.
   */
  readonly strictCanonicalJson: boolean;
  /** Largest allowed `depth`: 2**63-1 before v6, 2**53-1 from v6 (canonical JSON range). */
  readonly maxDepth: bigint;
  /** `m.room.redaction` carries `redacts` at the top level (v1-v10) or in `content` (v11+). */
  readonly redactsLocation: "top-level" | "content";
  /** The create event appears in other events' `auth_events` (all but v12). */
  readonly createEventInAuthEvents: boolean;
  /**
   * Besides the sender's server, the server named in `event_id` must also have signed the event
   * when the two differ (v1-v2).
   * https://spec.matrix.org/v1.19/server-server-api/#validating-hashes-and-signatures-on-received-events
   */
  readonly eventIdDomainMustSign: boolean;
  /** Signing keys must be valid (`valid_until_ts`) at the event's `origin_server_ts` (v5+).
   * https://spec.matrix.org/v1.19/rooms/v5/#signing-key-validity-period */
  readonly enforceKeyValidityPeriod: boolean;
}

const INT63_MAX = 2n ** 63n - 1n;
const INT53_MAX = 2n ** 53n - 1n;

function version(
  id: RoomVersionId,
  facts: Omit<RoomVersionRules, "id" | "stability" | "spec">,
): RoomVersionRules {
  return { id, stability: "stable", spec: `https://spec.matrix.org/v1.19/rooms/v${id}/`, ...facts };
}

const OLD_FORMAT = {
  roomIdFormat: "server-assigned",
  strictCanonicalJson: false,
  maxDepth: INT63_MAX,
  redactsLocation: "top-level",
  createEventInAuthEvents: true,
} as const;

const V6_FORMAT = {
  ...OLD_FORMAT,
  eventIdFormat: "reference-hash-base64url",
  pduShape: "v3",
  strictCanonicalJson: true,
  maxDepth: INT53_MAX,
  eventIdDomainMustSign: false,
  enforceKeyValidityPeriod: true,
} as const;

/** Every room version in the spec, keyed by its identifier. */
export const ROOM_VERSIONS: { readonly [V in RoomVersionId]: RoomVersionRules } = {
  "1": version("1", {
    ...OLD_FORMAT,
    eventIdFormat: "server-assigned",
    pduShape: "v1",
    redaction: REDACTION_V1,
    eventIdDomainMustSign: true,
    enforceKeyValidityPeriod: false,
  }),
  // v2 changes only state resolution.
  "2": version("2", {
    ...OLD_FORMAT,
    eventIdFormat: "server-assigned",
    pduShape: "v1",
    redaction: REDACTION_V1,
    eventIdDomainMustSign: true,
    enforceKeyValidityPeriod: false,
  }),
  // v3: event IDs become reference hashes; PDUs lose event_id and the hash pairs.
  "3": version("3", {
    ...OLD_FORMAT,
    eventIdFormat: "reference-hash-base64",
    pduShape: "v3",
    redaction: REDACTION_V1,
    eventIdDomainMustSign: false,
    enforceKeyValidityPeriod: false,
  }),
  // v4: URL-safe Base64 event IDs.
  "4": version("4", {
    ...OLD_FORMAT,
    eventIdFormat: "reference-hash-base64url",
    pduShape: "v3",
    redaction: REDACTION_V1,
    eventIdDomainMustSign: false,
    enforceKeyValidityPeriod: false,
  }),
  // v5: signing key validity periods enforced.
  "5": version("5", {
    ...OLD_FORMAT,
    eventIdFormat: "reference-hash-base64url",
    pduShape: "v3",
    redaction: REDACTION_V1,
    eventIdDomainMustSign: false,
    enforceKeyValidityPeriod: true,
  }),
  // v6: strict canonical JSON, smaller depth limit, aliases no longer protected.
  "6": version("6", { ...V6_FORMAT, redaction: REDACTION_V6 }),
  // v7: knocking (auth rules only).
  "7": version("7", { ...V6_FORMAT, redaction: REDACTION_V6 }),
  // v8: restricted join rule; join_rules keeps `allow`.
  "8": version("8", { ...V6_FORMAT, redaction: REDACTION_V8 }),
  // v9: member keeps `join_authorised_via_users_server`.
  "9": version("9", { ...V6_FORMAT, redaction: REDACTION_V9 }),
  // v10: integer power levels, knock_restricted (auth rules only).
  "10": version("10", { ...V6_FORMAT, redaction: REDACTION_V9 }),
  // v11: new redaction rules (top-level `origin` no longer kept); `redacts` moves into content.
  "11": version("11", {
    ...V6_FORMAT,
    pduShape: "v11",
    redaction: REDACTION_V11,
    redactsLocation: "content",
  }),
  // v12: room ID is the create event's reference hash; create event not in auth_events.
  "12": version("12", {
    ...V6_FORMAT,
    pduShape: "v12",
    redaction: REDACTION_V11,
    redactsLocation: "content",
    roomIdFormat: "create-event-reference-hash",
    createEventInAuthEvents: false,
  }),
};

/** All room version IDs in the order the spec lists them. */
export const ROOM_VERSION_IDS: readonly RoomVersionId[] = [
  "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
];

/** Servers SHOULD use room version 12 for new rooms. https://spec.matrix.org/v1.19/rooms/ */
export const DEFAULT_ROOM_VERSION: RoomVersionId = "12";

/** A room version by ID, or a rules object for a version the table does not know. */
export type RoomVersionLike = RoomVersionId | RoomVersionRules;

export function isKnownRoomVersion(id: string): id is RoomVersionId {
  return Object.prototype.hasOwnProperty.call(ROOM_VERSIONS, id);
}

/** Resolves a room version ID (or passes a rules object through). Throws for unknown IDs. */
export function roomVersion(v: RoomVersionLike): RoomVersionRules {
  if (typeof v !== "string") return v;
  if (!isKnownRoomVersion(v)) throw new CryptoError(`unknown room version ${JSON.stringify(v)}`);
  return ROOM_VERSIONS[v];
}
