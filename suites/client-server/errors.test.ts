// API standards for errors: unknown endpoints and methods, request bodies that are not JSON or not
// the JSON the endpoint needs, and the standard error response every error comes in.
// Spec: client-server-api/#api-standards, #standard-error-response, #common-error-codes,
// #other-error-codes.
import { cs, describe, expect, spec, test, uniqueLocalpart, type MatrixClient, type Response, type UserClient } from "../../harness/fixtures/index.ts";

/** A path under the client-server prefix that no version of the spec defines. */
function unknownPath(): string {
  return cs.v3`/org.matrix.conformance/no_such_endpoint/${uniqueLocalpart("x")}`;
}

const NOT_JSON = '{"name": "unterminated';

function accountDataPath(userId: string, type = "org.matrix.conformance.errors"): string {
  return cs.v3`/user/${userId}/account_data/${type}`;
}

// A body that is valid JSON but not the JSON object the endpoint needs. The common codes define
// M_BAD_JSON for valid but malformed JSON, and the endpoints that accept a JSON object (createRoom,
// account data, invite) name both M_BAD_JSON and M_NOT_JSON for a body that is not a JSON object.
const NOT_AN_OBJECT = "a body that is JSON but not a JSON object is refused with 400 M_BAD_JSON or M_NOT_JSON";

describe("Unknown endpoints and methods", () => {
  test("answers a GET to an unknown endpoint with 404 M_UNRECOGNIZED", spec("client-server-api/#common-error-codes", "1.6", { msc: "MSC3743" }), async ({ alice }) => {
    const res = await alice.get(unknownPath());
    expect(res).toBeMatrixError(404, "M_UNRECOGNIZED");
  });

  test("answers a POST to an unknown endpoint with 404 M_UNRECOGNIZED", spec("client-server-api/#common-error-codes", "1.6", { msc: "MSC3743" }), async ({ alice }) => {
    const res = await alice.post(unknownPath(), {});
    expect(res).toBeMatrixError(404, "M_UNRECOGNIZED");
  });

  test("answers an unauthenticated request to an unknown endpoint with 404 M_UNRECOGNIZED", spec("client-server-api/#common-error-codes", "1.6", { msc: "MSC3743" }), async ({ api }) => {
    const res = await api.get(unknownPath(), { token: null });
    expect(res).toBeMatrixError(404, "M_UNRECOGNIZED");
  });

  test("answers a known endpoint called with a method it does not support with 405 M_UNRECOGNIZED", spec("client-server-api/#common-error-codes", "1.6", { msc: "MSC3743" }), async ({ alice }) => {
    const res = await alice.request("DELETE", cs.v3`/account/whoami`);
    expect(res).toBeMatrixError(405, "M_UNRECOGNIZED");
  });

  test("answers a PUT to /_matrix/client/versions, a GET-only endpoint, with 405 M_UNRECOGNIZED", spec("client-server-api/#common-error-codes", "1.6", { msc: "MSC3743" }), async ({ api }) => {
    const res = await api.put(cs.raw`/_matrix/client/versions`, {}, { token: null });
    expect(res).toBeMatrixError(405, "M_UNRECOGNIZED");
  });
});

// The endpoints below name M_BAD_JSON and M_NOT_JSON for a malformed body; of the two common codes,
// M_NOT_JSON is the one defined for a body that is not valid JSON at all.
describe("Request bodies that are not JSON", () => {
  test("rejects a createRoom body that does not parse as JSON with 400 M_NOT_JSON", spec("client-server-api/#post_matrixclientv3createroom", "1.0"), async ({ alice }) => {
    const res = await alice.request("POST", cs.v3`/createRoom`, { rawBody: NOT_JSON });
    expect(res).toBeMatrixError(400, "M_NOT_JSON");
  });

  test("rejects an invite body that does not parse as JSON with 400 M_NOT_JSON", spec("client-server-api/#post_matrixclientv3roomsroomidinvite", "1.0"), async ({ alice }) => {
    const roomId = await alice.createRoom();
    const res = await alice.request("POST", cs.v3`/rooms/${roomId}/invite`, { rawBody: NOT_JSON });
    expect(res).toBeMatrixError(400, "M_NOT_JSON");
  });

  test("rejects an account data body that does not parse as JSON with 400 M_NOT_JSON, and stores nothing", spec("client-server-api/#put_matrixclientv3useruseridaccount_datatype", "1.0"), async ({ alice }) => {
    const res = await alice.request("PUT", accountDataPath(alice.userId), { rawBody: NOT_JSON });
    expect(res).toBeMatrixError(400, "M_NOT_JSON");
    expect(await alice.get(accountDataPath(alice.userId))).toBeMatrixError(404, "M_NOT_FOUND");
  });
});

