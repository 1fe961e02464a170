// A fake homeserver peer: an HTTPS server on 127.0.0.1 with its own server name
// (`localhost:<port>`), ed25519 signing key and certificate from the run's CA, and a client that
// signs its requests with X-Matrix. Every exchange in both directions goes into the test's
// ExchangeLog (channels `federation-out:<destination>` and `federation-in:<origin>`). What the
// target produces is checked against the spec when validators are given: its responses to the
// peer (`validator`), and its requests to the peer (`requestValidator`: the body against the
// operation's request schema, and the X-Matrix header against "Request Authentication", as
// violations of rule "x-matrix"). The peer's own responses are not checked: they are the
// harness's, not the target's.
//
// Inbound requests:
//   - GET /_matrix/key/v2/server and GET /_matrix/federation/v1/version are always served;
//   - every other /_matrix/federation/ request must carry a valid X-Matrix signature by its
//     origin, checked against keys fetched from the origin (refused with 401 M_UNAUTHORIZED);
//   - a request is then answered by a handler the test switched on (see handlers.ts), or it is
//     "unexpected": answered 404 M_UNRECOGNIZED and recorded, and the fixture fails the test at
//     teardown with the request shown. Exceptions (documented in README.md): transactions that
//     carry only background EDUs (m.presence, m.device_list_update) are answered 200 and recorded
//     as tolerated, whether or not transactions are switched on.

import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { StepFailed, path as pathTemplate, performExchange, type RequestValidator, type Response, type ResponseValidator } from "../client/client.ts";
import { ExchangeLog, cutBody, formatExchange, selectHeaders, type Exchange, type SchemaCheck } from "../client/exchange.ts";
import { ROOM_VERSION_IDS, hashAndSignEvent, type SigningKey, type VerifyKeys } from "../crypto/index.ts";
import { describePdu, eventIdOf, knownVersion, pduCryptoProblems, pduFormatProblems, type RoomVersionId, type WirePdu } from "./events.ts";
import { Keyring, newSigningKey, serverKeysDocument } from "./keys.ts";
import { PeerRoom, createPeerRoom, stateKey, type CreateRoomOptions, type EventInput } from "./room.ts";
import { issueServerCert, type RunCa } from "./tls.ts";
import { Inbox } from "./waiters.ts";
import { signRequest, verifyRequest, xMatrixViolations, type SignableRequest, type XMatrixParams } from "./xmatrix.ts";

/**
 * How long a waiter gives the target to send something over federation. Servers batch and delay
 * outbound transactions, more so on a loaded machine; MATRIX_CONFORMANCE_FEDERATION_WAIT_MS moves it.
 */
export const FEDERATION_WAIT_MS = Number(process.env.MATRIX_CONFORMANCE_FEDERATION_WAIT_MS) || 25_000;
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installHandlers, type PeerHandlers } from "./handlers.ts";

/** Path builders for the federation APIs: fed.v1`/make_join/${roomId}/${userId}`. */
export const fed = {
  v1: pathTemplate("/_matrix/federation/v1"),
  v2: pathTemplate("/_matrix/federation/v2"),
  key: pathTemplate("/_matrix/key/v2"),
};

export interface PeerOptions {
  /** The run's CA: the peer's certificate comes from it and outbound TLS trusts it. */
  ca: RunCa;
  /** The test's exchange log (default: a log of the peer's own). */
  log?: ExchangeLog;
  /** Checks the target's responses to the peer's requests against the spec's schemas. */
  validator?: ResponseValidator;
  /** Checks the target's requests to the peer (body and X-Matrix header); see makeRequestValidator. */
  requestValidator?: RequestValidator;
  /** The spec release the X-Matrix rules are taken from (e.g. "v1.19"; default: the current rules). */
  specVersion?: string;
  /** The server under test: the default destination of the peer's requests. */
  target?: { serverName: string; url?: string };
  /** Per-request bound for outbound requests (ms). Default 20 s. */
  timeoutMs?: number;
  /** A name for messages, e.g. "peer 2". Default: the server name. */
  label?: string;
  /** How the peer identifies itself in GET /_matrix/federation/v1/version. */
  software?: { name: string; version: string };
  /**
   * The host part of the peer's server name: "localhost" (default) or the IP literal
   * "127.0.0.1" (for tests that must tell the peer apart from a target named localhost, e.g.
   * server ACLs, which ignore ports). The certificate covers both.
   */
  host?: "localhost" | "127.0.0.1";
}

