// End-to-end encryption keys held by the server for a user's devices: device identity keys,
// one-time and fallback keys (upload, the counts in the answer and in /sync, claiming), querying
// the keys of one's own and another local user's devices, and send-to-device delivery. The keys
// are real: an ed25519 key pair per device, curve25519-sized public keys, and signatures over
// canonical JSON made with that device's ed25519 key (appendices#signing-json).
// Spec: client-server-api/#post_matrixclientv3keysupload, #post_matrixclientv3keysclaim,
// #post_matrixclientv3keysquery, #one-time-and-fallback-keys, #e2e-extensions-to-sync,
// #put_matrixclientv3sendtodeviceeventtypetxnid, #send-to-device-messaging.
import { randomBytes } from "node:crypto";
import { encodeBase64, generateSigningKey, signJson, verifyJsonSignature, type SigningKey } from "../../harness/crypto/index.ts";
import { cs, describe, expect, newTxnId, spec, test, WaitTimedOut, type MatrixClient, type SyncResponse, type UserClient } from "../../harness/fixtures/index.ts";

const UPLOAD_KEYS = "client-server-api/#post_matrixclientv3keysupload";
const CLAIM_KEYS = "client-server-api/#post_matrixclientv3keysclaim";
const QUERY_KEYS = "client-server-api/#post_matrixclientv3keysquery";
const SYNC_EXTENSIONS = "client-server-api/#e2e-extensions-to-sync";
const OTK = "signed_curve25519";

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** A device's key material: its ed25519 signing key, a curve25519 public key and its signed device keys. */
interface KeyedDevice {
  userId: string;
  deviceId: string;
  signing: SigningKey;
  deviceKeys: Record<string, unknown> & { keys: Record<string, string> };
}

/** The device ID of the user's own session (the one its access token belongs to). */
async function ownDeviceId(user: UserClient): Promise<string> {
  return user.deviceId ?? ((await user.whoami()).device_id as string);
}

/** Another session of the user (a new device), logged in as a step of the arrangement. */
async function loginAgain(api: MatrixClient, user: UserClient): Promise<MatrixClient> {
  const body = await api.step<{ access_token: string; device_id: string }>("log in a second device", "POST", cs.v3`/login`, {
    token: null,
    body: { type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: user.password },
  });
  return api.as({ accessToken: body.access_token, userId: user.userId, deviceId: body.device_id });
}

/** The to-device events of a /sync answer of one type carrying `marker`. */
function toDeviceWith(res: SyncResponse, type: string, marker: string): Array<{ sender?: string }> {
  return (res.to_device?.events ?? []).filter((e: { type?: string; content?: { marker?: string } }) => e.type === type && e.content?.marker === marker);
}

/** Fresh keys for the user's own device, with device keys self-signed as #device-keys requires. */
async function keyedDevice(user: UserClient): Promise<KeyedDevice> {
  const deviceId = await ownDeviceId(user);
  const signing = generateSigningKey(bytes, deviceId);
  const unsigned = {
    user_id: user.userId,
    device_id: deviceId,
    algorithms: ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
    // Any 32 bytes are a valid X25519 public key; only the device ever needs the private half.
    keys: { [`curve25519:${deviceId}`]: encodeBase64(bytes(32)), [`ed25519:${deviceId}`]: encodeBase64(signing.publicKey) },
  };
  return { userId: user.userId, deviceId, signing, deviceKeys: signJson(unsigned, user.userId, signing) };
}

/** `count` signed_curve25519 keys signed by the device, keyed "signed_curve25519:<id>"; fallback-flagged when asked. */
function signedKeys(device: KeyedDevice, count: number, opts: { fallback?: boolean } = {}): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (let i = 0; i < count; i++) {
    const body = { key: encodeBase64(bytes(32)), ...(opts.fallback ? { fallback: true } : {}) };
    out[`${OTK}:${Buffer.from(bytes(6)).toString("hex").toUpperCase()}`] = signJson(body, device.userId, device.signing);
  }
  return out;
}

/** Uploads keys as a step of the arrangement; returns the answer's one_time_key_counts. */
async function uploadKeys(user: UserClient, body: Record<string, unknown>): Promise<Record<string, number>> {
  const res = await user.step<{ one_time_key_counts: Record<string, number> }>("upload end-to-end keys", "POST", cs.v3`/keys/upload`, { body });
  return res.one_time_key_counts ?? {};
}

/** Claims one signed_curve25519 key of the device for `claimer`; returns the keys handed out for that device. */
async function claimOne(claimer: UserClient, device: KeyedDevice): Promise<{ res: Awaited<ReturnType<UserClient["post"]>>; keys: Record<string, Record<string, unknown>> }> {
  const res = await claimer.post(cs.v3`/keys/claim`, { one_time_keys: { [device.userId]: { [device.deviceId]: OTK } } });
  const keys = (res.body?.one_time_keys?.[device.userId]?.[device.deviceId] ?? {}) as Record<string, Record<string, unknown>>;
  return { res, keys };
}

