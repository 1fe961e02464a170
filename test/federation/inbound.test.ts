// What a peer checks of the requests it receives: the body against the operation's request
// schema and the X-Matrix header against "Request Authentication"; the errors go on the inbound
// exchange as the sender's (subject "request"). The peer's own answers are not checked.
import { describe, expect, test } from "vitest";
import { fed, formatXMatrix, xMatrixViolations } from "../../harness/federation/index.ts";
import { startPair } from "./helpers.ts";

const D = "dest.example:8448";
const good = formatXMatrix({ origin: "o.example", destination: D, key: "ed25519:k1", sig: "c2ln" });

describe("xMatrixViolations", () => {
  test("a header as the spec's example writes it has none", () => {
    expect(xMatrixViolations(good, { destination: D, specVersion: "v1.19" })).toEqual([]);
    // Names are case-insensitive, token values may go unquoted, colons unquoted for older servers.
    expect(xMatrixViolations(`X-Matrix ORIGIN=o.example,Destination=${D},key=ed25519:k1,sig="c2ln"`, { destination: D })).toEqual([]);
  });

  test.each([
    ["no header", undefined, /has no Authorization header/],
    ["another scheme", "Bearer abc", /does not use the X-Matrix scheme/],
    ["a missing sig", 'X-Matrix origin="o",destination="d",key="ed25519:k1"', /lacks sig/],
    ["an unclosed quote", 'X-Matrix origin="o,key="ed25519:k1",sig="x"', /malformed X-Matrix header/],
    ["no destination (a MUST since v1.3)", 'X-Matrix origin="o.example",key="ed25519:k1",sig="c2ln"', /no destination parameter, which senders MUST always include/],
    ["another destination", formatXMatrix({ origin: "o.example", destination: "other.example", key: "ed25519:k1", sig: "c2ln" }), /destination parameter is "other.example", not the receiving server/],
    ["a key without an algorithm", formatXMatrix({ origin: "o.example", destination: D, key: "k1", sig: "c2ln" }), /not a key ID of the form/],
  ])("%s is a violation of rule x-matrix at /headers/authorization", (_name, header, message) => {
    const found = xMatrixViolations(header, { destination: D, specVersion: "v1.19" });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ keyword: "x-matrix", instancePath: "/headers/authorization", rule: "x-matrix @ server-server-api/#request-authentication" });
    expect(found[0]!.message).toMatch(message);
  });

  test("before v1.3 a header without destination was allowed", () => {
    expect(xMatrixViolations('X-Matrix origin="o.example",key="ed25519:k1",sig="c2ln"', { destination: D, specVersion: "v1.2" })).toEqual([]);
  });
});

describe("a peer checks the requests it receives", () => {
  test("a malformed transaction is the sender's schema fault on the inbound exchange, with path and rule", async () => {
    const { a, b, log } = await startPair();
    b.handle.transactions();
    const res = await a.request("PUT", fed.v1`/send/${a.newTxnId()}`, { body: { origin: a.serverName, origin_server_ts: Date.now(), pdus: "not an array", edus: [{ content: {} }] } });
    expect(res.status).toBe(200);
    const inbound = log.exchanges.find((e) => e.channel === `federation-in:${a.serverName}` && e.method === "PUT")!;
    expect(inbound.schema).toMatchObject({ operation: "server-server PUT /_matrix/federation/v1/send/{txnId}", subject: "request", checked: true });
    expect(inbound.schema!.errors.map((v) => `${v.instancePath} ${v.keyword}`)).toEqual(["/pdus type", "/edus/0 required"]);
    expect(inbound.schema!.errors[0]!.rule).toBe("type @ api/server-server/definitions/transaction.yaml#/properties/pdus/type");
    // b's answer is b's own: no check of it on the inbound exchange; a's check of b's answer is on a's outbound one.
    const outbound = log.exchanges.find((e) => e.channel === `federation-out:${b.serverName}` && e.method === "PUT")!;
    expect(outbound.schema?.subject ?? "response").toBe("response");
    expect(outbound.schema?.errors).toEqual([]);
  });

  test("a request without the destination parameter is served (recipients should accept it) and recorded as the sender's x-matrix violation", async () => {
    const { a, b, log } = await startPair();
    b.handle.profiles();
    b.profiles.set(b.userId("bob"), { displayname: "Bob" });
    const res = await a.request("GET", fed.v1`/query/profile`, {
      destination: b.serverName,
      query: { user_id: b.userId("bob") },
      authorization: (p) => formatXMatrix({ origin: p.origin, key: p.key, sig: p.sig }),
    });
    expect(res.status).toBe(200);
    const inbound = log.exchanges.find((e) => e.channel === `federation-in:${a.serverName}` && e.url.includes("/query/profile"))!;
    expect(inbound.schema?.errors.map((v) => v.message)).toEqual(["/headers/authorization: the X-Matrix header has no destination parameter, which senders MUST always include (since v1.3)"]);
  });

  test("a peer's own make_join template without origin is not held against anyone, and the errata cover the joiner's send_join", async () => {
    const { a, b, log } = await startPair();
    const room = b.createRoom({ version: "10", creator: b.userId("bob") });
    b.handle.joins();
    const joined = await a.joinRoomOnTarget(room.roomId, a.userId("alice"), "10");
    expect("origin" in (joined.makeJoin.body.event as object)).toBe(false);
    const checks = log.exchanges.filter((e) => e.schema).map((e) => `${e.channel.split(":")[0]} ${e.method} ${e.schema!.subject ?? "response"} ${e.schema!.errors.length} [${(e.schema!.errata ?? []).join(",")}]`);
    expect(checks).toContain("federation-out GET response 0 [membership-origin]");
    expect(checks).toContain("federation-in PUT request 0 []");
  });
});
