// Each user's exchanges go on a channel named after the user (MatrixClient.as), and the rendering
// of an exchange in failure messages names its channel, so a failure with alice and bob shows who
// sent each request.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MatrixClient } from "../../harness/client/client.ts";
import { ExchangeLog, formatExchange } from "../../harness/client/exchange.ts";

let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("exchange channels", () => {
  test("a client without a user is 'client'; as() names each user's channel after the user", async () => {
    const log = new ExchangeLog();
    const api = new MatrixClient({ baseUrl, log });
    const alice = api.as({ accessToken: "a", userId: "@alice-1:hs.test", deviceId: "A" });
    const bob = alice.as({ accessToken: "b", userId: "@bob-2:hs.test" });
    const aliceAgain = alice.as({ accessToken: "a2" });
    await api.get("/_matrix/client/versions");
    await alice.get("/_matrix/client/v3/account/whoami");
    await bob.get("/_matrix/client/v3/account/whoami");
    await aliceAgain.get("/_matrix/client/v3/account/whoami");
    expect(log.exchanges.map((e) => e.channel), "the channel of each exchange").toEqual(["client", "client:@alice-1:hs.test", "client:@bob-2:hs.test", "client:@alice-1:hs.test"]);
  });

  test("a rendered exchange names its channel on its first line", async () => {
    const log = new ExchangeLog();
    const bob = new MatrixClient({ baseUrl, log }).as({ accessToken: "b", userId: "@bob:hs.test" });
    const res = await bob.get("/_matrix/client/v3/account/whoami");
    expect(formatExchange(res.exchange).split("\n")[0], "the first line").toBe(`#1 GET ${baseUrl}/_matrix/client/v3/account/whoami [client:@bob:hs.test]`);
  });
});
