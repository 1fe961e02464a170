// Getting fresh users for tests: shared-secret admin registration (the HMAC scheme that Synapse
// and Dendrite serve at /_synapse/admin/v1/register), falling back to open registration with the
// m.login.dummy stage when no shared secret is known.
import { createHmac, randomBytes } from "node:crypto";
import { MatrixClient, StepFailed, cs } from "./client.ts";

export interface RegisteredUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  localpart: string;
  password: string;
}

export interface UserClient extends MatrixClient {
  userId: string;
  accessToken: string;
  localpart: string;
  password: string;
}

/** The localpart of a user ID: `@alice:example.org` -> "alice" (the whole ID after the sigil when it has no colon). */
export function localpartOf(userId: string): string {
  const colon = userId.indexOf(":");
  return userId.slice(1, colon < 0 ? undefined : colon);
}

let counter = 0;
/** A localpart no other test of this run uses: prefix, worker pid, counter, random tail. */
export function uniqueLocalpart(prefix = "user"): string {
  return `${prefix.toLowerCase().replace(/[^a-z0-9._=-]/g, "")}-${process.pid}-${++counter}-${randomBytes(3).toString("hex")}`;
}

export function registrationMac(secret: string, nonce: string, username: string, password: string, admin: boolean): string {
  return createHmac("sha1", secret)
    .update(`${nonce}\0${username}\0${password}\0${admin ? "admin" : "notadmin"}`)
    .digest("hex");
}

export async function registerUser(
  client: MatrixClient,
  opts: { sharedSecret?: string; localpart?: string; password?: string; admin?: boolean; prefix?: string } = {},
): Promise<RegisteredUser> {
  const localpart = opts.localpart ?? uniqueLocalpart(opts.prefix);
  const password = opts.password ?? `pw-${randomBytes(8).toString("hex")}`;
  if (opts.sharedSecret) {
    const nonceRes = await client.request("GET", "/_synapse/admin/v1/register", { token: null });
    if (nonceRes.status === 200 && typeof nonceRes.body?.nonce === "string") {
      const nonce = nonceRes.body.nonce as string;
      const res = await client.request("POST", "/_synapse/admin/v1/register", {
        token: null,
        body: { nonce, username: localpart, password, admin: !!opts.admin, mac: registrationMac(opts.sharedSecret, nonce, localpart, password, !!opts.admin) },
      });
      if (res.status !== 200) throw new StepFailed(`register ${localpart} with the shared secret`, res.exchange, `status ${res.status}`);
      return { userId: res.body.user_id, accessToken: res.body.access_token, deviceId: res.body.device_id, localpart, password };
    }
  }
  // Open registration: the first request learns the session, the second completes m.login.dummy.
  const body = { username: localpart, password, inhibit_login: false };
  let res = await client.request("POST", cs.v3`/register`, { token: null, body });
  if (res.status === 401 && res.body?.session) {
    res = await client.request("POST", cs.v3`/register`, { token: null, body: { ...body, auth: { type: "m.login.dummy", session: res.body.session } } });
  }
  if (res.status !== 200) throw new StepFailed(`register ${localpart} (open registration with m.login.dummy)`, res.exchange, `status ${res.status}`);
  return { userId: res.body.user_id, accessToken: res.body.access_token, deviceId: res.body.device_id, localpart, password };
}

/** Registers a fresh user and returns a client logged in as that user. */
export async function newUserClient(client: MatrixClient, opts: Parameters<typeof registerUser>[1] = {}): Promise<UserClient> {
  const user = await registerUser(client, opts);
  const c = client.as({ accessToken: user.accessToken, userId: user.userId, deviceId: user.deviceId });
  return Object.assign(c, { localpart: user.localpart, password: user.password }) as UserClient;
}
