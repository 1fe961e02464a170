import { beforeAll, describe, expect, it } from "vitest";
import type { Spec } from "../../harness/schemas/index.ts";
import { getSpec } from "./helpers.ts";

let spec: Spec;
beforeAll(async () => {
  spec = await getSpec();
});

const base = {
  event_id: "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg",
  sender: "@alice:hs1.example",
  origin_server_ts: 1700000000000,
  room_id: "!room:hs1.example",
};

describe("validateEvent", () => {
  it("accepts a valid m.room.message and checks it against its msgtype variant too", () => {
    const r = spec.validateEvent({
      ...base,
      type: "m.room.message",
      content: { msgtype: "m.text", body: "hi", format: "org.matrix.custom.html", formatted_body: "<b>hi</b>" },
    });
    expect(r).toMatchObject({ type: "m.room.message", checked: true, errors: [] });
    expect(r.schemas).toEqual(["event-schemas/schema/m.room.message.yaml", "event-schemas/schema/m.room.message$m.text.yaml"]);
  });

  it("reports wrong content types and missing fields of m.room.message", () => {
    const r = spec.validateEvent({ ...base, type: "m.room.message", content: { msgtype: "m.text", body: 42 } });
    expect(r.errors.map((e) => [e.instancePath, e.keyword])).toEqual([["/content/body", "type"]]);
    expect(r.errors[0]?.message).toBe("/content/body: must be string, got integer 42");
    const missing = spec.validateEvent({ ...base, type: "m.room.message", content: { body: "no msgtype" } });
    expect(missing.errors.map((e) => e.message)).toEqual(['/content: missing required property "msgtype"']);
  });

  it("holds m.image messages to the image variant", () => {
    const r = spec.validateEvent({ ...base, type: "m.room.message", content: { msgtype: "m.image", body: "cat.png", url: "https://not-mxc.example/cat.png" } });
    expect(r.schemas).toContain("event-schemas/schema/m.room.message$m.image.yaml");
    expect(r.errors.map((e) => [e.instancePath, e.keyword])).toContainEqual(["/content/url", "format"]);
  });

  it("accepts a valid m.room.member and rejects a bad membership and state_key", () => {
    const ok = spec.validateEvent({
      ...base,
      type: "m.room.member",
      state_key: "@alice:hs1.example",
      content: { membership: "join", displayname: "Alice", avatar_url: "mxc://hs1.example/abc123" },
    });
    expect(ok.errors).toEqual([]);
    const bad = spec.validateEvent({ ...base, type: "m.room.member", state_key: "alice", content: { membership: "joined" } });
    const got = bad.errors.map((e) => `${e.instancePath} ${e.keyword}`);
    expect(got).toContain("/content/membership enum");
    expect(got).toContain("/state_key format");
    expect(bad.errors.find((e) => e.keyword === "enum")?.message).toMatch(/^\/content\/membership: must be one of "invite", "join", "knock", "leave", "ban"; got "joined"$/);
  });

  it("requires room_id unless the caller says which room the event came from (as in /sync)", () => {
    const { room_id: _omit, ...withoutRoom } = base;
    const ev = { ...withoutRoom, type: "m.room.message", content: { msgtype: "m.notice", body: "hi" } };
    expect(spec.validateEvent(ev).errors.map((e) => e.message)).toEqual(['(body): missing required property "room_id"']);
    expect(spec.validateEvent(ev, { roomId: "!room:hs1.example" }).errors).toEqual([]);
  });

  it("does not hold redacted events to their content schema", () => {
    const r = spec.validateEvent({
      ...base,
      type: "m.room.message",
      content: {},
      unsigned: { redacted_because: { ...base, type: "m.room.redaction", redacts: base.event_id, content: {} } },
    });
    expect(r).toMatchObject({ checked: true, errors: [] });
  });

  it("does not check event types the spec has no schema for", () => {
    expect(spec.validateEvent({ ...base, type: "com.example.custom", content: {} })).toMatchObject({ checked: false, errors: [] });
  });

  it("rejects things that are not events", () => {
    expect(spec.validateEvent([1, 2]).errors.map((e) => e.keyword)).toEqual(["event"]);
    expect(spec.validateEvent({ content: {} }).errors.map((e) => e.instancePath)).toEqual(["/type"]);
  });

  it("knows the event types of the spec", () => {
    expect(spec.eventTypes).toContain("m.room.create");
    expect(spec.eventTypes).toContain("m.room.power_levels");
    expect(spec.eventTypes.some((t) => t.includes("$"))).toBe(false);
  });
});
