// The target's signing keys: its key document, and notary queries for its own and other servers'
// keys. Spec: server-server-api/#retrieving-server-keys, #publishing-keys,
// #querying-keys-through-another-server.
import { checkJsonSignature } from "../../harness/crypto/index.ts";
import {
  checkServerKeys,
  describe,
  expect,
  expectOk,
  fed,
  spec,
  test,
  type FederationPeer,
  type Response,
  type ServerKeysCheck,
} from "../../harness/fixtures/federation.ts";

async function targetKeys(peer: FederationPeer, serverName: string): Promise<{ res: Response; check: ServerKeysCheck }> {
  const res = await peer.request("GET", fed.key`/server`, { authorization: null, destination: serverName });
  expect(res).toHaveStatus(200);
  return { res, check: checkServerKeys(res.body, serverName) };
}

const isSignatureProblem = (p: string) => p.startsWith("self-signature") || p.startsWith("no signature") || p.includes("carries no signature") || p.startsWith("signed by");

describe("GET /_matrix/key/v2/server", () => {
  test("names the server and lists ed25519 verify keys: unpadded base64 of 32 bytes, key versions of [a-zA-Z0-9_]", spec("server-server-api/#get_matrixkeyv2server", "1.0"), async ({ peer, federation }) => {
    const { check } = await targetKeys(peer, federation.serverName);
    expect(check.problems.filter((p) => !isSignatureProblem(p)), "problems with the key document's fields").toEqual([]);
    expect(Object.keys(check.verifyKeys).length, "verify_keys lists at least one ed25519 key").toBeGreaterThan(0);
  });

  test("is signed by the server itself with its verify keys, and every such signature verifies", spec("server-server-api/#get_matrixkeyv2server", "1.0"), async ({ peer, federation }) => {
    // The act is one GET /_matrix/key/v2/server. Its `signatures`: "Digital signatures for this
    // object signed using the `verify_keys`" (see also #publishing-keys).
    const { check } = await targetKeys(peer, federation.serverName);
    expect(check.problems.filter(isSignatureProblem), "problems with the document's self-signature").toEqual([]);
    expect(check.verifiedBy.length, "at least one signature by a listed verify key verifies").toBeGreaterThan(0);
  });

  test("has a valid_until_ts in the future", spec("server-server-api/#get_matrixkeyv2server", "1.0"), async ({ peer, federation }) => {
    const { check } = await targetKeys(peer, federation.serverName);
    expect(check.validUntilTs, "valid_until_ts is an integer timestamp").toBeTypeOf("number");
    expect(check.validUntilTs!, `valid_until_ts ${new Date(check.validUntilTs ?? 0).toISOString()} is not after now`).toBeGreaterThan(Date.now());
  });

  test("has a valid_until_ts at least an hour ahead (SHOULD)", spec("server-server-api/#get_matrixkeyv2server", "1.0", { level: "SHOULD" }), async ({ peer, federation }) => {
    // "Originating servers should avoid returning responses that expire in less than an hour to
    // avoid repeated requests for a certificate that is about to expire."
    const { check } = await targetKeys(peer, federation.serverName);
    expect(check.validUntilTs ?? 0, "valid_until_ts is less than an hour ahead").toBeGreaterThanOrEqual(Date.now() + 3_600_000 - 60_000);
  });
  // That the published keys verify the target's own requests is checked in inbound-auth.test.ts.
});

