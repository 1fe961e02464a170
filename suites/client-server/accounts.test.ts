// Sessions and accounts with the legacy API: refresh tokens, changing the password, deactivating
// the account, and login tokens (POST /login/get_token, the m.login.token login type).
// Spec: client-server-api/#refreshing-access-tokens, #post_matrixclientv3refresh,
// #relationship-between-access-tokens-and-devices, #post_matrixclientv3login, #post_matrixclientv3accountpassword,
// #mchange_password-capability, #post_matrixclientv3accountdeactivate,
// #post_matrixclientv1loginget_token, #mget_login_token-capability, #login.
//
// Login with a password, whoami and logout are login.test.ts's; the user-interactive
// authentication of POST /register is registration.test.ts's.
import { cs, describe, expect, expectPasswordFlow, localpartOf, passwordStage, spec, StepFailed, test, uniqueLocalpart, type MatrixClient, type Response, type UserClient } from "../../harness/fixtures/index.ts";

const REFRESH = "client-server-api/#post_matrixclientv3refresh";
const CHANGE_PASSWORD = "client-server-api/#post_matrixclientv3accountpassword";
const DEACTIVATE = "client-server-api/#post_matrixclientv3accountdeactivate";
const LOGIN = "client-server-api/#post_matrixclientv3login";
const GET_TOKEN = "client-server-api/#post_matrixclientv1loginget_token";

interface RefreshableSession {
  accessToken: string;
  refreshToken: string;
  deviceId: string;
}

/** The session of a 401 user-interactive authentication answer, when it has one. */
function uiaSession(res: Response): string | undefined {
  return typeof res.body?.session === "string" ? (res.body.session as string) : undefined;
}

/** POST /login with a password, the act of a test or a probe of whether a password still works. */
function loginWithPassword(api: MatrixClient, userId: string, password: string, extra: Record<string, unknown> = {}): Promise<Response> {
  return api.request("POST", cs.v3`/login`, { token: null, body: { type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password, ...extra } });
}

/** A second session of `user`, logged in with a password as a step of the arrangement. */
async function secondSession(api: MatrixClient, user: UserClient): Promise<{ accessToken: string; deviceId: string }> {
  const body = await api.step<{ access_token: string; device_id: string }>("log in a second session", "POST", cs.v3`/login`, {
    token: null,
    // A display name, so that reading the device back does not depend on how a nameless one is shown.
    body: { type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: user.password, initial_device_display_name: `conformance ${uniqueLocalpart("second")}` },
  });
  return { accessToken: body.access_token, deviceId: body.device_id };
}

/**
 * Logs `user` in asking for a refresh token. Skips the test when the server gives none: whether
 * to issue refresh tokens is the server's choice ("Handling of clients that do not support
 * refresh tokens is up to the homeserver"; refresh_token is an optional field of the answer).
 */
async function refreshableLogin(api: MatrixClient, user: UserClient, skip: (reason: string) => never, extra: Record<string, unknown> = {}): Promise<RefreshableSession> {
  const body = await api.step<{ access_token: string; device_id: string; refresh_token?: string }>("log in asking for a refresh token", "POST", cs.v3`/login`, {
    token: null,
    body: { type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: user.password, refresh_token: true, ...extra },
  });
  if (typeof body.refresh_token !== "string") skip("the target gives no refresh_token to a login with refresh_token: true (issuing refresh tokens is up to the homeserver)");
  return { accessToken: body.access_token, refreshToken: body.refresh_token, deviceId: body.device_id };
}

function refresh(api: MatrixClient, refreshToken: string): Promise<Response> {
  return api.request("POST", cs.v3`/refresh`, { token: null, body: { refresh_token: refreshToken } });
}

