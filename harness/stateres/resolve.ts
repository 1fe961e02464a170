// Picks the state resolution algorithm of a room version.

import type { EventStore } from "./store.ts";
import type { StateMap } from "./types.ts";
import { resolveV1 } from "./v1.ts";
import { resolveV2, type ResolveOptions } from "./v2.ts";
import type { RoomVersionRules } from "../crypto/index.ts";

/**
 * The resolution of `stateSets` under the room version's algorithm (v1, v2 or v2.1). Every event
 * the sets name, and their auth chains, must be in `store`. Throws StateResInputError on bad
 * input (unknown events, auth cycles, v12 state sets without a common create event).
 */
export function resolveState(
  stateSets: readonly StateMap[],
  store: EventStore,
  rules: RoomVersionRules,
  options: ResolveOptions = {},
): Map<string, string> {
  if (stateSets.length === 0) return new Map();
  return rules.stateRes === "v1"
    ? resolveV1(stateSets, store, rules, options)
    : resolveV2(stateSets, store, rules, options);
}
