// FederationPeer: the facade of a fake homeserver peer (see README.md for what a peer does and
// the documented exceptions to "unexpected requests fail the test"). It owns the HTTPS server
// (on a port from ports.ts), the signed outbound client, the key document, the room models, the
// inbound exchange log and the waiters; routing and X-Matrix checks of inbound requests are in
// router.ts, the switchable endpoints in handlers.ts, and the membership steps through the target
// (joinRoomOnTarget, ...) in membership.ts.

import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { StepFailed, performExchange, type RequestValidator, type Response, type ResponseValidator } from "../client/client.ts";
import { ExchangeLog, cutBody, formatExchange, selectHeaders, type Exchange, type SchemaCheck } from "../client/exchange.ts";
import { ROOM_VERSION_IDS, type SigningKey, type VerifyKeys } from "../crypto/index.ts";
import { describePdu, eventIdOf, pduCryptoProblems, pduFormatProblems, type RoomVersionId, type WirePdu } from "./events.ts";
import { installHandlers, type PeerHandlers } from "./handlers.ts";
import { Keyring, newSigningKey, serverKeysDocument } from "./keys.ts";
import * as membership from "./membership.ts";
import type { JoinResult } from "./membership.ts";
import { listenOnFreshPort } from "./ports.ts";
import { PeerRoom, createPeerRoom, type CreateRoomOptions, type EventInput } from "./room.ts";
import { Router, fed, type Handler, type HandlerResult } from "./router.ts";
import { issueServerCert, type RunCa } from "./tls.ts";
import { Inbox, type ReceivedEdu, type ReceivedPdu } from "./waiters.ts";
import { settings } from "../settings.ts";
import { signRequest, xMatrixViolations, type SignableRequest, type XMatrixParams } from "./xmatrix.ts";

export { fed, type Handler, type HandlerResult, type InboundRequest } from "./router.ts";
export { checkMembershipTemplate, type JoinResult } from "./membership.ts";
export type { ReceivedEdu, ReceivedPdu } from "./waiters.ts";

/**
 * How long a waiter gives the target to send something over federation. Servers batch and delay
 * outbound transactions, more so on a loaded machine; MATRIX_CONFORMANCE_FEDERATION_WAIT_MS moves it.
 */
export const FEDERATION_WAIT_MS = settings().federationWaitMs;

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
  /** Per-request bound for outbound requests (ms). Default: MATRIX_CONFORMANCE_REQUEST_TIMEOUT_MS (20 s). */
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

export interface UnexpectedRequest {
  reason: string;
  exchange: Exchange;
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

export interface TransactionResult {
  response: Response;
  /** Per event ID: undefined when accepted, else the error the target gave. */
  errors: Record<string, string | undefined>;
}

let txnCounter = 0;

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
  private readonly router = new Router();
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
    this.timeoutMs = opts.timeoutMs ?? settings().requestTimeoutMs;
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
    this.router.add(method, template, handler, opts);
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
    const handling = performance.now();
    const authorization = req.headers.authorization;
    const claimedOrigin = /origin="?([^",]+)/i.exec(authorization ?? "")?.[1] ?? "unauthenticated";

    let result: HandlerResult;
    let origin = "";
    let authenticated = false;
    try {
      result = await this.router.dispatch(
        {
          serverName: this.serverName,
          label: this.label,
          keyDocument: () => this.keyDocument(),
          version: () => ({ server: { ...this.software } }),
          keyFor: (o, keyId) => this.keyring.key(o, keyId, "request"),
        },
        { method, uri, pathname, query, rawBody, authorization },
        (o) => (origin = o),
        () => (authenticated = true),
      );
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
    this.log.span("harness", handling); // answering the target (and checking its request) is harness time
    if (result.unexpected) this.unexpected.push({ reason: result.unexpected, exchange });
    if (result.tolerated) this.toleratedExchanges.push(exchange);
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
    return membership.makeJoin(this, roomId, userId, versions, destination);
  }

  /** A make_join (make_leave, make_knock) template made into a signed event (see membership.ts). */
  joinEventFromTemplate(template: Record<string, unknown>, version: RoomVersionId): WirePdu {
    return membership.joinEventFromTemplate(this, template, version);
  }

  /** PUT /v2/send_join with a signed join event. */
  sendJoin(roomId: string, event: WirePdu, version: RoomVersionId, destination?: string): Promise<Response> {
    return membership.sendJoin(this, roomId, event, version, destination);
  }

  /**
   * Joins `userId` (a user of this peer) to a room on the target: make_join, sign, send_join,
   * checks, loads the state, switches transactions on (see membership.ts).
   */
  joinRoomOnTarget(roomId: string, userId: string, roomVersion?: string, opts: { strict?: boolean; destination?: string } = {}): Promise<JoinResult> {
    return membership.joinRoomOnTarget(this, roomId, userId, roomVersion, opts);
  }

  /** Leaves (make_leave, send_leave v2) or knocks (make_knock, send_knock) through the target. */
  membershipOnTarget(kind: "leave" | "knock", roomId: string, userId: string, opts: { versions?: readonly string[]; destination?: string } = {}): Promise<{ event: WirePdu; eventId: string; roomVersion: RoomVersionId; make: Response; send: Response }> {
    return membership.membershipOnTarget(this, kind, roomId, userId, opts);
  }

  /** Leaves a room through the target (make_leave, send_leave). */
  leaveRoomOnTarget(roomId: string, userId: string, opts: { destination?: string } = {}) {
    return this.membershipOnTarget("leave", roomId, userId, opts);
  }

  /** Invites a target user to one of the peer's rooms (PUT /v2/invite; see membership.ts). */
  inviteTargetUser(roomId: string, sender: string, userId: string): Promise<{ event: WirePdu; eventId: string; response: Response }> {
    return membership.inviteTargetUser(this, roomId, sender, userId);
  }

  // ---- waiting ----

  /** The first PDU (received before or after the call) matching `predicate`, within `timeoutMs`. */
  waitForPdu(predicate: (pdu: ReceivedPdu) => boolean, timeoutMs = FEDERATION_WAIT_MS, what = "a matching PDU"): Promise<ReceivedPdu> {
    return this.log.waiting(this.pdus.waitFor(predicate, timeoutMs, what, this.label));
  }

  /** The first EDU (received before or after the call) matching `predicate`, within `timeoutMs`. */
  waitForEdu(predicate: (edu: ReceivedEdu) => boolean, timeoutMs = FEDERATION_WAIT_MS, what = "a matching EDU"): Promise<ReceivedEdu> {
    return this.log.waiting(this.edus.waitFor(predicate, timeoutMs, what, this.label));
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
