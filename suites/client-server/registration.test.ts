// Account registration with the legacy API: username availability, the user-interactive
// authentication of POST /register, the user IDs it allocates and the devices it creates.
// Spec: client-server-api/#post_matrixclientv3register, #get_matrixclientv3registeravailable,
// #user-interactive-authentication-api, #dummy-auth; appendices/#user-identifiers.
//
// The target must allow open registration with an m.login.dummy-only flow; when it does not, the
// helper below fails with a readable precondition error rather than a misleading assertion.
import { cs, describe, expect, localpartOf, spec, StepFailed, test, uniqueLocalpart, type MatrixClient, type Response } from "../../harness/fixtures/index.ts";

/** A password that no other test uses. */
function newPassword(): string {
  return `pw-${uniqueLocalpart("secret")}`;
}

/** The localpart of a user ID: between the sigil and the first colon. */
/**
 * Asserts that a user ID was allocated by this server and follows the user ID grammar: the domain
 * is the server's name, the localpart is non-empty and uses only a-z 0-9 . _ = - / +, and the whole
 * ID fits in 255 bytes.
 */
function expectLocalUserId(userId: unknown, serverName: string): void {
  expect(typeof userId, "user_id must be a string").toBe("string");
  const id = userId as string;
  expect(id.startsWith("@"), `${id} must start with the @ sigil`).toBe(true);
  expect(id.slice(id.indexOf(":") + 1), `the domain of ${id} must be this server's name`).toBe(serverName);
  expect(localpartOf(id), `the localpart of ${id} must follow the user ID grammar`).toMatch(/^[a-z0-9._=\-/+]+$/);
  expect(Buffer.byteLength(id, "utf8"), `${id} must not exceed 255 bytes`).toBeLessThanOrEqual(255);
}

/** POST /register with no `auth`: the request that opens a user-interactive authentication session. */
function registerWithoutAuth(api: MatrixClient, body: Record<string, unknown>): Promise<Response> {
  return api.request("POST", cs.v3`/register`, { token: null, body });
}

/**
 * Completes POST /register through an m.login.dummy-only flow, given the 401 answer to the same
 * request without auth. Passes the session back when the server gave one.
 */
async function completeWithDummy(api: MatrixClient, body: Record<string, unknown>, first: Response): Promise<Response> {
  const flows = (first.body?.flows ?? []) as Array<{ stages?: string[] }>;
  const dummyOnly = flows.some((f) => f.stages?.length === 1 && f.stages[0] === "m.login.dummy");
  if (!dummyOnly) {
    throw new StepFailed("find a registration flow made of m.login.dummy alone", first.exchange, "these tests need a target with open registration");
  }
  const session = first.body?.session as string | undefined;
  const auth = session === undefined ? { type: "m.login.dummy" } : { type: "m.login.dummy", session };
  return api.request("POST", cs.v3`/register`, { token: null, body: { ...body, auth } });
}

describe("GET /_matrix/client/v3/register/available", () => {
  test("answers 200 with available: true for a username nobody has", spec("client-server-api/#get_matrixclientv3registeravailable", "1.0"), async ({ api }) => {
    const res = await api.get(cs.v3`/register/available`, { query: { username: uniqueLocalpart("free") } });
    expect(res).toHaveStatus(200);
    expect(res.body.available, "a 200 answer must say available: true").toBe(true);
  });

  test("rejects a username that is taken with 400 M_USER_IN_USE", spec("client-server-api/#get_matrixclientv3registeravailable", "1.0"), async ({ api, alice }) => {
    const res = await api.get(cs.v3`/register/available`, { query: { username: localpartOf(alice.userId) } });
    expect(res).toBeMatrixError(400, "M_USER_IN_USE");
  });

  test(
    "rejects a username with characters outside the localpart grammar with 400 M_INVALID_USERNAME, unless the server would map it at registration",
    spec("client-server-api/#get_matrixclientv3registeravailable", "1.0"),
    async ({ api, deployment }) => {
      const username = `${uniqueLocalpart("bad")} with space!#`;
      const res = await api.get(cs.v3`/register/available`, { query: { username } });
      if (res.status === 200) {
        // The endpoint checks validity "for the server"; POST /register may map a non-conforming
        // username onto a valid user ID instead of rejecting it. A server that calls this name
        // available must then register it, under a valid user ID.
        expect(res.body.available, "a 200 answer must say available: true").toBe(true);
        const body = { username, password: newPassword() };
        const first = await registerWithoutAuth(api, body);
        expect(first, "/register/available said the name is valid, so /register must proceed to authentication").toHaveStatus(401);
        const final = await completeWithDummy(api, body, first);
        expect(final).toHaveStatus(200);
        expectLocalUserId(final.body.user_id, deployment.serverName);
      } else {
        expect(res).toBeMatrixError(400, "M_INVALID_USERNAME");
      }
    },
  );
});