/** A PDU the peer received, with what its checks found. */
export interface ReceivedPdu {
  via: "transaction" | "send_join" | "send_leave" | "send_knock" | "invite";
  origin: string;
  roomId: string;
  roomVersion?: RoomVersionId;
  eventId: string;
  event: WirePdu;
  /** Format, signature, hash and authorisation problems; empty when the event is sound. */
  problems: string[];
  receivedAt: number;
}

export interface ReceivedEdu {
  origin: string;
  edu_type: string;
  content: unknown;
  receivedAt: number;
}

export interface UnexpectedRequest {
  reason: string;
  exchange: Exchange;
}

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

interface Route {
  method: string;
  name: string;
  segments: string[];
  handler: Handler;
  /** Served without X-Matrix authentication. */
  open?: boolean;
}

export interface OutboundOptions {
  /** Default: the target. */
  destination?: string;
  query?: Record<string, string | number | boolean | Array<string | number> | undefined>;
  body?: unknown;
  /** A raw body sent as is (it is then not part of the signature unless it parses as JSON). */
  rawBody?: string;
  /**
   * Authorization: default a correct X-Matrix signature; null sends none; a string is sent as
   * is; a function gets the correct parameters and the signed request and returns the header.
   */
  authorization?: null | string | ((params: XMatrixParams, req: SignableRequest) => string);
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface JoinResult {
  room: PeerRoom;
  roomVersion: RoomVersionId;
  /** The join event as the target returned it (signed by both servers), or as sent. */
  joinEvent: WirePdu;
  joinEventId: string;
  /** `state` and `auth_chain` of the send_join response. */
  state: WirePdu[];
  authChain: WirePdu[];
  makeJoin: Response;
  sendJoin: Response;
  /** Verification problems found while loading the response, by event. */
  problems: string[];
}

export interface TransactionResult {
  response: Response;
  /** Per event ID: undefined when accepted, else the error the target gave. */
  errors: Record<string, string | undefined>;
}

let txnCounter = 0;

/**
 * Peer ports are never reused within a run. A peer's server name carries its port, and a target
 * remembers destinations: if a later peer reused the port of one that had stopped, the target
 * would see the same server name and hold its transactions back under the backoff it applied to
 * the stopped one. So ports come from a range of this worker's own (VITEST_POOL_ID), below the
 * kernel's ephemeral range, handed out in order and skipped when taken.
 */
const PORTS_PER_WORKER = 1500;
const PORT_BASE = 10_000;
const slot = Math.max(0, (Number(process.env.VITEST_POOL_ID) || 1) - 1) % 14;
const firstPort = PORT_BASE + slot * PORTS_PER_WORKER;
// A pool slot may run several test files in successive processes, so the position in the range
// is kept in a file (one per slot) rather than in this module.
const counterFile = join(tmpdir(), `matrix-conformance-peer-ports-${slot}`);

function takePort(): number {
  let next = firstPort;
  try {
    const saved = Number(readFileSync(counterFile, "utf8"));
    if (saved >= firstPort && saved < firstPort + PORTS_PER_WORKER) next = saved;
  } catch {
    // first use of this slot
  }
  const after = next + 1 < firstPort + PORTS_PER_WORKER ? next + 1 : firstPort;
  writeFileSync(counterFile, String(after));
  return next;
}

async function listenOnFreshPort(server: Server): Promise<void> {
  for (let tries = 0; tries < PORTS_PER_WORKER; tries++) {
    const port = takePort();
    const ok = await new Promise<boolean>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => (err.code === "EADDRINUSE" || err.code === "EACCES" ? resolve(false) : reject(err));
      server.once("error", onError);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", onError);
        resolve(true);
      });
    });
    if (ok) return;
  }
  throw new Error(`no free port in this worker's peer range ${firstPort}-${firstPort + PORTS_PER_WORKER - 1}`);
}

export class FederationPeer {
  readonly serverName: string;
  readonly port: number;
  readonly baseUrl: string;
  /** The key the peer signs with and publishes. */
  readonly signingKey: SigningKey;
  /** A key the peer holds but does not publish (for "unknown key" tests). */
  readonly unpublishedKey: SigningKey;
  readonly log: ExchangeLog;
  readonly label: string;
  readonly keyring: Keyring;
  readonly rooms = new Map<string, PeerRoom>();
  readonly handle: PeerHandlers;
  readonly pdus: Inbox<ReceivedPdu>;
  readonly edus: Inbox<ReceivedEdu>;
  /** Profiles the profile query handler serves: user ID -> fields. */
  readonly profiles = new Map<string, Record<string, string>>();
  /** Aliases the directory query handler serves: alias -> room ID. */
  readonly aliases = new Map<string, string>();
  /** Devices the user-devices handler serves: user ID -> device list. */
  readonly devices = new Map<string, Array<Record<string, unknown>>>();
  /** Rooms listed by the public rooms handler. */
  readonly publishedRooms = new Set<string>();

