// Room versions 1-12 as data, the one table every part of the harness and every suite reads:
// per version its ID, the spec release that added it, the event format, the redaction
// algorithm, the signing rules, the authorisation-rule flags and the state-resolution algorithm
// (modelled on ruma's RoomVersionRules). Code reads flags, never version numbers: a check that
// differs by version names the flag it depends on (`format.pduShape === "v1"`,
// `auth.knock`, `redaction.name`...), so a new version is one new row.
//
// Sources, per version: https://spec.matrix.org/v1.19/rooms/v1/ ... /rooms/v12/ and the fragments
// they include (event format, redactions, authorisation rules, state resolution). Each field's
// comment says which version changed it; each row lists only what its version changes.

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
 * - "create-event-reference-hash": the create event's ID with `!` for `$` (v12); the create
 *   event then has no `room_id`. https://spec.matrix.org/v1.19/appendices/#room-ids
 */
export type RoomIdFormat = "server-assigned" | "create-event-reference-hash";

/** Which state resolution algorithm a version uses (v1: room v1; v2: v2-v11; v2.1: v12). */
export type StateResAlgorithm = "v1" | "v2" | "v2.1";

export type RoomVersionId = "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "10" | "11" | "12";

/** How a version's events look on the wire. */
export interface EventFormatRules {
  readonly pduShape: PduShape;
  readonly eventIdFormat: EventIdFormat;
  readonly roomIdFormat: RoomIdFormat;
  /** `m.room.redaction` carries `redacts` at the top level (v1-v10) or in `content` (v11+). */
  readonly redactsLocation: "top-level" | "content";
  /**
   * Canonical JSON is enforced strictly (floats and integers outside [-(2**53)+1, (2**53)-1]
   * forbidden): v6+. v1-v5 servers must accept such values.
   */
  readonly strictCanonicalJson: boolean;
  /** Largest allowed `depth`: 2**63-1 before v6, 2**53-1 from v6 (canonical JSON range). */
  readonly maxDepth: bigint;
}