/** Refreshes as a step of the arrangement; skips when the answer carries no new refresh token. */
async function refreshedPair(api: MatrixClient, refreshToken: string, skip: (reason: string) => never): Promise<{ accessToken: string; refreshToken: string }> {
  const body = await api.step<{ access_token: string; refresh_token?: string }>("refresh the access token", "POST", cs.v3`/refresh`, { token: null, body: { refresh_token: refreshToken } });
  // "If not given, the old refresh token can be re-used": then there is no revocation to check.
  if (typeof body.refresh_token !== "string") skip("the target's /refresh gives no new refresh token, so the old one stays usable by design");
  return { accessToken: body.access_token, refreshToken: body.refresh_token };
}

/** A device ID no other test uses, for logins that name their device. */
function namedDeviceId(): string {
  return `CONFACCT${uniqueLocalpart("d").replace(/[^a-z0-9]/g, "").toUpperCase()}`;
}

function whoamiAs(api: MatrixClient, token: string): Promise<Response> {
  return api.get(cs.v3`/account/whoami`, { token });
}

/** The user's capabilities (GET /capabilities), read as a step. */
async function capabilitiesOf(user: UserClient): Promise<Record<string, { enabled?: boolean } | undefined>> {
  const body = await user.step<{ capabilities: Record<string, { enabled?: boolean }> }>("read the capabilities", "GET", cs.v3`/capabilities`);
  return body.capabilities ?? {};
}

/** Skips when the m.change_password capability says the user cannot change the password. */
async function skipUnlessPasswordChangeable(user: UserClient, skip: (reason: string) => never): Promise<void> {
  // "If not present, the client should assume that password changes are possible via the API."
  if ((await capabilitiesOf(user))["m.change_password"]?.enabled === false) skip("the target's m.change_password capability is disabled");
}

/** Changes the user's password through the m.login.password stage, as a step; returns the new one. */
async function changePassword(user: UserClient, body: Record<string, unknown> = {}): Promise<string> {
  const newPassword = `pw-${uniqueLocalpart("new")}`;
  const first = await user.post(cs.v3`/account/password`, { new_password: newPassword, ...body });
  if (first.status !== 401) throw new StepFailed("start the password change's user-interactive authentication", first.exchange, `expected 401, got ${first.status}`);
  await user.step("change the password with the m.login.password stage", "POST", cs.v3`/account/password`, {
    body: { new_password: newPassword, ...body, auth: passwordStage(user, user.password, uiaSession(first)) },
  });
  return newPassword;
}

