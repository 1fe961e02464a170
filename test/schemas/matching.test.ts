import { beforeAll, describe, expect, it } from "vitest";
import type { Spec } from "../../harness/schemas/index.ts";
import { getSpec } from "./helpers.ts";

let spec: Spec;
beforeAll(async () => {
  spec = await getSpec();
});

describe("operation table", () => {
  it("has every operation of the five APIs", () => {
    const byApi = new Map<string, number>();
    for (const op of spec.operations) byApi.set(op.api, (byApi.get(op.api) ?? 0) + 1);
    // Counts of spec v1.19 (FACTS.md): a different checkout may differ.
    if (spec.specVersion === "v1.19") {
      expect(Object.fromEntries(byApi)).toEqual({
        "application-service": 9,
        "client-server": 166,
        identity: 23,
        "push-gateway": 1,
        "server-server": 36,
      });
    }
    expect(spec.operations.every((o) => o.template.startsWith("/") && !/\s/.test(o.template))).toBe(true);
  });

  it("maps every template back to itself when its parameters are filled in", () => {
    for (const op of spec.operations) {
      const concrete = op.template.replace(/\{([^}]+)\}/g, (_, n: string) => encodeURIComponent(`val/${n}`));
      const m = spec.matchOperation(op.method, concrete);
      expect(m?.key, `${op.key} (${op.operationId})`).toBe(op.key);
    }
  });
});

