// Device management: listing, reading and renaming a user's devices, and deleting them through
// user-interactive authentication, one at a time or in bulk. What a login or a logout does to
// devices is login.test.ts's.
// Spec: client-server-api/#device-management, #get_matrixclientv3devices,
// #get_matrixclientv3devicesdeviceid, #put_matrixclientv3devicesdeviceid,
// #delete_matrixclientv3devicesdeviceid, #post_matrixclientv3delete_devices,
// #user-interactive-authentication-api.
import { cs, describe, expect, expectPasswordFlow, passwordStage, spec, test, uniqueLocalpart, type MatrixClient, type Response, type UserClient } from "../../harness/fixtures/index.ts";

const LIST_DEVICES = "client-server-api/#get_matrixclientv3devices";
const GET_DEVICE = "client-server-api/#get_matrixclientv3devicesdeviceid";
const UPDATE_DEVICE = "client-server-api/#put_matrixclientv3devicesdeviceid";
const DELETE_DEVICE = "client-server-api/#delete_matrixclientv3devicesdeviceid";
const DELETE_DEVICES = "client-server-api/#post_matrixclientv3delete_devices";

interface Device {
  accessToken: string;
  deviceId: string;
  displayName: string;
}

/** Logs `user` in once more, as a step: a new device with a display name no other test uses. */
async function extraDevice(api: MatrixClient, user: UserClient): Promise<Device> {
  const displayName = `conformance ${uniqueLocalpart("devices")}`;
  const body = await api.step<{ access_token: string; device_id: string }>("log in to make another device", "POST", cs.v3`/login`, {
    token: null,
    body: { type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: user.password, initial_device_display_name: displayName },
  });
  return { accessToken: body.access_token, deviceId: body.device_id, displayName };
}

/**
 * The 401 that starts user-interactive authentication, offering m.login.password alone, and its
 * session, which later attempts quote (#user-interactive-authentication-api).
 */
function expectPasswordChallenge(res: Response, what: string): string {
  const session = expectPasswordFlow(res, what);
  expect(session, `${what}: the 401 must carry a session for the client to send back`).toBeTypeOf("string");
  return session!;
}

function readDevice(user: UserClient, deviceId: string): Promise<Response> {
  return user.get(cs.v3`/devices/${deviceId}`);
}

describe("GET /_matrix/client/v3/devices", () => {
  test("lists every device of the user, each with its device_id and display name", spec(LIST_DEVICES, "1.0"), async ({ api, alice }) => {
    const one = await extraDevice(api, alice);
    const two = await extraDevice(api, alice);
    const res = await alice.get(cs.v3`/devices`);
    expect(res).toHaveStatus(200);
    const devices = (res.body.devices ?? []) as Array<{ device_id: string; display_name?: string }>;
    const byId = new Map(devices.map((d) => [d.device_id, d]));
    const own = alice.deviceId ?? (await alice.whoami()).device_id;
    expect(own, "the registration's session must have a device").toBeTypeOf("string");
    expect(byId.has(own as string), "the requester's own device is listed").toBe(true);
    for (const [which, d] of [["first", one], ["second", two]] as const) {
      const listed = byId.get(d.deviceId);
      expect(listed === undefined ? "not listed" : listed.display_name === d.displayName ? "listed with its name" : "listed with another name", `the ${which} device named at login`).toBe("listed with its name");
    }
  });

  test("does not list another user's devices", spec(LIST_DEVICES, "1.0"), async ({ api, alice, bob }) => {
    // "Gets information about all devices for the current user."
    const bobs = await extraDevice(api, bob);
    const res = await alice.get(cs.v3`/devices`);
    expect(res).toHaveStatus(200);
    const ids = ((res.body.devices ?? []) as Array<{ device_id: string }>).map((d) => d.device_id);
    expect(ids.includes(bobs.deviceId), "another user's device is among the current user's devices").toBe(false);
  });
});

describe("GET /_matrix/client/v3/devices/{deviceId}", () => {
  test("returns the device with its display name", spec(GET_DEVICE, "1.0"), async ({ api, alice }) => {
    const device = await extraDevice(api, alice);
    const res = await readDevice(alice, device.deviceId);
    expect(res).toHaveStatus(200);
    expect(res.body.device_id, "the device returned is the one asked for").toBe(device.deviceId);
    expect(res.body.display_name === device.displayName, "the display name is the one given at login").toBe(true);
  });

  test("answers 404 for a device the user does not have, including another user's", spec(GET_DEVICE, "1.0"), async ({ api, alice, bob }) => {
    // 404: "The current user has no device with the given ID."
    const bobs = await extraDevice(api, bob);
    expect(await readDevice(alice, bobs.deviceId)).toHaveStatus(404);
    expect(await readDevice(alice, `NOSUCH${uniqueLocalpart("d").replace(/[^a-z0-9]/g, "").toUpperCase()}`)).toHaveStatus(404);
  });
});

