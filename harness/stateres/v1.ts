// State resolution v1 (room version 1). https://spec.matrix.org/v1.19/rooms/v1/#state-resolution
//
// Readings taken where the text leaves a choice (tested in test/stateres/v1.test.ts):
//   Q1. "A conflict occurs between states where those states have different event_ids for the
//       same (event_type, state_key)": a key that some states lack but all others agree on is NOT
//       a conflict in v1 (unlike v2); the union keeps it.
//   Q2. The power-levels, join-rules and member passes run once per conflicted key. Within a pass
//       every key is resolved against R as it stood when the pass began (plus the key's own
//       accepted events), and the pass's results are added together, so the order of keys never
//       matters. The same holds for the final pass over the other keys.
//   Q3. The first event of a list (smallest depth, greatest sha1) enters R without an auth check,
//       as the text says; each later one must pass the authorisation rules in R (with the key
//       holding the last accepted event), and the first failure ends the list.
//   Q4. For the other keys, when no conflicting event passes authentication in R, nothing is
//       picked and the key is left out of the result.
//   Q5. sha1 is taken over the UTF-8 bytes of the event ID and compared as bytes (hex).
//   Q6. The checks "in state R" look only at R (never at the event's auth_events), and cover every
//       rule except "Considering the event's auth_events", as in v2.
//
// Complexity: O(k|S|) to group keys, then per conflicted key a sort and one auth check per event.

import { sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { checkAuthRules, type AuthState } from "./auth.ts";
import type { EventStore } from "./store.ts";
import { T, compareCodePoints, splitStateKey, stateKey, type StateMap } from "./types.ts";
import type { RoomVersionRules } from "../crypto/index.ts";
import type { ResolveOptions } from "./v2.ts";

export interface V1Trace {
  conflictedKeys?: string[];
  /** Per conflicted key, the event picked (absent: none passed, Q4). */
  picked?: Map<string, string | undefined>;
}

export function resolveV1(
  stateSets: readonly StateMap[],
  store: EventStore,
  rules: RoomVersionRules,
  options: ResolveOptions = {},
  trace?: V1Trace,
): Map<string, string> {
  const byKey = new Map<string, Set<string>>();
  for (const s of stateSets) {
    for (const [k, id] of s) {
      const ids = byKey.get(k);
      if (ids) ids.add(id);
      else byKey.set(k, new Set([id]));
    }
  }
  const r = new Map<string, string>();
  const conflicted = new Map<string, string[]>();
  for (const [k, ids] of byKey) {
    if (ids.size === 1) r.set(k, ids.values().next().value!);
    else conflicted.set(k, [...ids]);
  }
  if (trace) {
    trace.conflictedKeys = [...conflicted.keys()].sort(compareCodePoints);
    trace.picked = new Map();
  }
  if (conflicted.size === 0) return r;

  const shaMemo = new Map<string, string>();
  const sha = (id: string): string => {
    let h = shaMemo.get(id);
    if (h === undefined) {
      h = bytesToHex(sha1(new TextEncoder().encode(id)));
      shaMemo.set(id, h);
    }
    return h;
  };
  const depth = (id: string): number => store.depth(id);
  // ascending depth, then descending sha1
  const ascending = (a: string, b: string): number => depth(a) - depth(b) || compareHex(sha(b), sha(a));
  // descending depth, then ascending sha1
  const descending = (a: string, b: string): number => depth(b) - depth(a) || compareHex(sha(a), sha(b));

  const passes = (id: string, state: ReadonlyMap<string, string>): boolean => {
    const view: AuthState = {
      get(type, key) {
        const v = state.get(stateKey(type, key));
        return v === undefined || options.isRejected?.(v) ? undefined : store.get(v);
      },
    };
    return checkAuthRules(store.get(id), view, {
      rules,
      ...(options.verifyThirdPartySignature ? { verifyThirdPartySignature: options.verifyThirdPartySignature } : {}),
    }).allowed;
  };

  const authPass = (type: string): void => {
    const keys = [...conflicted.keys()].filter((k) => splitStateKey(k)[0] === type).sort(compareCodePoints);
    const snapshot = new Map(r);
    for (const k of keys) {
      const list = [...conflicted.get(k)!].sort(ascending);
      const local = new Map(snapshot);
      let current = list[0]!;
      local.set(k, current);
      for (const next of list.slice(1)) {
        if (!passes(next, local)) break;
        current = next;
        local.set(k, current);
      }
      r.set(k, current);
      trace?.picked?.set(k, current);
      conflicted.delete(k);
    }
  };
  authPass(T.powerLevels);
  authPass(T.joinRules);
  authPass(T.member);

  const snapshot = new Map(r);
  for (const k of [...conflicted.keys()].sort(compareCodePoints)) {
    const list = [...conflicted.get(k)!].sort(descending);
    const pick = list.find((id) => passes(id, snapshot));
    if (pick !== undefined) r.set(k, pick);
    trace?.picked?.set(k, pick);
  }
  return r;
}

function compareHex(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