describe("JSON bodies of the wrong shape", () => {
  test("rejects an account data body that is a JSON array with 400 M_BAD_JSON or M_NOT_JSON, and stores nothing", spec("client-server-api/#put_matrixclientv3useruseridaccount_datatype", "1.0"), async ({ alice }) => {
    const res = await alice.request("PUT", accountDataPath(alice.userId), { rawBody: '[{"colour": "green"}]' });
    expect(res).toBeMatrixError(400, ["M_BAD_JSON", "M_NOT_JSON"], NOT_AN_OBJECT);
    expect(await alice.get(accountDataPath(alice.userId))).toBeMatrixError(404, "M_NOT_FOUND");
  });

  test("rejects an account data body that is a JSON string with 400 M_BAD_JSON or M_NOT_JSON", spec("client-server-api/#put_matrixclientv3useruseridaccount_datatype", "1.0"), async ({ alice }) => {
    const res = await alice.request("PUT", accountDataPath(alice.userId), { rawBody: '"green"' });
    expect(res).toBeMatrixError(400, ["M_BAD_JSON", "M_NOT_JSON"], NOT_AN_OBJECT);
  });

  test("rejects a createRoom body that is a JSON array with 400 M_BAD_JSON or M_NOT_JSON", spec("client-server-api/#post_matrixclientv3createroom", "1.0"), async ({ alice }) => {
    const res = await alice.request("POST", cs.v3`/createRoom`, { rawBody: '[{"preset": "private_chat"}]' });
    expect(res).toBeMatrixError(400, ["M_BAD_JSON", "M_NOT_JSON"], NOT_AN_OBJECT);
  });

  test("rejects a profile update without the field named in the path with 400 M_MISSING_PARAM", spec("client-server-api/#put_matrixclientv3profileuseridkeyname", "1.16"), async ({ alice }) => {
    const res = await alice.put(cs.v3`/profile/${alice.userId}/displayname`, { avatar_url: "mxc://example.org/abc" });
    expect(res).toBeMatrixError(400, "M_MISSING_PARAM");
  });

  test("rejects a displayname that is not a string with 400 M_BAD_JSON or M_INVALID_PARAM", spec("client-server-api/#put_matrixclientv3profileuseridkeyname", "1.0"), async ({ alice }) => {
    const res = await alice.put(cs.v3`/profile/${alice.userId}/displayname`, { displayname: 42 });
    // A value of the wrong type: M_BAD_JSON covers invalid values for keys, M_INVALID_PARAM a
    // parameter with the wrong value.
    expect(res).toBeMatrixError(400, ["M_BAD_JSON", "M_INVALID_PARAM"], "a displayname that is not a string is an invalid value (M_BAD_JSON) or parameter (M_INVALID_PARAM)");
  });
});

/** One way to provoke an error, for the standard error response checks. */
interface ErrorCase {
  what: string;
  provoke: (ctx: { api: MatrixClient; alice: UserClient; bob: UserClient }) => Promise<Response>;
}

// One provocation per layer of a server that produces errors (routing: unknown endpoint and
// unsupported method; body parsing; access-token authentication; an endpoint's own checks;
// login), rather than several from the same layer: a second missing-or-unknown token or a
// second account-data error reaches the same code path as the one kept.
const cases: ErrorCase[] = [
  { what: "404 for an unknown endpoint", provoke: ({ alice }) => alice.get(unknownPath()) },
  { what: "405 for an unsupported method", provoke: ({ alice }) => alice.request("DELETE", cs.v3`/account/whoami`) },
  { what: "400 for a body that is not JSON", provoke: ({ alice }) => alice.request("POST", cs.v3`/createRoom`, { rawBody: NOT_JSON }) },
  { what: "401 for a missing access token", provoke: ({ api }) => api.get(cs.v3`/account/whoami`, { token: null }) },
  { what: "403 for another user's account data", provoke: ({ alice, bob }) => alice.get(accountDataPath(bob.userId)) },
  { what: "403 for a wrong password", provoke: ({ api, alice }) => api.post(cs.v3`/login`, { type: "m.login.password", identifier: { type: "m.id.user", user: alice.userId }, password: "wrong" }, { token: null }) },
];

describe("Standard error response", () => {
  for (const c of cases) {
    test(`the ${c.what} is a JSON object with string errcode and error, served as application/json`, spec("client-server-api/#standard-error-response", "1.0"), async ({ api, alice, bob }) => {
      const res = await c.provoke({ api, alice, bob });
      expect(res.status, "the request must fail").toBeGreaterThanOrEqual(400);
      expect(res.headers["content-type"], "JSON responses must be served as application/json").toMatch(/^application\/json\b/i);
      expect(res.json, "the body must parse as JSON").toBe(true);
      expect(typeof res.body === "object" && res.body !== null && !Array.isArray(res.body), "the body must be a JSON object").toBe(true);
      expect(typeof res.body.errcode, "errcode must always be present").toBe("string");
      expect(typeof res.body.error, "error must always be present").toBe("string");
    });
  }
});