/**
 * Registers a username outside the localpart grammar. The server MUST either map a non-conforming
 * username logically or reject it with M_INVALID_USERNAME; the rejection comes before
 * authentication, so a server that maps it asks for auth (401) and then allocates a valid user ID.
 */
async function expectMappedOrInvalidUsername(api: MatrixClient, username: string, serverName: string): Promise<void> {
  const body = { username, password: newPassword() };
  const first = await registerWithoutAuth(api, body);
  if (first.status === 400) {
    expect(first).toBeMatrixError(400, "M_INVALID_USERNAME");
    return;
  }
  expect(first, "a server that maps the username must go on to authentication").toHaveStatus(401);
  const res = await completeWithDummy(api, body, first);
  expect(res).toHaveStatus(200);
  expectLocalUserId(res.body.user_id, serverName);
}

describe("POST /_matrix/client/v3/register: user-interactive authentication", () => {
  test(
    "answers a registration without auth with 401 and the flows to complete, and creates no account yet",
    spec("client-server-api/#user-interactive-authentication-api", "1.0"),
    async ({ api }) => {
      const username = uniqueLocalpart("uia");
      const res = await registerWithoutAuth(api, { username, password: newPassword() });
      expect(res).toHaveStatus(401);
      expect(res.body.flows, "the 401 answer must offer at least one flow").not.toHaveLength(0);
      for (const flow of res.body.flows as Array<{ stages: string[] }>) {
        expect(flow.stages, "every flow lists at least one stage").not.toHaveLength(0);
      }
      // An endpoint using user-interactive authentication never succeeds without auth data.
      const check = await api.get(cs.v3`/register/available`, { query: { username } });
      expect(check, "the username must still be free after a registration without auth").toHaveStatus(200);
      expect(check.body.available, "the username is still available after a registration without auth data").toBe(true);
    },
  );

  test(
    "registers and logs in the account once the m.login.dummy stage is completed with the session",
    // #dummy-auth: the m.login.dummy stage completes with the session alone.
    spec("client-server-api/#post_matrixclientv3register", "1.0"),
    async ({ api }) => {
      const body = { username: uniqueLocalpart("dummy"), password: newPassword() };
      const first = await registerWithoutAuth(api, body);
      expect(first).toHaveStatus(401);
      const res = await completeWithDummy(api, body, first);
      expect(res).toHaveStatus(200);
      // access_token and device_id are required when inhibit_login is false (its default).
      expect(typeof res.body.access_token, "access_token is required unless inhibit_login is true").toBe("string");
      expect(typeof res.body.device_id, "device_id is required unless inhibit_login is true").toBe("string");
      const who = await api.get(cs.v3`/account/whoami`, { token: res.body.access_token });
      expect(who).toHaveStatus(200);
      expect(who.body.user_id, "the returned access token must belong to the registered user").toBe(res.body.user_id);
    },
  );

  test("rejects a taken username with 400 M_USER_IN_USE before any authentication", spec("client-server-api/#post_matrixclientv3register", "1.0"), async ({ api, alice }) => {
    // The relevant checks must be made before user-interactive authentication, so the first
    // request (without auth) already fails with the error rather than with a 401.
    const res = await registerWithoutAuth(api, { username: localpartOf(alice.userId), password: newPassword() });
    expect(res).toBeMatrixError(400, "M_USER_IN_USE");
  });

  test(
    "rejects an upper-case username with 400 M_INVALID_USERNAME or maps it onto a valid user ID",
    spec("client-server-api/#post_matrixclientv3register", "1.0"),
    async ({ api, deployment }) => {
      await expectMappedOrInvalidUsername(api, uniqueLocalpart("upper").toUpperCase(), deployment.serverName);
    },
  );

  test(
    "rejects a username with characters outside the localpart grammar with 400 M_INVALID_USERNAME or maps it onto a valid user ID",
    spec("client-server-api/#post_matrixclientv3register", "1.0"),
    async ({ api, deployment }) => {
      await expectMappedOrInvalidUsername(api, `${uniqueLocalpart("chars")} *!#é`, deployment.serverName);
    },
  );
});

