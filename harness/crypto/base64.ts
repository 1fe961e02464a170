// Unpadded Base64 (https://spec.matrix.org/v1.19/appendices/#unpadded-base64) and its URL-safe
// variant (https://spec.matrix.org/v1.19/appendices/#url-safe-unpadded-base64).
//
// Encoders never emit "=". Decoders accept input with or without padding, as the spec says
// implementations SHOULD; each decoder accepts only its own alphabet, and rejects whitespace,
// misplaced or wrong amounts of padding, and lengths no encoder can produce.

import { Base64Error } from "./errors.ts";

const STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function reverse(alphabet: string): Int16Array {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}

const STANDARD_REVERSE = reverse(STANDARD);
const URL_SAFE_REVERSE = reverse(URL_SAFE);

export interface Base64DecodeOptions {
  /**
   * Also reject encodings whose unused trailing bits are not zero (RFC 4648 section 3.5 allows
   * decoders to). Off by default: such input still decodes to one definite byte string.
   */
  readonly strict?: boolean;
}

function encode(bytes: Uint8Array, alphabet: string): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[n >>> 18]! + alphabet[(n >>> 12) & 63]! + alphabet[(n >>> 6) & 63]! + alphabet[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += alphabet[n >>> 18]! + alphabet[(n >>> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[n >>> 18]! + alphabet[(n >>> 12) & 63]! + alphabet[(n >>> 6) & 63]!;
  }
  return out;
}

function decode(text: string, table: Int16Array, name: string, options: Base64DecodeOptions): Uint8Array {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x3d /* = */) end--;
  const padding = text.length - end;
  if (padding > 0 && (padding > 2 || text.length % 4 !== 0)) {
    throw new Base64Error(`${name}: incorrect padding in ${JSON.stringify(abbreviate(text))}`);
  }
  if (end % 4 === 1) {
    throw new Base64Error(`${name}: impossible length ${end} in ${JSON.stringify(abbreviate(text))}`);
  }
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? table[c]! : -1;
    if (v < 0) {
      throw new Base64Error(
        `${name}: invalid character ${JSON.stringify(text[i])} at offset ${i} in ${JSON.stringify(abbreviate(text))}`,
      );
    }
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  if (options.strict === true && (acc & ((1 << bits) - 1)) !== 0) {
    throw new Base64Error(`${name}: non-zero trailing bits in ${JSON.stringify(abbreviate(text))}`);
  }
  return out;
}

function abbreviate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

/** Standard Base64 without "=" padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return encode(bytes, STANDARD);
}

/** URL-safe Base64 ("-" and "_" for 62 and 63) without padding. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encode(bytes, URL_SAFE);
}

/** Decodes standard Base64, padded or not. Throws Base64Error on malformed input. */
export function decodeBase64(text: string, options: Base64DecodeOptions = {}): Uint8Array {
  return decode(text, STANDARD_REVERSE, "base64", options);
}

/** Decodes URL-safe Base64, padded or not. Throws Base64Error on malformed input. */
export function decodeBase64Url(text: string, options: Base64DecodeOptions = {}): Uint8Array {
  return decode(text, URL_SAFE_REVERSE, "url-safe base64", options);
}