/**
 * What a claim returned for the device, in words that do not depend on the random key IDs (so a
 * failure's signature is the same in every run): "<name>" when it is exactly one key of `known`.
 */
function describeClaim(keys: Record<string, unknown>, known: Record<string, string[]>): string {
  const ids = Object.keys(keys);
  if (ids.length === 0) return "no key";
  if (ids.length > 1) return `${ids.length} keys`;
  for (const [name, set] of Object.entries(known)) if (set.includes(ids[0]!)) return name;
  return "a key the device never uploaded";
}

/** The device-key fields of `got` that differ from what was uploaded (names only). */
function differingFields(got: Record<string, unknown> | undefined, uploaded: Record<string, unknown>, fields: string[]): string[] {
  return fields.filter((f) => JSON.stringify(got?.[f]) !== JSON.stringify(uploaded[f]));
}

/** Whether a key object handed out by the server still carries the device's valid signature. */
function signedByDevice(key: Record<string, unknown>, device: KeyedDevice): boolean {
  return verifyJsonSignature(key, device.userId, device.signing.keyId, device.signing.publicKey);
}

/**
 * Follows the user's /sync until `predicate` holds: first one /sync that does not wait (key counts
 * are read when the answer is built, and a claim does not wake a long-poll), then bounded
 * long-polls. Ends quietly when the wait runs out, so that the assertion after it says what was seen.
 */
async function syncSoon(user: MatrixClient, what: string, predicate: (res: SyncResponse) => boolean): Promise<void> {
  if (predicate(await user.sync({ timeout: 0 }))) return;
  try {
    await user.syncUntil(what, predicate);
  } catch (err) {
    if (!(err instanceof WaitTimedOut)) throw err;
  }
}

function otkCount(res: SyncResponse): number {
  return ((res as unknown as { device_one_time_keys_count?: Record<string, number> }).device_one_time_keys_count ?? {})[OTK] ?? 0;
}

function unusedFallbackTypes(res: SyncResponse): string[] | undefined {
  return (res as unknown as { device_unused_fallback_key_types?: string[] }).device_unused_fallback_key_types;
}

describe("POST /_matrix/client/v3/keys/upload", () => {
  test("stores device keys and one-time keys, answering with the number of one-time keys held for the device", spec(UPLOAD_KEYS, "1.0"), async ({ alice }) => {
    const device = await keyedDevice(alice);
    const res = await alice.post(cs.v3`/keys/upload`, { device_keys: device.deviceKeys, one_time_keys: signedKeys(device, 3) });
    expect(res).toHaveStatus(200);
    // one_time_key_counts: "the number of unclaimed one-time keys of that type currently held on the server for this device."
    expect(res.body.one_time_key_counts?.[OTK], "one_time_key_counts after uploading 3 signed_curve25519 keys").toBe(3);
    const more = await alice.post(cs.v3`/keys/upload`, { one_time_keys: signedKeys(device, 2) });
    expect(more).toHaveStatus(200);
    expect(more.body.one_time_key_counts?.[OTK], "one_time_key_counts after 2 more keys (device_keys may be absent)").toBe(5);
  });

  test("accepts a re-upload of identical device keys", spec(UPLOAD_KEYS, "1.0"), async ({ alice }) => {
    // Clients upload their device keys again (e.g. after a restart); the same signed object is a valid request.
    const device = await keyedDevice(alice);
    await uploadKeys(alice, { device_keys: device.deviceKeys });
    const res = await alice.post(cs.v3`/keys/upload`, { device_keys: device.deviceKeys });
    expect(res).toHaveStatus(200);
    const query = await alice.step<{ device_keys: Record<string, Record<string, Record<string, unknown>>> }>("query own keys", "POST", cs.v3`/keys/query`, {
      body: { device_keys: { [alice.userId]: [device.deviceId] } },
    });
    const got = query.device_keys?.[alice.userId]?.[device.deviceId];
    expect(differingFields(got, device.deviceKeys, ["keys", "algorithms"]), "device-key fields that differ from the upload after the identical re-upload").toEqual([]);
  });
});

