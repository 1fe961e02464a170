// ed25519 signing keys and signatures, and signing key identifiers
// (https://spec.matrix.org/v1.19/appendices/#signing-details): a key ID is the algorithm and a
// key version joined by ":", e.g. "ed25519:abc". Key versions published by servers must match
// [a-zA-Z0-9_] (https://spec.matrix.org/v1.19/server-server-api/#publishing-keys).

import * as ed from "@noble/ed25519";
import { sha256 as nobleSha256, sha512 } from "@noble/hashes/sha2.js";
import { CryptoError } from "./errors.ts";

// @noble/ed25519's synchronous API needs a SHA-512 implementation plugged in (its README).
ed.hashes.sha512 = sha512;

export const ED25519 = "ed25519";

/** SHA-256 digest of some bytes. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return nobleSha256(bytes);
}

/** An ed25519 signing key with its identifier. */
export interface SigningKey {
  readonly algorithm: typeof ED25519;
  /** The part after "ed25519:". */
  readonly version: string;
  /** "ed25519:" + version. */
  readonly keyId: string;
  /** The 32-byte private seed (RFC 8032 secret key). */
  readonly seed: Uint8Array;
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array;
}

export interface KeyId {
  readonly algorithm: string;
  readonly version: string;
}

const KEY_VERSION = /^[a-zA-Z0-9_]+$/;

/** Whether a key version has the characters the spec allows for published keys. */
export function isValidKeyVersion(version: string): boolean {
  return KEY_VERSION.test(version);
}

/** Splits "algorithm:version" at the first colon. Throws when either part is empty. */
export function parseKeyId(keyId: string): KeyId {
  const colon = keyId.indexOf(":");
  if (colon <= 0 || colon === keyId.length - 1) {
    throw new CryptoError(`signing key ID ${JSON.stringify(keyId)} is not of the form algorithm:version`);
  }
  return { algorithm: keyId.slice(0, colon), version: keyId.slice(colon + 1) };
}

export function formatKeyId(algorithm: string, version: string): string {
  return `${algorithm}:${version}`;
}

function checkVersion(version: string): void {
  // Any version without a colon round-trips through parseKeyId; tests may need a version the
  // spec does not allow for published keys, so only the colon is refused here.
  if (version === "" || version.includes(":")) {
    throw new CryptoError(`key version ${JSON.stringify(version)} must be non-empty and contain no ":"`);
  }
}

/** Derives a signing key from a 32-byte seed. `version` is the part after "ed25519:". */
export function signingKeyFromSeed(seed: Uint8Array, version: string): SigningKey {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new CryptoError(`an ed25519 seed is 32 bytes, got ${seed instanceof Uint8Array ? seed.length : typeof seed}`);
  }
  checkVersion(version);
  const ownSeed = Uint8Array.from(seed);
  return {
    algorithm: ED25519,
    version,
    keyId: formatKeyId(ED25519, version),
    seed: ownSeed,
    publicKey: ed.getPublicKey(ownSeed),
  };
}

/**
 * Makes a new signing key from a source of random bytes (the caller decides where randomness
 * comes from, e.g. `(n) => crypto.getRandomValues(new Uint8Array(n))` or a seeded generator).
 */
export function generateSigningKey(randomBytes: (length: number) => Uint8Array, version: string): SigningKey {
  return signingKeyFromSeed(randomBytes(32), version);
}

/** Signs bytes; the result is the 64-byte ed25519 signature. */
export function signBytes(key: SigningKey, message: Uint8Array): Uint8Array {
  return ed.sign(message, key.seed);
}

/**
 * Verifies an ed25519 signature. Returns false (never throws) for wrong lengths or malformed
 * points. Uses strict RFC 8032 checks (`zip215: false`: canonical encodings, no small-order
 * keys), which is how libsodium, behind Synapse's signedjson, verifies.
 */
export function verifyBytes(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
