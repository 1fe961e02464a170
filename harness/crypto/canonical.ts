// Canonical JSON: https://spec.matrix.org/v1.19/appendices/#canonical-json
//
// The encoding is the shortest UTF-8 JSON text with object keys sorted by Unicode code point,
// numbers restricted to integers in [-(2**53)+1, (2**53)-1] written without exponent or
// fraction, and `-0` never appearing. The grammar in that section fixes string escaping:
// `"` and `\` are escaped, the control characters U+0000..U+001F use the short forms \b \t \n
// \f \r where one exists and `\u00xx` (lower-case hex) otherwise, and every other code point,
// including U+007F and non-ASCII text, is written as itself.
//
// Strictness depends on the room version: v1-v5 say servers must NOT strictly enforce these
// rules (https://spec.matrix.org/v1.19/rooms/v1/#canonical-json), v6 and later say they MUST
// (https://spec.matrix.org/v1.19/rooms/v6/#canonical-json). `strict: false` is the v1-v5 mode:
// floats and out-of-range integers are then encoded the way the spec's reference snippet
// (Python's json.dumps) would, instead of being rejected.

import { CanonicalJsonError, type JsonPathSegment } from "./errors.ts";
import { isPlainObject } from "./json.ts";

/** Largest integer canonical JSON allows: (2**53)-1. */
export const MAX_CANONICAL_INT = Number.MAX_SAFE_INTEGER;
/** Smallest integer canonical JSON allows: -(2**53)+1. */
export const MIN_CANONICAL_INT = Number.MIN_SAFE_INTEGER;

export interface CanonicalJsonOptions {
  /**
   * true (the default): reject floats and integers outside [-(2**53)+1, (2**53)-1], as room
   * versions 6 and later require. false: accept them, as servers must for room versions 1-5.
   */
  readonly strict?: boolean;
}

/**
 * Orders two strings by Unicode code point, which is also the order of their UTF-8 bytes.
 * JavaScript's `<` compares UTF-16 code units instead, and the two disagree when a character
 * outside the BMP (a surrogate pair, 0xD800-0xDFFF) meets one in U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// Moves surrogates above U+E000..U+FFFF and shifts that range down to make room, which turns
// code-unit order into code-point order at the first unit where two strings differ.
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/** Encodes a value as canonical JSON text. Throws CanonicalJsonError naming the bad value. */
export function canonicalJson(value: unknown, options: CanonicalJsonOptions = {}): string {
  const strict = options.strict ?? true;
  const path: JsonPathSegment[] = [];
  const ancestors = new Set<object>();
  return encodeValue(value, path, ancestors, strict);
}

const utf8 = new TextEncoder();

/** Canonical JSON as UTF-8 bytes: what gets hashed and signed. */
export function canonicalJsonBytes(value: unknown, options: CanonicalJsonOptions = {}): Uint8Array {
  // Lone surrogates are rejected during encoding, so this conversion is lossless.
  return utf8.encode(canonicalJson(value, options));
}

function encodeValue(
  value: unknown,
  path: JsonPathSegment[],
  ancestors: Set<object>,
  strict: boolean,
): string {
  switch (typeof value) {
    case "string":
      return encodeString(value, path);
    case "number":
      return encodeNumber(value, path, strict);
    case "bigint":
      return encodeBigInt(value, path, strict);
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
      throw new CanonicalJsonError("undefined is not a JSON value", path);
    case "object":
      break;
    default:
      throw new CanonicalJsonError(`a ${typeof value} is not a JSON value`, path);
  }
  if (value === null) return "null";
  if (ancestors.has(value)) throw new CanonicalJsonError("cyclic structure", path);
  ancestors.add(value);
  let out: string;
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      parts.push(encodeValue(value[i], path, ancestors, strict));
      path.pop();
    }
    out = `[${parts.join(",")}]`;
  } else if (isPlainObject(value)) {
    const keys = Object.keys(value).sort(compareCodePoints);
    const parts: string[] = [];
    for (const key of keys) {
      const member = value[key];
      // Members set to undefined are absent, as with JSON.stringify: this lets builders use
      // optional properties.
      if (member === undefined) continue;
      path.push(key);
      const encodedKey = encodeString(key, path);
      parts.push(`${encodedKey}:${encodeValue(member, path, ancestors, strict)}`);
      path.pop();
    }
    out = `{${parts.join(",")}}`;
  } else {
    const kind = (value as object).constructor?.name ?? "object";
    throw new CanonicalJsonError(`a ${kind} is not a JSON value`, path);
  }
  ancestors.delete(value);
  return out;
}

