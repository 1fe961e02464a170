// One request/response pair as seen on the wire, and the per-test log that keeps them.
// Exchanges are what a failing test shows its reader: keep them small, ordered and JSON-safe.
// A binary body (media, multipart) is kept as a digest (size, content type, sha256), never as bytes.

import { describeDigest, type BodyDigest } from "./binary.ts";

/** A schema problem found in a response, as the schema layer reports it. */
export interface SchemaViolation {
  instancePath: string;
  rule: string;
  /** The failing keyword ("required", "type", ...), or a harness rule ("status", "x-matrix"). */
  keyword?: string;
  message: string;
  value?: unknown;
  /** Set when the rule comes from the project's overlays rather than the spec. */
  overlay?: { id: string; spec: string };
}

export interface SchemaCheck {
  /** `<api> <METHOD> <path template>`, when the request matched a spec operation. */
  operation?: string;
  /**
   * What was checked, always something the target produced: its response to the harness
   * ("response", the default), or its request to a fake actor of the harness ("request").
   */
  subject?: "response" | "request";
  checked: boolean;
  errors: SchemaViolation[];
  /** Ids of spec errata (schemas/errata.json) without which this check would have failed. */
  errata?: string[];
}

export interface Exchange {
  seq: number;
  /**
   * Who made the request: "client" for the scripted client without a user, `client:<user ID>`
   * for a user's client (MatrixClient.as), `federation-in:<origin>` / `federation-out:<destination>`
   * for a peer's exchanges.
   */
  channel: string;
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  requestBody?: string;
  /** A binary request body (media upload, multipart), recorded instead of `requestBody`. */
  requestBinary?: BodyDigest;
  status?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
  /** A binary response body (download, thumbnail, multipart), recorded instead of `responseBody`. */
  responseBinary?: BodyDigest;
  startedAt: string;
  durationMs: number;
  /** Time the harness spent on this exchange beyond the request itself (recording, schema checks). */
  overheadMs?: number;
  schema?: SchemaCheck;
  /** Transport failure (timeout, refused connection), when there was no response. */
  error?: string;
}

export const BODY_LIMIT = 64 * 1024;

/** Cuts a body to the report's limit, saying how much was cut. */
export function cutBody(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (text.length <= BODY_LIMIT) return text;
  return `${text.slice(0, BODY_LIMIT)}… [${text.length - BODY_LIMIT} more characters cut]`;
}

const SECRET_HEADERS = new Set(["authorization"]);
const KEPT_HEADERS = new Set([
  "authorization",
  "content-type",
  "content-length",
  "retry-after",
  "www-authenticate",
  "access-control-allow-origin",
  "location",
  "server",
]);

/** Keeps the headers a reader of a failure needs; hides access tokens but says one was sent. */
export function selectHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (!KEPT_HEADERS.has(name) || value === undefined) continue;
    const joined = Array.isArray(value) ? value.join(", ") : value;
    out[name] = SECRET_HEADERS.has(name) ? joined.replace(/(Bearer\s+)(\S{0,6})\S*/i, "$1$2…") : joined;
  }
  return out;
}

/**
 * Where a stretch of a test's time went, on the `performance.now()` clock: waiting on the target's
 * answer ("server"), waiting for something to happen (a /sync long-poll, a federation waiter:
 * "wait"), or the harness at work on a fake actor's behalf (a peer answering the target:
 * "harness"). Time no span covers is the harness too: the test's own code, schema checks,
 * signing, hashing.
 */
export interface TimeSpan {
  kind: "server" | "wait" | "harness";
  start: number;
  end: number;
}

/** A test's time by where it went; the parts add up to `totalMs`. */
export interface TimeSplit {
  totalMs: number;
  serverMs: number;
  waitMs: number;
  harnessMs: number;
}

const KIND_RANK = { harness: 3, wait: 2, server: 1 } as const;

/**
 * Splits [start, end] by the spans that cover it. Where spans overlap (requests in parallel, a
 * peer answering the target while the client waits on it) each instant counts once, for the
 * kind that ranks first: harness, then wait, then server. Uncovered time is harness time.
 */
export function splitTime(spans: readonly TimeSpan[], start: number, end: number): TimeSplit {
  const totals = { server: 0, wait: 0, harness: 0 };
  const cuts = [...new Set([start, end, ...spans.flatMap((s) => [s.start, s.end])])].filter((t) => t >= start && t <= end).sort((a, b) => a - b);
  for (let i = 0; i + 1 < cuts.length; i++) {
    const a = cuts[i]!;
    const b = cuts[i + 1]!;
    let kind: TimeSpan["kind"] = "harness";
    let rank = 0;
    for (const s of spans) {
      if (s.start <= a && s.end >= b && KIND_RANK[s.kind] > rank) {
        kind = s.kind;
        rank = KIND_RANK[s.kind];
      }
    }
    totals[kind] += b - a;
  }
  return { totalMs: end - start, serverMs: totals.server, waitMs: totals.wait, harnessMs: totals.harness };
}

export class ExchangeLog {
  readonly exchanges: Exchange[] = [];
  /** Where the test's time went (see TimeSpan); kept beside the exchanges, never in the report. */
  readonly spans: TimeSpan[] = [];
  private seq = 0;

  /** Records a stretch of time spent waiting on the target, on a signal, or in a fake actor. */
  span(kind: TimeSpan["kind"], start: number, end = performance.now()): void {
    this.spans.push({ kind, start, end });
  }

  /** Awaits a bounded wait (a waiter on what a peer receives), recording its time as a wait. */
  async waiting<T>(pending: Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await pending;
    } finally {
      this.span("wait", start);
    }
  }

  add(exchange: Omit<Exchange, "seq">): Exchange {
    const full = { seq: ++this.seq, ...exchange };
    this.exchanges.push(full);
    return full;
  }

  /** Exchanges whose responses broke the spec's schemas. */
  schemaFailures(): Exchange[] {
    return this.exchanges.filter((e) => (e.schema?.errors.length ?? 0) > 0);
  }
}

/** A compact multi-line rendering of one exchange, for failure messages. */
export function formatExchange(e: Exchange): string {
  const lines = [`#${e.seq} ${e.method} ${e.url} [${e.channel}]`];
  if (e.requestBody) lines.push(`  request: ${oneLine(e.requestBody, 400)}`);
  if (e.requestBinary) lines.push(`  request: binary body, ${describeDigest(e.requestBinary)}`);
  if (e.error) lines.push(`  transport error: ${e.error}`);
  else if (e.responseBinary) lines.push(`  -> ${e.status} (${e.durationMs.toFixed(0)} ms): binary body, ${describeDigest(e.responseBinary)}`);
  else lines.push(`  -> ${e.status} (${e.durationMs.toFixed(0)} ms): ${oneLine(e.responseBody ?? "", 600)}`);
  for (const v of e.schema?.errors ?? []) {
    lines.push(`  schema (${e.schema?.operation ?? "?"}): at '${v.instancePath || "/"}' ${v.message} [${v.rule}]`);
  }
  return lines.join("\n");
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s*\n\s*/g, " ");
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