/** Who must sign an event, and with which keys. */
export interface SignatureRules {
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

/** The differences between the versions' authorisation rules (harness/stateres/auth.ts reads them). */
export interface AuthorizationRules {
  /** The m.room.aliases rule (sender's domain must equal the state key). v1-v5; removed in v6. */
  readonly aliasesRule: boolean;
  /** The m.room.redaction rule with the redact level and event-ID domains. v1-v2 only (v3+ drop it). */
  readonly redactionRule: boolean;
  /** Power levels may be strings holding an integer. v1-v9 (v10 demands integers). */
  readonly stringPowerLevels: boolean;
  /** Power levels may be floats, truncated towards zero. v1-v5 (v6 enforces canonical JSON). */
  readonly floatPowerLevels: boolean;
  /** The extra power-levels checks that every level is an integer. v10+. */
  readonly integerPowerLevels: boolean;
  /** `notifications` changes are checked like `events` changes. v6+. */
  readonly notificationsInPowerLevels: boolean;
  /** `knock` membership and join rule. v7+. */
  readonly knock: boolean;
  /** `restricted` join rule and `join_authorised_via_users_server`. v8+. */
  readonly restricted: boolean;
  /** `knock_restricted` join rule. v10+. */
  readonly knockRestricted: boolean;
  /** The create event must carry `content.creator`, which names the creator. v1-v10. */
  readonly createRequiresCreator: boolean;
  /** The creator is the create event's `sender` rather than `content.creator`. v11+. */
  readonly creatorIsSender: boolean;
  /** Room creators (sender + `additional_creators`) have infinite power. v12. */
  readonly infiniteCreatorPower: boolean;
  /** The create event is selected into (and appears in) `auth_events`. v1-v11 (v12: the room ID
   * implies it). */
  readonly createInAuthEvents: boolean;
}

export interface RoomVersionRules {
  readonly id: RoomVersionId;
  /** The spec release that added the version (https://spec.matrix.org/v1.19/rooms/#complete-list-of-room-versions;
   * versions 1-6 predate the numbered releases and count as 1.0). */
  readonly since: string;
  /** https://spec.matrix.org/v1.19/rooms/#complete-list-of-room-versions */
  readonly stability: "stable" | "unstable";
  /** The version's page in the spec. */
  readonly spec: string;
  readonly format: EventFormatRules;
  readonly redaction: RedactionRules;
  readonly signatures: SignatureRules;
  readonly auth: AuthorizationRules;
  readonly stateRes: StateResAlgorithm;
}

const INT63_MAX = 2n ** 63n - 1n;
const INT53_MAX = 2n ** 53n - 1n;

/** A row: the previous version's rules with `changes` applied, nested objects merged, frozen. */
type Changes = Partial<Omit<RoomVersionRules, "format" | "signatures" | "auth">> & {
  format?: Partial<EventFormatRules>;
  signatures?: Partial<SignatureRules>;
  auth?: Partial<AuthorizationRules>;
};

function next(previous: RoomVersionRules, id: RoomVersionId, since: string, changes: Changes = {}): RoomVersionRules {
  return deepFreeze({
    ...previous,
    ...changes,
    id,
    since,
    spec: `https://spec.matrix.org/v1.19/rooms/v${id}/`,
    format: { ...previous.format, ...changes.format },
    signatures: { ...previous.signatures, ...changes.signatures },
    auth: { ...previous.auth, ...changes.auth },
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const V1: RoomVersionRules = deepFreeze({
  id: "1",
  since: "1.0",
  stability: "stable",
  spec: "https://spec.matrix.org/v1.19/rooms/v1/",
  format: {
    pduShape: "v1",
    eventIdFormat: "server-assigned",
    roomIdFormat: "server-assigned",
    redactsLocation: "top-level",
    strictCanonicalJson: false,
    maxDepth: INT63_MAX,
  },
  redaction: REDACTION_V1,
  signatures: { eventIdDomainMustSign: true, enforceKeyValidityPeriod: false },
  auth: {
    aliasesRule: true,
    redactionRule: true,
    stringPowerLevels: true,
    floatPowerLevels: true,
    integerPowerLevels: false,
    notificationsInPowerLevels: false,
    knock: false,
    restricted: false,
    knockRestricted: false,
    createRequiresCreator: true,
    creatorIsSender: false,
    infiniteCreatorPower: false,
    createInAuthEvents: true,
  },
  stateRes: "v1",
});
// v2 changes only state resolution.
const V2 = next(V1, "2", "1.0", { stateRes: "v2" });
// v3: event IDs become reference hashes; PDUs lose event_id and the hash pairs; the redaction
// auth rule goes (redactions are checked when applied).
const V3 = next(V2, "3", "1.0", {
  format: { pduShape: "v3", eventIdFormat: "reference-hash-base64" },
  signatures: { eventIdDomainMustSign: false },
  auth: { redactionRule: false },
});
// v4: URL-safe Base64 event IDs.
const V4 = next(V3, "4", "1.0", { format: { eventIdFormat: "reference-hash-base64url" } });
// v5: signing key validity periods enforced.
const V5 = next(V4, "5", "1.0", { signatures: { enforceKeyValidityPeriod: true } });
// v6: strict canonical JSON, smaller depth limit, aliases no longer protected (no aliases rule,
// no float levels, notifications checked).
const V6 = next(V5, "6", "1.0", {
  format: { strictCanonicalJson: true, maxDepth: INT53_MAX },
  redaction: REDACTION_V6,
  auth: { aliasesRule: false, floatPowerLevels: false, notificationsInPowerLevels: true },
});
// v7: knocking.
const V7 = next(V6, "7", "1.1", { auth: { knock: true } });
// v8: restricted join rule; join_rules keeps `allow`.
const V8 = next(V7, "8", "1.2", { redaction: REDACTION_V8, auth: { restricted: true } });
// v9: member keeps `join_authorised_via_users_server`.
const V9 = next(V8, "9", "1.2", { redaction: REDACTION_V9 });
// v10: integer power levels, knock_restricted.
const V10 = next(V9, "10", "1.3", { auth: { stringPowerLevels: false, integerPowerLevels: true, knockRestricted: true } });
// v11: new redaction rules (top-level `origin` no longer kept); `redacts` moves into content;
// the creator is the create event's sender.
const V11 = next(V10, "11", "1.8", {
  format: { pduShape: "v11", redactsLocation: "content" },
  redaction: REDACTION_V11,
  auth: { createRequiresCreator: false, creatorIsSender: true },
});
// v12: room ID is the create event's reference hash; create event not in auth_events; creators
// have infinite power; state resolution v2.1.
const V12 = next(V11, "12", "1.16", {
  format: { pduShape: "v12", roomIdFormat: "create-event-reference-hash" },
  auth: { infiniteCreatorPower: true, createInAuthEvents: false },
  stateRes: "v2.1",
});

/** Every room version in the spec, keyed by its identifier. */
export const ROOM_VERSIONS: { readonly [V in RoomVersionId]: RoomVersionRules } = Object.freeze({
  "1": V1, "2": V2, "3": V3, "4": V4, "5": V5, "6": V6, "7": V7, "8": V8, "9": V9, "10": V10, "11": V11, "12": V12,
});

/** All room version IDs in the order the spec lists them. */
export const ROOM_VERSION_IDS: readonly RoomVersionId[] = Object.freeze(Object.keys(ROOM_VERSIONS) as RoomVersionId[]);

/** Servers SHOULD use room version 12 for new rooms. https://spec.matrix.org/v1.19/rooms/ */
export const DEFAULT_ROOM_VERSION: RoomVersionId = "12";

/** A room version by ID, or a rules object for a version the table does not know. */
export type RoomVersionLike = RoomVersionId | RoomVersionRules;

export function isKnownRoomVersion(id: string): id is RoomVersionId {
  return Object.prototype.hasOwnProperty.call(ROOM_VERSIONS, id);
}

/** Resolves a room version ID (or passes a rules object through). Throws for unknown IDs. */
export function roomVersion(v: RoomVersionLike | string): RoomVersionRules {
  if (typeof v !== "string") return v;
  if (!isKnownRoomVersion(v)) throw new CryptoError(`unknown room version ${JSON.stringify(v)} (known: ${ROOM_VERSION_IDS.join(", ")})`);
  return ROOM_VERSIONS[v];
}

/**
 * The versions of `among` (all by default) grouped by what `rule` reads from their rules, one
 * per group: the oldest, which introduced the group's rules. A behaviour that depends only on
 * what `rule` reads then runs once per way the rules differ, not once per version.
 */
export function onePerRuleClass(rule: (rules: RoomVersionRules) => unknown, among: readonly string[] = ROOM_VERSION_IDS): RoomVersionId[] {
  const seen = new Set<string>();
  return among.filter(isKnownRoomVersion).filter((v) => {
    const key = JSON.stringify(rule(ROOM_VERSIONS[v]), (_k, x) => (typeof x === "bigint" ? String(x) : x));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
