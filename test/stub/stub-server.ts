// A tiny homeserver that does just enough of the client-server API for the discovery suite, and
// misbehaves in one chosen way. The stub tests run the real CLI against it to prove that the
// suite catches each kind of mistake and explains it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { stubFederation } from "./stub-federation.ts";

export type Misbehaviour =
  | "none"
  | "wrong-status" // /capabilities without a token answers 403 instead of 401
  | "wrong-errcode" // /capabilities without a token answers 401 M_FORBIDDEN
  | "missing-field" // /versions omits the required `versions`
  | "malformed-body" // /versions sends broken JSON with a JSON content type
  | "bad-room-versions" // capabilities' default room version is not among the available ones
  | "hang" // /capabilities never answers
  | "wrong-errcode-once" // the first /capabilities without a token answers 401 M_FORBIDDEN, later ones are right
  | "malformed-transaction"; // POST /_stub/send_transaction sends a peer a transaction whose pdus is not an array

export interface Stub {
  url: string;
  serverName: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) text += chunk;
  try {
    return JSON.parse(text || "{}");
  } catch {
    return {};
  }
}

export async function startStub(mode: Misbehaviour): Promise<Stub> {
  const tokens = new Map<string, string>();
  let userCount = 0;
  const hanging = new Set<ServerResponse>();
  let wrongOnce = mode === "wrong-errcode-once";
  let serverName = "";
  // Its key document and the transactions it sends fake peers (see stub-federation.ts).
  const federation = stubFederation(() => serverName, { malformedTransaction: mode === "malformed-transaction" });

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://stub");
    const path = url.pathname;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (await federation.handle(req, res, path, () => readJson(req))) return;

    if (path === "/_matrix/client/versions" && req.method === "GET") {
      if (mode === "missing-field") return send(res, 200, { unstable_features: {} });
      if (mode === "malformed-body") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end('{"versions": ["v1.1", ');
      }
      return send(res, 200, { versions: ["v1.1", "v1.19"] });
    }
    if (path === "/_matrix/client/v3/capabilities" && req.method === "GET") {
      if (mode === "hang") {
        hanging.add(res);
        return;
      }
      if (!token) {
        if (mode === "wrong-status") return send(res, 403, { errcode: "M_MISSING_TOKEN", error: "no token" });
        if (mode === "wrong-errcode") return send(res, 401, { errcode: "M_FORBIDDEN", error: "no token" });
        if (wrongOnce) {
          wrongOnce = false;
          return send(res, 401, { errcode: "M_FORBIDDEN", error: "no token" });
        }
        return send(res, 401, { errcode: "M_MISSING_TOKEN", error: "Missing access token" });
      }
      if (!tokens.has(token)) return send(res, 401, { errcode: "M_UNKNOWN_TOKEN", error: "Unknown token" });
      const available = mode === "bad-room-versions" ? { "10": "stable" } : { "10": "stable", "11": "stable" };
      return send(res, 200, { capabilities: { "m.room_versions": { default: "11", available } } });
    }
    if (path === "/_matrix/client/v3/register" && req.method === "POST") {
      const body = await readJson(req);
      const auth = body.auth as { type?: string; session?: string } | undefined;
      if (auth?.type !== "m.login.dummy") return send(res, 401, { flows: [{ stages: ["m.login.dummy"] }], params: {}, session: "s1" });
      const userId = `@${String(body.username ?? `u${++userCount}`)}:${serverName}`;
      const accessToken = `tok${++userCount}`;
      tokens.set(accessToken, userId);
      return send(res, 200, { user_id: userId, access_token: accessToken, device_id: `DEV${userCount}` });
    }
    if (path.startsWith("/_matrix/federation/v1/make_join/") && req.method === "GET") {
      // A template as Synapse and Dendrite send it: no top-level `origin` (PDUs lost it in v1.3),
      // which the v1.19 schema still requires.
      const [roomId, userId] = path.split("/").slice(-2).map(decodeURIComponent);
      return send(res, 200, {
        room_version: "10",
        event: { type: "m.room.member", room_id: roomId, sender: userId, state_key: userId, content: { membership: "join" }, origin_server_ts: Date.now(), auth_events: [], prev_events: [], depth: 3 },
      });
    }
    if (path === "/.well-known/matrix/client") return send(res, 404, { errcode: "M_NOT_FOUND", error: "Not found" });
    return send(res, 404, { errcode: "M_UNRECOGNIZED", error: "Unrecognized request" });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  serverName = `127.0.0.1:${port}`;
  return {
    url: `http://127.0.0.1:${port}`,
    serverName,
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hanging) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
