// The target's own requests carry valid X-Matrix authentication: a profile query the target sends
// names it as origin and the peer as destination, and verifies against the key it publishes.
// (That the suite's verifier refuses a tampered signature, URI or body is a property of the
// harness, tested in test/federation/request-tampering.test.ts, not something the target can fail.)
// Spec: server-server-api/#request-authentication.
import { cs, describe, expect, parseXMatrix, spec, test, verifyRequest, type FederationPeer, type InboundRequest, type UserClient } from "../../harness/fixtures/federation.ts";
import { serverNameOf } from "../../harness/crypto/index.ts";

const AUTH = "server-server-api/#request-authentication";

/** Makes the target query the peer for a profile; returns the request the peer received. */
async function capturedProfileQuery(peer: FederationPeer, alice: UserClient): Promise<InboundRequest> {
  let captured: InboundRequest | undefined;
  peer.route("GET", "/_matrix/federation/v1/query/profile", async (req) => {
    captured = req;
    return { status: 200, body: { displayname: "Bob at the peer" } };
  });
  const res = await alice.get(cs.v3`/profile/${`@bob:${peer.serverName}`}`);
  expect(res).toHaveStatus(200);
  expect(captured, "the target queried the peer for the profile").toBeDefined();
  return captured!;
}

describe("the target's outbound X-Matrix authentication", () => {
  test("a request the target sends is signed as its origin with a key it publishes, and the signature verifies", spec(AUTH, "1.0"), async ({ peer, alice }) => {
    // "Every HTTP request made by a homeserver is authenticated using public key digital
    // signatures", the origin's key, over method, uri, origin, destination and content.
    const req = await capturedProfileQuery(peer, alice);
    const header = req.authorization ?? "";
    const parsed = parseXMatrix(header);
    expect(parsed.ok, `the Authorization header parses as X-Matrix: ${header}`).toBe(true);
    const target = serverNameOf(alice.userId);
    if (parsed.ok) expect(parsed.params.origin, "origin names the target").toBe(target);
    const verdict = await verifyRequest({
      method: req.method,
      uri: req.uri,
      destination: peer.serverName,
      authorization: header,
      content: req.body,
      keyFor: (o, keyId) => peer.keyring.key(o, keyId, "request"),
    });
    expect(verdict.ok, `the signature verifies against the target's published key${verdict.ok ? "" : `: ${verdict.reason}`}`).toBe(true);
    expect(req.origin, "the peer authenticated the request as coming from the target").toBe(target);
  });

  test("a request the target sends names the receiving server in destination", spec(AUTH, "1.3"), async ({ peer, alice }) => {
    // destination: "the server name of the receiving server ... recipients should accept requests
    // without this parameter, but MUST always send it."
    const req = await capturedProfileQuery(peer, alice);
    const parsed = parseXMatrix(req.authorization ?? "");
    expect(parsed.ok, `the Authorization header parses as X-Matrix: ${req.authorization}`).toBe(true);
    if (parsed.ok) expect(parsed.params.destination, "the destination parameter").toBe(peer.serverName);
  });
});
