import { describe, expect, test } from "vitest";
import { registrationMac, uniqueLocalpart } from "../../harness/client/register.ts";
import { cutBody, selectHeaders, BODY_LIMIT } from "../../harness/client/exchange.ts";
import { cs } from "../../harness/client/client.ts";

describe("shared-secret registration", () => {
  test("the MAC is hex HMAC-SHA1 over nonce, user, password and admin flag separated by NUL", () => {
    // Computed independently: printf 'abc\0alice\0pw\0notadmin' | openssl sha1 -hmac secret
    expect(registrationMac("secret", "abc", "alice", "pw", false)).toBe("42e32623fe124933c326f9d2d67ff7c617915a10");
    expect(registrationMac("secret", "abc", "alice", "pw", true)).not.toBe(registrationMac("secret", "abc", "alice", "pw", false));
  });

  test("localparts are unique and within the allowed character set", () => {
    const a = uniqueLocalpart("Alice!");
    expect(a).toMatch(/^[a-z0-9._=\-/]+$/);
    expect(uniqueLocalpart("alice")).not.toBe(uniqueLocalpart("alice"));
  });
});

describe("exchange recording", () => {
  test("bodies are cut at 64 KiB and say how much was cut", () => {
    const cut = cutBody("x".repeat(BODY_LIMIT + 10))!;
    expect(cut.startsWith("x".repeat(BODY_LIMIT))).toBe(true);
    expect(cut).toContain("[10 more characters cut]");
    expect(cutBody("short")).toBe("short");
  });

  test("access tokens are hidden but their presence is kept", () => {
    const h = selectHeaders({ Authorization: "Bearer syt_abcdefghijklmnop", "X-Other": "dropped", "Content-Type": "application/json" });
    expect(h.authorization).toBe("Bearer syt_ab…");
    expect(h["x-other"]).toBeUndefined();
    expect(h["content-type"]).toBe("application/json");
  });

  test("path templates encode each interpolated value as one segment", () => {
    expect(cs.v3`/rooms/${"!a/b:hs"}/state/${"m.room.name"}/${""}`).toBe("/_matrix/client/v3/rooms/!a%2Fb%3Ahs/state/m.room.name/");
  });
});
