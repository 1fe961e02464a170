import { beforeAll, describe, expect, it } from "vitest";
import type { SchemaViolation, Spec } from "../../harness/schemas/index.ts";
import { getSpec, json } from "./helpers.ts";

let spec: Spec;
beforeAll(async () => {
  spec = await getSpec();
});

function explain(errors: SchemaViolation[]): string {
  return errors.map((e) => e.message).join("\n");
}

const timelineEvent = {
  type: "m.room.message",
  event_id: "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg",
  sender: "@alice:hs1.example",
  origin_server_ts: 1700000000000,
  content: { msgtype: "m.text", body: "hello" },
  unsigned: { age: 12 },
};

describe("valid responses pass", () => {
  const ok: [string, ReturnType<typeof json>][] = [
    ["GET /login flows", json("GET", "/_matrix/client/v3/login", 200, {
      flows: [{ type: "m.login.password" }, { type: "m.login.token", get_login_token: true }, { type: "m.login.application_service" }],
    })],
    ["GET /versions", json("GET", "/_matrix/client/versions", 200, {
      versions: ["r0.6.1", "v1.1", "v1.11", "v1.12"],
      unstable_features: { "org.matrix.msc3916": true, "com.example.feature": false },
    })],
    ["POST /register", json("POST", "/_matrix/client/v3/register", 200, {
      user_id: "@alice:hs1.example",
      access_token: "syt_YWxpY2U_abcdef",
      device_id: "ABCDEFGHIJ",
      home_server: "hs1.example",
    })],
    ["POST /login", json("POST", "/_matrix/client/v3/login", 200, {
      user_id: "@alice:127.0.0.1:8008",
      access_token: "token",
      device_id: "DEV",
      well_known: { "m.homeserver": { base_url: "http://127.0.0.1:8008" } },
    })],
    ["GET /sync minimal", json("GET", "/_matrix/client/v3/sync?timeout=0", 200, { next_batch: "s72595_4483_1934" })],
    ["GET /sync with a joined room", json("GET", "/_matrix/client/v3/sync", 200, {
      next_batch: "s2",
      rooms: {
        join: {
          "!room:hs1.example": {
            timeline: { events: [timelineEvent], limited: false, prev_batch: "t1" },
            state: { events: [] },
            account_data: { events: [] },
            ephemeral: { events: [{ type: "m.typing", content: { user_ids: [] } }] },
            unread_notifications: { highlight_count: 0, notification_count: 1 },
            summary: { "m.joined_member_count": 1, "m.invited_member_count": 0, "m.heroes": [] },
          },
        },
      },
      device_one_time_keys_count: { signed_curve25519: 50 },
    })],
    ["GET /account/whoami", json("GET", "/_matrix/client/v3/account/whoami", 200, { user_id: "@alice:hs1.example", device_id: "D" })],
    ["GET /.well-known/matrix/client", json("GET", "/.well-known/matrix/client", 200, { "m.homeserver": { base_url: "https://matrix.example.org" } })],
    ["GET federation version", json("GET", "/_matrix/federation/v1/version", 200, { server: { name: "Synapse", version: "1.163.0" } })],
    ["GET key/v2/server", json("GET", "/_matrix/key/v2/server", 200, {
      server_name: "hs1.example",
      valid_until_ts: 1700000000000,
      verify_keys: { "ed25519:a_AbCd": { key: "VGhpcyBpcyBub3QgYSByZWFsIGtleQ" } },
      old_verify_keys: {},
      signatures: { "hs1.example": { "ed25519:a_AbCd": "c2lnbmF0dXJlIGJ5dGVz" } },
    })],
    ["POST /createRoom", json("POST", "/_matrix/client/v3/createRoom", 200, { room_id: "!abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ" })],
    ["documented 403 error", json("POST", "/_matrix/client/v3/login", 403, { errcode: "M_FORBIDDEN", error: "Invalid password" })],
    ["documented 429 ($ref'd rate-limit response)", json("POST", "/_matrix/client/v3/login", 429, {
      errcode: "M_LIMIT_EXCEEDED", error: "Too many requests", retry_after_ms: 2000,
    })],
  ];
  for (const [name, input] of ok) {
    it(name, () => {
      const r = spec.validateResponse(input);
      expect(r.checked).toBe(true);
      expect(r.errors, explain(r.errors)).toEqual([]);
      expect(r.operation).toBeDefined();
    });
  }

  it("parses a raw JSON body given as text or bytes", () => {
    const text = spec.validateResponse({ ...json("GET", "/_matrix/client/versions", 200, '{"versions":["v1.1"]}') });
    expect(text.errors).toEqual([]);
    const bytes = spec.validateResponse({
      ...json("GET", "/_matrix/client/versions", 200, new TextEncoder().encode('{"versions":["v1.1"]}')),
      contentType: "application/json; charset=utf-8",
    });
    expect(bytes.errors).toEqual([]);
  });

  it("says which response and schema it used", () => {
    const r = spec.validateResponse(json("GET", "/_matrix/client/v3/login", 200, { flows: [] }));
    expect(r.documentedAs).toBe("200");
    expect(r.schema).toBe("api/client-server/login.yaml#/paths/~1login/get/responses/200/content/application~1json/schema");
    // The 429 of the media config endpoint is a $ref to a shared response of its file.
    const limited = spec.validateResponse(json("GET", "/_matrix/media/v3/config", 429, { errcode: "M_LIMIT_EXCEEDED", error: "slow down" }));
    expect(limited.errors).toEqual([]);
    expect(limited.schema).toBe("api/client-server/content-repo.yaml#/components/responses/rateLimited/content/application~1json/schema");
    const wrong = spec.validateResponse(json("GET", "/_matrix/media/v3/config", 429, { errcode: "M_LIMIT_EXCEEDED", error: "x", retry_after_ms: "2s" }));
    expect(wrong.errors.map((e) => [e.instancePath, e.keyword])).toEqual([["/retry_after_ms", "type"]]);
  });
});

