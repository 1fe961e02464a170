// Authorising one event the way https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu
// does in steps 4 and 5: against the event's own auth events, or against a given state.

import { checkAuthEventsList, checkAuthRules, type AuthDecision, type AuthState } from "./auth.ts";
import type { EventStore } from "./store.ts";
import { stateKey, type Pdu, type StateMap } from "./types.ts";
import type { ResolveOptions } from "./v2.ts";
import type { RoomVersionRules } from "../crypto/index.ts";

/**
 * `against: "auth_events"`: the auth-events-list rule, then every other rule with the event's
 * auth events as the state (receipt step 4). `against: <state>`: every rule except the list rule,
 * against that state (step 5, or soft-failure's current state). Room v12 needs `roomCreateId`.
 */
export function authorizeEvent(
  event: Pdu,
  against: "auth_events" | StateMap,
  store: EventStore,
  rules: RoomVersionRules,
  options: ResolveOptions = {},
): AuthDecision {
  const roomCreate = options.roomCreateId !== undefined ? store.get(options.roomCreateId) : undefined;
  const verify = options.verifyThirdPartySignature ? { verifyThirdPartySignature: options.verifyThirdPartySignature } : {};
  let state: AuthState;
  if (against === "auth_events") {
    const authEvents = event.auth_events.map((id) => store.get(id));
    const list = checkAuthEventsList(event, authEvents, rules, options.isRejected);
    if (!list.allowed) return list;
    const byKey = new Map<string, Pdu>();
    for (const a of authEvents) if (a.state_key !== undefined) byKey.set(stateKey(a.type, a.state_key), a);
    state = { get: (type, key) => byKey.get(stateKey(type, key)) };
  } else {
    state = {
      get: (type, key) => {
        const id = against.get(stateKey(type, key));
        return id === undefined ? undefined : store.get(id);
      },
    };
  }
  return checkAuthRules(event, state, { rules, roomCreate, ...verify });
}
