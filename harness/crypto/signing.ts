// Signing JSON objects and checking their signatures:
// https://spec.matrix.org/v1.19/appendices/#signing-details and
// https://spec.matrix.org/v1.19/appendices/#checking-for-a-signature
//
// The signed bytes are the canonical JSON of the object without its `signatures` and
// `unsigned` members. The signature goes into `signatures[entity][keyId]`; signatures that were
// already there (other servers, other keys) are kept.

import { decodeBase64, encodeBase64 } from "./base64.ts";
import { canonicalJsonBytes, type CanonicalJsonOptions } from "./canonical.ts";
import { ED25519, signBytes, verifyBytes, type SigningKey } from "./ed25519.ts";
import { CryptoError } from "./errors.ts";
import { cloneJson, getOwn, isPlainObject, omitKeys, setOwn } from "./json.ts";

/** `signatures` of a signed object: entity (server name) -> key ID -> unpadded Base64 signature. */
export type Signatures = { [entity: string]: { [keyId: string]: string } };

/** Public keys by key ID ("ed25519:abc" -> 32 bytes) for one entity. */
export type VerifyKeys = { readonly [keyId: string]: Uint8Array };

/** The bytes a signature on `value` covers: canonical JSON without `signatures` and `unsigned`. */
export function signedBytes(value: object, options: CanonicalJsonOptions = {}): Uint8Array {
  return canonicalJsonBytes(omitKeys(value, ["signatures", "unsigned"]), options);
}

/** The unpadded Base64 signature `key` makes over `value` (without modifying it). */
export function jsonSignature(value: object, key: SigningKey, options: CanonicalJsonOptions = {}): string {
  return encodeBase64(signBytes(key, signedBytes(value, options)));
}

/**
 * A copy of `value` with `signature` stored at `signatures[entity][keyId]`, keeping every other
 * signature. Throws CryptoError if the existing `signatures` is not an object of objects.
 */
export function withSignature<T extends object>(
  value: T,
  entity: string,
  keyId: string,
  signature: string,
): T & { signatures: Signatures } {
  const out = cloneJson(value) as Record<string, unknown>;
  const sigs = getOwn(out, "signatures");
  if (sigs !== undefined && !isPlainObject(sigs)) throw new CryptoError("`signatures` is not an object");
  const signatures: Record<string, unknown> = sigs ?? {};
  const existing = getOwn(signatures, entity);
  if (existing !== undefined && !isPlainObject(existing)) {
    throw new CryptoError(`\`signatures[${JSON.stringify(entity)}]\` is not an object`);
  }
  const forEntity: Record<string, unknown> = existing ?? {};
  setOwn(forEntity, keyId, signature);
  setOwn(signatures, entity, forEntity);
  setOwn(out, "signatures", signatures);
  return out as T & { signatures: Signatures };
}

/**
 * Returns a copy of `value` signed by `entity` with `key`. The input is not modified; `unsigned`
 * is carried over untouched and existing signatures are kept (a signature by the same key is
 * replaced).
 */
export function signJson<T extends object>(
  value: T,
  entity: string,
  key: SigningKey,
  options: CanonicalJsonOptions = {},
): T & { signatures: Signatures } {
  return withSignature(value, entity, key.keyId, jsonSignature(value, key, options));
}

/** Checks one signature by one key. False when it is missing, malformed or wrong. */
export function verifyJsonSignature(
  value: object,
  entity: string,
  keyId: string,
  publicKey: Uint8Array,
  options: CanonicalJsonOptions = {},
): boolean {
  const sigs = getOwn(value, "signatures");
  if (!isPlainObject(sigs)) return false;
  const forEntity = getOwn(sigs, entity);
  if (!isPlainObject(forEntity)) return false;
  const encoded = getOwn(forEntity, keyId);
  if (typeof encoded !== "string") return false;
  let signature: Uint8Array;
  try {
    signature = decodeBase64(encoded);
  } catch {
    return false;
  }
  return verifyBytes(publicKey, signedBytes(value, options), signature);
}

export type SignatureCheck =
  | { readonly ok: true; readonly verifiedKeyIds: readonly string[] }
  | { readonly ok: false; readonly reason: string };

/** Signature algorithms this module can check. */
export const SUPPORTED_SIGNING_ALGORITHMS: readonly string[] = [ED25519];

/**
 * "Checking for a Signature" for one entity: the object must carry a signature from `entity`
 * under at least one key ID whose algorithm is understood and whose key is in `keys`, and every
 * such signature must verify. Signatures under other key IDs are ignored.
 */
export function checkJsonSignature(
  value: object,
  entity: string,
  keys: VerifyKeys,
  options: CanonicalJsonOptions = {},
): SignatureCheck {
  const sigs = getOwn(value, "signatures");
  if (!isPlainObject(sigs)) return { ok: false, reason: "no `signatures` object" };
  const forEntity = getOwn(sigs, entity);
  if (!isPlainObject(forEntity)) return { ok: false, reason: `no signatures from ${entity}` };
  const understood = Object.keys(forEntity).filter((keyId) => {
    const colon = keyId.indexOf(":");
    return colon > 0 && SUPPORTED_SIGNING_ALGORITHMS.includes(keyId.slice(0, colon));
  });
  if (understood.length === 0) {
    return { ok: false, reason: `no signatures from ${entity} with a supported algorithm` };
  }
  const checkable = understood.filter((keyId) => getOwn(keys, keyId) instanceof Uint8Array);
  if (checkable.length === 0) {
    return {
      ok: false,
      reason: `no verification key for any of ${entity}'s signing keys ${understood.join(", ")}`,
    };
  }
  const bytes = signedBytes(value, options);
  for (const keyId of checkable) {
    const encoded = forEntity[keyId];
    if (typeof encoded !== "string") return { ok: false, reason: `signature ${entity} ${keyId} is not a string` };
    let signature: Uint8Array;
    try {
      signature = decodeBase64(encoded);
    } catch {
      return { ok: false, reason: `signature ${entity} ${keyId} is not valid base64` };
    }
    if (!verifyBytes(getOwn(keys, keyId) as Uint8Array, bytes, signature)) {
      return { ok: false, reason: `signature ${entity} ${keyId} does not verify` };
    }
  }
  return { ok: true, verifiedKeyIds: checkable };
}


