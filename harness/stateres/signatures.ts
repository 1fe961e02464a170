// The one signature check the authorisation rules themselves contain: a third-party invite's
// `signed` object must carry a signature matching a public key of the m.room.third_party_invite
// event (https://spec.matrix.org/v1.19/rooms/v12/#authorisation-rules, membership "invite").
//
// Signed JSON: https://spec.matrix.org/v1.19/appendices/#signing-json (canonical JSON of the
// object without `signatures` and `unsigned`, ed25519, unpadded base64). Pure: @noble/ed25519 with
// @noble/hashes' synchronous SHA-512.

import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";
import { isObject } from "./power.ts";

if (!ed.hashes.sha512) ed.hashes.sha512 = sha512;

/** Canonical JSON: keys sorted by code point, no insignificant whitespace. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    const s = JSON.stringify(value);
    if (s === undefined) throw new TypeError("value has no JSON form");
    return s;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort(byCodePoint);
  const obj = value as Record<string, unknown>;
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

function byCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0) ?? 0);
  const y = [...b].map((c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Decodes standard or URL-safe base64, padded or not; undefined if malformed. */
export function decodeBase64(text: string): Uint8Array | undefined {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const clean = text.replace(/=+$/u, "");
  if (clean.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const ch of clean) {
    let v = alphabet.indexOf(ch);
    if (v < 0) v = ch === "+" || ch === "-" ? 62 : ch === "/" || ch === "_" ? 63 : -1;
    if (v < 0) return undefined;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** The public keys an m.room.third_party_invite event offers: `public_key` and `public_keys[]`. */
export function thirdPartyInviteKeys(content: Readonly<Record<string, unknown>>): string[] {
  const keys: string[] = [];
  if (typeof content["public_key"] === "string") keys.push(content["public_key"]);
  const list = content["public_keys"];
  if (Array.isArray(list)) {
    for (const entry of list) {
      if (isObject(entry) && typeof entry["public_key"] === "string") keys.push(entry["public_key"]);
    }
  }
  return keys;
}

/**
 * True if any ed25519 signature in `signed.signatures` verifies against any of `publicKeys`.
 * Signatures under other algorithms are ignored (none other is defined).
 */
export function verifySignedObject(signed: Record<string, unknown>, publicKeys: readonly string[]): boolean {
  const signatures = signed["signatures"];
  if (!isObject(signatures)) return false;
  const stripped: Record<string, unknown> = { ...signed };
  delete stripped["signatures"];
  delete stripped["unsigned"];
  let message: Uint8Array;
  try {
    message = new TextEncoder().encode(canonicalJson(stripped));
  } catch {
    return false;
  }
  const keys = publicKeys.map(decodeBase64).filter((k): k is Uint8Array => k?.length === 32);
  for (const byServer of Object.values(signatures)) {
    if (!isObject(byServer)) continue;
    for (const [keyId, sig] of Object.entries(byServer)) {
      if (!keyId.startsWith("ed25519:") || typeof sig !== "string") continue;
      const sigBytes = decodeBase64(sig);
      if (sigBytes?.length !== 64) continue;
      for (const key of keys) {
        try {
          if (ed.verify(sigBytes, message, key)) return true;
        } catch {
          // a malformed key or signature simply does not match
        }
      }
    }
  }
  return false;
}
