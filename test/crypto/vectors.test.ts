// Every test vector of the spec's appendices, reproduced exactly.
// - Canonical JSON examples: https://spec.matrix.org/v1.19/appendices/#examples
// - Unpadded Base64 examples: https://spec.matrix.org/v1.19/appendices/#unpadded-base64
// - Signing key, JSON signing, event signing:
//   https://spec.matrix.org/v1.19/appendices/#cryptographic-test-vectors
import { describe, expect, it } from "vitest";
import {
  canonicalJson,
  checkContentHash,
  checkJsonSignature,
  decodeBase64,
  encodeBase64,
  hashAndSignEvent,
  redactEvent,
  ROOM_VERSION_IDS,
  ROOM_VERSIONS,
  signingKeyFromSeed,
  signJson,
  verifyEvent,
  type RoomVersionId,
} from "../../harness/crypto/index.ts";

describe("canonical JSON examples (appendices#examples)", () => {
  // [input JSON text as the spec gives it, expected canonical JSON]
  const examples: [string, string][] = [
    ["{}", "{}"],
    ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
    ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
    ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
    [
      `{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}`,
      '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ],
    ['{\n    "a": "日本語"\n}', '{"a":"日本語"}'],
    ['{\n    "本": 2,\n    "日": 1\n}', '{"日":1,"本":2}'],
    ['{\n    "a": "\\u65E5"\n}', '{"a":"日"}'],
    ['{\n    "a": null\n}', '{"a":null}'],
    ['{\n    "a": -0,\n    "b": 1e10\n}', '{"a":0,"b":10000000000}'],
  ];
  it.each(examples)("canonicalises %s", (input, expected) => {
    expect(canonicalJson(JSON.parse(input))).toBe(expected);
  });
});

describe("unpadded Base64 examples (appendices#unpadded-base64)", () => {
  const examples: [string, string][] = [
    ["", ""],
    ["f", "Zg"],
    ["fo", "Zm8"],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg"],
    ["fooba", "Zm9vYmE"],
    ["foobar", "Zm9vYmFy"],
  ];
  it.each(examples)("UNPADDED_BASE64(%j) = %j", (plain, encoded) => {
    const bytes = new TextEncoder().encode(plain);
    expect(encodeBase64(bytes)).toBe(encoded);
    expect(decodeBase64(encoded)).toEqual(bytes);
  });
});

// appendices#signing-key
const SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1";
const SERVER_NAME = "domain";
const KEY_ID = "ed25519:1";
const key = signingKeyFromSeed(decodeBase64(SEED), "1");
const keys = { [KEY_ID]: key.publicKey };

describe("signing key (appendices#signing-key)", () => {
  it("decodes the 43-character seed to 32 bytes and makes key ed25519:1", () => {
    expect(decodeBase64(SEED)).toHaveLength(32);
    expect(key.keyId).toBe(KEY_ID);
  });
  it("the seed string has non-zero trailing bits, so strict decoding refuses it", () => {
    // Its last character "1" (53 = 0b110101) leaves "01" beyond the 256 bits: a decoder that
    // rejected non-canonical Base64 by default could not even read the spec's own seed.
    expect(() => decodeBase64(SEED, { strict: true })).toThrow(/trailing bits/);
  });
});

describe("JSON signing (appendices#json-signing)", () => {
  it("signs the empty object", () => {
    expect(signJson({}, SERVER_NAME, key)).toEqual({
      signatures: {
        domain: {
          "ed25519:1":
            "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ",
        },
      },
    });
  });

  it("signs an object with data values", () => {
    const signed = signJson({ one: 1, two: "Two" }, SERVER_NAME, key);
    expect(signed).toEqual({
      one: 1,
      signatures: {
        domain: {
          "ed25519:1":
            "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw",
        },
      },
      two: "Two",
    });
    expect(checkJsonSignature(signed, SERVER_NAME, keys)).toEqual({ ok: true, verifiedKeyIds: [KEY_ID] });
  });
});

describe("event signing (appendices#event-signing)", () => {
  const minimal = {
    room_id: "!x:domain",
    sender: "@a:domain",
    origin: "domain",
    origin_server_ts: 1000000,
    signatures: {},
    hashes: {},
    type: "X",
    content: {},
    prev_events: [],
    auth_events: [],
    depth: 3,
    unsigned: { age_ts: 1000000 },
  };
  const minimalSigned = {
    auth_events: [],
    content: {},
    depth: 3,
    hashes: { sha256: "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos" },
    origin: "domain",
    origin_server_ts: 1000000,
    prev_events: [],
    room_id: "!x:domain",
    sender: "@a:domain",
    signatures: {
      domain: {
        "ed25519:1":
          "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg",
      },
    },
    type: "X",
    unsigned: { age_ts: 1000000 },
  };
  const redactable = {
    content: { body: "Here is the message content" },
    event_id: "$0:domain",
    origin: "domain",
    origin_server_ts: 1000000,
    type: "m.room.message",
    room_id: "!r:domain",
    sender: "@u:domain",
    signatures: {},
    unsigned: { age_ts: 1000000 },
  };
  const redactableSigned = {
    content: { body: "Here is the message content" },
    event_id: "$0:domain",
    hashes: { sha256: "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g" },
    origin: "domain",
    origin_server_ts: 1000000,
    type: "m.room.message",
    room_id: "!r:domain",
    sender: "@u:domain",
    signatures: {
      domain: {
        "ed25519:1":
          "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA",
      },
    },
    unsigned: { age_ts: 1000000 },
  };

  // The appendix names no room version. Both events have a top-level `origin`, which the
  // redaction rules of v1-v10 keep and those of v11+ remove, so the expected signatures are the
  // v1-v10 ones. (The second event's `$0:domain` ID is also of the v1-v2 form.)
  const preV11 = ROOM_VERSION_IDS.filter((v) => ROOM_VERSIONS[v].redaction.keptTopLevelKeys.includes("origin"));

  it.each(preV11)("room version %s: signs the minimal event exactly as the spec shows", (v) => {
    expect(hashAndSignEvent(minimal, v, SERVER_NAME, key)).toEqual(minimalSigned);
  });

  it.each(preV11)("room version %s: signs the redactable event exactly as the spec shows", (v) => {
    expect(hashAndSignEvent(redactable, v, SERVER_NAME, key)).toEqual(redactableSigned);
  });

  it.each(ROOM_VERSION_IDS.filter((v) => !ROOM_VERSIONS[v].redaction.keptTopLevelKeys.includes("origin")))(
    "room version %s: same content hashes, different signatures, because `origin` is redacted",
    (v) => {
      const a = hashAndSignEvent(minimal, v, SERVER_NAME, key);
      const b = hashAndSignEvent(redactable, v, SERVER_NAME, key);
      expect(a.hashes).toEqual(minimalSigned.hashes);
      expect(b.hashes).toEqual(redactableSigned.hashes);
      expect(a.signatures).not.toEqual(minimalSigned.signatures);
      expect(b.signatures).not.toEqual(redactableSigned.signatures);
      // Without `origin`, v1 and v11 redaction agree on these events, and so do the signatures.
      const { origin: _o, ...noOrigin } = minimal;
      expect(hashAndSignEvent(noOrigin, v, SERVER_NAME, key).signatures).toEqual(
        hashAndSignEvent(noOrigin, "1", SERVER_NAME, key).signatures,
      );
    },
  );

  it("the spec's signed events verify, content hash included", () => {
    for (const [event, v] of [
      [minimalSigned, "3"],
      [redactableSigned, "1"],
    ] as const) {
      const check = verifyEvent(event, v, { domain: keys });
      expect(check).toMatchObject({ ok: true, contentHashMatches: true });
    }
  });

  it("the redactable event: redaction empties content; the signature still holds, the content hash no longer matches", () => {
    const redacted = redactEvent(redactableSigned, "1");
    expect(redacted).toEqual({
      content: {},
      event_id: "$0:domain",
      hashes: { sha256: "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g" },
      origin: "domain",
      origin_server_ts: 1000000,
      type: "m.room.message",
      room_id: "!r:domain",
      sender: "@u:domain",
      signatures: redactableSigned.signatures,
    });
    expect(checkContentHash(redactableSigned, "1")).toBe(true);
    expect(checkContentHash(redacted, "1")).toBe(false);
    expect(verifyEvent(redacted, "1", { domain: keys })).toEqual({
      ok: true,
      contentHashMatches: false,
      event: redacted,
    });
  });
});