describe("PUT /_matrix/client/v3/devices/{deviceId}", () => {
  test("renames the device: the new display_name is read back", spec(UPDATE_DEVICE, "1.0"), async ({ api, alice }) => {
    const device = await extraDevice(api, alice);
    const name = `renamed ${uniqueLocalpart("devices")}`;
    const res = await alice.put(cs.v3`/devices/${device.deviceId}`, { display_name: name });
    // "It MUST return a 200 HTTP status code if a device was updated."
    expect(res).toHaveStatus(200);
    const after = await readDevice(alice, device.deviceId);
    expect(after, "the renamed device").toHaveStatus(200);
    expect(after.body.display_name === name, "the display name read back is the new one").toBe(true);
  });

  test("answers 404 to a regular client naming a device the user does not have, and creates none", spec(UPDATE_DEVICE, "1.0"), async ({ alice }) => {
    // "The ability to create new devices is only available to application services: regular
    // clients may only update existing devices."
    const deviceId = `NOSUCH${uniqueLocalpart("d").replace(/[^a-z0-9]/g, "").toUpperCase()}`;
    const res = await alice.put(cs.v3`/devices/${deviceId}`, { display_name: "should not exist" });
    expect(res).toHaveStatus(404);
    expect(await readDevice(alice, deviceId), "no device may have been created by the refused update").toHaveStatus(404);
  });
});

describe("DELETE /_matrix/client/v3/devices/{deviceId}", () => {
  test("answers a request without auth with 401, a password flow and a session, and keeps the device", spec(DELETE_DEVICE, "1.0"), async ({ api, alice }) => {
    const device = await extraDevice(api, alice);
    const res = await alice.delete(cs.v3`/devices/${device.deviceId}`);
    expectPasswordChallenge(res, "DELETE /devices/{deviceId}");
    expect(await readDevice(alice, device.deviceId), "the device must still exist before auth is completed").toHaveStatus(200);
  });

  test(
    "refuses an m.login.password stage with a wrong password with 401 and an errcode, and keeps the device",
    // #user-interactive-authentication-api: an unsuccessful attempt on a stage "returns the same
    // HTTP status 401 response as above, with the addition of the standard errcode and error fields".
    spec(DELETE_DEVICE, "1.0"),
    async ({ api, alice }) => {
      const device = await extraDevice(api, alice);
      const session = expectPasswordChallenge(await alice.delete(cs.v3`/devices/${device.deviceId}`), "DELETE /devices/{deviceId}");
      const res = await alice.request("DELETE", cs.v3`/devices/${device.deviceId}`, { body: { auth: passwordStage(alice, `${alice.password}-wrong`, session) } });
      expect(res).toBeMatrixError(401, undefined, "the m.login.password stage was attempted with a wrong password");
      expect(await readDevice(alice, device.deviceId), "the device must survive the refused deletion").toHaveStatus(200);
      expect(await api.get(cs.v3`/account/whoami`, { token: device.accessToken }), "the device's access token must still work").toHaveStatus(200);
    },
  );

  test(
    "deletes the device once the password stage completes in the session, and its access token stops working",
    // "Deletes the given device, and invalidates any access token associated with it."
    spec(DELETE_DEVICE, "1.0"),
    async ({ api, alice }) => {
      const device = await extraDevice(api, alice);
      const session = expectPasswordChallenge(await alice.delete(cs.v3`/devices/${device.deviceId}`), "DELETE /devices/{deviceId}");
      const res = await alice.request("DELETE", cs.v3`/devices/${device.deviceId}`, { body: { auth: passwordStage(alice, alice.password, session) } });
      expect(res).toHaveStatus(200);
      expect(await readDevice(alice, device.deviceId), "the deleted device").toHaveStatus(404);
      expect(await api.get(cs.v3`/account/whoami`, { token: device.accessToken })).toBeMatrixError(401, "M_UNKNOWN_TOKEN", "the deleted device's access token must be invalidated");
      expect(await alice.get(cs.v3`/account/whoami`), "the requester's own token must keep working").toHaveStatus(200);
    },
  );
});

describe("POST /_matrix/client/v3/delete_devices", () => {
  test(
    "deletes every listed device after user-interactive auth, invalidates their tokens and keeps the others",
    // "Deletes the given devices, and invalidates any access token associated with them."
    spec(DELETE_DEVICES, "1.0"),
    async ({ api, alice }) => {
      const one = await extraDevice(api, alice);
      const two = await extraDevice(api, alice);
      const kept = await extraDevice(api, alice);
      const devices = [one.deviceId, two.deviceId];
      const first = await alice.post(cs.v3`/delete_devices`, { devices });
      const session = expectPasswordChallenge(first, "POST /delete_devices");
      expect(await readDevice(alice, one.deviceId), "a listed device must still exist before auth is completed").toHaveStatus(200);
      const res = await alice.post(cs.v3`/delete_devices`, { devices, auth: passwordStage(alice, alice.password, session) });
      expect(res).toHaveStatus(200);
      for (const [which, d] of [["first", one], ["second", two]] as const) {
        expect(await readDevice(alice, d.deviceId), `the ${which} listed device after the bulk deletion`).toHaveStatus(404);
        expect(await api.get(cs.v3`/account/whoami`, { token: d.accessToken })).toBeMatrixError(401, "M_UNKNOWN_TOKEN", `the access token of the ${which} deleted device must be invalidated`);
      }
      expect(await readDevice(alice, kept.deviceId), "a device that was not listed must be kept").toHaveStatus(200);
      expect(await api.get(cs.v3`/account/whoami`, { token: kept.accessToken }), "an unlisted device's token must keep working").toHaveStatus(200);
    },
  );
});
