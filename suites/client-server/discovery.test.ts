// Server discovery, API versions and capabilities negotiation.
// Spec: client-server-api/#server-discovery, #api-versions, #capabilities-negotiation.
import { cs, describe, expect, spec, test } from "../../harness/fixtures/index.ts";

describe("GET /_matrix/client/versions", () => {
  test("answers without authentication and lists at least one spec version", spec("client-server-api/#get_matrixclientversions", "1.0"), async ({ api }) => {
    const res = await api.get(cs.raw`/_matrix/client/versions`);
    expect(res).toHaveStatus(200);
    expect(res.body.versions, "versions must be a non-empty list of spec versions").not.toHaveLength(0);
  });

  test("lists spec versions in the spec's vX.Y or rX.Y.Z form", spec("client-server-api/#get_matrixclientversions", "1.0"), async ({ api }) => {
    const res = await api.get(cs.raw`/_matrix/client/versions`);
    expect(res).toHaveStatus(200);
    for (const v of res.body.versions as string[]) expect(v, `'${v}' is not a spec version`).toMatch(/^(v\d+\.\d+|r\d+\.\d+\.\d+)$/);
  });
});

describe("GET /_matrix/client/v3/capabilities", () => {
  test("requires an access token", spec("client-server-api/#get_matrixclientv3capabilities", "1.0"), async ({ api }) => {
    const res = await api.get(cs.v3`/capabilities`);
    expect(res).toBeMatrixError(401, "M_MISSING_TOKEN");
  });

  test("describes the default and available room versions, the default being available", spec("client-server-api/#get_matrixclientv3capabilities", "1.0"), async ({ alice, skip }) => {
    const res = await alice.get(cs.v3`/capabilities`);
    expect(res).toHaveStatus(200);
    const rv = res.body.capabilities["m.room_versions"];
    // The capability is optional (clients then assume version 1 only); nothing to check without it.
    if (!rv) return skip("the server does not advertise m.room_versions");
    expect(Object.keys(rv.available), "m.room_versions.available lists the versions").toContain(rv.default);
    for (const [version, stability] of Object.entries(rv.available)) {
      expect(["stable", "unstable"], `stability of room version ${version}`).toContain(stability);
    }
  });
});

describe("GET /.well-known/matrix/client", () => {
  test("answers 200 with m.homeserver.base_url, or 404 when the server does not publish it", spec("client-server-api/#getwell-knownmatrixclient", "1.0"), async ({ api }) => {
    const res = await api.get(cs.raw`/.well-known/matrix/client`);
    expect(res.status, "GET /.well-known/matrix/client answers 200, or 404 when the server publishes no discovery information").toBeOneOf([200, 404]);
    if (res.status === 200) {
      expect(typeof res.body?.["m.homeserver"]?.base_url, "m.homeserver.base_url must be a string").toBe("string");
      expect(() => new URL(res.body["m.homeserver"].base_url), "m.homeserver.base_url must parse as a URL").not.toThrow();
    }
  });
});
