// The federation version endpoint and the API standards every federation endpoint follows.
// Spec: server-server-api/#get_matrixfederationv1version, #api-standards, #unsupported-endpoints.
import { describe, expect, fed, spec, test } from "../../harness/fixtures/federation.ts";

describe("GET /_matrix/federation/v1/version", () => {
  test("answers a request without authentication with 200 and a server object", spec("server-server-api/#get_matrixfederationv1version", "1.0"), async ({ peer }) => {
    const res = await peer.request("GET", fed.v1`/version`, { authorization: null });
    expect(res).toHaveStatus(200);
    expect(typeof res.body?.server, "the body has a `server` object describing the implementation").toBe("object");
  });

  test("answers with a Content-Type of application/json", spec("server-server-api/#api-standards", "1.0"), async ({ peer }) => {
    // "Servers must include a Content-Type header of application/json for all JSON responses."
    const res = await peer.request("GET", fed.v1`/version`, { authorization: null });
    expect(res).toHaveStatus(200);
    expect((res.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase(), "the Content-Type of a JSON response").toBe("application/json");
  });
});

describe("unsupported endpoints", () => {
  test("answers a signed request for an unknown federation endpoint with 404 M_UNRECOGNIZED", spec("server-server-api/#unsupported-endpoints", "1.6", { msc: "3743" }), async ({ peer }) => {
    const res = await peer.request("GET", fed.v1`/matrix_conformance_no_such_endpoint`);
    expect(res).toBeMatrixError(404, "M_UNRECOGNIZED");
  });

  test("answers an unsupported method on a known federation endpoint with 405 M_UNRECOGNIZED", spec("server-server-api/#unsupported-endpoints", "1.6", { msc: "3743" }), async ({ peer }) => {
    // /version is defined for GET only.
    const res = await peer.request("DELETE", fed.v1`/version`);
    expect(res).toBeMatrixError(405, "M_UNRECOGNIZED");
  });
});
