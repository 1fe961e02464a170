// Builders shared by the state-resolution tests.

import { signingKeyFromSeed } from "../../harness/crypto/ed25519.ts";
import { jsonSignature } from "../../harness/crypto/signing.ts";
import {
  EventStore,
  stateKey,
  type Pdu,
  type StateMap,
} from "../../harness/stateres/index.ts";
import { roomVersion, type RoomVersionRules } from "../../harness/crypto/index.ts";

export const ALICE = "@alice:example.com";
export const BOB = "@bob:example.com";
export const CAROL = "@carol:example.com";
export const DAVE = "@dave:example.org";
export const EVE = "@eve:example.org";

export function rulesOf(id: string | number): RoomVersionRules {
  const r = roomVersion(String(id));
  if (!r) throw new Error(`no room version ${id}`);
  return r;
}

/** "1-6" or "7,9" or "12" -> version numbers. */
export function versions(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(",")) {
    const [a, b] = part.split("-").map(Number);
    for (let v = a!; v <= (b ?? a!); v++) out.push(v);
  }
  return out;
}

export const ALL_VERSIONS = versions("1-12");

let counter = 0;

/** A PDU with defaults: no content, no prev/auth events, timestamp 0. */
export function pdu(over: Partial<Pdu> & Pick<Pdu, "type" | "sender">): Pdu {
  return {
    event_id: over.event_id ?? `$e${++counter}:example.com`,
    content: {},
    prev_events: [],
    auth_events: [],
    origin_server_ts: 0,
    ...over,
  };
}

export function member(sender: string, target: string, membership: string, over: Partial<Pdu> = {}): Pdu {
  return pdu({ type: "m.room.member", sender, state_key: target, content: { membership }, ...over });
}

/** The create event of a room of `version` created by `creator` (content.creator set before v11). */
export function createEvent(version: number, creator = ALICE, over: Partial<Pdu> = {}): Pdu {
  const content: Record<string, unknown> = { room_version: String(version) };
  if (version <= 10) content["creator"] = creator;
  return pdu({ event_id: "$create:example.com", type: "m.room.create", state_key: "", sender: creator, content, ...over });
}

/** A state map from events. */
export function stateMap(events: readonly Pdu[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of events) if (e.state_key !== undefined) m.set(stateKey(e.type, e.state_key), e.event_id);
  return m;
}

export function storeOf(events: readonly Pdu[]): EventStore {
  return new EventStore(events);
}

/** Makes a StateMap readable in assertion messages: "type|key" -> id, sorted. */
export function readable(state: StateMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of [...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const bar = k.indexOf("|");
    const len = Number(k.slice(0, bar));
    out[`${k.slice(bar + 1, bar + 1 + len)}|${k.slice(bar + 1 + len)}`] = v;
  }
  return out;
}

/**
 * A linear room history builder: each event's prev is the previous one, auth events are selected
 * by the test author through `auth` ids (the builder does not select).
 */
export class Chain {
  readonly events: Pdu[] = [];
  #ts = 0;
  add(over: Partial<Pdu> & Pick<Pdu, "type" | "sender">, prev?: string[]): Pdu {
    const last = this.events[this.events.length - 1];
    const e = pdu({ origin_server_ts: ++this.#ts, prev_events: prev ?? (last ? [last.event_id] : []), ...over });
    this.events.push(e);
    return e;
  }
}

// --- third-party invites ---------------------------------------------------------------------

const SECRET = new Uint8Array(32).map((_, i) => i + 1);
export const TPI_PUBLIC_KEY = b64(signingKeyFromSeed(SECRET, "0").publicKey);

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/=+$/u, "");
}

/** A `signed` object for a third-party invite of `mxid` with `token`, signed by the test key. */
export function signedInvite(mxid: string, token: string, secret: Uint8Array = SECRET): Record<string, unknown> {
  const signed = { mxid, token, sender: ALICE };
  const sig = jsonSignature(signed, signingKeyFromSeed(secret, "0"));
  return { ...signed, signatures: { "id.example.com": { "ed25519:0": sig } } };
}

export const OTHER_SECRET = new Uint8Array(32).map((_, i) => 200 - i);