describe("Refreshing access tokens", () => {
  test(
    "gives a new access token for a refresh token, bound to the same user and device",
    spec(REFRESH, "1.3"),
    async ({ api, alice, skip }) => {
      const session = await refreshableLogin(api, alice, skip);
      const res = await refresh(api, session.refreshToken);
      expect(res).toHaveStatus(200);
      // #relationship-between-access-tokens-and-devices: "the new access and refresh tokens are
      // now bound to the device associated with the initial refresh token".
      const who = await whoamiAs(api, res.body.access_token);
      expect(who, "the refreshed access token must authenticate requests").toHaveStatus(200);
      expect(who.body.user_id, "the refreshed access token's user").toBe(alice.userId);
      expect(who.body.device_id, "the refreshed access token's device is the refresh token's").toBe(session.deviceId);
    },
  );

  test(
    "keeps the old refresh token valid until the new tokens are used",
    // "The old refresh token remains valid until the new access token or refresh token is used"
    // (a statement without an RFC 2119 keyword, read as a requirement).
    spec(REFRESH, "1.3"),
    async ({ api, alice, skip }) => {
      const session = await refreshableLogin(api, alice, skip);
      await refreshedPair(api, session.refreshToken, skip);
      const res = await refresh(api, session.refreshToken);
      expect(res, "a refresh repeated with the old refresh token, before the new tokens were used, must succeed").toHaveStatus(200);
    },
  );

  test(
    "revokes the old refresh token once the new access token is used, with 401 M_UNKNOWN_TOKEN",
    // "... at which point the old refresh token is revoked." The 401 answer is "The provided token
    // was unknown, or has already been used"; M_UNKNOWN_TOKEN: "The access or refresh token
    // specified was not recognised."
    spec(REFRESH, "1.3"),
    async ({ api, alice, skip }) => {
      const session = await refreshableLogin(api, alice, skip);
      const next = await refreshedPair(api, session.refreshToken, skip);
      await api.step("use the new access token", "GET", cs.v3`/account/whoami`, { token: next.accessToken });
      const res = await refresh(api, session.refreshToken);
      expect(res).toBeMatrixError(401, "M_UNKNOWN_TOKEN", "the old refresh token was revoked when the new access token was used");
    },
  );

  test("rejects a refresh token it never issued with 401 M_UNKNOWN_TOKEN", spec(REFRESH, "1.3"), async ({ api }) => {
    // M_UNKNOWN_TOKEN: "The access or refresh token specified was not recognised."
    const res = await refresh(api, `not-a-refresh-token-${uniqueLocalpart("r")}`);
    expect(res).toBeMatrixError(401, "M_UNKNOWN_TOKEN", "the refresh token was never issued");
  });

  test(
    "gives a refresh token to a registration with refresh_token: true that refreshes to a working access token",
    spec("client-server-api/#refreshing-access-tokens", "1.3"),
    async ({ api, skip }) => {
      const body = { username: uniqueLocalpart("refreshreg"), password: `pw-${uniqueLocalpart("secret")}`, refresh_token: true };
      const first = await api.request("POST", cs.v3`/register`, { token: null, body });
      const flows = (first.body?.flows ?? []) as Array<{ stages?: string[] }>;
      if (first.status !== 401 || !flows.some((f) => f.stages?.length === 1 && f.stages[0] === "m.login.dummy")) {
        throw new StepFailed("find a registration flow made of m.login.dummy alone", first.exchange, "this test needs a target with open registration");
      }
      const reg = await api.request("POST", cs.v3`/register`, { token: null, body: { ...body, auth: { type: "m.login.dummy", session: uiaSession(first) } } });
      expect(reg).toHaveStatus(200);
      if (typeof reg.body.refresh_token !== "string") skip("the target gives no refresh_token to a registration with refresh_token: true (issuing refresh tokens is up to the homeserver)");
      const res = await refresh(api, reg.body.refresh_token);
      expect(res, "the registration's refresh token must refresh").toHaveStatus(200);
      const who = await whoamiAs(api, res.body.access_token);
      expect(who, "the refreshed access token must authenticate requests").toHaveStatus(200);
      expect(who.body.user_id, "the refreshed access token's user is the registered one").toBe(reg.body.user_id);
      expect(who.body.device_id, "the refreshed access token's device is the registration's").toBe(reg.body.device_id);
    },
  );
});

describe("Logging in to an existing device", () => {
  // #relationship-between-access-tokens-and-devices: "If the client sets the device_id, the server
  // will invalidate any access and refresh tokens previously assigned to that device." The act is
  // the second POST /login, naming the device the first one created.
  test("invalidates the access token previously assigned to the device, with 401 M_UNKNOWN_TOKEN", spec(LOGIN, "1.0"), async ({ api, alice }) => {
    const deviceId = namedDeviceId();
    const earlier = await api.step<{ access_token: string }>("log in to a named device", "POST", cs.v3`/login`, {
      token: null,
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: alice.userId }, password: alice.password, device_id: deviceId, initial_device_display_name: `conformance ${deviceId}` },
    });
    const res = await loginWithPassword(api, alice.userId, alice.password, { device_id: deviceId });
    expect(res).toHaveStatus(200);
    expect(res.body.device_id, "the second login is to the device it names").toBe(deviceId);
    expect(await whoamiAs(api, earlier.access_token)).toBeMatrixError(401, "M_UNKNOWN_TOKEN", "the device's earlier access token was invalidated by the new login to it");
    const who = await whoamiAs(api, res.body.access_token);
    expect(who, "the new login's access token").toHaveStatus(200);
    expect(who.body.device_id, "the new login's access token is bound to the named device").toBe(deviceId);
  });

  test("invalidates the refresh token previously assigned to the device, with 401 M_UNKNOWN_TOKEN", spec(LOGIN, "1.3"), async ({ api, alice, skip }) => {
    const deviceId = namedDeviceId();
    const earlier = await refreshableLogin(api, alice, skip, { device_id: deviceId, initial_device_display_name: `conformance ${deviceId}` });
    const res = await loginWithPassword(api, alice.userId, alice.password, { device_id: deviceId });
    expect(res).toHaveStatus(200);
    expect(await refresh(api, earlier.refreshToken)).toBeMatrixError(401, "M_UNKNOWN_TOKEN", "the device's earlier refresh token was invalidated by the new login to it");
  });
});

