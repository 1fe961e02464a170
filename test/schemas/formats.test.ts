import { beforeAll, describe, expect, it } from "vitest";
import type { Spec } from "../../harness/schemas/index.ts";
import { getSpec } from "./helpers.ts";

let spec: Spec;
beforeAll(async () => {
  spec = await getSpec();
});

const cases: Record<string, { valid: string[]; invalid: string[] }> = {
  "mx-server-name": {
    valid: [
      "matrix.org", "matrix.org:8888", "1.2.3.4", "1.2.3.4:1234", "[1234:5678::abcd]", "[1234:5678::abcd]:5678",
      "localhost", "127.0.0.1:46349", "[::1]:8448", "[::ffff:127.0.0.1]", "MATRIX.ORG", "a",
    ],
    invalid: ["", "matrix.org:", "matrix.org:123456", "1234:5678::abcd", "[1234:5678::abcd", "[g::1]", "exa mple.org", "ex_ample.org", "hs/x"],
  },
  "mx-user-id": {
    valid: [
      "@alice:example.org", "@a.b_c=d-e/f+g:hs1:8008", "@alice:[::1]:8448",
      // Historical user IDs: any non-surrogate code points but ':' and NUL, even empty.
      "@Alice:example.org", "@üñî©ødé:example.org", "@with space:example.org", "@\u0007bell:example.org", "@:example.org", "@😀:example.org",
    ],
    invalid: ["alice:example.org", "@alice", "@alice:", "@al:ice:example.org", "@nul\u0000:example.org", "@lone\uD800:example.org",
      `@${"a".repeat(250)}:example.org`, "@alice:bad_host.org"],
  },
  "mx-user-id-compliant": {
    valid: ["@alice:example.org", "@a.b_c=d-e/f+g:hs1:8008"],
    invalid: ["@Alice:example.org", "@:example.org", "@with space:example.org"],
  },
  "mx-room-id": {
    valid: ["!opaque:example.org", "!AbC123:127.0.0.1:8008", "!x:[::1]", "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM", "!acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk"],
    invalid: ["opaque:example.org", "!opaque", "!short", "$opaque:example.org", "!a:b:c"],
  },
  "mx-event-id": {
    valid: [
      "$a4ecee13e2accdadf56c1025:example.com", // room versions 1-2
      "$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk", // version 3
      "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg", // version 4+
      "$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o",
    ],
    invalid: ["a4ecee13e2accdadf56c1025:example.com", "$tooShort", "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg=", "!a:example.org", "$"],
  },
  "mx-room-alias": {
    valid: ["#room:example.org", "#Room With Spaces:example.org:8448", "#:example.org", "#ünïcode:hs"],
    invalid: ["room:example.org", "#room", "#ro:om:example.org"],
  },
  "mx-mxc-uri": {
    valid: ["mxc://example.org/SEsfnsuifSDFSSEF", "mxc://127.0.0.1:8008/abc_DEF-123", "mxc://[::1]:8008/x"],
    invalid: ["https://example.org/abc", "mxc://example.org/", "mxc://example.org/a/b", "mxc://example.org/a.png", "mxc:///abc"],
  },
  "mx-unpadded-base64": {
    valid: ["", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy", "ab+/"],
    invalid: ["Zg==", "Zm8=", "Z", "Zm9vY", "ab-_", "a b"],
  },
  "mx-urlsafe-unpadded-base64": {
    valid: ["", "Zg", "ab-_", "Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"],
    invalid: ["Zg==", "ab+/", "Z"],
  },
};

describe("formats of schemas/formats.json", () => {
  for (const [name, { valid, invalid }] of Object.entries(cases)) {
    it(`${name} accepts what the spec accepts`, () => {
      for (const v of valid) expect(spec.checkFormat(name, v), JSON.stringify(v)).toBe(true);
    });
    it(`${name} rejects what the spec rejects`, () => {
      for (const v of invalid) expect(spec.checkFormat(name, v), JSON.stringify(v)).toBe(false);
    });
  }

  it("limits identifiers to 255 bytes of UTF-8, not characters", () => {
    const fits = `@${"é".repeat(121)}:hs.example`; // 1 + 242 + 11 = 254 bytes, 133 characters
    const tooLong = `@${"é".repeat(122)}:hs.example`; // 256 bytes, 134 characters
    expect(Buffer.byteLength(fits)).toBe(254);
    expect(spec.checkFormat("mx-user-id", fits)).toBe(true);
    expect(spec.checkFormat("mx-user-id", tooLong)).toBe(false);
  });

  it("covers every custom format the spec data lists and uses", () => {
    expect(spec.warnings.filter((w) => w.startsWith("format"))).toEqual([]);
    expect(() => spec.checkFormat("mx-no-such-format", "x")).toThrow(/unknown format/);
  });

  it("is used by the validators", () => {
    const r = spec.validateResponse({
      method: "GET",
      path: "/_matrix/client/v3/account/whoami",
      status: 200,
      contentType: "application/json",
      body: { user_id: "@ok:[::1]:8448", device_id: "D" },
    });
    expect(r.errors).toEqual([]);
    const bad = spec.validateResponse({
      method: "GET",
      path: "/_matrix/client/v3/account/whoami",
      status: 200,
      contentType: "application/json",
      body: { user_id: "alice" },
    });
    expect(bad.errors.map((e) => `${e.instancePath} ${e.keyword}`)).toContain("/user_id format");
    expect(bad.errors.find((e) => e.keyword === "format")?.message).toContain("https://spec.matrix.org/v1.19/appendices/#historical-user-ids");
  });
});
