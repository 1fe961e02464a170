// Unpadded Base64 and URL-safe unpadded Base64:
// https://spec.matrix.org/v1.19/appendices/#unpadded-base64
import { describe, expect, it } from "vitest";
import {
  Base64Error,
  decodeBase64,
  decodeBase64Url,
  encodeBase64,
  encodeBase64Url,
} from "../../harness/crypto/index.ts";

const bytes = Uint8Array.from([0xfb, 0xff, 0xbf, 0x00, 0x3e]);

describe("base64", () => {
  it("uses + and / in the standard alphabet and - and _ in the URL-safe one, never padding", () => {
    expect(encodeBase64(bytes)).toBe("+/+/AD4");
    expect(encodeBase64Url(bytes)).toBe("-_-_AD4");
  });

  it("decodes padded input too, as implementations SHOULD", () => {
    expect(decodeBase64("Zg==")).toEqual(Uint8Array.from([0x66]));
    expect(decodeBase64("Zm8=")).toEqual(Uint8Array.from([0x66, 0x6f]));
    expect(decodeBase64Url("-_-_AD4=")).toEqual(bytes);
  });

  it.each([
    ["wrong alphabet", "-_-_AD4", decodeBase64],
    ["wrong alphabet (url-safe)", "+/+/AD4", decodeBase64Url],
    ["whitespace", "Zm9v YmFy", decodeBase64],
    ["impossible length", "Zm9vY", decodeBase64],
    ["too much padding", "Zg===", decodeBase64],
    ["padding making a bad length", "Zm8==", decodeBase64],
    ["padding in the middle", "Zg==Zg==", decodeBase64],
    ["non-ASCII", "Zm9é", decodeBase64],
  ])("rejects %s", (_name, text, decode) => {
    expect(() => decode(text)).toThrow(Base64Error);
  });

  it("ignores non-zero trailing bits unless strict", () => {
    expect(decodeBase64("Zh")).toEqual(Uint8Array.from([0x66]));
    expect(() => decodeBase64("Zh", { strict: true })).toThrow(/trailing bits/);
    expect(decodeBase64("Zg", { strict: true })).toEqual(Uint8Array.from([0x66]));
  });
});
