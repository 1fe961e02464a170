// Selftest suite: not a conformance test. test/stub/inbound.test.ts runs it through the real CLI
// against the stub server (MATRIX_CONFORMANCE_SELFTEST=1) to prove that a request the target
// sends a fake peer is checked against the spec's request schema and that a fault in it fails
// the test whose act it is. The stub is an external target without a federation listener, so
// the peer is started here rather than by the federation fixture: its key fetches go to the
// stub's client-server URL.
import { inject } from "vitest";
import { cs, describe, expect, spec, test } from "../../../../harness/fixtures/index.ts";
import { makeRequestValidator, makeValidator } from "../../../../harness/fixtures/validator.ts";
import { FederationPeer } from "../../../../harness/federation/index.ts";

const SEND = "server-server-api/#put_matrixfederationv1sendtxnid";

describe("inbound", () => {
  test("a transaction the target sends a peer matches the spec's request schema", spec(SEND, "1.0"), async ({ api, deployment, log, spec: loaded }) => {
    const peer = await FederationPeer.start({
      ca: inject("runCa"),
      log,
      validator: makeValidator(loaded),
      requestValidator: makeRequestValidator(loaded),
      specVersion: loaded.specVersion,
      target: { serverName: deployment.serverName, url: deployment.baseUrl },
    });
    try {
      peer.handle.transactions();
      // The act: the stub sends the peer one transaction (a stub control endpoint, not the spec's).
      const res = await api.post(cs.raw`/_stub/send_transaction`, { destination: peer.serverName, url: peer.baseUrl });
      expect(res).toHaveStatus(200);
      expect(res.body.status, `the peer's answer to the transaction: ${JSON.stringify(res.body)}`).toBe(200);
      const edu = await peer.waitForEdu((e) => e.edu_type === "m.typing", 10_000, "the stub's m.typing EDU");
      expect(edu.origin).toBe(deployment.serverName);
      expect(peer.unexpectedRequests().map((u) => u.reason)).toEqual([]);
    } finally {
      await peer.stop();
    }
  });
});
