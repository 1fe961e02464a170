// The one signature check the authorisation rules themselves contain: a third-party invite's
// `signed` object must carry a signature matching a public key of the m.room.third_party_invite
// event (https://spec.matrix.org/v1.19/rooms/v12/#authorisation-rules, membership "invite").
//
// Signed JSON: https://spec.matrix.org/v1.19/appendices/#signing-json (canonical JSON of the
// object without `signatures` and `unsigned`, ed25519, unpadded base64), through harness/crypto.

import { decodeBase64 } from "../crypto/base64.ts";
import { verifyBytes } from "../crypto/ed25519.ts";
import { signedBytes } from "../crypto/signing.ts";
import { isObject } from "./power.ts";

/** Decodes padded or unpadded, standard or URL-safe base64; undefined when malformed. */
function decode(text: string): Uint8Array | undefined {
  try {
    return decodeBase64(text.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return undefined;
  }
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
  let message: Uint8Array;
  try {
    // Lenient canonical JSON: a third-party invite may come from any room version.
    message = signedBytes(signed, { strict: false });
  } catch {
    return false;
  }
  const keys = publicKeys.map(decode).filter((k): k is Uint8Array => k?.length === 32);
  for (const byServer of Object.values(signatures)) {
    if (!isObject(byServer)) continue;
    for (const [keyId, sig] of Object.entries(byServer)) {
      if (!keyId.startsWith("ed25519:") || typeof sig !== "string") continue;
      const sigBytes = decode(sig);
      if (sigBytes?.length !== 64) continue;
      for (const key of keys) if (verifyBytes(key, message, sigBytes)) return true;
    }
  }
  return false;
}
