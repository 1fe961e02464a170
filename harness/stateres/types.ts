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

/** Code point order (never locale-aware) for event IDs and state keys; see harness/crypto. */
export { compareCodePoints } from "../crypto/canonical.ts";
