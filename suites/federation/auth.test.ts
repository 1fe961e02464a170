// Request authentication with the X-Matrix scheme. Spec: server-server-api/#request-authentication.
//
// Every refusal test first makes the same request correctly signed and requires it to succeed (the
// control), so a server that refuses everything, or cannot fetch the peer's keys, fails instead of
// passing by accident.
//
// Which statuses a refusal may use. The spec names one: a `destination` that is not the receiving
// server "must deny the request with an HTTP status code 401 Unauthorized". For the other failures
// it says only that every request is authenticated, and defers the header's syntax to RFC 9110
// §11.4, whose status semantics are taken here:
//   - no credentials (no header, another scheme): 401 (RFC 9110 §15.5.2, "lacks valid
//     authentication credentials");
//   - credentials that do not authenticate (bad signature, unknown key, signature over another
//     body or URI): 401, or 403 (RFC 9110 §15.5.4, credentials "insufficient to grant access");
//   - a header that does not parse: 400 (a malformed request) or 401.
// Every refusal must be a JSON object (server-server API standards); the spec names no errcode for these.
import { describe, expect, fed, formatXMatrix, signRequest, spec, test, type FederationPeer, type OutboundOptions, type UserClient } from "../../harness/fixtures/federation.ts";

const AUTH = "server-server-api/#request-authentication";

function profileQuery(peer: FederationPeer, user: UserClient, opts: OutboundOptions = {}) {
  return peer.request("GET", fed.v1`/query/profile`, { query: { user_id: user.userId }, ...opts });
}

async function control(peer: FederationPeer, user: UserClient): Promise<void> {
  const res = await profileQuery(peer, user);
  expect(res, "the same request correctly signed (the control) must be answered").toHaveStatus(200);
}

describe("requests that authenticate", () => {
  test("answers a request signed as the spec describes (origin, destination, key, sig)", spec(AUTH, "1.3"), async ({ peer, alice }) => {
    const res = await profileQuery(peer, alice);
    expect(res).toHaveStatus(200);
  });

  test("accepts the parameters in another order, with spaces and tabs around the commas", spec(AUTH, "1.11"), async ({ peer, alice }) => {
    // "Zero or more spaces and tabs around each comma are allowed. ... order does not matter."
    const res = await profileQuery(peer, alice, {
      authorization: (p) => `X-Matrix sig="${p.sig}" ,\tkey="${p.key}"\t,  destination="${p.destination}" , origin="${p.origin}"`,
    });
    expect(res).toHaveStatus(200);
  });

  test("accepts parameter names in upper case", spec(AUTH, "1.3"), async ({ peer, alice }) => {
    // "The names are case insensitive".
    const res = await profileQuery(peer, alice, {
      authorization: (p) => `X-Matrix ORIGIN="${p.origin}",DESTINATION="${p.destination}",KEY="${p.key}",SIG="${p.sig}"`,
    });
    expect(res).toHaveStatus(200);
  });

  test("accepts unquoted values with colons in origin and key (SHOULD, for older servers)", spec(AUTH, "1.3", { level: "SHOULD" }), async ({ peer, alice }) => {
    // "the recipient should allow colons to be included in values without requiring the value to
    // be enclosed in quotes." The signature stays quoted: base64 may hold '/', which a token may not.
    const res = await profileQuery(peer, alice, {
      authorization: (p) => `X-Matrix origin=${p.origin},destination=${p.destination},key=${p.key},sig="${p.sig}"`,
    });
    expect(res).toHaveStatus(200);
  });

  test("accepts a header without destination (SHOULD, for older servers)", spec(AUTH, "1.3", { level: "SHOULD" }), async ({ peer, alice }) => {
    // "For compatibility with older servers, recipients should accept requests without this parameter".
    const res = await profileQuery(peer, alice, { authorization: (p) => formatXMatrix({ origin: p.origin, key: p.key, sig: p.sig }) });
    expect(res).toHaveStatus(200);
  });
});

