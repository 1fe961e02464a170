// Power levels: reading levels out of m.room.power_levels content under each room version's
// number rules, the defaults, room creators.
//
// Defaults: https://spec.matrix.org/v1.19/client-server-api/#mroompower_levels and
// https://spec.matrix.org/v1.19/server-server-api/#definitions (invite 0; kick, ban, redact 50;
// state_default 50 and events_default 0 with or without a power-levels event; users_default 0;
// without a power-levels event the creator has 100 in room versions 1-11).
// Number formats: https://spec.matrix.org/v1.19/rooms/v1/#mroompower_levels-events-accept-values-as-strings
// (v1-v9), .../v1/#mroompower_levels-events-accept-values-as-floats (v1-v5), integers only from v10.

import type { Pdu } from "./types.ts";
import type { RoomVersionRules } from "../crypto/index.ts";

/** The power of a room creator in room version 12: above every integer. */
export const CREATOR_POWER = Number.POSITIVE_INFINITY;

const INTEGER_STRING = /^\s*[+-]?\d+\s*$/u;

/**
 * A level as the room version reads it, or undefined when the value is not a level at all.
 * Reading taken for room versions 1-9, where the rules only validate `users`: a value that is not
 * a level (e.g. `"ban": "lots"`) counts as absent, so its default applies.
 */
export function parseLevel(value: unknown, rules: RoomVersionRules): number | undefined {
  if (typeof value === "number") {
    if (Number.isInteger(value)) return value;
    if (rules.auth.floatPowerLevels && Number.isFinite(value)) return Math.trunc(value);
    return undefined;
  }
  if (typeof value === "string" && rules.auth.stringPowerLevels && INTEGER_STRING.test(value)) {
    return Number.parseInt(value.trim(), 10);
  }
  return undefined;
}

/** True for a JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The room creators: the create event's creator, plus `additional_creators` in v12. */
export function roomCreators(create: Pdu | undefined, rules: RoomVersionRules): Set<string> {
  const creators = new Set<string>();
  if (!create) return creators;
  if (rules.auth.creatorIsSender) {
    creators.add(create.sender);
  } else if (typeof create.content["creator"] === "string") {
    creators.add(create.content["creator"]);
  }
  if (rules.auth.infiniteCreatorPower) {
    const extra = create.content["additional_creators"];
    if (Array.isArray(extra)) for (const u of extra) if (typeof u === "string") creators.add(u);
  }
  return creators;
}

/** The single creator of room versions 1-11 (or the create sender in 12). */
export function primaryCreator(create: Pdu, rules: RoomVersionRules): string | undefined {
  if (rules.auth.creatorIsSender) return create.sender;
  const c = create.content["creator"];
  return typeof c === "string" ? c : undefined;
}

/** A named level (`ban`, `kick`, ...) from a power-levels event, with its default. */
export function namedLevel(
  pl: Pdu | undefined,
  name: "ban" | "kick" | "redact" | "invite" | "state_default" | "events_default" | "users_default",
  rules: RoomVersionRules,
): number {
  const fallback = name === "invite" || name === "events_default" || name === "users_default" ? 0 : 50;
  if (!pl) return fallback;
  return parseLevel(pl.content[name], rules) ?? fallback;
}

/**
 * A user's power level given the power-levels and create events of some state (or of an event's
 * auth events). Room v12 creators are infinitely powerful whatever the power levels say.
 */
export function userLevel(
  user: string,
  pl: Pdu | undefined,
  create: Pdu | undefined,
  rules: RoomVersionRules,
): number {
  if (rules.auth.infiniteCreatorPower && roomCreators(create, rules).has(user)) return CREATOR_POWER;
  if (!pl) {
    if (!rules.auth.infiniteCreatorPower && create && primaryCreator(create, rules) === user) return 100;
    return 0;
  }
  const users = pl.content["users"];
  if (isObject(users) && Object.hasOwn(users, user)) {
    const level = parseLevel(users[user], rules);
    if (level !== undefined) return level;
  }
  return namedLevel(pl, "users_default", rules);
}

/** The level needed to send an event of `type` (state events when `isState`). */
export function requiredLevel(type: string, isState: boolean, pl: Pdu | undefined, rules: RoomVersionRules): number {
  if (pl) {
    const events = pl.content["events"];
    if (isObject(events) && Object.hasOwn(events, type)) {
      const level = parseLevel(events[type], rules);
      if (level !== undefined) return level;
    }
  }
  return namedLevel(pl, isState ? "state_default" : "events_default", rules);
}
