// The federation side of the stub homeserver (test/stub/stub-server.ts): a signing key, its key
// document at GET /_matrix/key/v2/server, and a control endpoint POST /_stub/send_transaction
// {destination, url} that makes the stub send one transaction to a fake peer, signed with
// X-Matrix (harness/crypto), so that the only fault a peer can find is the one chosen: in the
// "malformed-transaction" mode `pdus` is an object instead of an array. The stub answers the
// control request with the peer's status and body once the peer has answered.
import { request } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { newSigningKey, serverKeysDocument } from "../../harness/federation/keys.ts";
import { signRequest } from "../../harness/federation/xmatrix.ts";

export interface StubFederation {
  /** Handles the request when it is the federation side's; returns false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, body: () => Promise<Record<string, unknown>>): Promise<boolean>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function put(url: string, headers: Record<string, string>, payload: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // The peer's certificate comes from the run's CA, which the stub does not hold: the stub
    // only needs to reach the peer, not to authenticate it.
    const r = request(url, { method: "PUT", headers: { ...headers, "content-length": String(Buffer.byteLength(payload)) }, rejectUnauthorized: false, timeout: 15_000 }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    r.on("timeout", () => r.destroy(new Error("the peer did not answer within 15 s")));
    r.on("error", reject);
    r.end(payload);
  });
}

export function stubFederation(serverName: () => string, mode: { malformedTransaction: boolean }): StubFederation {
  const key = newSigningKey();
  let txn = 0;
  return {
    async handle(req, res, path, body) {
      if (req.method === "GET" && (path === "/_matrix/key/v2/server" || path.startsWith("/_matrix/key/v2/server/"))) {
        send(res, 200, serverKeysDocument(serverName(), [key]));
        return true;
      }
      if (req.method === "POST" && path === "/_stub/send_transaction") {
        const { destination, url } = (await body()) as { destination?: string; url?: string };
        if (typeof destination !== "string" || typeof url !== "string") {
          send(res, 400, { errcode: "M_BAD_JSON", error: "destination and url are required" });
          return true;
        }
        const content = {
          origin: serverName(),
          origin_server_ts: Date.now(),
          pdus: mode.malformedTransaction ? {} : [],
          edus: [{ edu_type: "m.typing", content: { room_id: "!stub:stub", user_id: `@stub:${serverName()}`, typing: true } }],
        };
        const uri = `/_matrix/federation/v1/send/stub${++txn}`;
        const authorization = signRequest({ method: "PUT", uri, origin: serverName(), destination, content }, key);
        try {
          const r = await put(`${url.replace(/\/+$/, "")}${uri}`, { authorization, "content-type": "application/json" }, JSON.stringify(content));
          send(res, 200, { status: r.status, body: r.body });
        } catch (e) {
          send(res, 502, { errcode: "M_UNKNOWN", error: `the stub could not reach ${url}: ${(e as Error).message}` });
        }
        return true;
      }
      return false;
    },
  };
}
