// Where a test's time goes (ExchangeLog spans and splitTime): waiting on the server, waiting on a
// signal (long-poll, federation waiter), or the harness. The figures npm run bench prints rest on it.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MatrixClient, cs } from "../../harness/client/client.ts";
import { ExchangeLog, splitTime, type TimeSpan } from "../../harness/client/exchange.ts";
import { timeStats } from "../../harness/report/model.ts";

const span = (kind: TimeSpan["kind"], start: number, end: number): TimeSpan => ({ kind, start, end });

describe("splitTime", () => {
  test("uncovered time is the harness's, and the parts add up to the whole", () => {
    const s = splitTime([span("server", 10, 30), span("wait", 50, 90)], 0, 100);
    expect(s, "server 20, wait 40, the rest harness").toEqual({ totalMs: 100, serverMs: 20, waitMs: 40, harnessMs: 40 });
  });

  test("requests in parallel count their shared time once", () => {
    const s = splitTime([span("server", 0, 60), span("server", 20, 80)], 0, 100);
    expect(s.serverMs, "the union, not the sum").toBe(80);
  });

  test("a peer answering the target while the client waits on it is harness time; a long-poll beats a request", () => {
    const s = splitTime([span("server", 0, 100), span("harness", 40, 50), span("wait", 60, 100), span("server", 70, 80)], 0, 100);
    expect(s, "harness 10 inside the request, wait 40 over both requests").toEqual({ totalMs: 100, serverMs: 50, waitMs: 40, harnessMs: 10 });
  });

  test("spans outside the test's window are clipped", () => {
    const s = splitTime([span("server", -50, 20), span("wait", 90, 200)], 0, 100);
    expect(s, "only what falls inside counts").toEqual({ totalMs: 100, serverMs: 20, waitMs: 10, harnessMs: 70 });
  });

  test("timeStats adds the splits up in all and by area", () => {
    const t = (serverMs: number, waitMs: number, harnessMs: number) => ({ totalMs: serverMs + waitMs + harnessMs, serverMs, waitMs, harnessMs });
    const stats = timeStats([
      { area: "client-server/rooms", time: t(10, 0, 5) },
      { area: "client-server/rooms", time: t(20, 5, 5) },
      { area: "federation/joins", time: t(1, 100, 2) },
    ]);
    expect(stats.total, "the run's totals").toEqual({ tests: 3, testMs: 148, serverMs: 31, waitMs: 105, harnessMs: 12 });
    expect(stats.areas["client-server/rooms"], "one area's totals").toEqual({ tests: 2, testMs: 45, serverMs: 30, waitMs: 5, harnessMs: 10 });
  });
});

describe("what the client records", () => {
  let server: Server;
  let baseUrl: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      // A long-poll held for a while, and a plain request answered at once.
      const hold = req.url?.includes("timeout=") ? 80 : 0;
      setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ next_batch: "s1" })), hold);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("a GET with a timeout is a wait, any other request is server time, and a waiter's time is a wait", async () => {
    const log = new ExchangeLog();
    const c = new MatrixClient({ baseUrl, log });
    await c.get(cs.v3`/sync`, { query: { timeout: 1000 } });
    await c.get(cs.v3`/sync`, { query: { timeout: 0 } });
    await c.post(cs.v3`/createRoom`, {});
    await log.waiting(new Promise((resolve) => setTimeout(resolve, 30)));
    expect(log.spans.map((s) => s.kind), "one span per exchange, then the waiter's").toEqual(["wait", "server", "server", "wait"]);
    const [poll, , , waiter] = log.spans;
    expect(poll!.end - poll!.start, "the long-poll's span covers its hold").toBeGreaterThanOrEqual(70);
    expect(waiter!.end - waiter!.start, "the waiter's span covers its wait").toBeGreaterThanOrEqual(25);
  });

  test("a waiter that fails still records its wait", async () => {
    const log = new ExchangeLog();
    await expect(log.waiting(Promise.reject(new Error("timed out"))), "the waiter's own error").rejects.toThrow("timed out");
    expect(log.spans.map((s) => s.kind), "the failed wait is recorded").toEqual(["wait"]);
  });
});