describe("requests that do not authenticate", () => {
  test("refuses a request without an Authorization header with 401", spec(AUTH, "1.0"), async ({ peer, alice }) => {
    await control(peer, alice);
    const res = await profileQuery(peer, alice, { authorization: null });
    expect(res).toBeRefused([401], "a request without credentials is refused with 401 (RFC 9110 §15.5.2)");
  });

  test("refuses a request whose Authorization header uses another scheme with 401", spec(AUTH, "1.0"), async ({ peer, alice }) => {
    await control(peer, alice);
    const res = await profileQuery(peer, alice, { authorization: `Bearer ${alice.accessToken}` });
    expect(res).toBeRefused([401], "a request without X-Matrix credentials is refused with 401 (RFC 9110 §15.5.2)");
  });

  test("refuses an X-Matrix header without its sig parameter with 400 or 401", spec(AUTH, "1.3"), async ({ peer, alice }) => {
    await control(peer, alice);
    const res = await profileQuery(peer, alice, { authorization: (p) => `X-Matrix origin="${p.origin}",destination="${p.destination}",key="${p.key}"` });
    expect(res).toBeRefused([400, 401], "a header that does not parse is a malformed request (400) or no valid credentials (401)");
  });

  test("refuses a signature that does not verify with 401 or 403", spec(AUTH, "1.0"), async ({ peer, alice }) => {
    await control(peer, alice);
    const res = await profileQuery(peer, alice, {
      authorization: (p) => formatXMatrix({ ...p, sig: `${p.sig.startsWith("A") ? "B" : "A"}${p.sig.slice(1)}` }),
    });
    expect(res).toBeRefused([401, 403], "a signature that does not verify does not authenticate the request");
  });

  test("refuses a request whose query string differs from the signed uri with 401 or 403", spec(AUTH, "1.0"), async ({ peer, alice, bob }) => {
    // The signature covers `uri`, the path "including the ? and any query parameters".
    await control(peer, alice);
    const res = await profileQuery(peer, alice, { authorization: (_p, req) => signRequest({ ...req, uri: req.uri.replace(encodeURIComponent(alice.userId), encodeURIComponent(bob.userId)) }, peer.signingKey) });
    expect(res).toBeRefused([401, 403], "a signature over another uri does not authenticate the request");
  });

  test("refuses a transaction whose body differs from the signed content with 401 or 403", spec(AUTH, "1.0"), async ({ peer }) => {
    // "content: <JSON-parsed request body>" is part of what is signed.
    const txn = () => ({ origin: peer.serverName, origin_server_ts: Date.now(), pdus: [] });
    const ok = await peer.request("PUT", fed.v1`/send/${peer.newTxnId()}`, { body: txn() });
    expect(ok, "the same transaction correctly signed (the control) must be answered").toHaveStatus(200);
    const body = txn();
    const res = await peer.request("PUT", fed.v1`/send/${peer.newTxnId()}`, {
      body,
      authorization: (_p, req) => signRequest({ ...req, content: { ...body, origin_server_ts: body.origin_server_ts + 1 } }, peer.signingKey),
    });
    expect(res).toBeRefused([401, 403], "a signature over another body does not authenticate the request");
  });

  test("refuses a signature by a key the origin does not publish with 401 or 403", spec(AUTH, "1.0"), async ({ peer, alice }) => {
    await control(peer, alice);
    const res = await profileQuery(peer, alice, { authorization: (_p, req) => signRequest(req, peer.unpublishedKey) });
    expect(res).toBeRefused([401, 403], `${peer.unpublishedKey.keyId} is not among the peer's verify_keys`);
  });

  test("refuses a request whose destination names another server with 401", spec(AUTH, "1.3"), async ({ peer, alice }) => {
    // "If this property is included, but the value does not match the receiving server's name, the
    // receiving server must deny the request with an HTTP status code 401 Unauthorized."
    await control(peer, alice);
    const res = await profileQuery(peer, alice, { authorization: (_p, req) => signRequest({ ...req, destination: "elsewhere.invalid" }, peer.signingKey) });
    expect(res).toBeRefused([401], "the spec requires 401 for a destination that is not the receiving server");
  });
});