describe("POST /_matrix/client/v3/account/password", () => {
  test(
    "answers a request without auth with 401 and a flow that m.login.password completes, and keeps the old password",
    spec(CHANGE_PASSWORD, "1.0"),
    async ({ api, alice, skip }) => {
      await skipUnlessPasswordChangeable(alice, skip);
      const res = await alice.post(cs.v3`/account/password`, { new_password: `pw-${uniqueLocalpart("new")}` });
      expectPasswordFlow(res, "POST /account/password");
      expect(await loginWithPassword(api, alice.userId, alice.password), "the password must be unchanged after a request without auth").toHaveStatus(200);
    },
  );

  test(
    "changes the password once m.login.password is completed: the new password logs in, the old one is refused with 403 M_FORBIDDEN",
    spec(CHANGE_PASSWORD, "1.0"),
    async ({ api, alice, skip }) => {
      await skipUnlessPasswordChangeable(alice, skip);
      const newPassword = `pw-${uniqueLocalpart("new")}`;
      const first = await alice.post(cs.v3`/account/password`, { new_password: newPassword });
      expectPasswordFlow(first, "POST /account/password");
      const res = await alice.post(cs.v3`/account/password`, { new_password: newPassword, auth: passwordStage(alice, alice.password, uiaSession(first)) });
      expect(res).toHaveStatus(200);
      expect(await loginWithPassword(api, alice.userId, newPassword), "a login with the new password").toHaveStatus(200);
      // POST /login: M_FORBIDDEN "The provided authentication data was incorrect".
      expect(await loginWithPassword(api, alice.userId, alice.password)).toBeMatrixError(403, "M_FORBIDDEN", "the old password no longer authenticates");
    },
  );

  test(
    "refuses an m.login.password stage with a wrong password with 401 and an errcode, and keeps the old password",
    // #user-interactive-authentication-api: an unsuccessful attempt on a stage "returns the same
    // HTTP status 401 response as above, with the addition of the standard errcode and error fields".
    spec(CHANGE_PASSWORD, "1.0"),
    async ({ api, alice, skip }) => {
      await skipUnlessPasswordChangeable(alice, skip);
      const newPassword = `pw-${uniqueLocalpart("new")}`;
      const first = await alice.post(cs.v3`/account/password`, { new_password: newPassword });
      expectPasswordFlow(first, "POST /account/password");
      const res = await alice.post(cs.v3`/account/password`, { new_password: newPassword, auth: passwordStage(alice, `${alice.password}-wrong`, uiaSession(first)) });
      expect(res).toBeMatrixError(401, undefined, "the m.login.password stage was attempted with a wrong password");
      expect(await loginWithPassword(api, alice.userId, alice.password), "the old password must still log in").toHaveStatus(200);
      expect(await loginWithPassword(api, alice.userId, newPassword)).toBeMatrixError(403, "M_FORBIDDEN", "the refused change must not have set the new password");
    },
  );

  test(
    "revokes the user's other access tokens and deletes their devices when logout_devices is omitted (it defaults to true)",
    // logout_devices: "Whether the user's other access tokens, and their associated devices,
    // should be revoked if the request succeeds. Defaults to `true`."
    spec(CHANGE_PASSWORD, "1.0"),
    async ({ api, alice, skip }) => {
      await skipUnlessPasswordChangeable(alice, skip);
      const other = await secondSession(api, alice);
      await changePassword(alice);
      expect(await whoamiAs(api, other.accessToken), "the other session's access token").toBeMatrixError(401, "M_UNKNOWN_TOKEN", "logout_devices defaults to true");
      const device = await api.get(cs.v3`/devices/${other.deviceId}`, { token: alice.accessToken });
      expect(device, "the other session's device must be deleted (read with the requester's token)").toHaveStatus(404);
    },
  );

  test(
    "does not revoke the access token the password change was made with",
    // "The homeserver SHOULD NOT revoke the access token provided in the request."
    spec(CHANGE_PASSWORD, "1.0", { level: "SHOULD" }),
    async ({ api, alice, skip }) => {
      await skipUnlessPasswordChangeable(alice, skip);
      await changePassword(alice);
      const who = await whoamiAs(api, alice.accessToken);
      expect(who, "the requester's access token after its password change").toHaveStatus(200);
      expect(who.body.user_id, "whoami's user_id for the requester's token").toBe(alice.userId);
    },
  );

  test(
    "keeps the user's other devices when logout_devices is false",
    // logout_devices false: nothing is revoked, though "the server can still take advantage of
    // the soft logout method for the user's remaining devices".
    spec(CHANGE_PASSWORD, "1.0"),
    async ({ api, alice, skip }) => {
      await skipUnlessPasswordChangeable(alice, skip);
      const other = await secondSession(api, alice);
      await changePassword(alice, { logout_devices: false });
      const who = await whoamiAs(api, other.accessToken);
      if (who.status !== 200) {
        expect(who).toBeMatrixError(401, "M_UNKNOWN_TOKEN", "only a soft logout may end the other session when logout_devices is false");
        expect(who.body.soft_logout, "an other session ended with logout_devices: false must be a soft logout").toBe(true);
      }
      const device = await api.get(cs.v3`/devices/${other.deviceId}`, { token: alice.accessToken });
      expect(device, "the other session's device must remain (read with the requester's token)").toHaveStatus(200);
    },
  );
});

