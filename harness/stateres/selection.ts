// Auth events selection: which (type, state_key) entries of the room state an event's
// `auth_events` should hold. https://spec.matrix.org/v1.19/server-server-api/#auth-events-selection
//
// The same key list tells the iterative auth checks which entries of the state "are required for
// checking the authorisation rules" (https://spec.matrix.org/v1.19/rooms/v2/#definitions).

import { isObject } from "./power.ts";
import { T, stateKey, type Pdu, type StateMap } from "./types.ts";
import type { RoomVersionRules } from "../crypto/index.ts";

export interface AuthKey {
  readonly type: string;
  readonly stateKey: string;
}

/** The keys the selection rules name for `event`, without duplicates, in a fixed order. */
export function authEventKeys(event: Pdu | Omit<Pdu, "auth_events">, rules: RoomVersionRules): AuthKey[] {
  if (event.type === T.create && event.state_key === "") return [];
  const keys: AuthKey[] = [];
  const seen = new Set<string>();
  const add = (type: string, key: string): void => {
    const k = stateKey(type, key);
    if (!seen.has(k)) {
      seen.add(k);
      keys.push({ type, stateKey: key });
    }
  };
  // Room v12: "m.room.create MUST NOT be selected"; the room ID implies it.
  if (rules.auth.createInAuthEvents) add(T.create, "");
  add(T.powerLevels, "");
  add(T.member, event.sender);
  if (event.type === T.member && event.state_key !== undefined) {
    const membership = event.content["membership"];
    add(T.member, event.state_key);
    if (membership === "join" || membership === "invite" || membership === "knock") add(T.joinRules, "");
    if (membership === "invite") {
      const tpi = event.content["third_party_invite"];
      const signed = isObject(tpi) ? tpi["signed"] : undefined;
      const token = isObject(signed) ? signed["token"] : undefined;
      if (typeof token === "string") add(T.thirdPartyInvite, token);
    }
    const via = event.content["join_authorised_via_users_server"];
    if (membership === "join" && rules.auth.restricted && typeof via === "string") add(T.member, via);
  }
  return keys;
}

/** The event IDs to put in `auth_events` for `event`, selected from `state`. */
export function selectAuthEvents(
  event: Pdu | Omit<Pdu, "auth_events">,
  state: StateMap,
  rules: RoomVersionRules,
): string[] {
  const ids: string[] = [];
  for (const key of authEventKeys(event, rules)) {
    const id = state.get(stateKey(key.type, key.stateKey));
    if (id !== undefined) ids.push(id);
  }
  return ids;
}
