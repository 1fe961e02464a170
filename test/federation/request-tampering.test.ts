// The verifier the suites rely on (verifyRequest with a peer's keyring) refuses a captured request
// once its signature, URI or body is altered. This was part of suites/federation/inbound-auth.test.ts,
// where the target could not make it fail; here the captured request is one peer's profile query
// to another, taken off the wire as the suite took the target's.
// https://spec.matrix.org/v1.19/server-server-api/#request-authentication
import { describe, expect, test } from "vitest";
import { fed, formatXMatrix, parseXMatrix, verifyRequest, type InboundRequest } from "../../harness/federation/index.ts";
import { startPair } from "./helpers.ts";

describe("verifying a captured request", () => {
  test("the genuine request verifies; a corrupted signature, another URI or an added body does not", async () => {
    const { a, b } = await startPair();
    let captured: InboundRequest | undefined;
    b.route("GET", "/_matrix/federation/v1/query/profile", async (req) => {
      captured = req;
      return { status: 200, body: { displayname: "Bob" } };
    });
    const res = await a.request("GET", fed.v1`/query/profile`, { destination: b.serverName, query: { user_id: b.userId("bob") } });
    expect(res.status).toBe(200);
    expect(captured).toBeDefined();
    const req = captured!;
    expect(req.origin).toBe(a.serverName);
    const header = req.authorization ?? "";
    const parsed = parseXMatrix(header);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const check = (over: { authorization?: string; uri?: string; content?: unknown }) =>
      verifyRequest({
        method: req.method,
        uri: over.uri ?? req.uri,
        destination: b.serverName,
        authorization: over.authorization ?? header,
        content: "content" in over ? over.content : req.body,
        keyFor: (o, keyId) => b.keyring.key(o, keyId, "request"),
      });

    expect((await check({})).ok, "the genuine request").toBe(true);
    const sig = parsed.params.sig;
    const flipped = `${sig[0] === "A" ? "B" : "A"}${sig.slice(1)}`;
    expect((await check({ authorization: formatXMatrix({ ...parsed.params, sig: flipped }) })).ok, "a corrupted signature").toBe(false);
    expect((await check({ uri: req.uri.replace("user_id=", "user_id=x") })).ok, "another URI").toBe(false);
    expect((await check({ content: { injected: true } })).ok, "a body where none was signed").toBe(false);
  });
});
