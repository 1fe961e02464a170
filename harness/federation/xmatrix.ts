// Request authentication with the X-Matrix scheme:
// https://spec.matrix.org/v1.19/server-server-api/#request-authentication
//
// Signing: the JSON object {method, uri, origin, destination, content?} is signed with the JSON
// signing algorithm; `uri` is the request target exactly as sent (path and query string), and
// `content` the parsed JSON body when there is one. The header carries origin, destination, key
// and sig.
//
// Parsing follows the section's summary of RFC 9110 §11.4: the scheme (matched without regard to
// case), one or more spaces, then comma-separated name=value pairs with optional spaces/tabs
// around commas; names are case-insensitive; values are tokens or quoted strings with backslash
// escapes; unquoted values may contain colons (for older servers); unknown parameters are ignored.
//
// Verification refuses with 401 M_UNAUTHORIZED: a missing or malformed header, a destination
// that is not ours (the spec's MUST), an origin whose keys cannot be had, a key it does not
// publish among its verify_keys, and a signature that does not verify. A JSON body that does not
// parse is 400 M_NOT_JSON.

import { canonicalJsonBytes, decodeBase64, jsonSignature, verifyBytes, type SigningKey } from "../crypto/index.ts";
import { violation, type SchemaViolation } from "../schemas/violations.ts";

export interface XMatrixParams {
  origin: string;
  /** Always sent by this harness; optional on receipt for older servers. */
  destination?: string;
  key: string;
  sig: string;
}

export interface SignableRequest {
  method: string;
  /** Path and query exactly as sent, starting with /_matrix/. */
  uri: string;
  origin: string;
  destination: string;
  /** The parsed JSON body, when the request has one. */
  content?: unknown;
}

/** The object whose signature goes into the header. */
export function requestJson(req: SignableRequest): Record<string, unknown> {
  const out: Record<string, unknown> = { method: req.method, uri: req.uri, origin: req.origin, destination: req.destination };
  if (req.content !== undefined) out.content = req.content;
  return out;
}

/** The signature of a request by `key` (unpadded base64). */
export function requestSignature(req: SignableRequest, key: SigningKey): string {
  return jsonSignature(requestJson(req), key, { strict: false });
}

/** Renders header parameters the way the spec tells senders to: lower-case names, quoted values, no extra spaces. */
export function formatXMatrix(p: XMatrixParams): string {
  const q = (v: string) => `"${v.replace(/["\\]/g, "\\$&")}"`;
  const parts = [`origin=${q(p.origin)}`];
  if (p.destination !== undefined) parts.push(`destination=${q(p.destination)}`);
  parts.push(`key=${q(p.key)}`, `sig=${q(p.sig)}`);
  return `X-Matrix ${parts.join(",")}`;
}

/** The Authorization header value for a request signed by `key`. */
export function signRequest(req: SignableRequest, key: SigningKey): string {
  return formatXMatrix({ origin: req.origin, destination: req.destination, key: key.keyId, sig: requestSignature(req, key) });
}

