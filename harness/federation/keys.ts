// Server signing keys: making a peer's key, publishing it as the key document of
// https://spec.matrix.org/v1.19/server-server-api/#publishing-keys, checking another server's key
// document, and a keyring that fetches and caches other servers' keys.
//
// The keyring's rules (the ones a real server applies when it fetches keys directly, with no
// notary):
//   - the document must name the server it was fetched for (`server_name`);
//   - every signature the server made on it must be by one of its `verify_keys`, and at least one
//     such signature must exist and verify (the document is "signed using the verify_keys");
//   - `verify_keys` may sign requests and events; `old_verify_keys` only events;
//   - a key ID that is not known triggers one refetch (the server may have rotated), no more.

import { randomBytes } from "node:crypto";
import {
  checkJsonSignature,
  decodeBase64,
  encodeBase64,
  isValidKeyVersion,
  signJson,
  signingKeyFromSeed,
  type SigningKey,
  type VerifyKeys,
} from "../crypto/index.ts";

/** A fresh ed25519 signing key seeded from node:crypto's randomBytes. */
export function newSigningKey(version = `mc_${randomBytes(3).toString("hex")}`): SigningKey {
  return signingKeyFromSeed(new Uint8Array(randomBytes(32)), version);
}

export interface KeyDocumentOptions {
  /** Default: one day from now. */
  validUntilTs?: number;
  /** Keys listed under `old_verify_keys`, with the time they expired. */
  oldKeys?: Array<{ key: SigningKey; expiredTs: number }>;
  /** Keys that sign the document; default: every key in `keys`. */
  signWith?: SigningKey[];
}

/** The signed key document a server serves at GET /_matrix/key/v2/server. */
export function serverKeysDocument(serverName: string, keys: SigningKey[], opts: KeyDocumentOptions = {}): Record<string, unknown> {
  const verify_keys: Record<string, { key: string }> = {};
  for (const k of keys) verify_keys[k.keyId] = { key: encodeBase64(k.publicKey) };
  const old_verify_keys: Record<string, { key: string; expired_ts: number }> = {};
  for (const { key, expiredTs } of opts.oldKeys ?? []) old_verify_keys[key.keyId] = { key: encodeBase64(key.publicKey), expired_ts: expiredTs };
  let doc: Record<string, unknown> = {
    server_name: serverName,
    verify_keys,
    old_verify_keys,
    valid_until_ts: opts.validUntilTs ?? Date.now() + 86_400_000,
  };
  for (const k of opts.signWith ?? keys) doc = signJson(doc, serverName, k, { strict: false });
  return doc;
}

