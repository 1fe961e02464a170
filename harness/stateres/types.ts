// Shared types of the state-resolution reference model: events, state maps, errors.
//
// Events are plain objects in the federation (PDU) shape, reduced to the fields that matter for
// authorisation and state resolution. Event IDs are taken as given: nothing here hashes or
// verifies signatures of events.

/** An event as the model uses it: every reference resolved to a plain list of event IDs. */
export interface Pdu {
  readonly event_id: string;
  readonly type: string;
  /** Present (possibly "") exactly when the event is a state event. */
  readonly state_key?: string;
  readonly sender: string;
  readonly content: Readonly<Record<string, unknown>>;
  readonly prev_events: readonly string[];
  readonly auth_events: readonly string[];
  readonly origin_server_ts: number;
  /** Only state resolution v1 reads it; derived from prev_events when absent. */
  readonly depth?: number;
  /** Top-level `redacts` of m.room.redaction events (room versions 1-10). */
  readonly redacts?: string;
  /** Optional: when present the room-ID rules that compare it are applied. */
  readonly room_id?: string;
}

/** An event as a scenario may give it: `auth_events` may be left out and is then selected. */
export type PduInput = Omit<Pdu, "auth_events"> & { readonly auth_events?: readonly string[] };

/**
 * A room state: (event type, state key) -> event ID. The tuple is encoded as one string by
 * {@link stateKey}; use {@link splitStateKey} to get it back.
 */
export type StateMap = ReadonlyMap<string, string>;

/**
 * Encodes the (type, state_key) tuple as one map key. The type's length comes first, so no
 * choice of type or state key can make two different tuples collide.
 */
export function stateKey(type: string, key: string): string {
  return `${type.length}|${type}${key}`;
}

export function splitStateKey(encoded: string): [type: string, key: string] {
  const bar = encoded.indexOf("|");
  const length = Number(encoded.slice(0, bar));
  const type = encoded.slice(bar + 1, bar + 1 + length);
  return [type, encoded.slice(bar + 1 + length)];
}

/** The state key of a state event; throws for a message event. */
export function eventStateKey(event: Pdu): string {
  if (event.state_key === undefined) {
    throw new StateResInputError(`event ${event.event_id} is not a state event (it has no state_key)`);
  }
  return stateKey(event.type, event.state_key);
}

/**
 * Bad input to the model: a missing event, a cycle, a state set that is not a state, ...
 * The scenario command reports these as "bad input" (exit code 2); anything else is a bug.
 */
export class StateResInputError extends Error {
  override readonly name = "StateResInputError";
}

/** Well-known event types the rules name. */
export const T = {
  create: "m.room.create",
  member: "m.room.member",
  powerLevels: "m.room.power_levels",
  joinRules: "m.room.join_rules",
  thirdPartyInvite: "m.room.third_party_invite",
  aliases: "m.room.aliases",
  redaction: "m.room.redaction",
} as const;

/**
 * Orders strings by Unicode code point (the order of their UTF-8 bytes), never locale-aware.
 * For the ASCII event IDs of real rooms this is the same as comparing UTF-16 code units; the two
 * differ only when one string has a character above U+FFFF where the other has one in
 * U+E000-U+FFFF. Code point order is what byte-oriented implementations get.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// Moves surrogates (0xD800-0xDFFF) above 0xE000-0xFFFF so that UTF-16 order becomes code point
// order at the first differing unit.
function codePointRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}
