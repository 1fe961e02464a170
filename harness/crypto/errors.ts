// Error types of harness/crypto. Every failure this module raises on purpose is a CryptoError,
// so callers can tell "the input broke a rule" from a bug.

/** Base class of the errors raised by harness/crypto. */
export class CryptoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A path inside a JSON value: object keys and array indices, outermost first. */
export type JsonPathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Renders a path as `$.content.users["@a:b"][0]`. */
export function formatJsonPath(segments: readonly JsonPathSegment[]): string {
  let out = "$";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else if (PLAIN_KEY.test(s)) out += `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/**
 * A value cannot be encoded as canonical JSON
 * (https://spec.matrix.org/v1.19/appendices/#canonical-json). `path` names the offending value.
 */
export class CanonicalJsonError extends CryptoError {
  readonly path: string;
  readonly segments: readonly JsonPathSegment[];
  constructor(reason: string, segments: readonly JsonPathSegment[]) {
    const path = formatJsonPath(segments);
    super(`canonical JSON: ${reason} at ${path}`);
    this.path = path;
    this.segments = [...segments];
  }
}

/** Input is not valid (unpadded or padded) Base64 of the expected alphabet. */
export class Base64Error extends CryptoError {}