export type ParsedXMatrix = { ok: true; params: XMatrixParams; all: Record<string, string> } | { ok: false; reason: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parses an Authorization header value with the X-Matrix scheme. */
export function parseXMatrix(header: string): ParsedXMatrix {
  const m = /^x-matrix +(.*)$/is.exec(header);
  if (!m) return { ok: false, reason: `the Authorization header does not use the X-Matrix scheme: ${JSON.stringify(header.slice(0, 40))}` };
  const text = m[1] ?? "";
  const all: Record<string, string> = {};
  let i = 0;
  const skipWs = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  };
  while (i < text.length) {
    skipWs();
    const eq = text.indexOf("=", i);
    if (eq < 0) return { ok: false, reason: `parameter ${JSON.stringify(text.slice(i, i + 30))} has no '='` };
    const name = text.slice(i, eq).trim().toLowerCase();
    if (!TOKEN.test(name)) return { ok: false, reason: `parameter name ${JSON.stringify(name)} is not a token` };
    i = eq + 1;
    let value = "";
    if (text[i] === '"') {
      i++;
      let closed = false;
      while (i < text.length) {
        const c = text[i]!;
        if (c === "\\" && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else if (c === '"') {
          i++;
          closed = true;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) return { ok: false, reason: `the value of ${name} has no closing quote` };
    } else {
      const start = i;
      while (i < text.length && text[i] !== "," && text[i] !== " " && text[i] !== "\t") i++;
      value = text.slice(start, i);
      // Colons are allowed unquoted for older servers; anything else must be a token.
      if (!TOKEN.test(value.replace(/:/g, ""))) return { ok: false, reason: `the unquoted value of ${name} is not a token` };
    }
    if (!(name in all)) all[name] = value;
    skipWs();
    if (i < text.length) {
      if (text[i] !== ",") return { ok: false, reason: `expected ',' after the ${name} parameter` };
      i++;
    }
  }
  const missing = ["origin", "key", "sig"].filter((k) => !all[k]);
  if (missing.length > 0) return { ok: false, reason: `the X-Matrix header lacks ${missing.join(", ")}` };
  return {
    ok: true,
    params: { origin: all.origin!, key: all.key!, sig: all.sig!, ...(all.destination !== undefined ? { destination: all.destination } : {}) },
    all,
  };
}

export type RequestVerdict =
  | { ok: true; origin: string; keyId: string }
  | { ok: false; status: number; errcode: string; reason: string; origin?: string };

export interface VerifyRequestInput {
  method: string;
  uri: string;
  /** The receiving server's own name. */
  destination: string;
  authorization: string | undefined;
  /** The parsed JSON body, or undefined when there is none. */
  content?: unknown;
  /** The origin's public key for `keyId` (request keys only), or undefined when unknown. */
  keyFor: (origin: string, keyId: string) => Promise<Uint8Array | undefined>;
}

const refuse = (reason: string, origin?: string): RequestVerdict => ({ ok: false, status: 401, errcode: "M_UNAUTHORIZED", reason, ...(origin ? { origin } : {}) });

/** Checks a request's X-Matrix authentication as a receiving server must. */
export async function verifyRequest(input: VerifyRequestInput): Promise<RequestVerdict> {
  if (!input.authorization) return refuse("the request has no Authorization header");
  const parsed = parseXMatrix(input.authorization);
  if (!parsed.ok) return refuse(parsed.reason);
  const { origin, destination, key, sig } = parsed.params;
  if (destination !== undefined && destination !== input.destination) {
    return refuse(`the request is for destination ${JSON.stringify(destination)}, not this server (${input.destination})`, origin);
  }
  let publicKey: Uint8Array | undefined;
  try {
    publicKey = await input.keyFor(origin, key);
  } catch (e) {
    return refuse(`the keys of ${origin} could not be fetched: ${(e as Error).message}`, origin);
  }
  if (!publicKey) return refuse(`${origin} does not publish the key ${key} among its verify_keys`, origin);
  let signature: Uint8Array;
  try {
    signature = decodeBase64(sig);
  } catch {
    return refuse("sig is not base64", origin);
  }
  const signed = requestJson({ method: input.method, uri: input.uri, origin, destination: destination ?? input.destination, content: input.content });
  let bytes: Uint8Array;
  try {
    bytes = canonicalJsonBytes(signed, { strict: false });
  } catch (e) {
    return { ok: false, status: 400, errcode: "M_BAD_JSON", reason: `the body cannot be put in canonical JSON: ${(e as Error).message}`, origin };
  }
  if (!verifyBytes(publicKey, bytes, signature)) {
    return refuse(`the signature by ${origin} ${key} does not verify over ${input.method} ${input.uri}${input.content !== undefined ? " and the body" : ""}`, origin);
  }
  return { ok: true, origin, keyId: key };
}

function releaseAtLeast(version: string | undefined, major: number, minor: number): boolean {
  const m = /^v?(\d+)\.(\d+)$/.exec(version ?? "");
  if (!m) return true; // unknown: hold the sender to the current rules
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/**
 * What the spec's "Request Authentication" section requires of a sender's Authorization header,
 * checked on a request the target sent: the X-Matrix scheme and parameter syntax, origin, key
 * (an algorithm-qualified key ID) and sig present, and destination (a MUST since v1.3) present
 * and naming the receiving server. The signature itself is verified separately (verifyRequest).
 * Only MUST-level rules: the sender "should" rules (one space, lower-case names, no escapes, no
 * spaces around commas) are not reported.
 */
export function xMatrixViolations(header: string | undefined, opts: { destination: string; specVersion?: string }): SchemaViolation[] {
  // A violation of the harness's "x-matrix" rule, at a pseudo-path naming the header.
  const v = (message: string, value?: unknown) => violation("x-matrix", "/headers/authorization", message, value, "server-server-api/#request-authentication");
  if (header === undefined || header === "") return [v("the request has no Authorization header; every federation request must be signed with the X-Matrix scheme")];
  const parsed = parseXMatrix(header);
  if (!parsed.ok) return [v(`malformed X-Matrix header: ${parsed.reason}`, header)];
  const out: SchemaViolation[] = [];
  const { destination, key } = parsed.params;
  if (destination === undefined) {
    if (releaseAtLeast(opts.specVersion, 1, 3)) out.push(v("the X-Matrix header has no destination parameter, which senders MUST always include (since v1.3)", header));
  } else if (destination !== opts.destination) {
    out.push(v(`the destination parameter is ${JSON.stringify(destination)}, not the receiving server ${JSON.stringify(opts.destination)}`, destination));
  }
  if (!/^[a-z0-9_]+:[A-Za-z0-9_]+$/.test(key)) out.push(v(`key ${JSON.stringify(key)} is not a key ID of the form <algorithm>:<identifier> (e.g. ed25519:abc)`, key));
  return out;
}