describe("POST /_matrix/client/v3/keys/query", () => {
  test("returns a user's uploaded device keys, with the device's signature, to the user and to another local user", spec(QUERY_KEYS, "1.0"), async ({ alice, bob }) => {
    const device = await keyedDevice(alice);
    await uploadKeys(alice, { device_keys: device.deviceKeys });
    const queries: Array<[UserClient, string, Record<string, unknown>]> = [
      [alice, "alice herself, naming the device", { device_keys: { [alice.userId]: [device.deviceId] } }],
      [bob, "bob, asking for all of alice's devices with an empty list", { device_keys: { [alice.userId]: [] } }],
    ];
    for (const [querier, who, body] of queries) {
      const res = await querier.post(cs.v3`/keys/query`, body);
      expect(res).toHaveStatus(200);
      const got = res.body.device_keys?.[alice.userId]?.[device.deviceId] as Record<string, unknown> | undefined;
      expect(got, `device_keys for ${device.deviceId}, queried by ${who}`).toBeDefined();
      expect(differingFields(got, device.deviceKeys, ["user_id", "device_id", "algorithms", "keys"]), `device-key fields queried by ${who} that differ from the upload`).toEqual([]);
      // DeviceInformation.signatures: "Signatures for the device key object."
      expect(signedByDevice(got!, device), `the device keys queried by ${who} carry the device's own ed25519 signature, valid over the keys returned`).toBe(true);
    }
  });
});

describe("POST /_matrix/client/v3/keys/claim", () => {
  test("hands out each one-time key once, signed as uploaded, and counts down the keys held", spec(CLAIM_KEYS, "1.0"), async ({ alice, bob }) => {
    // #one-time-and-fallback-keys: "Servers must ensure that each one-time key is only claimed once".
    const device = await keyedDevice(alice);
    const uploaded = signedKeys(device, 2);
    await uploadKeys(alice, { device_keys: device.deviceKeys, one_time_keys: uploaded });
    const claimed: string[] = [];
    for (const [n, left] of [[1, 1], [2, 0]] as const) {
      const { res, keys } = await claimOne(bob, device);
      expect(res).toHaveStatus(200);
      const unclaimed = Object.keys(uploaded).filter((k) => !claimed.includes(k));
      expect(describeClaim(keys, { "an unclaimed one-time key": unclaimed, "a one-time key already claimed": claimed }), `what claim ${n} of 2 uploaded one-time keys returns`).toBe(
        "an unclaimed one-time key",
      );
      const id = Object.keys(keys)[0]!;
      expect(signedByDevice(keys[id]!, device), `claim ${n}: the key carries the device's signature`).toBe(true);
      claimed.push(id);
      const counts = await uploadKeys(alice, {});
      expect(counts[OTK] ?? 0, `one_time_key_counts after claim ${n}`).toBe(left);
    }
    const { res, keys } = await claimOne(bob, device);
    expect(res).toHaveStatus(200);
    expect(describeClaim(keys, { "a one-time key already claimed": claimed }), "what a claim returns once both one-time keys are used (no fallback key uploaded)").toBe("no key");
  });

  test("returns the fallback key once the one-time keys run out, and returns it again on the next claim", spec(CLAIM_KEYS, "1.2"), async ({ alice, bob }) => {
    // #one-time-and-fallback-keys: a fallback key "will be returned by the server when the device has run out of one-time keys";
    // one_time_keys: "Fallback keys are re-used by the server until replaced by the device."
    const device = await keyedDevice(alice);
    const oneTime = signedKeys(device, 1);
    const fallback = signedKeys(device, 1, { fallback: true });
    await uploadKeys(alice, { device_keys: device.deviceKeys, one_time_keys: oneTime, fallback_keys: fallback });
    const first = await claimOne(bob, device);
    expect(first.res).toHaveStatus(200);
    const known = { "the one-time key": Object.keys(oneTime), "the fallback key": Object.keys(fallback) };
    expect(describeClaim(first.keys, known), "what the first claim returns while a one-time key is left").toBe("the one-time key");
    const fallbackId = Object.keys(fallback)[0]!;
    for (const n of [2, 3]) {
      const { res, keys } = await claimOne(bob, device);
      expect(res).toHaveStatus(200);
      expect(describeClaim(keys, known), `what claim ${n} returns once the one-time keys are used up`).toBe("the fallback key");
      expect(keys[fallbackId]?.fallback, `claim ${n}: the fallback key keeps its fallback: true flag`).toBe(true);
      expect(signedByDevice(keys[fallbackId]!, device), `claim ${n}: the fallback key carries the device's signature`).toBe(true);
    }
  });
});