describe("invalid responses fail with a pointer, a rule and a readable message", () => {
  it("wrong types and missing required fields", () => {
    const r = spec.validateResponse(json("GET", "/_matrix/client/v3/login", 200, { flows: [{ type: 3 }, { get_login_token: "yes" }] }));
    expect(r.checked).toBe(true);
    const byPath = Object.fromEntries(r.errors.map((e) => [`${e.instancePath} ${e.keyword}`, e]));
    expect(Object.keys(byPath).sort()).toEqual(["/flows/0/type type", "/flows/1 required", "/flows/1/get_login_token type"]);
    const t = byPath["/flows/0/type type"];
    expect(t?.message).toBe("/flows/0/type: must be string, got integer 3");
    expect(t?.value).toBe(3);
    expect(t?.rule).toBe(
      "type @ api/client-server/login.yaml#/paths/~1login/get/responses/200/content/application~1json/schema/properties/flows/items/properties/type/type",
    );
    expect(byPath["/flows/1 required"]?.message).toBe('/flows/1: missing required property "type"');
  });

  it("a missing required top-level field", () => {
    const r = spec.validateResponse(json("POST", "/_matrix/client/v3/register", 200, { access_token: "a" }));
    expect(r.errors.map((e) => [e.instancePath, e.keyword, e.message])).toEqual([
      ["", "required", '(body): missing required property "user_id"'],
    ]);
  });

  it("finds problems deep inside /sync, in schemas of other files, with escaped pointers", () => {
    const bad = { ...timelineEvent, event_id: undefined, origin_server_ts: "yesterday" };
    const r = spec.validateResponse(json("GET", "/_matrix/client/v3/sync", 200, {
      next_batch: "s",
      rooms: { join: { "!r/x:hs": { timeline: { events: [bad], limited: "no" } } } },
    }));
    const paths = r.errors.map((e) => `${e.instancePath} ${e.keyword}`).sort();
    expect(paths).toEqual([
      "/rooms/join/!r~1x:hs/timeline/events/0 required",
      "/rooms/join/!r~1x:hs/timeline/events/0/origin_server_ts type",
      "/rooms/join/!r~1x:hs/timeline/limited type",
    ]);
    const ts = r.errors.find((e) => e.keyword === "type" && e.instancePath.endsWith("origin_server_ts"));
    expect(ts?.schemaPath).toMatch(/^api\/client-server\/definitions\/|^event-schemas\/schema\/core-event-schema\//);
  });

  it("a wrong errcode type in a documented error", () => {
    const r = spec.validateResponse(json("POST", "/_matrix/client/v3/login", 403, { errcode: 403, error: "no" }));
    expect(r.errors.map((e) => [e.instancePath, e.keyword, e.value])).toEqual([["/errcode", "type", 403]]);
    expect(r.errors[0]?.message).toBe("/errcode: must be string, got integer 403");
  });

  it("truncates large offending values", () => {
    const big = "x".repeat(5000);
    const r = spec.validateResponse(json("GET", "/_matrix/client/versions", 200, { versions: { big } }));
    expect(r.errors).toHaveLength(1);
    expect(typeof r.errors[0]?.value).toBe("string");
    expect((r.errors[0]?.value as string).length).toBeLessThan(400);
    expect(r.errors[0]?.message.length).toBeLessThan(200);
  });
});

describe("statuses the operation does not document", () => {
  it("an undocumented 2xx is a violation listing the documented statuses", () => {
    const r = spec.validateResponse(json("GET", "/_matrix/client/versions", 201, { versions: [] }));
    expect(r.checked).toBe(true);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ keyword: "status", instancePath: "", value: 201 });
    expect(r.errors[0]?.message).toBe(
      "(body): HTTP 201 is not documented for GET /_matrix/client/versions (getVersions); documented: 200",
    );
  });

  it("an undocumented 4xx/5xx is checked as a standard error response", () => {
    const good = spec.validateResponse(json("GET", "/_matrix/client/versions", 404, { errcode: "M_UNRECOGNIZED", error: "Unrecognized request" }));
    expect(good).toMatchObject({ checked: true, errors: [], documentedAs: "standard-error" });
    const bad = spec.validateResponse(json("GET", "/_matrix/client/v3/sync", 500, { errcode: ["M_UNKNOWN"], error: "Internal error" }));
    expect(bad.documentedAs).toBe("standard-error");
    expect(bad.errors.map((e) => [e.instancePath, e.keyword])).toEqual([["/errcode", "type"]]);
    const missing = spec.validateResponse(json("GET", "/_matrix/client/v3/sync", 502, { error: "bad gateway" }));
    expect(missing.errors.map((e) => e.message)).toEqual(['(body): missing required property "errcode"']);
  });

  it("an undocumented server-server 4xx/5xx need only be a JSON object, as the server-server API standards say", () => {
    const plain = spec.validateResponse(json("GET", "/_matrix/federation/v1/version", 502, { message: "bad gateway" }));
    expect(plain).toMatchObject({ checked: true, errors: [], documentedAs: "json-object" });
    const notObject = spec.validateResponse(json("GET", "/_matrix/federation/v1/version", 401, ["unauthorised"]));
    expect(notObject.errors.map((e) => e.message)).toEqual(["(body): every server-server response must be a JSON object"]);
  });

  it("holds every standard error to the prose's MUST: `error` is present too (overlay)", () => {
    const r = spec.validateResponse(json("GET", "/_matrix/client/v3/sync", 400, { errcode: "M_INVALID_PARAM" }));
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.overlay).toEqual({
      id: "error-message-required",
      spec: "https://spec.matrix.org/v1.19/client-server-api/#standard-error-response",
    });
    expect(r.errors[0]?.message).toContain('missing required property "error"');
  });

  it("an undocumented 3xx is not checked", () => {
    const r = spec.validateResponse({ method: "GET", path: "/_matrix/client/versions", status: 302, body: "" });
    expect(r).toMatchObject({ checked: false, errors: [] });
  });
});

