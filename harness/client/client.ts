// The scripted client-server API client: one generic `request` that records every exchange and
// checks every response against the spec, plus helpers for the steps tests arrange with.
//
// Acting: `request()` never throws on an HTTP status; the test asserts on what came back.
// Arranging: the helpers (`createRoom`, `sendEvent`, ...) throw a readable `StepFailed` with the
// exchange when the server does not do what the step needs, so a broken precondition is not
// mistaken for the behaviour under test.

import { Agent, request as undiciRequest, type Dispatcher } from "undici";
import { settings } from "../settings.ts";
import { ExchangeLog, cutBody, formatExchange, selectHeaders, type Exchange, type SchemaCheck, type SchemaViolation } from "./exchange.ts";
import { digestOf, encodeMultipart, isBinaryBody, parseMultipart, type MultipartPart, type ReceivedPart } from "./binary.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Body = any;

export interface ResponseValidator {
  (response: { method: string; path: string; status: number; contentType?: string; body: unknown }): SchemaCheck;
}

/** An inbound request as a fake actor received it from the target. */
export interface InboundRequestInput {
  method: string;
  /** The path as sent (percent-encoded; a query string is ignored). */
  path: string;
  /** The Content-Type header; undefined when the request had none. */
  contentType: string | undefined;
  /** The raw body ("" for none). */
  body: string;
  /**
   * Problems the actor found with the request's authentication header (e.g. X-Matrix), as
   * violations of keyword "x-matrix" or similar; added to the body's.
   */
  extra?: SchemaViolation[];
}

/** Checks what the target sent to a fake actor of the harness; the errors are the target's. */
export type RequestValidator = (req: InboundRequestInput) => SchemaCheck;


export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON body. */
  body?: unknown;
  /** A raw body sent as is (for malformed-input tests), with its content type. */
  rawBody?: string;
  /** Bytes sent as is (a media upload), with `contentType` (default application/octet-stream). */
  bytes?: Uint8Array;
  /** A multipart body built from these parts (multipart/form-data unless `contentType` says mixed). */
  multipart?: MultipartPart[];
  contentType?: string;
  /** `null` sends no token even when the client has one. */
  token?: string | null;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface Response<T = Body> {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON, or undefined when the body was empty or not JSON. */
  body: T;
  /** The body decoded as UTF-8; "" for a binary body (see `bytes`). */
  text: string;
  /** True when the body was sent with a JSON content type and parsed. */
  json: boolean;
  /** The body's bytes as received, whatever its content type. */
  bytes: Buffer;
  /** The parts of a multipart body (e.g. a federation media download), when it parsed. */
  parts?: ReceivedPart[];
  exchange: Exchange;
}

/** A precondition step failed: says which step, and shows what the server answered. */
export class StepFailed extends Error {
  constructor(step: string, readonly exchange: Exchange, detail?: string) {
    super(`${step} failed${detail ? `: ${detail}` : ""}\n${formatExchange(exchange)}`);
    this.name = "StepFailed";
  }
}