describe("POST /_matrix/client/v3/account/deactivate", () => {
  test(
    "answers a request without auth with 401 and a flow that m.login.password completes, and leaves the account active",
    spec(DEACTIVATE, "1.0"),
    async ({ api, alice }) => {
      const res = await alice.post(cs.v3`/account/deactivate`, {});
      expectPasswordFlow(res, "POST /account/deactivate");
      expect(await whoamiAs(api, alice.accessToken), "the account must still be usable after a request without auth").toHaveStatus(200);
    },
  );

  test(
    "refuses an m.login.password stage with a wrong password with 401 and an errcode, and leaves the account active",
    // #user-interactive-authentication-api: an unsuccessful attempt on a stage "returns the same
    // HTTP status 401 response as above, with the addition of the standard errcode and error fields".
    spec(DEACTIVATE, "1.0"),
    async ({ api, alice }) => {
      const first = await alice.post(cs.v3`/account/deactivate`, {});
      expectPasswordFlow(first, "POST /account/deactivate");
      const res = await alice.post(cs.v3`/account/deactivate`, { auth: passwordStage(alice, `${alice.password}-wrong`, uiaSession(first)) });
      expect(res).toBeMatrixError(401, undefined, "the m.login.password stage was attempted with a wrong password");
      expect(await whoamiAs(api, alice.accessToken), "the account's access token must still work").toHaveStatus(200);
      expect(await loginWithPassword(api, alice.userId, alice.password), "the account must still log in").toHaveStatus(200);
    },
  );

  test(
    "deactivates the account once m.login.password is completed, so that its password no longer logs in (403 M_USER_DEACTIVATED or M_FORBIDDEN)",
    // "Deactivate the user's account, removing all ability for the user to login again."
    // POST /login 403: M_USER_DEACTIVATED, or M_FORBIDDEN when the server can no longer
    // authenticate the deactivated user.
    spec(DEACTIVATE, "1.0"),
    async ({ api, alice }) => {
      const first = await alice.post(cs.v3`/account/deactivate`, {});
      expectPasswordFlow(first, "POST /account/deactivate");
      const res = await alice.post(cs.v3`/account/deactivate`, { auth: passwordStage(alice, alice.password, uiaSession(first)) });
      expect(res).toHaveStatus(200);
      expect(await loginWithPassword(api, localpartOf(alice.userId), alice.password)).toBeMatrixError(
        403,
        ["M_USER_DEACTIVATED", "M_FORBIDDEN"],
        "a deactivated account must not log in again",
      );
      // "This must be `success` if the homeserver has no identifiers to unbind for the user."
      // (The field is required: its absence is the schema check's finding, not this one's.)
      if (res.body?.id_server_unbind_result !== undefined) {
        expect(res.body.id_server_unbind_result, "a user without 3PIDs has nothing to unbind").toBe("success");
      }
    },
  );
});

