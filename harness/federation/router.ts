// Routing of a peer's inbound requests: the routes a test or handler switched on, matched by
// method and path template, and the dispatch that serves the always-on endpoints (key document,
// version), checks X-Matrix on every other /_matrix/federation/ request and hands the request
// to its route. What is not routed is answered 404 M_UNRECOGNIZED and marked unexpected. Also
// the path builders of the federation APIs, for the peer's outbound requests.

import { path as pathTemplate } from "../client/client.ts";
import { verifyRequest } from "./xmatrix.ts";

/** Path builders for the federation APIs: fed.v1`/make_join/${roomId}/${userId}`. */
export const fed = {
  v1: pathTemplate("/_matrix/federation/v1"),
  v2: pathTemplate("/_matrix/federation/v2"),
  key: pathTemplate("/_matrix/key/v2"),
};

/** An inbound request as a handler sees it: authenticated, parsed. */
export interface InboundRequest {
  method: string;
  /** The path without the query, still percent-encoded. */
  path: string;
  /** The request target as sent (path and query). */
  uri: string;
  query: URLSearchParams;
  /** Path parameters, percent-decoded. */
  params: Record<string, string>;
  /** The parsed JSON body (undefined for none). */
  body: unknown;
  /** The authenticated origin server ("" for unauthenticated endpoints). */
  origin: string;
  /** The Authorization header as sent, for tests that check the sender's signature themselves. */
  authorization?: string;
}

export interface HandlerResult {
  status: number;
  body: unknown;
  /** Recorded as unexpected (the test fails at teardown) although it was answered. */
  unexpected?: string;
  /** Recorded as tolerated background traffic. */
  tolerated?: string;
}

export type Handler = (req: InboundRequest) => Promise<HandlerResult> | HandlerResult;

export interface Route {
  method: string;
  name: string;
  segments: string[];
  handler: Handler;
  /** Served without X-Matrix authentication. */
  open?: boolean;
}

/** What dispatch needs of the peer it serves. */
export interface DispatchContext {
  /** The peer's server name: the destination X-Matrix headers must name. */
  serverName: string;
  label: string;
  /** The signed key document served at GET /_matrix/key/v2/server. */
  keyDocument(): Record<string, unknown>;
  /** The body of GET /_matrix/federation/v1/version. */
  version(): unknown;
  /** The origin's public key for request signatures (fetched and cached). */
  keyFor(origin: string, keyId: string): Promise<Uint8Array | undefined>;
}

/** The raw inbound request, before routing. */
export interface RawRequest {
  method: string;
  uri: string;
  pathname: string;
  query: URLSearchParams;
  rawBody: string;
  authorization: string | undefined;
}

export class Router {
  private readonly routes: Route[] = [];

  /** Serves `method template` (e.g. "GET", "/_matrix/federation/v1/state/{roomId}") with `handler`; a later route wins. */
  add(method: string, template: string, handler: Handler, opts: { name?: string; open?: boolean } = {}): void {
    const segments = template.split("/").filter(Boolean);
    this.routes.unshift({ method: method.toUpperCase(), name: opts.name ?? `${method} ${template}`, segments, handler, open: opts.open });
  }

  match(method: string, pathname: string): { route: Route; params: Record<string, string> } | undefined {
    const parts = pathname.split("/").filter(Boolean);
    for (const route of this.routes) {
      if (route.method !== method || route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const seg = route.segments[i]!;
        const part = parts[i]!;
        if (seg.startsWith("{") && seg.endsWith("}")) {
          try {
            params[seg.slice(1, -1)] = decodeURIComponent(part);
          } catch {
            params[seg.slice(1, -1)] = part;
          }
        } else if (seg !== part) {
          ok = false;
          break;
        }
      }
      if (ok) return { route, params };
    }
    return undefined;
  }

  /**
   * Answers a request: the key document and version always; otherwise verifies X-Matrix (for
   * /_matrix/federation/ paths not routed as open) and calls the matching route. `setOrigin`
   * learns the authenticated (or claimed, when refused) origin; `markAuthenticated` is called
   * when the request was subject to X-Matrix verification.
   */
  async dispatch(ctx: DispatchContext, req: RawRequest, setOrigin: (origin: string) => void, markAuthenticated: () => void): Promise<HandlerResult> {
    const { method, uri, pathname, query, rawBody, authorization } = req;
    // Always served: the key document (also under the legacy /server/{keyId} path) and the version.
    if (method === "GET" && (pathname === "/_matrix/key/v2/server" || pathname.startsWith("/_matrix/key/v2/server/"))) {
      return { status: 200, body: ctx.keyDocument() };
    }
    if (method === "GET" && pathname === "/_matrix/federation/v1/version") {
      return { status: 200, body: ctx.version() };
    }
    let body: unknown;
    if (rawBody !== "") {
      try {
        body = JSON.parse(rawBody);
      } catch {
        return { status: 400, body: { errcode: "M_NOT_JSON", error: "the body is not JSON" }, unexpected: `${method} ${pathname} sent a body that is not JSON` };
      }
    }
    const matched = this.match(method, pathname);
    let origin = "";
    if (pathname.startsWith("/_matrix/federation/") && !matched?.route.open) {
      markAuthenticated();
      const verdict = await verifyRequest({
        method,
        uri,
        destination: ctx.serverName,
        authorization,
        content: body,
        keyFor: (o, keyId) => ctx.keyFor(o, keyId),
      });
      if (!verdict.ok) {
        if (verdict.origin) setOrigin(verdict.origin);
        return { status: verdict.status, body: { errcode: verdict.errcode, error: verdict.reason }, unexpected: `refused an unauthenticated request: ${verdict.reason}` };
      }
      origin = verdict.origin;
      setOrigin(origin);
    }
    if (!matched) {
      return {
        status: 404,
        body: { errcode: "M_UNRECOGNIZED", error: `${ctx.label} serves no handler for ${method} ${pathname} in this test` },
        unexpected: `no handler expects ${method} ${pathname} (switch one on with peer.handle.*)`,
      };
    }
    return matched.route.handler({ method, path: pathname, uri, query, params: matched.params, body, origin, authorization });
  }
}
