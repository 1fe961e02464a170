// Password login with the legacy API, access tokens, devices, whoami and logout.
// Spec: client-server-api/#get_matrixclientv3login, #post_matrixclientv3login, #matrix-user-id,
// #using-access-tokens, #relationship-between-access-tokens-and-devices,
// #get_matrixclientv3accountwhoami, #post_matrixclientv3logout, #post_matrixclientv3logoutall.
import { cs, describe, expect, localpartOf, spec, test, uniqueLocalpart, type MatrixClient, type Response } from "../../harness/fixtures/index.ts";

/** POST /login with m.login.password and an m.id.user identifier (a localpart or a user ID). */
function passwordLogin(api: MatrixClient, user: string, password: string, extra: Record<string, unknown> = {}): Promise<Response> {
  return api.request("POST", cs.v3`/login`, {
    token: null,
    body: { type: "m.login.password", identifier: { type: "m.id.user", user }, password, ...extra },
  });
}

interface Session {
  accessToken: string;
  deviceId: string;
  userId: string;
}

/** Logs in as a step of the arrangement: a failure here is a broken precondition, not the finding. */
async function logIn(api: MatrixClient, user: string, password: string): Promise<Session> {
  const body = await api.step<{ access_token: string; device_id: string; user_id: string }>("log in with a password", "POST", cs.v3`/login`, {
    token: null,
    body: { type: "m.login.password", identifier: { type: "m.id.user", user }, password, initial_device_display_name: deviceName() },
  });
  return { accessToken: body.access_token, deviceId: body.device_id, userId: body.user_id };
}

function whoamiWith(api: MatrixClient, token: string): Promise<Response> {
  return api.get(cs.v3`/account/whoami`, { token });
}

/** GET /devices/{deviceId}: 200 when the user has that device, 404 when not. */
function getDevice(api: MatrixClient, token: string, deviceId: string): Promise<Response> {
  return api.get(cs.v3`/devices/${deviceId}`, { token });
}

/** A device name no other test uses. */
function deviceName(): string {
  return `conformance ${uniqueLocalpart("device")}`;
}

describe("GET /_matrix/client/v3/login", () => {
  test("lists m.login.password when the server accepts password logins", spec("client-server-api/#get_matrixclientv3login", "1.0"), async ({ api, alice }) => {
    // A login's type must be one of the flows GET /login returns, so a server that has just
    // accepted a password login must list m.login.password.
    await logIn(api, localpartOf(alice.userId), alice.password);
    const res = await api.get(cs.v3`/login`, { token: null });
    expect(res).toHaveStatus(200);
    expect((res.body.flows as Array<{ type: string }>).map((f) => f.type), "the login flow types GET /login lists").toContain("m.login.password");
  });
});

describe("POST /_matrix/client/v3/login", () => {
  // The m.id.user identifier forms are #matrix-user-id prose ("either a fully qualified Matrix user ID, or just the localpart").
  test("logs a user in with a password and an m.id.user identifier holding the localpart", spec("client-server-api/#post_matrixclientv3login", "1.0"), async ({ api, alice }) => {
    const res = await passwordLogin(api, localpartOf(alice.userId), alice.password);
    expect(res).toHaveStatus(200);
    expect(res.body.user_id, "user_id must be the fully qualified ID of the account").toBe(alice.userId);
  });

  test("logs a user in with a password and an m.id.user identifier holding the full user ID", spec("client-server-api/#post_matrixclientv3login", "1.0"), async ({ api, alice }) => {
    const res = await passwordLogin(api, alice.userId, alice.password);
    expect(res).toHaveStatus(200);
    expect(res.body.user_id, "user_id must be the fully qualified ID of the account").toBe(alice.userId);
  });

  test("rejects a wrong password with 403 M_FORBIDDEN", spec("client-server-api/#post_matrixclientv3login", "1.0"), async ({ api, alice }) => {
    const res = await passwordLogin(api, alice.userId, `${alice.password}-wrong`);
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
  });

  test("rejects a user that does not exist with 403 M_FORBIDDEN", spec("client-server-api/#post_matrixclientv3login", "1.0"), async ({ api }) => {
    const res = await passwordLogin(api, uniqueLocalpart("nobody"), "no-such-password");
    expect(res).toBeMatrixError(403, "M_FORBIDDEN");
  });

  test("rejects an unknown login type with 400", spec("client-server-api/#post_matrixclientv3login", "1.0"), async ({ api, alice }) => {
    const res = await api.request("POST", cs.v3`/login`, {
      token: null,
      body: { type: "org.matrix.conformance.no_such_login_type", identifier: { type: "m.id.user", user: alice.userId }, password: alice.password },
    });
    // The spec names no errcode for this case, so any standard error body (schema-checked) conforms.
    expect(res).toHaveStatus(400);
  });

  test("rejects a login without a type with 400", spec("client-server-api/#post_matrixclientv3login", "1.0"), async ({ api, alice }) => {
    const res = await api.request("POST", cs.v3`/login`, {
      token: null,
      body: { identifier: { type: "m.id.user", user: alice.userId }, password: alice.password },
    });
    // `type` is required; the spec names no errcode for its absence, so any standard error body
    // (schema-checked) conforms.
    expect(res).toHaveStatus(400);
  });

  test(
    "creates a new device, named by initial_device_display_name, with a new access token for each login",
    spec("client-server-api/#relationship-between-access-tokens-and-devices", "1.0"),
    async ({ api, alice }) => {
      const name = deviceName();
      const res = await passwordLogin(api, alice.userId, alice.password, { initial_device_display_name: name });
      expect(res).toHaveStatus(200);
      expect(res.body.device_id, "a login without device_id gets a new device").not.toBe(alice.deviceId);
      expect(res.body.access_token, "a login gets its own access token").not.toBe(alice.accessToken);
      const device = await getDevice(api, res.body.access_token, res.body.device_id);
      expect(device, "the new device must be one of the user's devices").toHaveStatus(200);
      expect(device.body.display_name, "the new device carries the initial display name").toBe(name);
      expect(await whoamiWith(api, alice.accessToken), "the earlier session must keep working").toHaveStatus(200);
    },
  );

  test("uses the device_id given in the request", spec("client-server-api/#post_matrixclientv3login", "1.0"), async ({ api, alice }) => {
    const deviceId = `CONFLOGIN${uniqueLocalpart("d").replace(/[^a-z0-9]/g, "").toUpperCase()}`;
    const res = await passwordLogin(api, alice.userId, alice.password, { device_id: deviceId, initial_device_display_name: deviceName() });
    expect(res).toHaveStatus(200);
    expect(res.body.device_id, "device_id must be the one given in the request").toBe(deviceId);
    expect(await getDevice(api, res.body.access_token, deviceId), "the user must now have that device").toHaveStatus(200);
  });
});