describe("content types", () => {
  it("a documented JSON response needs a JSON Content-Type", () => {
    const r = spec.validateResponse({ method: "GET", path: "/_matrix/client/versions", status: 200, contentType: "text/plain", body: '{"versions":[]}' });
    expect(r.errors.map((e) => e.keyword)).toEqual(["content-type"]);
    expect(r.errors[0]?.message).toContain('got "text/plain"');
    const none = spec.validateResponse({ method: "GET", path: "/_matrix/client/versions", status: 200, body: { versions: [] } });
    expect(none.errors.map((e) => e.keyword)).toEqual(["content-type"]);
    expect(spec.validateResponse({ ...json("GET", "/_matrix/client/versions", 200, { versions: [] }), contentType: "application/vnd.x+json" }).errors).toEqual([]);
  });

  it("a body that is not JSON is a violation", () => {
    const r = spec.validateResponse(json("GET", "/_matrix/client/versions", 200, "<html>oops</html>"));
    expect(r.errors.map((e) => e.keyword)).toEqual(["json"]);
    expect(spec.validateResponse(json("GET", "/_matrix/client/versions", 200, "")).errors.map((e) => e.keyword)).toEqual(["json"]);
  });

  it("media downloads (documented as non-JSON) are not schema-checked", () => {
    const r = spec.validateResponse({ method: "GET", path: "/_matrix/client/v1/media/download/hs/abc", status: 200, contentType: "image/png", body: new Uint8Array([1, 2]) });
    expect(r).toMatchObject({ checked: true, errors: [] });
    expect(r.note).toMatch(/not checked/);
  });

  it("a documented response without a body passes", () => {
    const r = spec.validateResponse({ method: "GET", path: "/_matrix/client/v1/media/download/hs/abc", status: 307, body: "" });
    expect(r).toMatchObject({ checked: true, errors: [], documentedAs: "307" });
  });
});

describe("unknown requests and duplicated operations", () => {
  it("an unknown path is not checked", () => {
    const r = spec.validateResponse(json("GET", "/_matrix/client/v3/not_in_the_spec", 200, { anything: 1 }));
    expect(r).toEqual({ checked: false, errors: [], note: expect.stringContaining("no operation") });
    expect(r.operation).toBeUndefined();
  });

  it("passes if any of the operations documented for the same method and path accepts the body", () => {
    const r = spec.validateResponse(json("POST", "/_matrix/client/v3/rooms/!r:hs/invite", 200, {}));
    expect(r.errors).toEqual([]);
    expect(["inviteUser", "inviteBy3PID"]).toContain(r.operation?.operationId);
  });

  it("applies the /versions overlay: versions take the form vX.Y or rX.Y.Z", () => {
    const r = spec.validateResponse(json("GET", "/_matrix/client/versions", 200, { versions: ["v1.1", "1.2", "r0.6.1"] }));
    expect(r.errors.map((e) => [e.instancePath, e.keyword, e.overlay?.id])).toEqual([["/versions/1", "pattern", "versions-form"]]);
  });
});