export class WaitTimedOut extends Error {
  constructor(what: string, timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`);
    this.name = "WaitTimedOut";
  }
}

export interface ClientOptions {
  baseUrl: string;
  log: ExchangeLog;
  validator?: ResponseValidator;
  accessToken?: string;
  userId?: string;
  deviceId?: string;
  /** Default per-request bound; a hanging server costs at most this. */
  timeoutMs?: number;
  channel?: string;
}

const sharedAgent = new Agent({ keepAliveTimeout: 10_000, connections: 32 });

/** Encodes each interpolated value as one path segment: cs.v3`/rooms/${id}/state`. */
export function path(prefix: string) {
  return (strings: TemplateStringsArray, ...values: Array<string | number>): string => {
    let out = prefix;
    strings.forEach((s, i) => {
      out += s;
      if (i < values.length) out += encodeURIComponent(String(values[i]));
    });
    return out;
  };
}

export const cs = {
  v3: path("/_matrix/client/v3"),
  v1: path("/_matrix/client/v1"),
  r0: path("/_matrix/client/r0"),
  /** The unauthenticated media API (upload stays here; downloads moved to client v1 in v1.11). */
  media: path("/_matrix/media/v3"),
  raw: path(""),
};

let txnCounter = 0;
export function newTxnId(): string {
  return `mc${process.pid}.${Date.now().toString(36)}.${++txnCounter}`;
}

/** One request on the wire: sent, timed, parsed, schema-checked and recorded in the log. */
export async function performExchange<T = Body>(call: {
  log: ExchangeLog;
  channel: string;
  validator?: ResponseValidator;
  dispatcher: Dispatcher;
  method: string;
  url: string;
  /** The request path the schema check matches (no query string). */
  schemaPath: string;
  headers: Record<string, string>;
  /** A string is recorded as text; bytes are recorded as a digest (size, type, sha256). */
  payload?: string | Uint8Array;
  timeoutMs: number;
}): Promise<{ response: Response<T>; exchange: Exchange; transportError?: string }> {
  const { timeoutMs: timeout } = call;
  const startedAt = new Date();
  const t0 = performance.now();
  let status: number | undefined;
  let resHeaders: Record<string, string> = {};
  let raw = Buffer.alloc(0);
  let transportError: string | undefined;
  try {
    const res = await undiciRequest(call.url, {
      method: call.method as "GET",
      headers: call.headers,
      body: call.payload,
      dispatcher: call.dispatcher,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: AbortSignal.timeout(timeout),
    });
    status = res.statusCode;
    resHeaders = flattenHeaders(res.headers);
    raw = Buffer.from(await res.body.arrayBuffer());
  } catch (err) {
    transportError = describeTransportError(err, timeout);
  }
  const durationMs = performance.now() - t0;
  const t1 = performance.now();
  call.log.span(isLongPoll(call.method, call.url) ? "wait" : "server", t0, t1);

  const contentType = resHeaders["content-type"];
  // A binary body (media, multipart) is never decoded as text or JSON; the log keeps its digest.
  const binary = isBinaryBody(raw, contentType);
  const text = binary ? "" : raw.toString("utf8");
  const parts = binary && contentType?.toLowerCase().includes("multipart/") ? parseMultipart(raw, contentType) : undefined;
  let body: unknown;
  let json = false;
  if (text && contentType?.toLowerCase().includes("json")) {
    try {
      body = JSON.parse(text);
      json = true;
    } catch {
      body = undefined;
    }
  }
  let schema: SchemaCheck | undefined;
  if (status !== undefined && call.validator) {
    // Hand over the raw text when it did not parse, so the check can say what is wrong with it.
    schema = call.validator({ method: call.method, path: call.schemaPath, status, contentType, body: json ? body : text || undefined });
  }
  const exchange = call.log.add({
    channel: call.channel,
    method: call.method,
    url: call.url,
    requestHeaders: selectHeaders(call.headers),
    ...(typeof call.payload === "string" || call.payload === undefined
      ? { requestBody: cutBody(call.payload) }
      : { requestBinary: digestOf(call.payload, headerValue(call.headers, "content-type")) }),
    status,
    responseHeaders: selectHeaders(resHeaders),
    ...(binary ? { responseBinary: digestOf(raw, contentType) } : { responseBody: cutBody(text) }),
    startedAt: startedAt.toISOString(),
    durationMs,
    schema,
    error: transportError,
  });
  exchange.overheadMs = performance.now() - t1;
  return { response: { status: status ?? 0, headers: resHeaders, body: body as T, text, json, bytes: raw, ...(parts ? { parts } : {}), exchange }, exchange, transportError };
}

export class MatrixClient {
  readonly baseUrl: string;
  readonly log: ExchangeLog;
  accessToken?: string;
  userId?: string;
  deviceId?: string;
  /** The `next_batch` of this client's last /sync through `sync()`/`syncUntil()`. */
  since?: string;
  /** Event IDs that this client's /sync timelines (through `sync()`) have shown, by room. */
  private readonly seenInSync = new Map<string, Set<string>>();
  private readonly validator?: ResponseValidator;
  private readonly timeoutMs: number;
  private readonly channel: string;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.log = opts.log;
    this.validator = opts.validator;
    this.accessToken = opts.accessToken;
    this.userId = opts.userId;
    this.deviceId = opts.deviceId;
    this.timeoutMs = opts.timeoutMs ?? settings().requestTimeoutMs;
    this.channel = opts.channel ?? "client";
  }

  /**
   * A client for the same server and log, with other credentials. Its exchanges go on a channel
   * named after the user (`client:@alice-…:server`), so a failure shows who sent each request.
   */
  as(credentials: { accessToken?: string; userId?: string; deviceId?: string }): MatrixClient {
    const root = this.channel.split(":")[0]!;
    return new MatrixClient({
      baseUrl: this.baseUrl,
      log: this.log,
      validator: this.validator,
      timeoutMs: this.timeoutMs,
      channel: credentials.userId ? `${root}:${credentials.userId}` : this.channel,
      ...credentials,
    });
  }

  async request<T = Body>(method: string, urlPath: string, opts: RequestOptions = {}): Promise<Response<T>> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const qs = query.toString();
    const url = `${this.baseUrl}${urlPath}${qs ? `?${qs}` : ""}`;
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === null ? undefined : (opts.token ?? this.accessToken);
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | Uint8Array | undefined;
    if (opts.bytes !== undefined) {
      payload = opts.bytes;
      headers["content-type"] = opts.contentType ?? "application/octet-stream";
    } else if (opts.multipart !== undefined) {
      const built = encodeMultipart(opts.multipart, opts.contentType?.startsWith("multipart/mixed") ? "mixed" : "form-data");
      payload = built.body;
      headers["content-type"] = built.contentType;
    } else if (opts.rawBody !== undefined) {
      payload = opts.rawBody;
      headers["content-type"] = opts.contentType ?? "application/json";
    } else if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      headers["content-type"] = opts.contentType ?? "application/json";
    }
    const r = await performExchange<T>({
      log: this.log,
      channel: this.channel,
      validator: this.validator,
      dispatcher: sharedAgent,
      method,
      url,
      schemaPath: urlPath.split("?")[0] ?? urlPath,
      headers,
      payload,
      timeoutMs: opts.timeoutMs ?? this.timeoutMs,
    });
    if (r.transportError) throw new StepFailed(`${method} ${urlPath}`, r.exchange, r.transportError);
    return r.response;
  }

  get<T = Body>(urlPath: string, opts?: RequestOptions) {
    return this.request<T>("GET", urlPath, opts);
  }
  post<T = Body>(urlPath: string, body?: unknown, opts?: RequestOptions) {
    return this.request<T>("POST", urlPath, { body: body ?? {}, ...opts });
  }
  put<T = Body>(urlPath: string, body?: unknown, opts?: RequestOptions) {
    return this.request<T>("PUT", urlPath, { body: body ?? {}, ...opts });
  }
  delete<T = Body>(urlPath: string, opts?: RequestOptions) {
    return this.request<T>("DELETE", urlPath, opts);
  }

  /** Runs a request that a step needs to succeed (2xx), returning its parsed body. */
  async step<T = Body>(step: string, method: string, urlPath: string, opts?: RequestOptions): Promise<T> {
    const res = await this.request<T>(method, urlPath, opts);
    if (res.status < 200 || res.status > 299) throw new StepFailed(step, res.exchange, `expected a 2xx status, got ${res.status}`);
    return res.body;
  }

  // ---- helpers for arranging ----

  async whoami(): Promise<{ user_id: string; device_id?: string }> {
    return this.step("whoami", "GET", cs.v3`/account/whoami`);
  }

  async createRoom(body: Record<string, unknown> = {}): Promise<string> {
    const res = await this.step<{ room_id: string }>("create a room", "POST", cs.v3`/createRoom`, { body });
    return res.room_id;
  }

  async sendEvent(roomId: string, type: string, content: Record<string, unknown>, txnId = newTxnId()): Promise<string> {
    const res = await this.step<{ event_id: string }>(`send a ${type} event`, "PUT", cs.v3`/rooms/${roomId}/send/${type}/${txnId}`, { body: content });
    return res.event_id;
  }

  sendMessage(roomId: string, text: string): Promise<string> {
    return this.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: text });
  }

  async sendState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string> {
    const res = await this.step<{ event_id: string }>(`set ${type} state`, "PUT", cs.v3`/rooms/${roomId}/state/${type}/${stateKey}`, { body: content });
    return res.event_id;
  }

  getState<T = Body>(roomId: string, type: string, stateKey = ""): Promise<T> {
    return this.step<T>(`read ${type} state`, "GET", cs.v3`/rooms/${roomId}/state/${type}/${stateKey}`);
  }

  async joinRoom(roomIdOrAlias: string): Promise<string> {
    const res = await this.step<{ room_id: string }>("join a room", "POST", cs.v3`/join/${roomIdOrAlias}`, { body: {} });
    return res.room_id;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.step("invite a user", "POST", cs.v3`/rooms/${roomId}/invite`, { body: { user_id: userId } });
  }

  async leave(roomId: string): Promise<void> {
    await this.step("leave a room", "POST", cs.v3`/rooms/${roomId}/leave`, { body: {} });
  }

  async setPowerLevel(roomId: string, userId: string, level: number): Promise<void> {
    const pl = await this.getState<Record<string, unknown>>(roomId, "m.room.power_levels");
    const users = { ...((pl.users as Record<string, number>) ?? {}), [userId]: level };
    await this.sendState(roomId, "m.room.power_levels", "", { ...pl, users });
  }

  async sync(query: Record<string, string | number | boolean | undefined> = {}): Promise<SyncResponse> {
    const res = await this.step<SyncResponse>("sync", "GET", cs.v3`/sync`, {
      query: { since: this.since, ...query },
      timeoutMs: Number(query.timeout ?? 0) + this.timeoutMs,
    });
    this.since = res.next_batch;
    for (const [roomId, room] of Object.entries(res.rooms?.join ?? {})) {
      const events = room.timeline?.events ?? [];
      if (events.length === 0) continue;
      let seen = this.seenInSync.get(roomId);
      if (!seen) this.seenInSync.set(roomId, (seen = new Set()));
      for (const ev of events) seen.add(ev.event_id);
    }
    return res;
  }

  /**
   * A /sync position at or after the given event: follows this client's /sync (long-polling,
   * bounded) until its timeline has shown the event, then returns `next_batch`. The spec does not
   * promise that an event is visible to /sync or /messages the moment its send returns, so a test
   * that needs a token covering its own writes takes it from here.
   */
  async syncPast(roomId: string, eventId: string, timeoutMs?: number): Promise<string> {
    if (!this.seenInSync.get(roomId)?.has(eventId)) {
      await this.syncUntil(`event ${eventId} in /sync of room ${roomId}`, () => this.seenInSync.get(roomId)?.has(eventId) === true, { timeoutMs });
    }
    return this.since!;
  }

  /**
   * Long-polls /sync from this client's last position until `predicate` holds for a response,
   * or `timeoutMs` passes. Returns the matching response. No fixed waits: each poll blocks on
   * the server until something happens or its own timeout runs out.
   */
  async syncUntil(what: string, predicate: (res: SyncResponse) => boolean, opts: { timeoutMs?: number; filter?: string } = {}): Promise<SyncResponse> {
    const timeoutMs = opts.timeoutMs ?? settings().syncWaitMs;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new WaitTimedOut(what, timeoutMs);
      const res = await this.sync({ timeout: Math.min(remaining, settings().syncPollMs), filter: opts.filter });
      if (predicate(res)) return res;
    }
  }

  /** Waits until the given event ID shows in this client's /sync timeline of the room. */
  async syncUntilEvent(roomId: string, match: (ev: ClientEvent) => boolean, what = "an event", timeoutMs?: number): Promise<ClientEvent> {
    let found: ClientEvent | undefined;
    await this.syncUntil(
      `${what} in room ${roomId}`,
      (res) => {
        const timeline = res.rooms?.join?.[roomId]?.timeline?.events ?? [];
        found = timeline.find(match);
        return found !== undefined;
      },
      { timeoutMs },
    );
    return found!;
  }

  /** Waits until this client's /sync timeline of the room shows `userId`'s membership as `membership`. */
  async syncUntilMembership(roomId: string, userId: string, membership: string, timeoutMs?: number): Promise<ClientEvent> {
    return this.syncUntilEvent(roomId, (e) => e.type === "m.room.member" && e.state_key === userId && e.content?.membership === membership, `the ${membership} of ${userId}`, timeoutMs);
  }
}

export interface ClientEvent {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Body;
  origin_server_ts: number;
  unsigned?: Body;
  redacts?: string;
}

export interface SyncResponse {
  next_batch: string;
  rooms?: {
    join?: Record<string, { timeline?: { events: ClientEvent[]; limited?: boolean; prev_batch?: string }; state?: { events: ClientEvent[] }; ephemeral?: { events: Body[] }; account_data?: { events: Body[] } }>;
    invite?: Record<string, { invite_state?: { events: Body[] } }>;
    leave?: Record<string, { timeline?: { events: ClientEvent[] }; state?: { events: ClientEvent[] } }>;
    knock?: Record<string, Body>;
  };
  account_data?: { events: Body[] };
  presence?: { events: Body[] };
  to_device?: { events: Body[] };
}

/**
 * A long-poll: a GET with a `timeout` (/sync, /events) may be held until something happens, so its
 * time is a wait, not the server's work.
 */
function isLongPoll(method: string, url: string): boolean {
  if (method !== "GET") return false;
  const timeout = Number(new URL(url).searchParams.get("timeout"));
  return Number.isFinite(timeout) && timeout > 0;
}

function headerValue(h: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() === name) return v;
  return undefined;
}

function flattenHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

function describeTransportError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === "TimeoutError" || e?.code === "UND_ERR_HEADERS_TIMEOUT" || e?.code === "UND_ERR_BODY_TIMEOUT") {
    return `no response within ${timeoutMs} ms (the server hung or is too slow)`;
  }
  if (e?.code === "ECONNREFUSED") return "connection refused (is the server running?)";
  return `${e?.code ? `${e.code}: ` : ""}${e?.message ?? String(err)}`;
}