describe("GET /_matrix/client/v3/account/whoami", () => {
  test("returns the user ID and the device ID of the login that issued the token", spec("client-server-api/#get_matrixclientv3accountwhoami", "1.1"), async ({ api, alice }) => {
    const session = await logIn(api, alice.userId, alice.password);
    const res = await whoamiWith(api, session.accessToken);
    expect(res).toHaveStatus(200);
    expect(res.body.user_id, "whoami's user_id is the token's user").toBe(alice.userId);
    expect(res.body.device_id, "device_id is required when the token has a device").toBe(session.deviceId);
  });
});

describe("Using access tokens", () => {
  // The rules are #using-access-tokens prose; each test makes one GET /account/whoami.
  test("answers a request without an access token with 401 M_MISSING_TOKEN", spec("client-server-api/#get_matrixclientv3accountwhoami", "1.0"), async ({ api }) => {
    const res = await api.get(cs.v3`/account/whoami`, { token: null });
    expect(res).toBeMatrixError(401, "M_MISSING_TOKEN");
  });

  test("answers a request with an unknown access token with 401 M_UNKNOWN_TOKEN", spec("client-server-api/#get_matrixclientv3accountwhoami", "1.0"), async ({ api }) => {
    const res = await whoamiWith(api, `not-a-token-${uniqueLocalpart("t")}`);
    expect(res).toBeMatrixError(401, "M_UNKNOWN_TOKEN");
  });

  test("accepts the access token in the access_token query parameter", spec("client-server-api/#get_matrixclientv3accountwhoami", "1.0"), async ({ api, alice }) => {
    // Deprecated for clients since v1.11, but homeservers must still support both methods.
    const res = await api.get(cs.v3`/account/whoami`, { token: null, query: { access_token: alice.accessToken } });
    expect(res).toHaveStatus(200);
    expect(res.body.user_id, "whoami's user_id for a token in the query string").toBe(alice.userId);
  });

  test("answers an unknown access token in the query parameter with 401 M_UNKNOWN_TOKEN", spec("client-server-api/#get_matrixclientv3accountwhoami", "1.0"), async ({ api }) => {
    const res = await api.get(cs.v3`/account/whoami`, { token: null, query: { access_token: `not-a-token-${uniqueLocalpart("q")}` } });
    expect(res).toBeMatrixError(401, "M_UNKNOWN_TOKEN");
  });
});

describe("POST /_matrix/client/v3/logout", () => {
  test(
    "invalidates only the token it is called with, and deletes that token's device",
    spec("client-server-api/#post_matrixclientv3logout", "1.0"),
    async ({ api, alice }) => {
      const session = await logIn(api, alice.userId, alice.password);
      const res = await api.request("POST", cs.v3`/logout`, { token: session.accessToken });
      expect(res).toHaveStatus(200);
      expect(await whoamiWith(api, session.accessToken), "the logged-out token must no longer work").toBeMatrixError(401, "M_UNKNOWN_TOKEN");
      const other = await whoamiWith(api, alice.accessToken);
      expect(other, "the user's other session must keep working").toHaveStatus(200);
      expect(other.body.user_id, "whoami's user_id for the other session").toBe(alice.userId);
      expect(await getDevice(api, alice.accessToken, session.deviceId), "the logged-out device must be deleted").toHaveStatus(404);
    },
  );
});

describe("POST /_matrix/client/v3/logout/all", () => {
  test("invalidates every access token of the user, including the one it is called with", spec("client-server-api/#post_matrixclientv3logoutall", "1.0"), async ({ api, alice }) => {
    const session = await logIn(api, alice.userId, alice.password);
    const res = await api.request("POST", cs.v3`/logout/all`, { token: session.accessToken });
    expect(res).toHaveStatus(200);
    expect(await whoamiWith(api, session.accessToken), "the token that called logout/all").toBeMatrixError(401, "M_UNKNOWN_TOKEN");
    expect(await whoamiWith(api, alice.accessToken), "the user's other token").toBeMatrixError(401, "M_UNKNOWN_TOKEN");
    // Only the tokens and devices go: the account can log in again.
    const again = await passwordLogin(api, alice.userId, alice.password);
    expect(again).toHaveStatus(200);
    expect(alice.deviceId, "the registration must have given the first session a device").toBeTypeOf("string");
    expect(await getDevice(api, again.body.access_token, alice.deviceId as string), "every earlier device must be deleted").toHaveStatus(404);
    expect(await getDevice(api, again.body.access_token, session.deviceId), "every earlier device must be deleted").toHaveStatus(404);
  });
});