  private target?: { serverName: string; url?: string };
  private readonly validator?: ResponseValidator;
  private readonly requestValidator?: RequestValidator;
  private readonly specVersion?: string;
  private readonly timeoutMs: number;
  private readonly agent: Agent;
  private readonly server: Server;
  private readonly routes: Route[] = [];
  private readonly unexpected: UnexpectedRequest[] = [];
  private readonly toleratedExchanges: Exchange[] = [];
  private readonly software: { name: string; version: string };
  private stopped = false;

  private constructor(opts: PeerOptions, server: Server, port: number, agent: Agent) {
    this.port = port;
    const host = opts.host ?? "localhost";
    this.serverName = `${host}:${port}`;
    this.baseUrl = `https://${host}:${port}`;
    this.signingKey = newSigningKey();
    this.unpublishedKey = newSigningKey();
    this.log = opts.log ?? new ExchangeLog();
    this.label = opts.label ?? this.serverName;
    this.target = opts.target;
    this.validator = opts.validator;
    this.requestValidator = opts.requestValidator;
    this.specVersion = opts.specVersion;
    this.timeoutMs = opts.timeoutMs ?? 20_000;
    this.agent = agent;
    this.server = server;
    this.software = opts.software ?? { name: "matrix-conformance peer", version: "0.1.0" };
    this.keyring = new Keyring((name) => this.fetchKeyDocument(name));
    this.keyring.addLocal(this.serverName, [this.signingKey]);
    this.pdus = new Inbox<ReceivedPdu>((p) => `${p.via} from ${p.origin}: ${describePdu(p.event, p.eventId)} in ${p.roomId}${p.problems.length ? ` [${p.problems.join("; ")}]` : ""}`, "PDUs");
    this.edus = new Inbox<ReceivedEdu>((e) => `${e.edu_type} from ${e.origin}: ${JSON.stringify(e.content).slice(0, 160)}`, "EDUs");
    this.handle = installHandlers(this);
  }