describe("Login tokens", () => {
  test(
    "refuses an m.login.token login with a token that is not valid with 403 M_FORBIDDEN",
    // "In the case that the token is not valid, the homeserver must respond with 403 Forbidden
    // and an error code of M_FORBIDDEN."
    spec(LOGIN, "1.0"),
    async ({ api, skip }) => {
      const flows = await api.step<{ flows: Array<{ type: string }> }>("list the login flows", "GET", cs.v3`/login`, { token: null });
      if (!flows.flows.some((f) => f.type === "m.login.token")) skip("the target's GET /login offers no m.login.token flow");
      const res = await api.request("POST", cs.v3`/login`, { token: null, body: { type: "m.login.token", token: `not-a-login-token-${uniqueLocalpart("t")}` } });
      expect(res).toBeMatrixError(403, "M_FORBIDDEN", "the login token was never issued");
    },
  );

  test(
    "re-prompts for user-interactive authentication on every POST /login/get_token",
    // "For this endpoint, servers MUST always re-prompt the user for verification".
    spec(GET_TOKEN, "1.7"),
    async ({ alice, skip }) => {
      // "When not listed, clients SHOULD assume the user is unable to generate tokens."
      if ((await capabilitiesOf(alice))["m.get_login_token"]?.enabled !== true) skip("the target's m.get_login_token capability is not enabled for the user (POST /login/get_token is optional)");
      const first = await alice.post(cs.v1`/login/get_token`, {});
      expectPasswordFlow(first, "a first POST /login/get_token");
      await alice.step("generate a login token with the m.login.password stage", "POST", cs.v1`/login/get_token`, { body: { auth: passwordStage(alice, alice.password, uiaSession(first)) } });
      const again = await alice.post(cs.v1`/login/get_token`, {});
      expectPasswordFlow(again, "a POST /login/get_token right after one that passed authentication");
    },
  );

  test(
    "generates a login token that logs the user in once with m.login.token, and is refused the second time with 403 M_FORBIDDEN",
    // "The generated token MUST only be valid for a single login, enforced by the server."
    spec(GET_TOKEN, "1.7"),
    async ({ api, alice, skip }) => {
      if ((await capabilitiesOf(alice))["m.get_login_token"]?.enabled !== true) skip("the target's m.get_login_token capability is not enabled for the user (POST /login/get_token is optional)");
      const first = await alice.post(cs.v1`/login/get_token`, {});
      expectPasswordFlow(first, "POST /login/get_token");
      const res = await alice.post(cs.v1`/login/get_token`, { auth: passwordStage(alice, alice.password, uiaSession(first)) });
      expect(res).toHaveStatus(200);
      const login = await api.request("POST", cs.v3`/login`, { token: null, body: { type: "m.login.token", token: res.body.login_token } });
      expect(login, "the first m.login.token login with the generated token").toHaveStatus(200);
      expect(login.body.user_id, "the token logs in as the user who generated it").toBe(alice.userId);
      const reuse = await api.request("POST", cs.v3`/login`, { token: null, body: { type: "m.login.token", token: res.body.login_token } });
      expect(reuse).toBeMatrixError(403, "M_FORBIDDEN", "a login token is valid for a single login");
    },
  );
});