describe("POST /_matrix/client/v3/register: the registered account", () => {
  test("allocates the user ID on this server, with a localpart that follows the user ID grammar", spec("client-server-api/#post_matrixclientv3register", "1.0"), async ({ api, deployment }) => {
    // The grammar is appendices/#user-identifiers.
    const body = { username: uniqueLocalpart("domain"), password: newPassword() };
    const res = await completeWithDummy(api, body, await registerWithoutAuth(api, body));
    expect(res).toHaveStatus(200);
    expectLocalUserId(res.body.user_id, deployment.serverName);
  });

  test("generates a localpart when the request gives no username", spec("client-server-api/#post_matrixclientv3register", "1.0"), async ({ api, deployment }) => {
    const body = { password: newPassword() };
    const res = await completeWithDummy(api, body, await registerWithoutAuth(api, body));
    expect(res).toHaveStatus(200);
    expectLocalUserId(res.body.user_id, deployment.serverName);
  });

  test("returns no access_token or device_id when inhibit_login is true, and the account can log in", spec("client-server-api/#post_matrixclientv3register", "1.0"), async ({ api }) => {
    // The request body's inhibit_login parameter (see the anchor) exists to prevent the automatic
    // login, so neither credential comes back; the account itself is created.
    const password = newPassword();
    const body = { username: uniqueLocalpart("inhibit"), password, inhibit_login: true };
    const res = await completeWithDummy(api, body, await registerWithoutAuth(api, body));
    expect(res).toHaveStatus(200);
    expect(res.body.access_token, "no access_token with inhibit_login: true").toBeUndefined();
    expect(res.body.device_id, "no device_id with inhibit_login: true").toBeUndefined();
    const login = await api.request("POST", cs.v3`/login`, {
      token: null,
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: res.body.user_id }, password },
    });
    expect(login, "the account registered with inhibit_login must exist and accept its password").toHaveStatus(200);
    expect(login.body.user_id, "the login's user_id is the account registered with inhibit_login").toBe(res.body.user_id);
  });

  test("uses the device_id and initial_device_display_name given in the request for the new device", spec("client-server-api/#post_matrixclientv3register", "1.0"), async ({ api }) => {
    const deviceId = `CONFREG${uniqueLocalpart("d").replace(/[^a-z0-9]/g, "").toUpperCase()}`;
    const name = `conformance ${uniqueLocalpart("device")}`;
    const body = { username: uniqueLocalpart("device"), password: newPassword(), device_id: deviceId, initial_device_display_name: name };
    const res = await completeWithDummy(api, body, await registerWithoutAuth(api, body));
    expect(res).toHaveStatus(200);
    expect(res.body.device_id, "device_id must be the one given in the request").toBe(deviceId);
    const device = await api.get(cs.v3`/devices/${deviceId}`, { token: res.body.access_token });
    expect(device, "the new user must have that device").toHaveStatus(200);
    expect(device.body.display_name, "the device carries the initial display name").toBe(name);
  });
});
