// Selftest suite: not conformance tests. test/stub/verdicts.test.ts runs these through the real
// CLI against the stub server (MATRIX_CONFORMANCE_SELFTEST=1) to prove how verdicts are reached:
// a set-up step's schema fault, a SHOULD-level failure, a spec erratum the check needs.
import { cs, describe, expect, spec, test } from "../../../../harness/fixtures/index.ts";

const CAPABILITIES = "client-server-api/#get_matrixclientv3capabilities";
const MAKE_JOIN = "server-server-api/#get_matrixfederationv1make_joinroomiduserid";

describe("verdicts", () => {
  test("an arrangement step's schema fault is set-up's, not the act's", spec(CAPABILITIES, "1.0"), async ({ api }) => {
    // Arrangement: GET /versions (in the stub's missing-field mode its body lacks `versions`).
    const versions = await api.get(cs.raw`/_matrix/client/versions`);
    expect(versions).toHaveStatus(200);
    // The act, which the test cites: /capabilities without a token.
    const res = await api.get(cs.v3`/capabilities`);
    expect(res).toBeMatrixError(401, "M_MISSING_TOKEN");
  });

  test("a SHOULD-level check that the stub fails is a warning", spec(CAPABILITIES, "1.0", { level: "SHOULD" }), async ({ api }) => {
    const res = await api.get(cs.v3`/capabilities`);
    expect(res).toBeMatrixError(401, "M_MISSING_TOKEN");
  });

  test("a make_join template without `origin` needs the origin erratum", spec(MAKE_JOIN, "1.0"), async ({ api }) => {
    const res = await api.get(cs.raw`/_matrix/federation/v1/make_join/${"!room:stub"}/${"@joiner:peer"}`);
    expect(res).toHaveStatus(200);
    expect(res.body.event?.type, "the template is a membership event").toBe("m.room.member");
  });
});