  /** Starts a peer listening on 127.0.0.1 on a free port. */
  static async start(opts: PeerOptions): Promise<FederationPeer> {
    const cert = await issueServerCert(opts.ca, { dns: ["localhost"], ips: ["127.0.0.1"] });
    let peer: FederationPeer | undefined;
    const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      if (!peer) {
        res.writeHead(503).end();
        return;
      }
      void peer.onRequest(req, res);
    });
    await listenOnFreshPort(server);
    const port = (server.address() as AddressInfo).port;
    const agent = new Agent({ connect: { ca: opts.ca.certPem }, keepAliveTimeout: 5_000, connections: 16 });
    peer = new FederationPeer(opts, server, port, agent);
    return peer;
  }

  /** The target's server name (throws when the peer was started without one). */
  get targetServerName(): string {
    if (!this.target) throw new Error(`${this.label} has no target server`);
    return this.target.serverName;
  }

  /** Changes the default destination (e.g. to make two peers each other's target). */
  setTarget(target: { serverName: string; url?: string }): void {
    this.target = target;
  }

  /** `@localpart:<this peer>` */
  userId(localpart: string): string {
    return `@${localpart}:${this.serverName}`;
  }

  /** Requests nobody expected, and handler failures, so far. */
  unexpectedRequests(): readonly UnexpectedRequest[] {
    return this.unexpected;
  }

  /** Returns and forgets the unexpected requests (for tests that provoke them on purpose). */
  takeUnexpected(): UnexpectedRequest[] {
    return this.unexpected.splice(0, this.unexpected.length);
  }

  /** Background traffic answered under the documented exceptions. */
  tolerated(): readonly Exchange[] {
    return this.toleratedExchanges;
  }

  /** Marks a problem found outside a request (e.g. a bad PDU inside an accepted transaction). */
  flag(reason: string, exchange: Exchange): void {
    this.unexpected.push({ reason, exchange });
  }

  /** A readable list of the unexpected requests, for the fixture's teardown message. */
  describeUnexpected(): string {
    return this.unexpected.map((u) => `${this.label}: ${u.reason}\n${formatExchange(u.exchange)}`).join("\n");
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.pdus.close(`${this.label} stopped`);
    this.edus.close(`${this.label} stopped`);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.agent.close().catch(() => undefined);
  }

  // ---- handlers ----

  /** Serves `method template` (e.g. "GET", "/_matrix/federation/v1/state/{roomId}") with `handler`. */
  route(method: string, template: string, handler: Handler, opts: { name?: string; open?: boolean } = {}): void {
    const segments = template.split("/").filter(Boolean);
    this.routes.unshift({ method: method.toUpperCase(), name: opts.name ?? `${method} ${template}`, segments, handler, open: opts.open });
  }

  private match(method: string, pathname: string): { route: Route; params: Record<string, string> } | undefined {
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

  // ---- inbound ----

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = new Date();
    const t0 = performance.now();
    const method = (req.method ?? "GET").toUpperCase();
    const uri = req.url ?? "/";
    const q = uri.indexOf("?");
    const pathname = q < 0 ? uri : uri.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : uri.slice(q + 1));
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString("utf8");
    const authorization = req.headers.authorization;
    const claimedOrigin = /origin="?([^",]+)/i.exec(authorization ?? "")?.[1] ?? "unauthenticated";

    let result: HandlerResult;
    let origin = "";
    let authenticated = false;
    try {
      result = await this.dispatch(method, uri, pathname, query, rawBody, authorization, (o) => (origin = o), () => (authenticated = true));
    } catch (e) {
      result = { status: 500, body: { errcode: "M_UNKNOWN", error: `the peer's handler failed: ${(e as Error).message}` }, unexpected: `the peer's handler for ${method} ${pathname} failed: ${(e as Error).stack ?? e}` };
    }
    const text = result.body === undefined ? "" : JSON.stringify(result.body);
    const responseHeaders = { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) };
    res.writeHead(result.status, responseHeaders);
    res.end(text);

    let schema: SchemaCheck | undefined;
    if (this.requestValidator) {
      const extra = authenticated ? xMatrixViolations(authorization, { destination: this.serverName, ...(this.specVersion ? { specVersion: this.specVersion } : {}) }) : [];
      schema = this.requestValidator({ method, path: pathname, contentType: req.headers["content-type"], body: rawBody, extra });
    }
    const exchange = this.log.add({
      channel: `federation-in:${origin || claimedOrigin}`,
      method,
      url: `${this.baseUrl}${uri}`,
      requestHeaders: selectHeaders(req.headers),
      requestBody: cutBody(rawBody || undefined),
      status: result.status,
      responseHeaders: selectHeaders(responseHeaders),
      responseBody: cutBody(text),
      startedAt: startedAt.toISOString(),
      durationMs: performance.now() - t0,
      schema,
    });
    if (result.unexpected) this.unexpected.push({ reason: result.unexpected, exchange });
    if (result.tolerated) this.toleratedExchanges.push(exchange);
  }

  private async dispatch(
    method: string,
    uri: string,
    pathname: string,
    query: URLSearchParams,
    rawBody: string,
    authorization: string | undefined,
    setOrigin: (origin: string) => void,
    markAuthenticated: () => void,
  ): Promise<HandlerResult> {
    // Always served: the key document (also under the legacy /server/{keyId} path) and the version.
    if (method === "GET" && (pathname === "/_matrix/key/v2/server" || pathname.startsWith("/_matrix/key/v2/server/"))) {
      return { status: 200, body: this.keyDocument() };
    }
    if (method === "GET" && pathname === "/_matrix/federation/v1/version") {
      return { status: 200, body: { server: { ...this.software } } };
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
        destination: this.serverName,
        authorization,
        content: body,
        keyFor: (o, keyId) => this.keyring.key(o, keyId, "request"),
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
        body: { errcode: "M_UNRECOGNIZED", error: `${this.label} serves no handler for ${method} ${pathname} in this test` },
        unexpected: `no handler expects ${method} ${pathname} (switch one on with peer.handle.*)`,
      };
    }
    return matched.route.handler({ method, path: pathname, uri, query, params: matched.params, body, origin, authorization });
  }

  /** The peer's signed key document. */
  keyDocument(): Record<string, unknown> {
    return serverKeysDocument(this.serverName, [this.signingKey], { validUntilTs: Date.now() + 86_400_000 });
  }

  // ---- outbound ----

  private urlFor(serverName: string): string {
    if (this.target && serverName === this.target.serverName && this.target.url) return this.target.url.replace(/\/+$/, "");
    return `https://${serverName}`;
  }

  /** Sends a request to another server, signed with X-Matrix unless told otherwise. Never throws on a status. */
  async request<T = any>(method: string, urlPath: string, opts: OutboundOptions = {}): Promise<Response<T>> {
    const destination = opts.destination ?? this.targetServerName;
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const item of v) query.append(k, String(item));
      else query.set(k, String(v));
    }
    const qs = query.toString();
    const uri = `${urlPath}${qs ? `?${qs}` : ""}`;
    let payload: string | undefined;
    let content: unknown;
    if (opts.rawBody !== undefined) {
      payload = opts.rawBody;
      try {
        content = JSON.parse(opts.rawBody);
      } catch {
        content = undefined;
      }
    } else if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      content = opts.body;
    }
    const headers: Record<string, string> = { ...opts.headers };
    if (payload !== undefined) headers["content-type"] ??= "application/json";
    const signable: SignableRequest = { method, uri, origin: this.serverName, destination, ...(content !== undefined ? { content } : {}) };
    if (opts.authorization !== null) {
      if (typeof opts.authorization === "string") headers.authorization = opts.authorization;
      else {
        const correct = signRequest(signable, this.signingKey);
        if (typeof opts.authorization === "function") {
          const sig = /sig="([^"]*)"/.exec(correct)?.[1] ?? "";
          headers.authorization = opts.authorization({ origin: this.serverName, destination, key: this.signingKey.keyId, sig }, signable);
        } else headers.authorization = correct;
      }
    }
    const base = this.urlFor(destination);
    const r = await performExchange<T>({
      log: this.log,
      channel: `federation-out:${destination}`,
      validator: this.validator,
      dispatcher: this.agent,
      method,
      url: `${base}${uri}`,
      schemaPath: urlPath,
      headers,
      payload,
      timeoutMs: opts.timeoutMs ?? this.timeoutMs,
    });
    if (r.transportError) throw new StepFailed(`${this.label}: ${method} ${urlPath} to ${destination}`, r.exchange, r.transportError);
    return r.response;
  }

  private async fetchKeyDocument(serverName: string): Promise<unknown> {
    const res = await this.request("GET", fed.key`/server`, { destination: serverName, authorization: null });
    if (res.status !== 200 || !res.json) throw new Error(`GET /_matrix/key/v2/server answered ${res.status}${res.json ? "" : " without JSON"}`);
    return res.body;
  }

  /** Keys usable to check events signed by `serverName` (fetched and cached). */
  eventKeys(serverName: string): Promise<VerifyKeys> {
    return this.keyring.eventKeys(serverName);
  }

  /** Format, hash and signature problems of a PDU, checked with harness/crypto; [] when sound. */
  async checkPdu(pdu: WirePdu, version: RoomVersionId): Promise<string[]> {
    const format = pduFormatProblems(pdu, version);
    const crypto = await pduCryptoProblems(pdu, version, (s) => this.eventKeys(s));
    return [...format, ...crypto];
  }

  // ---- rooms ----

  room(roomId: string): PeerRoom {
    const r = this.rooms.get(roomId);
    if (!r) throw new Error(`${this.label} is not in room ${roomId}`);
    return r;
  }

  /**
   * Creates a room on the peer (see createPeerRoom: create event, the creator's join, power
   * levels, public join rule, shared history) and takes part in it.
   */
  createRoom(opts: CreateRoomOptions): PeerRoom {
    const room = createPeerRoom({ serverName: this.serverName, key: this.signingKey }, opts);
    this.rooms.set(room.roomId, room);
    return room;
  }

  /** Builds and signs an event on top of the room model and adds it to the model (unless `add: false`). */
  buildEvent(roomId: string, input: EventInput, opts: { add?: boolean } = {}): WirePdu {
    const room = this.room(roomId);
    const pdu = room.build(input, { serverName: this.serverName, key: this.signingKey });
    if (opts.add !== false) room.addEvent(pdu);
    return pdu;
  }

  /** The ID of an event of one of the peer's rooms. */
  eventId(roomId: string, pdu: WirePdu): string {
    return eventIdOf(pdu, this.room(roomId).version);
  }

  /** PUT /send/{txnId} with the given PDUs and EDUs. */
  sendTransaction(destination: string, content: { pdus?: WirePdu[]; edus?: Array<{ edu_type: string; content: unknown }> }, txnId = this.newTxnId()): Promise<Response> {
    return this.request("PUT", fed.v1`/send/${txnId}`, {
      destination,
      body: { origin: this.serverName, origin_server_ts: Date.now(), pdus: content.pdus ?? [], ...(content.edus ? { edus: content.edus } : {}) },
    });
  }

  newTxnId(): string {
    return `mc${Date.now().toString(36)}.${++txnCounter}.${randomBytes(3).toString("hex")}`;
  }

  /**
   * Sends events of a room in one transaction to every other server with joined members (or
   * the target when there is none). With `expectAccepted` (default) a non-200 answer or an
   * error for any PDU is a StepFailed.
   */
  async sendPdus(roomId: string, events: WirePdu[], opts: { destination?: string; expectAccepted?: boolean } = {}): Promise<TransactionResult> {
    const room = this.room(roomId);
    const destination = opts.destination ?? room.joinedServers().find((s) => s !== this.serverName) ?? this.targetServerName;
    const response = await this.sendTransaction(destination, { pdus: events });
    const errors: Record<string, string | undefined> = {};
    const results = (response.body?.pdus ?? {}) as Record<string, { error?: string }>;
    for (const ev of events) {
      const id = eventIdOf(ev, room.version);
      errors[id] = results[id]?.error;
    }
    if (opts.expectAccepted !== false) {
      if (response.status !== 200) throw new StepFailed(`${this.label}: send a transaction`, response.exchange, `expected 200, got ${response.status}`);
      const failed = Object.entries(errors).filter(([, e]) => e !== undefined);
      if (failed.length > 0) throw new StepFailed(`${this.label}: send a transaction`, response.exchange, `the target reported errors for ${failed.map(([id, e]) => `${id}: ${e}`).join("; ")}`);
    }
    return { response, errors };
  }

  /** Builds an m.room.message from `sender`, adds it to the model, sends it. Returns its event ID. */
  async sendMessage(roomId: string, sender: string, text: string): Promise<string> {
    const pdu = this.buildEvent(roomId, { type: "m.room.message", sender, content: { msgtype: "m.text", body: text } });
    await this.sendPdus(roomId, [pdu]);
    return this.eventId(roomId, pdu);
  }

  // ---- joining the target's rooms ----

  /** GET /make_join; `versions` default: every spec room version. */
  makeJoin(roomId: string, userId: string, versions: readonly string[] = ROOM_VERSION_IDS, destination?: string): Promise<Response> {
    return this.request("GET", fed.v1`/make_join/${roomId}/${userId}`, { destination, query: { ver: [...versions] } });
  }

  /**
   * Turns a make_join (make_leave, make_knock) template into an event: keeps the template's
   * fields, adds or replaces origin, origin_server_ts and (v1-v2) the event ID as the spec's
   * joining server does (#joining-rooms), then hashes and signs.
   */
  joinEventFromTemplate(template: Record<string, unknown>, version: RoomVersionId): WirePdu {
    const ev: Record<string, unknown> = {};
    for (const k of ["type", "room_id", "sender", "state_key", "content", "depth", "prev_events", "auth_events", "redacts"]) {
      if (template[k] !== undefined) ev[k] = template[k];
    }
    ev.origin_server_ts = Date.now();
    ev.origin = this.serverName;
    if (version === "1" || version === "2") ev.event_id = `$${randomBytes(9).toString("base64url").replace(/[^A-Za-z0-9]/g, "x")}:${this.serverName}`;
    return hashAndSignEvent(ev, version, this.serverName, this.signingKey) as WirePdu;
  }

  /** PUT /v2/send_join with a signed join event. */
  sendJoin(roomId: string, event: WirePdu, version: RoomVersionId, destination?: string): Promise<Response> {
    return this.request("PUT", fed.v2`/send_join/${roomId}/${eventIdOf(event, version)}`, { destination, body: event });
  }

  /**
   * Joins `userId` (a user of this peer) to a room on the target: make_join, build and sign the
   * join, send_join, check the answer and load the state into the room model. Joining makes the
   * peer a participant the target must send the room's events to, so transactions are switched
   * on. Throws StepFailed when the target does not do what the join needs, or (with `strict`,
   * the default) when an event of the response fails verification.
   */
  async joinRoomOnTarget(roomId: string, userId: string, roomVersion?: string, opts: { strict?: boolean; destination?: string } = {}): Promise<JoinResult> {
    const versions = roomVersion ? [roomVersion] : ROOM_VERSION_IDS;
    const makeJoin = await this.makeJoin(roomId, userId, versions, opts.destination);
    if (makeJoin.status !== 200) throw new StepFailed(`${this.label}: make_join for ${userId}`, makeJoin.exchange, `expected 200, got ${makeJoin.status}`);
    const version = String(makeJoin.body?.room_version ?? "1");
    if (roomVersion && version !== roomVersion) throw new StepFailed(`${this.label}: make_join`, makeJoin.exchange, `room_version is ${version}, expected ${roomVersion}`);
    const v = knownVersion(version);
    const template = makeJoin.body?.event as Record<string, unknown> | undefined;
    const templateProblems = checkMembershipTemplate(template, roomId, userId, "join");
    if (templateProblems.length > 0) throw new StepFailed(`${this.label}: make_join`, makeJoin.exchange, `the template must be discarded: ${templateProblems.join("; ")}`);
    const join = this.joinEventFromTemplate(template!, v);
    const sendJoin = await this.sendJoin(roomId, join, v, opts.destination);
    if (sendJoin.status !== 200) throw new StepFailed(`${this.label}: send_join for ${userId}`, sendJoin.exchange, `expected 200, got ${sendJoin.status}`);
    const body = sendJoin.body as { state?: unknown; auth_chain?: unknown; event?: unknown };
    if (!Array.isArray(body?.state) || !Array.isArray(body?.auth_chain)) {
      throw new StepFailed(`${this.label}: send_join`, sendJoin.exchange, "the response lacks the state and auth_chain arrays");
    }
    const joinEvent = (body.event && typeof body.event === "object" ? body.event : join) as WirePdu;
    const joinEventId = eventIdOf(joinEvent, v);
    if (joinEventId !== eventIdOf(join, v)) {
      throw new StepFailed(`${this.label}: send_join`, sendJoin.exchange, `the returned event has ID ${joinEventId}, not the join sent (${eventIdOf(join, v)})`);
    }
    const room = this.rooms.get(roomId) ?? new PeerRoom(roomId, v);
    const problems: string[] = [];
    const state = body.state as WirePdu[];
    const authChain = body.auth_chain as WirePdu[];
    for (const [list, name] of [[authChain, "auth_chain"], [state, "state"]] as const) {
      for (const ev of list) {
        const found = await this.checkPdu(ev, v);
        let id = "?";
        try {
          id = eventIdOf(ev, v);
        } catch {
          // reported through the format problems
        }
        if (found.length > 0) problems.push(`${name} ${describePdu(ev, id)}: ${found.join("; ")}`);
        else room.addOutlier(ev);
      }
    }
    const joinProblems = await this.checkPdu(joinEvent, v);
    if (joinProblems.length > 0) problems.push(`the join event: ${joinProblems.join("; ")}`);
    const stateBefore = new Map<string, string>();
    for (const ev of state) {
      if (typeof ev.state_key !== "string") continue;
      try {
        stateBefore.set(stateKey(String(ev.type), ev.state_key), eventIdOf(ev, v));
      } catch {
        // reported above
      }
    }
    room.addEvent(joinEvent, { stateBefore });
    this.rooms.set(roomId, room);
    this.handle.transactions();
    if (opts.strict !== false && problems.length > 0) {
      throw new StepFailed(`${this.label}: send_join`, sendJoin.exchange, `events of the response fail verification:\n  ${problems.join("\n  ")}`);
    }
    return { room, roomVersion: v, joinEvent, joinEventId, state, authChain, makeJoin, sendJoin, problems };
  }

  /**
   * Leaves (make_leave, send_leave v2) or knocks (make_knock, send_knock) for `userId` through
   * the target. The room must be in the peer's model for a leave; a knock needs no model. The
   * event the target accepted is added to the model when the peer has the room. Throws
   * StepFailed when the target does not do what the step needs.
   */
  async membershipOnTarget(kind: "leave" | "knock", roomId: string, userId: string, opts: { versions?: readonly string[]; destination?: string } = {}): Promise<{ event: WirePdu; eventId: string; roomVersion: RoomVersionId; make: Response; send: Response }> {
    const make = await this.request("GET", kind === "leave" ? fed.v1`/make_leave/${roomId}/${userId}` : fed.v1`/make_knock/${roomId}/${userId}`, {
      destination: opts.destination,
      ...(kind === "knock" ? { query: { ver: [...(opts.versions ?? ROOM_VERSION_IDS)] } } : {}),
    });
    if (make.status !== 200) throw new StepFailed(`${this.label}: make_${kind} for ${userId}`, make.exchange, `expected 200, got ${make.status}`);
    const v = knownVersion(String(make.body?.room_version ?? this.rooms.get(roomId)?.version ?? "1"));
    const problems = checkMembershipTemplate(make.body?.event, roomId, userId, kind);
    if (problems.length > 0) throw new StepFailed(`${this.label}: make_${kind}`, make.exchange, `the template must be discarded: ${problems.join("; ")}`);
    const event = this.joinEventFromTemplate(make.body.event, v);
    const eventId = eventIdOf(event, v);
    const send = await this.request("PUT", kind === "leave" ? fed.v2`/send_leave/${roomId}/${eventId}` : fed.v1`/send_knock/${roomId}/${eventId}`, { destination: opts.destination, body: event });
    if (send.status !== 200) throw new StepFailed(`${this.label}: send_${kind} for ${userId}`, send.exchange, `expected 200, got ${send.status}`);
    this.rooms.get(roomId)?.addEvent(event);
    return { event, eventId, roomVersion: v, make, send };
  }

  /** Leaves a room through the target (make_leave, send_leave). */
  leaveRoomOnTarget(roomId: string, userId: string, opts: { destination?: string } = {}) {
    return this.membershipOnTarget("leave", roomId, userId, opts);
  }

  /**
   * Invites a target user to one of the peer's rooms: builds the invite from `sender`, sends it
   * with PUT /v2/invite (with the room's create, join rules and name as invite_room_state),
   * checks the target's signature on the answer and adds the signed invite to the room.
   */
  async inviteTargetUser(roomId: string, sender: string, userId: string): Promise<{ event: WirePdu; eventId: string; response: Response }> {
    const room = this.room(roomId);
    const invite = room.build({ type: "m.room.member", state_key: userId, sender, content: { membership: "invite" } }, { serverName: this.serverName, key: this.signingKey });
    const eventId = eventIdOf(invite, room.version);
    const strippedTypes = ["m.room.create", "m.room.join_rules", "m.room.name", "m.room.canonical_alias", "m.room.avatar", "m.room.encryption"];
    const inviteRoomState = strippedTypes.map((t) => room.stateEvent(t)?.pdu).filter((e): e is WirePdu => e !== undefined);
    const response = await this.request("PUT", fed.v2`/invite/${roomId}/${eventId}`, { body: { room_version: room.version, event: invite, invite_room_state: inviteRoomState } });
    if (response.status !== 200) throw new StepFailed(`${this.label}: invite ${userId}`, response.exchange, `expected 200, got ${response.status}`);
    const signed = response.body?.event as WirePdu | undefined;
    if (!signed || typeof signed !== "object") throw new StepFailed(`${this.label}: invite ${userId}`, response.exchange, "the response has no event");
    if (eventIdOf(signed, room.version) !== eventId) throw new StepFailed(`${this.label}: invite ${userId}`, response.exchange, "the returned event is not the invite sent");
    const problems = await this.checkPdu(signed, room.version);
    if (problems.length > 0) throw new StepFailed(`${this.label}: invite ${userId}`, response.exchange, `the returned invite fails verification: ${problems.join("; ")}`);
    room.addEvent(signed);
    return { event: signed, eventId, response };
  }

  // ---- waiting ----

  /** The first PDU (received before or after the call) matching `predicate`, within `timeoutMs`. */
  waitForPdu(predicate: (pdu: ReceivedPdu) => boolean, timeoutMs = FEDERATION_WAIT_MS, what = "a matching PDU"): Promise<ReceivedPdu> {
    return this.pdus.waitFor(predicate, timeoutMs, what, this.label);
  }

  /** The first EDU (received before or after the call) matching `predicate`, within `timeoutMs`. */
  waitForEdu(predicate: (edu: ReceivedEdu) => boolean, timeoutMs = FEDERATION_WAIT_MS, what = "a matching EDU"): Promise<ReceivedEdu> {
    return this.edus.waitFor(predicate, timeoutMs, what, this.label);
  }

  /**
   * Records a received PDU (used by the handlers). Waiters see it once the current request has
   * been answered and logged, so a test that resumes finds the exchange in the log.
   */
  recordPdu(p: ReceivedPdu): void {
    setImmediate(() => this.pdus.push(p));
  }

  recordEdu(e: ReceivedEdu): void {
    setImmediate(() => this.edus.push(e));
  }

}

/** What the spec says the requesting server MUST verify of a make_join/make_leave/make_knock template. */
export function checkMembershipTemplate(template: unknown, roomId: string, userId: string, membership: string): string[] {
  if (typeof template !== "object" || template === null) return ["the response has no event template"];
  const t = template as Record<string, unknown>;
  const problems: string[] = [];
  if (t.room_id !== roomId) problems.push(`room_id is ${JSON.stringify(t.room_id)}, not ${roomId}`);
  if (t.sender !== userId) problems.push(`sender is ${JSON.stringify(t.sender)}, not ${userId}`);
  if (t.state_key !== userId) problems.push(`state_key is ${JSON.stringify(t.state_key)}, not ${userId}`);
  if (t.type !== "m.room.member") problems.push(`type is ${JSON.stringify(t.type)}, not m.room.member`);
  const content = t.content as Record<string, unknown> | undefined;
  if (content?.membership !== membership) problems.push(`content.membership is ${JSON.stringify(content?.membership)}, not ${membership}`);
  return problems;
}