describe("notary key queries", () => {
  /** Skips when the target answers the query endpoints as unknown: being a notary is optional. */
  const queryOrSkip = async (res: Response, skip: (note: string) => never) => {
    if (res.status === 404 && res.body?.errcode === "M_UNRECOGNIZED") skip("the target does not serve /_matrix/key/v2/query (it is not a notary server)");
    expect(res).toHaveStatus(200);
    expect(Array.isArray(res.body?.server_keys), "server_keys is an array").toBe(true);
  };
  const notarySignatureOk = async (peer: FederationPeer, notary: string, doc: object) => {
    const keys = await peer.keyring.eventKeys(notary);
    return checkJsonSignature(doc, notary, keys, { strict: false });
  };

  test("GET /query/{serverName} naming the notary itself returns its own key document", spec("server-server-api/#get_matrixkeyv2queryservername", "1.0"), async ({ peer, federation, skip }) => {
    // The 200 response holds "The keys for the server, or an empty array if the server could not
    // be reached and no cached keys were available": the notary can always reach itself.
    const res = await peer.request("GET", fed.key`/query/${federation.serverName}`, { authorization: null });
    await queryOrSkip(res, skip);
    const own = (res.body.server_keys as Array<Record<string, unknown>>).filter((d) => d.server_name === federation.serverName);
    expect(own.length, `server_keys has a document for ${federation.serverName}`).toBeGreaterThan(0);
    const { check: direct } = await targetKeys(peer, federation.serverName);
    for (const doc of own) {
      const check = checkServerKeys(doc, federation.serverName);
      expect(check.problems, "problems with the returned key document").toEqual([]);
      expect(Object.keys(check.verifyKeys).sort(), "the same verify keys as /_matrix/key/v2/server").toEqual(Object.keys(direct.verifyKeys).sort());
    }
  });

  test("GET /query/{serverName} for another, reachable server returns that server's keys, signed by it and by the notary", spec("server-server-api/#get_matrixkeyv2queryservername", "1.0"), async ({ peer, newPeer, federation, skip }) => {
    // An empty array is allowed only "if the server could not be reached and no cached keys were
    // available"; the queried peer is up and serves its keys.
    const other = await newPeer({ label: "queried peer" });
    const res = await peer.request("GET", fed.key`/query/${other.serverName}`, { authorization: null });
    await queryOrSkip(res, skip);
    const docs = (res.body.server_keys as Array<Record<string, unknown>>).filter((d) => d.server_name === other.serverName);
    expect(docs.length, `server_keys has a document for ${other.serverName}`).toBeGreaterThan(0);
    for (const doc of docs) {
      const check = checkServerKeys(doc, other.serverName);
      expect(check.problems, "the queried server's own signature and fields survive").toEqual([]);
      expect(check.verifyKeys[other.signingKey.keyId], "the queried server's key").toEqual(other.signingKey.publicKey);
      // "The receiving (notary) server must sign the keys returned by the queried server."
      expectOk(await notarySignatureOk(peer, federation.serverName, doc), "the notary's signature on the document");
    }
  });

  test("POST /query naming another server without key IDs queries it and returns its keys, signed by the notary (SHOULD)", spec("server-server-api/#post_matrixkeyv2query", "1.0", { level: "SHOULD" }), async ({ peer, newPeer, federation, skip }) => {
    // "If no key IDs are given to be queried, the notary server should query for all keys", and
    // only "Servers which are offline and have no cached keys will not be included in the result."
    const other = await newPeer({ label: "queried peer" });
    const res = await peer.request("POST", fed.key`/query`, { authorization: null, body: { server_keys: { [other.serverName]: {} } } });
    await queryOrSkip(res, skip);
    const docs = (res.body.server_keys as Array<Record<string, unknown>>).filter((d) => d.server_name === other.serverName);
    expect(docs.length, `server_keys has a document for ${other.serverName}`).toBeGreaterThan(0);
    for (const doc of docs) {
      expect(checkServerKeys(doc, other.serverName).problems, `faults of the notary's copy of ${other.serverName}'s key document`).toEqual([]);
      expectOk(await notarySignatureOk(peer, federation.serverName, doc), "the notary's signature on the document");
    }
  });

  test("POST /query naming a key ID of another server returns that server's keys, signed by it and by the notary", spec("server-server-api/#post_matrixkeyv2query", "1.0"), async ({ peer, newPeer, federation, skip }) => {
    const other = await newPeer({ label: "queried peer" });
    const res = await peer.request("POST", fed.key`/query`, {
      authorization: null,
      body: { server_keys: { [other.serverName]: { [other.signingKey.keyId]: { minimum_valid_until_ts: Date.now() } } } },
    });
    await queryOrSkip(res, skip);
    const docs = (res.body.server_keys as Array<Record<string, unknown>>).filter((d) => d.server_name === other.serverName);
    expect(docs.length, `server_keys has a document for ${other.serverName}`).toBeGreaterThan(0);
    for (const doc of docs) {
      expect(checkServerKeys(doc, other.serverName).problems, "the queried server's own signature and fields survive").toEqual([]);
      expectOk(await notarySignatureOk(peer, federation.serverName, doc), "the notary's signature on the document");
    }
  });

  test("POST /query accepts a key ID's criteria without minimum_valid_until_ts", spec("server-server-api/#post_matrixkeyv2query", "1.0"), async ({ peer, newPeer, skip }) => {
    // minimum_valid_until_ts is optional: "If not supplied, the notary server MUST use the current time."
    const other = await newPeer({ label: "queried peer" });
    const res = await peer.request("POST", fed.key`/query`, { authorization: null, body: { server_keys: { [other.serverName]: { [other.signingKey.keyId]: {} } } } });
    await queryOrSkip(res, skip);
    const docs = (res.body.server_keys as Array<Record<string, unknown>>).filter((d) => d.server_name === other.serverName);
    expect(docs.length, `server_keys has a document for ${other.serverName}`).toBeGreaterThan(0);
  });

  test("POST /query naming no server returns an empty server_keys array", spec("server-server-api/#post_matrixkeyv2query", "1.0"), async ({ peer, skip }) => {
    // "If no servers are given, the notary server must return an empty server_keys array in the response."
    const res = await peer.request("POST", fed.key`/query`, { authorization: null, body: { server_keys: {} } });
    await queryOrSkip(res, skip);
    expect(res.body.server_keys, "server_keys for a query naming no server").toEqual([]);
  });
});
