// Property tests: canonical JSON (https://spec.matrix.org/v1.19/appendices/#canonical-json),
// signing (#signing-details), Base64 (#unpadded-base64) and redaction invariants.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  canonicalJson,
  checkJsonSignature,
  compareCodePoints,
  decodeBase64,
  decodeBase64Url,
  encodeBase64,
  encodeBase64Url,
  redactEvent,
  referenceHash,
  ROOM_VERSION_IDS,
  signingKeyFromSeed,
  signJson,
  type JsonValue,
} from "../../harness/crypto/index.ts";

// Keys drawn often from a small set whose code-point and UTF-16 orders disagree, so sorting
// and shared prefixes are exercised, and otherwise from all of Unicode.
const trickyKeys = ["", "a", "ab", "\uFFFF", "\uE000", "\u{1F600}", "\u{1F600}a", "\u{10000}", "é", "\u0000"];
const key = fc.oneof(fc.constantFrom(...trickyKeys), fc.string({ unit: "binary", maxLength: 6 }));
const safeInt = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
const json: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    safeInt,
    fc.string({ unit: "binary", maxLength: 8 }),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(key, tie("value"), { maxKeys: 5 }),
  ),
})).value;
const jsonObject = fc.dictionary(key, json, { maxKeys: 6 });

/** The same value with every object's keys inserted in a shuffled order. */
function reorder(value: JsonValue, seed: number): JsonValue {
  if (Array.isArray(value)) return value.map((v, i) => reorder(v, seed + i + 1));
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    // deterministic shuffle from the seed
    let s = seed >>> 0 || 1;
    for (let i = entries.length - 1; i > 0; i--) {
      s = (s * 1103515245 + 12345) >>> 0;
      const j = s % (i + 1);
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of entries) Object.defineProperty(out, k, { value: reorder(v, s + k.length), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

describe("canonical JSON properties", () => {
  it("does not depend on the order keys were inserted in", () => {
    fc.assert(
      fc.property(json, fc.integer(), (value, seed) => {
        expect(canonicalJson(reorder(value, seed))).toBe(canonicalJson(value));
      }),
    );
  });

  it("is idempotent: parsing the output and canonicalising again changes nothing", () => {
    fc.assert(
      fc.property(json, (value) => {
        const once = canonicalJson(value);
        expect(canonicalJson(JSON.parse(once) as unknown)).toBe(once);
      }),
    );
  });

  it("is valid JSON denoting the same value", () => {
    fc.assert(
      fc.property(json, (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it("orders keys as their UTF-8 bytes order", () => {
    const enc = new TextEncoder();
    fc.assert(
      fc.property(fc.array(key, { maxLength: 8 }), (keys) => {
        const byBytes = [...keys].sort((a, b) => Buffer.compare(enc.encode(a), enc.encode(b)));
        expect([...keys].sort(compareCodePoints)).toEqual(byBytes);
      }),
    );
  });
});

describe("signing properties", () => {
  it("sign then verify round-trips, and a flipped signature bit fails", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        jsonObject,
        fc.nat({ max: 511 }),
        (seed, object, bit) => {
          const k = signingKeyFromSeed(seed, "p");
          const signed = signJson(object, "server.test", k);
          const keys = { "ed25519:p": k.publicKey };
          expect(checkJsonSignature(signed, "server.test", keys).ok).toBe(true);
          expect(checkJsonSignature(reorder(signed, bit) as object, "server.test", keys).ok).toBe(true);
          const sig = decodeBase64(signed.signatures["server.test"]!["ed25519:p"]!);
          sig[bit >> 3]! ^= 1 << (bit & 7);
          const bad = { ...signed, signatures: { "server.test": { "ed25519:p": encodeBase64(sig) } } };
          expect(checkJsonSignature(bad, "server.test", keys).ok).toBe(false);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("base64 properties", () => {
  it("round-trips both alphabets, unpadded and padded, and matches Node's encoder", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const std = encodeBase64(bytes);
        const url = encodeBase64Url(bytes);
        const node = Buffer.from(bytes).toString("base64");
        expect(std).toBe(node.replace(/=+$/, ""));
        expect(url).toBe(Buffer.from(bytes).toString("base64url"));
        expect(decodeBase64(std, { strict: true })).toEqual(bytes);
        expect(decodeBase64(node)).toEqual(bytes);
        expect(decodeBase64Url(url, { strict: true })).toEqual(bytes);
        expect(decodeBase64Url(url + "=".repeat((4 - (url.length % 4)) % 4))).toEqual(bytes);
      }),
    );
  });
});

describe("redaction properties", () => {
  const eventType = fc.constantFrom(
    "m.room.member", "m.room.create", "m.room.join_rules", "m.room.power_levels", "m.room.aliases",
    "m.room.history_visibility", "m.room.redaction", "m.room.message",
  );
  const event = fc.record({
    type: eventType,
    content: jsonObject,
    sender: fc.constant("@a:b"),
    origin: fc.constant("b"),
    unsigned: jsonObject,
    extra: json,
  });

  it("is idempotent and leaves the reference hash unchanged, in every room version", () => {
    fc.assert(
      fc.property(event, fc.constantFrom(...ROOM_VERSION_IDS), (e, v) => {
        const once = redactEvent(e, v);
        expect(redactEvent(once, v)).toEqual(once);
        expect(referenceHash(once, v)).toEqual(referenceHash(e, v));
      }),
    );
  });
});
