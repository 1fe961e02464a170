// Key documents (https://spec.matrix.org/v1.19/server-server-api/#publishing-keys): the ones peers
// publish verify, and checkServerKeys finds what is wrong with bad ones.
import { describe, expect, test } from "vitest";
import { encodeBase64, signJson } from "../../harness/crypto/index.ts";
import { Keyring, KeyFetchError, checkServerKeys, newSigningKey, serverKeysDocument } from "../../harness/federation/index.ts";

const name = "peer.example:8448";
const key = newSigningKey("a1");

describe("key documents", () => {
  test("a peer's document names it, lists its key and carries a self-signature that verifies", () => {
    const doc = serverKeysDocument(name, [key], { validUntilTs: 1_900_000_000_000 });
    const check = checkServerKeys(doc, name);
    expect(check.problems).toEqual([]);
    expect(check.verifiedBy).toEqual(["ed25519:a1"]);
    expect(check.verifyKeys["ed25519:a1"]).toEqual(key.publicKey);
    expect(check.validUntilTs).toBe(1_900_000_000_000);
  });

  test("old keys are listed with their expiry and are not needed to sign", () => {
    const old = newSigningKey("old");
    const doc = serverKeysDocument(name, [key], { oldKeys: [{ key: old, expiredTs: 123 }] });
    const check = checkServerKeys(doc, name);
    expect(check.ok).toBe(true);
    expect(check.oldVerifyKeys["ed25519:old"]).toEqual({ key: old.publicKey, expiredTs: 123 });
  });

  test.each<[string, (doc: Record<string, unknown>) => Record<string, unknown>, RegExp]>([
    ["a changed field after signing", (d) => ({ ...d, valid_until_ts: (d.valid_until_ts as number) + 1 }), /self-signature ed25519:a1: .*does not verify/],
    ["another server's name", (d) => ({ ...d, server_name: "evil.example" }), /server_name is "evil.example"/],
    ["no signatures", (d) => ({ ...d, signatures: {} }), /no signature by peer.example:8448/],
    ["a signature by a key not in verify_keys", (d) => signJson({ ...d, signatures: undefined }, name, newSigningKey("zz")), /signed by ed25519:zz, which is not among its verify_keys/],
    ["a padded key", (d) => ({ ...d, verify_keys: { "ed25519:a1": { key: `${encodeBase64(key.publicKey)}=` } } }), /padded base64/],
    ["a short key", (d) => ({ ...d, verify_keys: { "ed25519:a1": { key: "AAAA" } } }), /decodes to 3 bytes/],
    ["a key version with a dash", (d) => ({ ...d, verify_keys: { "ed25519:a-1": { key: encodeBase64(key.publicKey) } } }), /outside \[a-zA-Z0-9_\]/],
    ["no valid_until_ts", (d) => ({ ...d, valid_until_ts: undefined }), /valid_until_ts is undefined/],
    ["empty verify_keys", (d) => ({ ...d, verify_keys: {} }), /verify_keys is empty/],
  ])("a document with %s fails the check", (_n, mutate, problem) => {
    const check = checkServerKeys(mutate(serverKeysDocument(name, [key])), name);
    expect(check.ok).toBe(false);
    expect(check.problems.join("\n")).toMatch(problem);
  });
});

describe("Keyring", () => {
  test("fetches once, refetches once for an unknown key ID, and refuses invalid documents", async () => {
    let fetches = 0;
    let doc = serverKeysDocument(name, [key]);
    const ring = new Keyring(async () => {
      fetches++;
      return doc;
    });
    expect(await ring.key(name, "ed25519:a1", "request")).toEqual(key.publicKey);
    expect(await ring.key(name, "ed25519:a1", "request")).toEqual(key.publicKey);
    expect(fetches).toBe(1);
    const rotated = newSigningKey("b2");
    doc = serverKeysDocument(name, [key, rotated]);
    expect(await ring.key(name, "ed25519:b2", "request")).toEqual(rotated.publicKey);
    expect(fetches).toBe(2);
    expect(await ring.key(name, "ed25519:nope", "request")).toBeUndefined();
    expect(await ring.key(name, "ed25519:nope", "request")).toBeUndefined();
    expect(fetches).toBe(3);

    const bad = new Keyring(async () => ({ ...serverKeysDocument(name, [key]), server_name: "x" }));
    await expect(bad.get(name)).rejects.toBeInstanceOf(KeyFetchError);
  });

  test("old keys verify events but not requests", async () => {
    const old = newSigningKey("old");
    const ring = new Keyring(async () => serverKeysDocument(name, [key], { oldKeys: [{ key: old, expiredTs: 1 }] }));
    expect(await ring.key(name, "ed25519:old", "event")).toEqual(old.publicKey);
    expect(await ring.key(name, "ed25519:old", "request")).toBeUndefined();
    expect(Object.keys(await ring.eventKeys(name)).sort()).toEqual(["ed25519:a1", "ed25519:old"]);
  });
});