const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  0x08: "\\b",
  0x09: "\\t",
  0x0a: "\\n",
  0x0c: "\\f",
  0x0d: "\\r",
  0x22: '\\"',
  0x5c: "\\\\",
};

// Characters that need any attention: controls, quote, backslash, surrogates.
const NEEDS_WORK = /["\\\u0000-\u001f\ud800-\udfff]/;

function encodeString(s: string, path: readonly JsonPathSegment[]): string {
  if (!NEEDS_WORK.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) {
      out += short;
    } else if (c < 0x20) {
      out += `\\u00${c.toString(16).padStart(2, "0")}`;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (next < 0xdc00 || next > 0xdfff) throw loneSurrogate(c, path);
      out += s[i]! + s[i + 1]!;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      throw loneSurrogate(c, path);
    } else {
      out += s[i]!;
    }
  }
  return out + '"';
}

function loneSurrogate(unit: number, path: readonly JsonPathSegment[]): CanonicalJsonError {
  return new CanonicalJsonError(
    `text contains a lone surrogate U+${unit.toString(16).toUpperCase()}, which has no UTF-8 encoding`,
    path,
  );
}

function encodeNumber(n: number, path: readonly JsonPathSegment[], strict: boolean): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError(`${n} is not a JSON number`, path);
  if (Number.isInteger(n)) {
    if (n >= MIN_CANONICAL_INT && n <= MAX_CANONICAL_INT) return n === 0 ? "0" : String(n);
    if (strict) {
      throw new CanonicalJsonError(
        `integer ${BigInt(n)} is outside [-(2**53)+1, (2**53)-1] (room versions 6+ forbid it)`,
        path,
      );
    }
    return BigInt(n).toString();
  }
  if (strict) {
    throw new CanonicalJsonError(`float ${n} is not allowed (room versions 6+ forbid floats)`, path);
  }
  return pythonFloatRepr(n);
}

function encodeBigInt(n: bigint, path: readonly JsonPathSegment[], strict: boolean): string {
  if (strict && (n > BigInt(MAX_CANONICAL_INT) || n < BigInt(MIN_CANONICAL_INT))) {
    throw new CanonicalJsonError(
      `integer ${n} is outside [-(2**53)+1, (2**53)-1] (room versions 6+ forbid it)`,
      path,
    );
  }
  return n.toString();
}

/**
 * Formats a non-integral finite double the way Python's float repr does, which is what the
 * spec's json.dumps snippet (and Synapse) emit for the floats that room versions 1-5 tolerate.
 * Both languages use the shortest digits that round-trip; they differ only in layout. Python
 * switches to exponent notation when the decimal exponent is below -4 or at least 16, and
 * writes the exponent with a sign and at least two digits ("1e-05", "1.5e+16").
 */
export function pythonFloatRepr(n: number): string {
  const [mantissa, expText] = n.toExponential().split("e") as [string, string];
  const exp = Number(expText);
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const sign = negative ? "-" : "";
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = `${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
    return `${sign}${m}e${e}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const intLen = exp + 1;
  const intPart = digits.slice(0, intLen).padEnd(intLen, "0");
  const frac = digits.slice(intLen);
  return `${sign}${intPart}.${frac === "" ? "0" : frac}`;
}