export interface ServerKeysCheck {
  /** True when the document has the spec's shape and a valid self-signature. */
  ok: boolean;
  /** Every problem found, as sentences naming the field. */
  problems: string[];
  /** `verify_keys`, decoded (keys that failed to decode are left out). */
  verifyKeys: Record<string, Uint8Array>;
  /** `old_verify_keys`, decoded. */
  oldVerifyKeys: Record<string, { key: Uint8Array; expiredTs: number }>;
  validUntilTs?: number;
  /** Key IDs whose signature on the document verified. */
  verifiedBy: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function decodeKey(text: unknown, where: string, problems: string[]): Uint8Array | undefined {
  if (typeof text !== "string") {
    problems.push(`${where}.key is not a string`);
    return undefined;
  }
  if (text.includes("=")) problems.push(`${where}.key is padded base64; the spec requires unpadded base64`);
  try {
    const bytes = decodeBase64(text.replace(/=+$/, ""));
    if (bytes.length !== 32) {
      problems.push(`${where}.key decodes to ${bytes.length} bytes; an ed25519 public key has 32`);
      return undefined;
    }
    return bytes;
  } catch {
    problems.push(`${where}.key is not valid base64`);
    return undefined;
  }
}

/**
 * Checks a key document (GET /_matrix/key/v2/server) fetched for `expectedServerName`:
 * `server_name`, key IDs and their versions, key encodings, `valid_until_ts`, and the
 * self-signature. Does not judge whether `valid_until_ts` lies in the future (the caller decides
 * what "now" means for its purpose).
 */
export function checkServerKeys(doc: unknown, expectedServerName: string): ServerKeysCheck {
  const problems: string[] = [];
  const verifyKeys: Record<string, Uint8Array> = {};
  const oldVerifyKeys: Record<string, { key: Uint8Array; expiredTs: number }> = {};
  const verifiedBy: string[] = [];
  if (!isObject(doc)) return { ok: false, problems: ["the key document is not a JSON object"], verifyKeys, oldVerifyKeys, verifiedBy };
  if (doc.server_name !== expectedServerName) {
    problems.push(`server_name is ${JSON.stringify(doc.server_name)}, expected ${JSON.stringify(expectedServerName)}`);
  }
  const checkKeyId = (keyId: string, where: string): boolean => {
    const colon = keyId.indexOf(":");
    const algorithm = colon > 0 ? keyId.slice(0, colon) : "";
    const version = colon > 0 ? keyId.slice(colon + 1) : "";
    if (!algorithm || !version) {
      problems.push(`${where}: key ID ${JSON.stringify(keyId)} is not algorithm:version`);
      return false;
    }
    if (!isValidKeyVersion(version)) problems.push(`${where}: key version ${JSON.stringify(version)} has characters outside [a-zA-Z0-9_]`);
    return algorithm === "ed25519";
  };
  if (!isObject(doc.verify_keys)) {
    problems.push("verify_keys is missing or not an object");
  } else {
    if (Object.keys(doc.verify_keys).length === 0) problems.push("verify_keys is empty: the server publishes no key to check its signatures with");
    for (const [keyId, entry] of Object.entries(doc.verify_keys)) {
      const where = `verify_keys[${JSON.stringify(keyId)}]`;
      if (!isObject(entry)) {
        problems.push(`${where} is not an object`);
        continue;
      }
      if (!checkKeyId(keyId, "verify_keys")) continue;
      const key = decodeKey(entry.key, where, problems);
      if (key) verifyKeys[keyId] = key;
    }
  }
  if (doc.old_verify_keys !== undefined) {
    if (!isObject(doc.old_verify_keys)) problems.push("old_verify_keys is not an object");
    else {
      for (const [keyId, entry] of Object.entries(doc.old_verify_keys)) {
        const where = `old_verify_keys[${JSON.stringify(keyId)}]`;
        if (!isObject(entry)) {
          problems.push(`${where} is not an object`);
          continue;
        }
        if (!Number.isInteger(entry.expired_ts)) problems.push(`${where}.expired_ts is not an integer`);
        if (!checkKeyId(keyId, "old_verify_keys")) continue;
        const key = decodeKey(entry.key, where, problems);
        if (key) oldVerifyKeys[keyId] = { key, expiredTs: Number(entry.expired_ts) };
      }
    }
  }
  let validUntilTs: number | undefined;
  if (!Number.isInteger(doc.valid_until_ts)) problems.push(`valid_until_ts is ${JSON.stringify(doc.valid_until_ts)}, not an integer timestamp`);
  else validUntilTs = doc.valid_until_ts as number;

  const sigs = isObject(doc.signatures) ? doc.signatures[expectedServerName] : undefined;
  if (!isObject(doc.signatures)) problems.push("signatures is missing or not an object");
  else if (!isObject(sigs)) problems.push(`the document carries no signature by ${expectedServerName} itself`);
  else {
    for (const keyId of Object.keys(sigs)) {
      if (!(keyId in verifyKeys) && keyId.startsWith("ed25519:")) {
        problems.push(`signed by ${keyId}, which is not among its verify_keys`);
      }
    }
    for (const [keyId, key] of Object.entries(verifyKeys)) {
      if (!(keyId in sigs)) continue;
      const check = checkJsonSignature(doc, expectedServerName, { [keyId]: key }, { strict: false });
      if (check.ok) verifiedBy.push(keyId);
      else problems.push(`self-signature ${keyId}: ${check.reason}`);
    }
    if (verifiedBy.length === 0 && Object.keys(verifyKeys).length > 0 && !problems.some((p) => p.startsWith("self-signature"))) {
      problems.push(`no signature by any of ${Object.keys(verifyKeys).join(", ")}`);
    }
  }
  return { ok: problems.length === 0, problems, verifyKeys, oldVerifyKeys, validUntilTs, verifiedBy };
}

/** What a keyring knows about one server. */
export interface KnownServerKeys {
  serverName: string;
  /** Keys valid for requests and events. */
  verifyKeys: Record<string, Uint8Array>;
  /** Keys valid for events only. */
  oldVerifyKeys: Record<string, Uint8Array>;
  validUntilTs?: number;
  /** The document as fetched (undefined for local identities). */
  document?: unknown;
}

export class KeyFetchError extends Error {
  constructor(readonly serverName: string, detail: string) {
    super(`could not get the signing keys of ${serverName}: ${detail}`);
    this.name = "KeyFetchError";
  }
}

/**
 * Other servers' keys, fetched on demand through `fetchDocument` and cached. A document that
 * fails `checkServerKeys` is refused (KeyFetchError), never half-used.
 */
export class Keyring {
  private readonly cache = new Map<string, Promise<KnownServerKeys>>();
  private readonly refetched = new Set<string>();

