// The terminal block under an unexpected failure (harness/report/progress.ts): the spec link, and
// the test's last two exchanges in brief when the message quotes none.
import { describe, expect, test } from "vitest";
import type { Exchange } from "../../harness/client/exchange.ts";
import type { TestResultEntry } from "../../harness/report/model.ts";
import { briefExchange, failureBlock, quotesAnExchange } from "../../harness/report/progress.ts";

function exchange(seq: number, over: Partial<Exchange> = {}): Exchange {
  return {
    seq,
    channel: "client:@alice:hs.test",
    method: "GET",
    url: `http://hs.test/_matrix/client/v3/rooms/!r:hs.test/state/${seq}`,
    requestHeaders: {},
    status: 200,
    responseBody: `{"n": ${seq}}`,
    startedAt: "t",
    durationMs: 4,
    ...over,
  };
}

function entry(over: Partial<TestResultEntry>): TestResultEntry {
  return {
    id: "suites/client-server/membership.test.ts::banning > a ban makes the membership ban",
    behaviour: "suites/client-server/membership.test.ts::banning > a ban makes the membership ban",
    title: "a ban makes the membership ban",
    fullTitle: "banning > a ban makes the membership ban",
    file: "suites/client-server/membership.test.ts",
    area: "client-server/membership",
    spec: { section: "client-server-api/#post_matrixclientv3roomsroomidban", since: "1.0", url: "https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidban" },
    status: "failed",
    durationMs: 12,
    failure: { kind: "assertion", signature: "assertion: the banned user's membership: expected … to be 'ban'" },
    ...over,
  };
}

// Colour codes off, whatever the terminal.
const plain = (lines: string[]) => lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ""));

describe("the block under an unexpected failure", () => {
  test("a plain expect's failure: spec link, message, then the last two exchanges in brief", () => {
    const block = plain(
      failureBlock(entry({ error: "AssertionError: the banned user's membership: expected 'leave' to be 'ban'", exchanges: [exchange(1), exchange(2), exchange(3, { responseBody: `{"membership": "leave", "pad": "${"x".repeat(300)}"}` })] })),
    );
    expect(block, "the whole block").toEqual([
      "  x banning > a ban makes the membership ban",
      "      assertion: the banned user's membership: expected … to be 'ban'",
      "      spec: https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidban",
      "      AssertionError: the banned user's membership: expected 'leave' to be 'ban'",
      "      The test's last 2 exchanges:",
      "      #2 GET http://hs.test/_matrix/client/v3/rooms/!r:hs.test/state/2 [client:@alice:hs.test]",
      '        -> 200 (4 ms): {"n": 2}',
      "      #3 GET http://hs.test/_matrix/client/v3/rooms/!r:hs.test/state/3 [client:@alice:hs.test]",
      `        -> 200 (4 ms): ${`{"membership": "leave", "pad": "${"x".repeat(300)}"}`.slice(0, 200)}…`,
    ]);
  });

  test("a message that quotes its exchange gets no second copy", () => {
    const error = "Error: expected 403 M_FORBIDDEN: status 200 instead of 403\nThe exchange:\n#2 POST http://hs.test/_matrix/client/v3/join/!r:hs.test [client:@bob:hs.test]\n  -> 200 (5 ms): {}";
    const block = plain(failureBlock(entry({ error, exchanges: [exchange(1), exchange(2)] })));
    expect(block.filter((l) => l.includes("last")), "no 'last exchanges' section").toEqual([]);
    expect(block[2], "the spec link still follows the signature").toBe("      spec: https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidban");
  });

  test("a set-up failure says so; a test without exchanges or spec gets neither section", () => {
    const block = plain(failureBlock(entry({ status: "setup-failed", spec: undefined, error: "StepFailed: create a room failed", exchanges: [] })));
    expect(block, "title, signature and message only").toEqual([
      "  x banning > a ban makes the membership ban (set-up failed: the behaviour was not reached)",
      "      assertion: the banned user's membership: expected … to be 'ban'",
      "      StepFailed: create a room failed",
    ]);
    const one = plain(failureBlock(entry({ error: "AssertionError: x", exchanges: [exchange(1)] })));
    expect(one.at(-3), "one exchange is named as one").toBe("      The test's last exchange:");
  });

  test("briefExchange shows a transport error in place of an answer; quotesAnExchange reads formatExchange's first line", () => {
    expect(briefExchange(exchange(4, { status: undefined, responseBody: undefined, error: "no response within 20000 ms" })), "a hang").toBe(
      "#4 GET http://hs.test/_matrix/client/v3/rooms/!r:hs.test/state/4 [client:@alice:hs.test]\n  transport error: no response within 20000 ms",
    );
    expect(quotesAnExchange("x failed\n#12 PUT https://hs/_matrix/federation/v1/send/1 [federation-out:hs]"), "a quoted exchange").toBe(true);
    expect(quotesAnExchange("AssertionError: expected #1 to be #2"), "a '#' inside a sentence").toBe(false);
  });
});
