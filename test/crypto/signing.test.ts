// ed25519 keys and JSON signatures: https://spec.matrix.org/v1.19/appendices/#signing-details,
// https://spec.matrix.org/v1.19/appendices/#checking-for-a-signature
import { describe, expect, it } from "vitest";
import {
  checkJsonSignature,
  CryptoError,
  encodeBase64,
  formatKeyId,
  generateSigningKey,
  isValidKeyVersion,
  parseKeyId,
  signBytes,
  signingKeyFromSeed,
  signJson,
  verifyBytes,
  verifyJsonSignature,
} from "../../harness/crypto/index.ts";

const seedA = new Uint8Array(32).fill(1);
const seedB = new Uint8Array(32).fill(2);
const keyA = signingKeyFromSeed(seedA, "a");
const keyB = signingKeyFromSeed(seedB, "b");

describe("ed25519 keys", () => {
  it("derives the RFC 8032 public key (test 1 of section 7.1)", () => {
    const seed = Uint8Array.from(
      Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex"),
    );
    const key = signingKeyFromSeed(seed, "rfc");
    expect(Buffer.from(key.publicKey).toString("hex")).toBe(
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    );
    expect(Buffer.from(signBytes(key, new Uint8Array())).toString("hex")).toBe(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
  });

  it("takes randomness only from the caller", () => {
    const calls: number[] = [];
    const key = generateSigningKey((n) => {
      calls.push(n);
      return new Uint8Array(n).fill(1);
    }, "gen");
    expect(calls).toEqual([32]);
    expect(key.publicKey).toEqual(keyA.publicKey);
    expect(key.keyId).toBe("ed25519:gen");
  });

  it("refuses seeds that are not 32 bytes and versions with a colon", () => {
    expect(() => signingKeyFromSeed(new Uint8Array(31), "x")).toThrow(CryptoError);
    expect(() => signingKeyFromSeed(seedA, "a:b")).toThrow(CryptoError);
    expect(() => signingKeyFromSeed(seedA, "")).toThrow(CryptoError);
  });

  it("copies the seed, so later changes to the caller's buffer do not change the key", () => {
    const seed = new Uint8Array(32).fill(3);
    const key = signingKeyFromSeed(seed, "c");
    seed.fill(0);
    expect(key.seed).toEqual(new Uint8Array(32).fill(3));
  });

  it("verifies its own signatures and nothing else", () => {
    const msg = new TextEncoder().encode("hello");
    const sig = signBytes(keyA, msg);
    expect(verifyBytes(keyA.publicKey, msg, sig)).toBe(true);
    expect(verifyBytes(keyB.publicKey, msg, sig)).toBe(false);
    expect(verifyBytes(keyA.publicKey, new TextEncoder().encode("hellp"), sig)).toBe(false);
    const bad = Uint8Array.from(sig);
    bad[10]! ^= 1;
    expect(verifyBytes(keyA.publicKey, msg, bad)).toBe(false);
    expect(verifyBytes(keyA.publicKey, msg, sig.subarray(0, 63))).toBe(false);
    expect(verifyBytes(new Uint8Array(32), msg, sig)).toBe(false);
  });
});

describe("key IDs", () => {
  it("parses and formats algorithm:version", () => {
    expect(parseKeyId("ed25519:abc")).toEqual({ algorithm: "ed25519", version: "abc" });
    expect(parseKeyId("ed25519:a:b")).toEqual({ algorithm: "ed25519", version: "a:b" });
    expect(formatKeyId("ed25519", "abc")).toBe("ed25519:abc");
    expect(keyA.keyId).toBe("ed25519:a");
    for (const bad of ["ed25519", ":abc", "ed25519:", ""]) expect(() => parseKeyId(bad)).toThrow(CryptoError);
  });

  it("knows which versions servers may publish ([a-zA-Z0-9_])", () => {
    expect(isValidKeyVersion("abc_123")).toBe(true);
    expect(isValidKeyVersion("a-b")).toBe(false);
    expect(isValidKeyVersion("")).toBe(false);
  });
});

describe("signing JSON", () => {
  const object = { name: "example.org", unsigned: { age_ts: 5 }, nested: { b: 1, a: [true] } };

  it("leaves signatures and unsigned out of the signed bytes and keeps unsigned", () => {
    const signed = signJson(object, "example.org", keyA);
    expect(signed.unsigned).toEqual({ age_ts: 5 });
    expect(object).not.toHaveProperty("signatures");
    // Changing unsigned or adding signatures from others does not invalidate it.
    const changed = { ...signed, unsigned: { age_ts: 99 } };
    expect(verifyJsonSignature(changed, "example.org", "ed25519:a", keyA.publicKey)).toBe(true);
  });

  it("keeps signatures from other servers and other keys", () => {
    const once = signJson(object, "example.org", keyA);
    const twice = signJson(once, "other.example", keyB);
    const thrice = signJson(twice, "example.org", keyB);
    expect(Object.keys(thrice.signatures).sort()).toEqual(["example.org", "other.example"]);
    expect(Object.keys(thrice.signatures["example.org"]!).sort()).toEqual(["ed25519:a", "ed25519:b"]);
    expect(thrice.signatures["example.org"]!["ed25519:a"]).toBe(once.signatures["example.org"]!["ed25519:a"]);
    expect(checkJsonSignature(thrice, "example.org", { "ed25519:a": keyA.publicKey, "ed25519:b": keyB.publicKey }))
      .toEqual({ ok: true, verifiedKeyIds: ["ed25519:a", "ed25519:b"] });
    expect(checkJsonSignature(thrice, "other.example", { "ed25519:b": keyB.publicKey }).ok).toBe(true);
  });

  it("fails verification when the content or the signature is corrupted", () => {
    const signed = signJson(object, "example.org", keyA);
    const keys = { "ed25519:a": keyA.publicKey };
    const tampered = { ...signed, name: "evil.org" };
    expect(checkJsonSignature(tampered, "example.org", keys)).toEqual({
      ok: false,
      reason: "signature example.org ed25519:a does not verify",
    });
    const sig = signed.signatures["example.org"]!["ed25519:a"]!;
    const flipped = (sig[5] === "A" ? "B" : "A");
    const badSig = { ...signed, signatures: { "example.org": { "ed25519:a": sig.slice(0, 5) + flipped + sig.slice(6) } } };
    expect(checkJsonSignature(badSig, "example.org", keys).ok).toBe(false);
    expect(verifyJsonSignature(badSig, "example.org", "ed25519:a", keyA.publicKey)).toBe(false);
  });

  it("follows the checking steps: missing entity, unknown algorithms, unknown keys, bad base64", () => {
    const signed = signJson(object, "example.org", keyA);
    const keys = { "ed25519:a": keyA.publicKey };
    expect(checkJsonSignature(signed, "nobody.org", keys)).toMatchObject({ ok: false, reason: "no signatures from nobody.org" });
    expect(checkJsonSignature({ ...signed, signatures: { "example.org": { "curve25519:a": "AAAA" } } }, "example.org", keys))
      .toMatchObject({ ok: false, reason: expect.stringMatching(/supported algorithm/) });
    expect(checkJsonSignature(signed, "example.org", { "ed25519:other": keyA.publicKey }))
      .toMatchObject({ ok: false, reason: expect.stringMatching(/no verification key/) });
    expect(checkJsonSignature({ ...signed, signatures: { "example.org": { "ed25519:a": "!!" } } }, "example.org", keys))
      .toMatchObject({ ok: false, reason: expect.stringMatching(/base64/) });
    // An unknown algorithm next to a good signature is ignored.
    const mixed = { ...signed, signatures: { "example.org": { ...signed.signatures["example.org"], "unknown:x": "AAAA" } } };
    expect(checkJsonSignature(mixed, "example.org", keys).ok).toBe(true);
    expect(checkJsonSignature({ a: 1 }, "example.org", keys).ok).toBe(false);
  });

  it("signs in lenient canonical mode when asked (room versions 1-5 values)", () => {
    expect(() => signJson({ f: 1.5 }, "x", keyA)).toThrow(/float/);
    const signed = signJson({ f: 1.5 }, "x", keyA, { strict: false });
    expect(verifyJsonSignature(signed, "x", "ed25519:a", keyA.publicKey, { strict: false })).toBe(true);
  });

  it("signature is unpadded base64 of 64 bytes", () => {
    const sig = signJson({}, "x", keyA).signatures["x"]!["ed25519:a"]!;
    expect(sig).toMatch(/^[A-Za-z0-9+/]{86}$/);
    expect(encodeBase64(new Uint8Array(64))).toHaveLength(86);
  });
});