describe("matchOperation", () => {
  const cases: [string, string, string, string, string, Record<string, string>][] = [
    // method, path, api, basePath, operationId, params
    ["PUT", "/_matrix/client/v3/rooms/!abc:hs/send/m.room.message/txn1", "client-server", "/_matrix/client/v3", "sendMessage",
      { roomId: "!abc:hs", eventType: "m.room.message", txnId: "txn1" }],
    ["GET", "/_matrix/client/v3/login", "client-server", "/_matrix/client/v3", "getLoginFlows", {}],
    ["POST", "/_matrix/client/v3/login", "client-server", "/_matrix/client/v3", "login", {}],
    ["GET", "/_matrix/client/versions", "client-server", "/_matrix/client", "getVersions", {}],
    ["GET", "/_matrix/client/v3/sync?since=s1&timeout=0", "client-server", "/_matrix/client/v3", "sync", {}],
    ["GET", "/_matrix/client/v1/rooms/!r:hs/relations/$e/m.thread/m.room.message", "client-server", "/_matrix/client/v1",
      "getRelatingEventsWithRelTypeAndEventType", { roomId: "!r:hs", eventId: "$e", relType: "m.thread", eventType: "m.room.message" }],
    ["GET", "/_matrix/client/v1/media/download/hs/abcDEF", "client-server", "/_matrix/client/v1", "getContentAuthed",
      { serverName: "hs", mediaId: "abcDEF" }],
    ["GET", "/_matrix/media/v3/config", "client-server", "/_matrix", "getConfig", {}],
    ["GET", "/.well-known/matrix/client", "client-server", "/.well-known", "getWellknown", {}],
    ["GET", "/.well-known/matrix/server", "server-server", "/.well-known", "getWellKnown", {}],
    ["GET", "/_matrix/federation/v1/version", "server-server", "/_matrix/federation/v1", "getVersion", {}],
    ["GET", "/_matrix/federation/v1/make_join/!r:hs/@u:hs?ver=10", "server-server", "/_matrix/federation/v1", "makeJoin",
      { roomId: "!r:hs", userId: "@u:hs" }],
    ["PUT", "/_matrix/federation/v2/send_join/!r:hs/$ev", "server-server", "/_matrix/federation/v2", "sendJoinV2",
      { roomId: "!r:hs", eventId: "$ev" }],
    ["PUT", "/_matrix/federation/v1/send/1700000000000", "server-server", "/_matrix/federation/v1", "sendTransaction",
      { txnId: "1700000000000" }],
    ["GET", "/_matrix/key/v2/server", "server-server", "/_matrix/key/v2", "getServerKey", {}],
    ["GET", "/_matrix/key/v2/query/example.org", "server-server", "/_matrix/key/v2", "perspectivesKeyQuery", { serverName: "example.org" }],
    ["PUT", "/_matrix/app/v1/transactions/42", "application-service", "/_matrix/app/v1", "sendTransaction", { txnId: "42" }],
    ["POST", "/_matrix/push/v1/notify", "push-gateway", "/_matrix/push/v1", "notify", {}],
    ["GET", "/_matrix/identity/v2", "identity", "/_matrix/identity", "pingV2", {}],
  ];
  for (const [method, path, api, basePath, operationId, params] of cases) {
    it(`${method} ${path} -> ${operationId}`, () => {
      const m = spec.matchOperation(method, path);
      expect(m).toBeDefined();
      expect(m).toMatchObject({ api, basePath, operationId, params });
      expect(m?.file).toMatch(new RegExp(`^api/${api}/[^/]+\\.yaml$`));
      expect(m?.template.startsWith(basePath)).toBe(true);
    });
  }

  it("prefers a literal segment over a template when both match", () => {
    expect(spec.matchOperation("GET", "/_matrix/federation/v1/query/directory?room_alias=%23a%3Ahs")?.operationId).toBe("queryRoomDirectory");
    expect(spec.matchOperation("GET", "/_matrix/federation/v1/query/profile")?.operationId).toBe("queryProfile");
    expect(spec.matchOperation("GET", "/_matrix/federation/v1/query/com.example.custom")).toMatchObject({
      operationId: "queryInfo",
      params: { queryType: "com.example.custom" },
    });
    expect(spec.matchOperation("GET", "/_matrix/identity/v2/pubkey/isvalid")?.operationId).toBe("isPubKeyValidV2");
    expect(spec.matchOperation("GET", "/_matrix/identity/v2/pubkey/ephemeral/isvalid")?.operationId).toBe("isEphemeralPubKeyValidV2");
    expect(spec.matchOperation("GET", "/_matrix/identity/v2/pubkey/ed25519:0")?.operationId).toBe("getPubKeyV2");
    expect(spec.matchOperation("GET", "/_matrix/client/v3/room_keys/version")?.operationId).toBe("getRoomKeysVersionCurrent");
    expect(spec.matchOperation("GET", "/_matrix/client/v3/room_keys/version/3")?.operationId).toBe("getRoomKeysVersion");
    expect(spec.matchOperation("GET", "/_matrix/client/v3/thirdparty/location")?.operationId).toBe("queryLocationByAlias");
    expect(spec.matchOperation("GET", "/_matrix/client/v3/thirdparty/location/irc")?.operationId).toBe("queryLocationByProtocol");
  });

  it("matches on the encoded path, so encoded slashes stay inside a parameter", () => {
    const m = spec.matchOperation("GET", "/_matrix/client/v3/rooms/%21abc%3Ahs/event/%24acR1l0raoZnm60CBwAVgqbZqoO%2FmYU81xysh1u7XcJk");
    expect(m).toMatchObject({
      operationId: "getOneRoomEvent",
      params: { roomId: "!abc:hs", eventId: "$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk" },
    });
    const f = spec.matchOperation("GET", "/_matrix/media/v3/download/hs/abc/my%2Ffile%20name.png");
    expect(f).toMatchObject({ operationId: "getContentOverrideName", params: { fileName: "my/file name.png" } });
    // A raw slash is a path separator: this is not an event ID parameter.
    expect(spec.matchOperation("GET", "/_matrix/client/v3/rooms/!abc:hs/event/$a/b")).toBeUndefined();
  });

  it("accepts full URLs and ignores query and fragment", () => {
    expect(spec.matchOperation("get", "https://hs.example:8448/_matrix/client/v3/account/whoami?user_id=x#f")?.operationId).toBe("getTokenOwner");
  });

  it("treats a trailing slash as optional, as the spec writes some paths with one", () => {
    expect(spec.matchOperation("GET", "/_matrix/client/v3/pushrules/")?.operationId).toBe("getPushRules");
    expect(spec.matchOperation("GET", "/_matrix/client/v3/pushrules")?.operationId).toBe("getPushRules");
    expect(spec.matchOperation("GET", "/_matrix/client/v3/pushrules/global/")?.operationId).toBe("getPushRulesGlobal");
    expect(spec.matchOperation("GET", "/_matrix/client/v3/pushrules/global/override/.m.rule.master")).toMatchObject({
      operationId: "getPushRule",
      params: { kind: "override", ruleId: ".m.rule.master" },
    });
  });

  it("matches a state request with an empty state key, with or without the trailing slash", () => {
    for (const method of ["GET", "PUT"]) {
      for (const path of ["/_matrix/client/v3/rooms/!r:hs/state/m.room.name/", "/_matrix/client/v3/rooms/!r:hs/state/m.room.name"]) {
        const m = spec.matchOperation(method, path);
        expect(m?.key, `${method} ${path}`).toBe(`${method} /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}`);
        expect(m?.params, `${method} ${path}`).toEqual({ roomId: "!r:hs", eventType: "m.room.name", stateKey: "" });
      }
    }
    // A non-empty state key still fills the parameter; the state of the whole room is its own operation.
    expect(spec.matchOperation("GET", "/_matrix/client/v3/rooms/!r:hs/state/m.room.member/@u:hs")?.params).toEqual({
      roomId: "!r:hs",
      eventType: "m.room.member",
      stateKey: "@u:hs",
    });
    expect(spec.matchOperation("GET", "/_matrix/client/v3/rooms/!r:hs/state")?.operationId).toBe("getRoomState");
    expect(spec.matchOperation("GET", "/_matrix/client/v3/rooms/!r:hs/state/")?.operationId).toBe("getRoomState");
    // Only a parameter the spec says may be empty: a send without its txnId matches nothing.
    expect(spec.matchOperation("PUT", "/_matrix/client/v3/rooms/!r:hs/send/m.room.message")).toBeUndefined();
    expect(spec.matchOperation("GET", "/_matrix/client/v3/profile/@u:hs")?.operationId).toBe("getUserProfile");
  });

  it("lists operations documented twice for one method and path as alternatives", () => {
    const invite = spec.matchOperation("POST", "/_matrix/client/v3/rooms/!r:hs/invite");
    expect([invite?.operationId, ...(invite?.alternatives.map((a) => a.operationId) ?? [])].sort()).toEqual(["inviteBy3PID", "inviteUser"]);
    const events = spec.matchOperation("GET", "/_matrix/client/v3/events?from=x");
    expect([events?.operationId, ...(events?.alternatives.map((a) => a.operationId) ?? [])].sort()).toEqual(["getEvents", "peekEvents"]);
  });

  it("answers HEAD like GET, and nothing for unknown paths or methods", () => {
    expect(spec.matchOperation("HEAD", "/_matrix/client/versions")?.operationId).toBe("getVersions");
    expect(spec.matchOperation("GET", "/_matrix/client/v3/no_such_endpoint")).toBeUndefined();
    expect(spec.matchOperation("DELETE", "/_matrix/client/versions")).toBeUndefined();
    expect(spec.matchOperation("GET", "/_synapse/admin/v1/register")).toBeUndefined();
    // Parameters are never empty.
    expect(spec.matchOperation("GET", "/_matrix/client/v3/profile/")).toBeUndefined();
  });
});