describe("one-time and fallback key counts in /sync", () => {
  test("device_one_time_keys_count gives the device's unclaimed one-time keys and falls when one is claimed", spec(SYNC_EXTENSIONS, "1.0"), async ({ alice, bob }) => {
    // device_one_time_keys_count: "Required if any unclaimed one-time keys exist."
    const device = await keyedDevice(alice);
    await uploadKeys(alice, { device_keys: device.deviceKeys, one_time_keys: signedKeys(device, 3) });
    const seen: number[] = [];
    await syncSoon(alice, "device_one_time_keys_count of 3 after uploading 3 keys", (res) => (seen.push(otkCount(res)), otkCount(res) === 3));
    expect(seen.at(-1), `device_one_time_keys_count.${OTK} in /sync after uploading 3 keys`).toBe(3);
    const { keys } = await claimOne(bob, device);
    expect(Object.keys(keys).length, "bob's claim must hand out one key (precondition)").toBe(1);
    seen.length = 0;
    await syncSoon(alice, "device_one_time_keys_count of 2 after one claim", (res) => (seen.push(otkCount(res)), otkCount(res) === 2));
    expect(seen.at(-1), `device_one_time_keys_count.${OTK} in /sync after one of 3 keys was claimed`).toBe(2);
  });

  test("device_unused_fallback_key_types lists an uploaded fallback key's algorithm until a claim uses it", spec(SYNC_EXTENSIONS, "1.2"), async ({ alice, bob }) => {
    // "a device_unused_fallback_key_types property is added to list the key algorithms where the device has a
    // fallback key that has not been used in a /keys/claim response."
    const device = await keyedDevice(alice);
    await uploadKeys(alice, { device_keys: device.deviceKeys, fallback_keys: signedKeys(device, 1, { fallback: true }) });
    let last: string[] | undefined;
    await syncSoon(alice, "the fallback key's algorithm in device_unused_fallback_key_types", (res) => ((last = unusedFallbackTypes(res)), last?.includes(OTK) === true));
    expect(last, "device_unused_fallback_key_types (required) in /sync after uploading a fallback key").toBeDefined();
    expect(last, "device_unused_fallback_key_types after uploading an unused signed_curve25519 fallback key").toContain(OTK);
    const { keys } = await claimOne(bob, device);
    expect(Object.keys(keys).length, "bob's claim must hand out the fallback key (precondition)").toBe(1);
    await syncSoon(alice, "the used fallback key's algorithm gone from device_unused_fallback_key_types", (res) => ((last = unusedFallbackTypes(res)), last !== undefined && !last.includes(OTK)));
    expect(last, "device_unused_fallback_key_types (required) after the only fallback key was claimed").toBeDefined();
    expect(last, "device_unused_fallback_key_types after the only fallback key was claimed").not.toContain(OTK);
  });
});

describe("send-to-device messages", () => {
  test(
    "delivers a message sent to one device in that device's /sync to_device, with sender and type, and drops it once the next /sync acknowledges it",
    // #send-to-device-messaging, server behaviour: "When the client calls /sync again with the next_batch token from the
    // first response, the server should infer that any send-to-device messages in that response have been delivered
    // successfully, and delete them from the store."
    spec("client-server-api/#send-to-device-messaging", "1.0", { level: "SHOULD" }),
    async ({ alice, bob }) => {
      const deviceId = await ownDeviceId(alice);
      const marker = newTxnId();
      const type = "org.matrix.conformance.to_device";
      await bob.step("send a to-device message", "PUT", cs.v3`/sendToDevice/${type}/${newTxnId()}`, { body: { messages: { [alice.userId]: { [deviceId]: { marker } } } } });
      const isOurs = (e: { type?: string; content?: { marker?: string } }) => e.type === type && e.content?.marker === marker;
      let delivered: { sender?: string; type?: string } | undefined;
      await syncSoon(alice, "the to-device message in /sync to_device", (res) => ((delivered = (res.to_device?.events ?? []).find(isOurs)), delivered !== undefined));
      expect(delivered, "the message bob sent to alice's device in her /sync to_device.events").toBeDefined();
      expect(delivered!.sender, "the to-device event's sender").toBe(bob.userId);
      const next = await alice.sync({ timeout: 0 });
      expect((next.to_device?.events ?? []).filter(isOurs), "the message again in the /sync that acknowledged it").toEqual([]);
    },
  );

  test(
    "delivers a message sent to device ID * to every device of the recipient",
    // PUT /sendToDevice messages: "The device ID may also be *, meaning all known devices for the user."
    spec("client-server-api/#put_matrixclientv3sendtodeviceeventtypetxnid", "1.0"),
    async ({ api, alice, bob }) => {
      const second = await loginAgain(api, alice);
      const marker = newTxnId();
      const type = "org.matrix.conformance.to_device";
      const res = await bob.put(cs.v3`/sendToDevice/${type}/${newTxnId()}`, { messages: { [alice.userId]: { "*": { marker } } } });
      expect(res).toHaveStatus(200);
      for (const [which, client] of [["the registration's device", alice], ["a second logged-in device", second]] as const) {
        let got: Array<{ sender?: string }> = [];
        await syncSoon(client, `the * to-device message on ${which}`, (r) => (got = toDeviceWith(r, type, marker)).length > 0);
        expect(got.map((e) => e.sender), `the message sent to * in the /sync to_device of ${which}, from bob`).toEqual([bob.userId]);
      }
    },
  );
});
