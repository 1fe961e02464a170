// X-Matrix signing, header parsing and verification, without a network.
// https://spec.matrix.org/v1.19/server-server-api/#request-authentication
import { describe, expect, test } from "vitest";
import { newSigningKey, parseXMatrix, signRequest, verifyRequest, formatXMatrix, requestSignature, type SignableRequest } from "../../harness/federation/index.ts";

const origin = "origin.example:8448";
const destination = "dest.example";
const key = newSigningKey("k1");
const other = newSigningKey("k2");
const req: SignableRequest = { method: "PUT", uri: "/_matrix/federation/v1/send/t1?x=1", origin, destination, content: { pdus: [], origin } };

const keyFor = async (o: string, keyId: string) => (o === origin && keyId === key.keyId ? key.publicKey : undefined);
const verify = (authorization: string | undefined, over: Partial<SignableRequest> = {}) =>
  verifyRequest({ method: over.method ?? req.method, uri: over.uri ?? req.uri, destination: over.destination ?? destination, authorization, content: "content" in over ? over.content : req.content, keyFor });

describe("parsing the Authorization header", () => {
  test("reads the four parameters of the header this harness writes", () => {
    const parsed = parseXMatrix(signRequest(req, key));
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.params).toMatchObject({ origin, destination, key: "ed25519:k1" });
  });

  test("accepts any order, spaces and tabs around commas, upper-case names, several spaces after the scheme", () => {
    const parsed = parseXMatrix(`X-Matrix   SIG="abc" ,\tKey="ed25519:k1" , Destination="d" ,origin="o"`);
    expect(parsed).toEqual({ ok: true, params: { origin: "o", destination: "d", key: "ed25519:k1", sig: "abc" }, all: { sig: "abc", key: "ed25519:k1", destination: "d", origin: "o" } });
  });

  test("accepts unquoted token values and unquoted values with colons", () => {
    const parsed = parseXMatrix("X-Matrix origin=origin.example:8448,key=ed25519:k1,sig=abc+def");
    expect(parsed.ok && parsed.params).toEqual({ origin: "origin.example:8448", key: "ed25519:k1", sig: "abc+def" });
  });

  test("unescapes backslash pairs in quoted values and ignores unknown parameters", () => {
    const parsed = parseXMatrix(String.raw`X-Matrix origin="a\"b\\c",key="ed25519:k1",sig="s",extra="whatever"`);
    expect(parsed.ok && parsed.params.origin).toBe(String.raw`a"b\c`);
  });

  test("formatXMatrix escapes what parseXMatrix unescapes", () => {
    const params = { origin: String.raw`we"ird\name`, destination: "d", key: "ed25519:k1", sig: "s" };
    const parsed = parseXMatrix(formatXMatrix(params));
    expect(parsed.ok && parsed.params).toEqual(params);
  });

  test.each([
    ["another scheme", "Bearer abc"],
    ["no space after the scheme", "X-Matrixorigin=o,key=k,sig=s"],
    ["a missing sig", 'X-Matrix origin="o",key="ed25519:k1"'],
    ["a missing origin", 'X-Matrix key="ed25519:k1",sig="s"'],
    ["an unterminated quote", 'X-Matrix origin="o,key="k",sig="s'],
    ["a parameter without '='", "X-Matrix origin"],
    ["an unquoted value with a slash", "X-Matrix origin=o,key=k,sig=a/b"],
  ])("refuses %s", (_name, header) => {
    expect(parseXMatrix(header).ok).toBe(false);
  });
});

describe("verifying a request", () => {
  test("accepts the request as signed", async () => {
    expect(await verify(signRequest(req, key))).toEqual({ ok: true, origin, keyId: "ed25519:k1" });
  });

  test("accepts a header without destination, checking the signature against its own name", async () => {
    const sig = requestSignature(req, key);
    expect((await verify(formatXMatrix({ origin, key: key.keyId, sig }))).ok).toBe(true);
  });

  test.each<[string, () => Promise<Awaited<ReturnType<typeof verify>>>, RegExp]>([
    ["a missing header", () => verify(undefined), /no Authorization header/],
    ["a malformed header", () => verify('X-Matrix origin="o"'), /lacks key, sig/],
    ["a corrupted signature", () => verify(signRequest(req, key).replace(/sig="(.)/, (_m, c: string) => `sig="${c === "A" ? "B" : "A"}`)), /does not verify/],
    ["a signature by an unpublished key", () => verify(signRequest(req, other)), /does not publish the key ed25519:k2/],
    ["a wrong destination", () => verify(signRequest({ ...req, destination: "elsewhere.example" }, key)), /not this server/],
    ["another body than the one signed", () => verify(signRequest(req, key), { content: { pdus: [], origin: "x" } }), /does not verify/],
    ["a body sent where none was signed", () => verify(signRequest({ ...req, content: undefined }, key)), /does not verify/],
    ["another query string than the one signed", () => verify(signRequest(req, key), { uri: "/_matrix/federation/v1/send/t1?x=2" }), /does not verify/],
    ["another method than the one signed", () => verify(signRequest(req, key), { method: "POST" }), /does not verify/],
  ])("refuses %s with 401 M_UNAUTHORIZED", async (_name, run, reason) => {
    const verdict = await run();
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(verdict).toMatchObject({ status: 401, errcode: "M_UNAUTHORIZED" });
      expect(verdict.reason).toMatch(reason);
    }
  });
});
