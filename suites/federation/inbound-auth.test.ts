// The target's own requests carry valid X-Matrix signatures, and the suite's verifier is strict
// enough to notice when one of them is tampered with: a genuine request the target sent verifies;
// the same request with its signature, its URI or its body altered does not.
// Spec: server-server-api/#request-authentication.
import { cs, describe, expect, formatXMatrix, parseXMatrix, spec, test, verifyRequest, type InboundRequest } from "../../harness/fixtures/federation.ts";

const AUTH = "server-server-api/#request-authentication";

describe("the target's outbound X-Matrix authentication", () => {
  test("a profile query the target sends is signed by it, and altering its signature, URI or body breaks the signature", spec(AUTH, "1.0"), async ({ peer, alice }) => {
    let captured: InboundRequest | undefined;
    peer.route("GET", "/_matrix/federation/v1/query/profile", async (req) => {
      captured = req;
      return { status: 200, body: { displayname: "Bob at the peer" } };
    });
    const res = await alice.get(cs.v3`/profile/${`@bob:${peer.serverName}`}`);
    expect(res).toHaveStatus(200);
    expect(captured, "the target queried the peer for the profile").toBeDefined();
    const req = captured!;
    expect(req.origin, "the peer authenticated the request as coming from the target").toBe(alice.userId.split(":").slice(1).join(":"));
    const header = req.authorization ?? "";
    const parsed = parseXMatrix(header);
    expect(parsed.ok, `the Authorization header parses as X-Matrix: ${header}`).toBe(true);
    const check = (over: { authorization?: string; uri?: string; content?: unknown }) =>
      verifyRequest({
        method: req.method,
        uri: over.uri ?? req.uri,
        destination: peer.serverName,
        authorization: over.authorization ?? header,
        content: "content" in over ? over.content : req.body,
        keyFor: (o, keyId) => peer.keyring.key(o, keyId, "request"),
      });

    expect((await check({})).ok, "the genuine request verifies against the target's published key").toBe(true);
    if (!parsed.ok) return;
    const sig = parsed.params.sig;
    const flipped = `${sig[0] === "A" ? "B" : "A"}${sig.slice(1)}`;
    const corrupted = await check({ authorization: formatXMatrix({ ...parsed.params, sig: flipped }) });
    expect(corrupted.ok, "a corrupted signature must not verify").toBe(false);
    const otherUri = await check({ uri: req.uri.replace("user_id=", "user_id=x") });
    expect(otherUri.ok, "the signature covers the URI").toBe(false);
    const withBody = await check({ content: { injected: true } });
    expect(withBody.ok, "the signature covers the body").toBe(false);
  });
});
