// Spec.validateRequest: the body of a request the target sends to a fake actor, against the
// operation's requestBody schema.
import { describe, expect, test } from "vitest";
import { loadSpecSync } from "../../harness/schemas/index.ts";
import { SPEC_DIR } from "./helpers.ts";

const spec = loadSpecSync(SPEC_DIR, { errata: true });
const SEND = "/_matrix/federation/v1/send/txn1";
const txn = (extra: Record<string, unknown> = {}) => ({ origin: "hs.example", origin_server_ts: 1700000000000, pdus: [], ...extra });

describe("validateRequest", () => {
  test("a well-formed transaction passes, matched to its operation and request schema", () => {
    const r = spec.validateRequest({ method: "PUT", path: SEND, contentType: "application/json", body: JSON.stringify(txn({ edus: [{ edu_type: "m.typing", content: {} }] })) });
    expect(r.operation?.key).toBe("PUT /_matrix/federation/v1/send/{txnId}");
    expect(r).toMatchObject({ checked: true, errors: [], documentedAs: "request" });
    expect(r.schema).toMatch(/^api\/server-server\/transactions\.yaml#\/paths\/~1send~1\{txnId\}\/put\/requestBody\/content\/application~1json\/schema$/);
  });

  test("a malformed transaction: each problem with its JSON path, rule and a readable message", () => {
    const r = spec.validateRequest({ method: "PUT", path: SEND, contentType: "application/json", body: txn({ pdus: { not: "an array" }, edus: [{ content: {} }] }) });
    expect(r.errors.map((e) => [e.instancePath, e.keyword])).toEqual([
      ["/pdus", "type"],
      ["/edus/0", "required"],
    ]);
    expect(r.errors[0]!.message).toBe('/pdus: must be array, got object {"not":"an array"}');
    expect(r.errors[0]!.rule).toBe("type @ api/server-server/definitions/transaction.yaml#/properties/pdus/type");
    expect(r.errors[1]!.message).toBe('/edus/0: missing required property "edu_type"');
  });

  test("a required body that is missing, a body that is not JSON, a JSON body without a JSON content type", () => {
    expect(spec.validateRequest({ method: "PUT", path: SEND, contentType: undefined, body: "" }).errors.map((e) => e.message)).toEqual(["(body): the request body is required, but the request has none"]);
    expect(spec.validateRequest({ method: "PUT", path: SEND, contentType: "application/json", body: "{" }).errors[0]!.message).toMatch(/the body is not valid JSON/);
    const noType = spec.validateRequest({ method: "PUT", path: SEND, contentType: undefined, body: JSON.stringify(txn()) });
    expect(noType.errors.map((e) => e.keyword)).toEqual(["content-type"]);
    expect(noType.errors[0]!.message).toContain("the header is missing");
    // Without the contentType key the caller does not know the header: not checked.
    expect(spec.validateRequest({ method: "PUT", path: SEND, body: txn() }).errors).toEqual([]);
  });

  test("an operation without a request body, and a path the spec does not know", () => {
    expect(spec.validateRequest({ method: "GET", path: "/_matrix/federation/v1/make_join/!r:x/@u:y", contentType: undefined, body: "" })).toMatchObject({ checked: true, errors: [] });
    expect(spec.validateRequest({ method: "PUT", path: "/_matrix/federation/v1/nonsense", body: "{}" })).toMatchObject({ checked: false, errors: [] });
  });

  test("a send_join body without origin needs the membership-origin erratum", () => {
    const event = { type: "m.room.member", room_id: "!r:x", sender: "@u:y", state_key: "@u:y", origin_server_ts: 1, content: { membership: "join" } };
    const r = spec.validateRequest({ method: "PUT", path: "/_matrix/federation/v2/send_join/!r:x/$e", contentType: "application/json", body: event });
    expect(r.errors).toEqual([]);
    expect(r.errata).toEqual(["membership-origin"]);
    const rawSpec = loadSpecSync(SPEC_DIR, { errata: false });
    expect(rawSpec.validateRequest({ method: "PUT", path: "/_matrix/federation/v2/send_join/!r:x/$e", contentType: "application/json", body: event }).errors.map((e) => e.message)).toEqual(['(body): missing required property "origin"']);
  });
});