  constructor(private readonly fetchDocument: (serverName: string) => Promise<unknown>) {}

  /** Adds a server whose keys are known locally (a peer's own identity). */
  addLocal(serverName: string, keys: SigningKey[]): void {
    const verifyKeys: Record<string, Uint8Array> = {};
    for (const k of keys) verifyKeys[k.keyId] = k.publicKey;
    this.cache.set(serverName, Promise.resolve({ serverName, verifyKeys, oldVerifyKeys: {} }));
  }

  /** The server's keys, fetched once and cached. */
  get(serverName: string): Promise<KnownServerKeys> {
    let p = this.cache.get(serverName);
    if (!p) {
      p = this.fetch(serverName);
      this.cache.set(serverName, p);
      p.catch(() => this.cache.delete(serverName));
    }
    return p;
  }

  /** A key for `keyId`, refetching the document once if the cached one lacks it. */
  async key(serverName: string, keyId: string, use: "request" | "event"): Promise<Uint8Array | undefined> {
    let known = await this.get(serverName);
    const pick = (k: KnownServerKeys) => k.verifyKeys[keyId] ?? (use === "event" ? k.oldVerifyKeys[keyId] : undefined);
    if (pick(known)) return pick(known);
    const marker = `${serverName} ${keyId}`;
    if (known.document === undefined || this.refetched.has(marker)) return undefined;
    this.refetched.add(marker);
    this.cache.delete(serverName);
    known = await this.get(serverName);
    return pick(known);
  }

  /** Every key usable for checking the server's event signatures. */
  async eventKeys(serverName: string): Promise<VerifyKeys> {
    const known = await this.get(serverName);
    return { ...known.oldVerifyKeys, ...known.verifyKeys };
  }

  private async fetch(serverName: string): Promise<KnownServerKeys> {
    let doc: unknown;
    try {
      doc = await this.fetchDocument(serverName);
    } catch (e) {
      throw new KeyFetchError(serverName, (e as Error).message);
    }
    const check = checkServerKeys(doc, serverName);
    if (!check.ok) throw new KeyFetchError(serverName, `its key document is not valid: ${check.problems.join("; ")}`);
    const oldVerifyKeys: Record<string, Uint8Array> = {};
    for (const [id, v] of Object.entries(check.oldVerifyKeys)) oldVerifyKeys[id] = v.key;
    return { serverName, verifyKeys: check.verifyKeys, oldVerifyKeys, validUntilTs: check.validUntilTs, document: doc };
  }
}
