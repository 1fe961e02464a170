// The loaded spec: operation matching, response validation and event validation with ajv.
//
// Cost model. Building a Spec from cached data costs little (route table, overlays); the ajv
// instance is created on the first validation (all files added under their file:// $id, without
// meta-validation), and each validator is compiled on first use and cached for the life of the
// Spec, per (operation, documented status, media type) and per event schema file.
//
// Measured on the 2-core development machine, Node 20, spec v1.19, through tsx (first figure a
// quiet moment; in brackets what was seen under a load average of 4-6 from other work):
//   - loadSpecSync with a warm cache: 84 ms [130-300 ms] in total: cache read, checking
//     formats.json/overlays.json against their schemas (the first ajv compile of the process,
//     ~50 ms of it), route table, overlays. Cold cache: 0.8 s [up to 4 s], once per checkout.
//   - ajv setup on the first validation (formats, keywords, addSchema of 303 files): 35 ms [80-200].
//   - first validation of an operation: compiling it costs 2-35 ms [10-250] (GET /sync, the
//     largest, ~35 ms); shared definitions are compiled once. Later validations: ~0.05 ms each
//     (1000 /sync validations including path matching: 47 ms).
//   - compileAll (516 JSON response schemas and 79 event schema files, measured before it also
//     compiled the 99 request body schemas; not done in normal runs):
//     0.9 s [1.5-3 s].
//   - memory (RSS): bare Node + tsx 75 MB; with these modules imported 83 MB; Spec loaded from
//     cache 92 MB; after a few validations 105 MB; after compileAll 141-154 MB.

import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { SpecData } from "./loader.ts";
import type { Erratum, FormatChecker, Overlay } from "./project-data.ts";
import { RouteTable, type MatchedOperation, type Operation } from "./routes.ts";
import { fromAjvErrors, jsonType, preview, violation, type FormatContext, type SchemaViolation } from "./violations.ts";

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** The standard error schema: used for 4xx/5xx statuses an operation does not document. */
export const STANDARD_ERROR_SCHEMA = "api/client-server/definitions/errors/error.yaml";

const OVERLAY_KEYWORD = "x-conformance-overlay";
/** Marks an allOf branch added by a tightening erratum (an annotation). */
const ERRATUM_TIGHTEN_KEYWORD = "x-conformance-erratum";
/**
 * Placed by a relaxing erratum on the schema object it relaxes: the properties it took out of
 * `required`. A validating keyword: in a normal pass it always passes but notes the errata whose
 * relaxation mattered; in the raw pass (hit detection) it fails as the removed `required` would.
 */
const ERRATUM_RELAX_KEYWORD = "x-conformance-erratum-relax";

/** Keywords that are annotations for our purposes: OpenAPI additions and the OpenAPI document's own keys. */
const NO_OP_KEYWORDS = [
  "example",
  "discriminator",
  "xml",
  "externalDocs",
  // A $ref into an OpenAPI document makes ajv compile the document root; these are its keys.
  "openapi",
  "info",
  "servers",
  "paths",
  "components",
  "security",
  "tags",
  "webhooks",
  "jsonSchemaDialect",
  // Extensions the spec documents (openapi_extensions.md); any other x- key found is added too.
  "x-addedInMatrixVersion",
  "x-changedInMatrixVersion",
  "x-pattern-format",
  "x-weight",
  OVERLAY_KEYWORD,
];

export interface ResponseInput {
  method: string;
  /** Request path as sent on the wire (percent-encoded); a full URL or a query string is fine too. */
  path: string;
  status: number;
  /** The response's Content-Type header, if any. */
  contentType?: string | undefined;
  /** Parsed JSON, or the raw body as a string / bytes (parsed here). */
  body?: unknown;
}

export interface ResponseValidation {
  /** The operation the request matched; undefined for a path the spec does not know. */
  operation?: MatchedOperation;
  /** Whether anything was checked (false: unknown path, undocumented 1xx/3xx, harness problem). */
  checked: boolean;
  errors: SchemaViolation[];
  /** The documented response key used ("200", "4XX", "default"), or "standard-error". */
  documentedAs?: string;
  /** The schema the body was checked against, "<file relative to data/>#<pointer>". */
  schema?: string;
  /** Why something was not checked, or what was assumed. */
  note?: string;
  /**
   * Ids of spec errata (schemas/errata.json) that changed this check's outcome: relaxing errata
   * without which it would have had more errors, tightening errata whose rule it broke.
   */
  errata?: string[];
}

export interface RequestInput {
  method: string;
  /** Request path as sent on the wire (percent-encoded); a full URL or a query string is fine too. */
  path: string;
  /**
   * The request's Content-Type header. When the key is present, a JSON body documented by the
   * operation must come with a JSON media type (undefined: the header was missing).
   */
  contentType?: string | undefined;
  /** Parsed JSON, or the raw body as a string / bytes (parsed here); undefined or "" for none. */
  body?: unknown;
}

/** The result of a request check: the same shape as a response check's (documentedAs is "request"). */
export type RequestValidation = ResponseValidation;

export interface EventValidationOptions {
  /** Room the event came from; added as room_id when the event has none (as in /sync). */
  roomId?: string;
}

export interface EventValidation {
  type?: string;
  checked: boolean;
  errors: SchemaViolation[];
  /** Schema files used, relative to data/ (the type's schema, plus e.g. its msgtype variant). */
  schemas: string[];
  note?: string;
  errata?: string[];
}

export interface SpecStats {
  specVersion: string;
  specDir: string;
  files: number;
  operations: number;
  eventSchemas: number;
  source: "cache" | "parsed";
  loadMs: number;
  ajvSetupMs: number;
  compiled: number;
  compileMs: number;
  rssMB: number;
  heapUsedMB: number;
}

interface Variant {
  rel: string;
  property: string;
  value: string;
}

function escapePointerSegment(s: string): string {
  return s.replace(/~/g, "~0").replace(/\//g, "~1");
}

function unescapePointerSegment(s: string): string {
  return s.replace(/~1/g, "/").replace(/~0/g, "~");
}

function pointerToFragment(pointer: string): string {
  return pointer
    .split("/")
    .map((s) => encodeURIComponent(s))
    .join("/");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** application/json, or any +json media type, ignoring parameters. */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const t = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  return t === "application/json" || /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+\+json$/.test(t);
}

function mediaMatches(documented: string, actual: string): boolean {
  const a = (actual.split(";")[0] ?? "").trim().toLowerCase();
  const d = documented.toLowerCase();
  if (d === a || d === "*/*") return true;
  return d.endsWith("/*") && a.startsWith(d.slice(0, -1));
}

type ParsedBody = { ok: true; value: unknown } | { ok: false; reason: string };

function parseBody(body: unknown): ParsedBody {
  if (body === undefined) return { ok: false, reason: "no JSON body (the body is missing, or was not handed over as JSON or text)" };
  let text: string | undefined;
  if (typeof body === "string") text = body;
  else if (body instanceof Uint8Array) {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(body);
    } catch {
      return { ok: false, reason: "the body is not valid UTF-8" };
    }
  } else if (body instanceof ArrayBuffer) {
    return parseBody(new Uint8Array(body));
  }
  if (text === undefined) return { ok: true, value: body };
  if (text.trim() === "") return { ok: false, reason: "the body is empty" };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, reason: `the body is not valid JSON (${(e as Error).message}): ${preview(text, 80)}` };
  }
}

export class Spec {
  readonly specDir: string;
  readonly specVersion: string;
  readonly operations: readonly Operation[];
  /** Event types with a schema file (data/event-schemas/schema/<type>.yaml). */
  readonly eventTypes: readonly string[];
  /** Problems that did not stop loading: unresolved overlays, unknown formats, ajv warnings. */
  readonly warnings: string[] = [];

  private readonly data: SpecData;
  private readonly routes: RouteTable;
  private readonly formats: Map<string, FormatChecker>;
  private readonly overlays: Overlay[];
  private readonly overlayIds = new Map<object, { id: string; spec: string }>();
  /** The errata applied to this spec release ([] under --no-errata or for other releases). */
  readonly errata: readonly Erratum[];
  private readonly tightenIds = new Map<object, string>();
  /** Relax pass state: "normal" notes candidates, "raw" fails as the raw schema would. */
  private relaxMode: "normal" | "raw" = "normal";
  private readonly relaxCandidates = new Set<string>();
  private ajvInstance: Ajv2020 | undefined;
  private readonly validators = new Map<string, ValidateFunction>();
  private locations: WeakMap<object, string> | undefined;
  private variants: Map<string, Variant[]> | undefined;
  private readonly timing = { loadMs: 0, ajvSetupMs: 0, compileMs: 0 };

  constructor(data: SpecData, formats: Map<string, FormatChecker>, overlays: Overlay[], loadMs = 0, errata: readonly Erratum[] = []) {
    this.data = data;
    this.specDir = data.specDir;
    this.specVersion = data.specVersion;
    this.formats = formats;
    this.overlays = overlays;
    this.routes = new RouteTable(data.docs);
    this.operations = this.routes.operations;
    this.eventTypes = [...data.docs.keys()]
      .map((k) => /^event-schemas\/schema\/([^/$]+)\.yaml$/.exec(k)?.[1])
      .filter((t): t is string => t !== undefined)
      .sort();
    this.applyOverlays();
    this.errata = errata.filter((e) => e.releases.includes(this.specVersion));
    this.applyErrata();
    this.timing.loadMs = loadMs;
  }

  // ---------------------------------------------------------------------------------------
  // Matching

  /** The operation a concrete request maps to, with its decoded path parameters. */
  matchOperation(method: string, urlPath: string): MatchedOperation | undefined {
    return this.routes.match(method, urlPath);
  }

  // ---------------------------------------------------------------------------------------
  // Response validation

  validateResponse(input: ResponseInput): ResponseValidation {
    const match = this.matchOperation(input.method, input.path);
    if (!match) {
      return {
        checked: false,
        errors: [],
        note: `no operation of the spec matches ${input.method.toUpperCase()} ${input.path}`,
      };
    }
    if (input.method.toUpperCase() === "HEAD" && match.method !== "HEAD") {
      return { operation: match, checked: false, errors: [], note: "a HEAD response has no body; not checked" };
    }
    return firstPassing(match, (op) => this.validateFor(op, input));
  }

  /**
   * Checks a request body against its operation's requestBody JSON schema (errata applied), for
   * requests the target sends to the harness's fake actors. Undocumented bodies are not checked.
   */
  validateRequest(input: RequestInput): RequestValidation {
    const match = this.matchOperation(input.method, input.path);
    if (!match) {
      return { checked: false, errors: [], note: `no operation of the spec matches ${input.method.toUpperCase()} ${input.path}` };
    }
    return firstPassing(match, (op) => this.validateRequestFor(op, input));
  }

  private validateRequestFor(op: Operation, input: RequestInput): Omit<RequestValidation, "operation"> {
    const documentedAs = "request";
    const empty = input.body === undefined || input.body === "" || (input.body instanceof Uint8Array && input.body.length === 0);
    const resolved = this.resolveRef(op.file, `${op.pointer}/requestBody`);
    if (!resolved || !isObject(resolved.node)) {
      return { checked: true, errors: [], documentedAs, note: empty ? "no request body documented" : "the operation documents no request body; the body was not checked" };
    }
    const required = resolved.node.required === true;
    const content = isObject(resolved.node.content) ? resolved.node.content : {};
    const jsonMedia = Object.keys(content).filter((m) => isJsonMediaType(m));
    if (empty) {
      const errors = required && jsonMedia.length > 0 ? [violation("json", "", "the request body is required, but the request has none", null)] : [];
      return { checked: true, errors, documentedAs, note: "the request has no body" };
    }
    if (jsonMedia.length === 0) {
      return { checked: true, errors: [], documentedAs, note: `documented body is ${Object.keys(content).join(", ") || "unspecified"}; not checked` };
    }
    const mediaKey = jsonMedia.includes("application/json") ? "application/json" : (jsonMedia[0] as string);
    const mediaObj = content[mediaKey];
    const ctErrors: SchemaViolation[] =
      "contentType" in input && !isJsonMediaType(input.contentType)
        ? [
            violation(
              "content-type",
              "",
              input.contentType
                ? `a JSON request body must have a JSON Content-Type (application/json), got ${JSON.stringify(input.contentType)}`
                : "a JSON request body must have a JSON Content-Type (application/json), but the header is missing",
              input.contentType ?? null,
            ),
          ]
        : [];
    if (!isObject(mediaObj) || mediaObj.schema === undefined) {
      return { checked: true, errors: ctErrors, documentedAs, note: "documented JSON body has no schema" };
    }
    const r = this.checkJson(resolved.file, `${resolved.pointer}/content/${escapePointerSegment(mediaKey)}/schema`, { ...input, status: 0, contentType: "application/json" }, documentedAs, false);
    return { ...r, errors: [...ctErrors, ...r.errors] };
  }

  private validateFor(op: Operation, input: ResponseInput): Omit<ResponseValidation, "operation"> {
    const opPointer = op.pointer;
    const opObj = this.pointerGet(op.file, opPointer);
    const responses = isObject(opObj) && isObject(opObj.responses) ? opObj.responses : {};
    const key = pickResponseKey(responses, input.status);
    if (key === undefined) {
      const documented = Object.keys(responses);
      if (input.status >= 400 && input.status <= 599) {
        // The server-server API defines no general error body: its API standards require only
        // that every response be a JSON object served as application/json
        // (https://spec.matrix.org/v1.19/server-server-api/#api-standards).
        if (op.api === "server-server") return this.checkJsonObject(input);
        return this.checkJson(STANDARD_ERROR_SCHEMA, "", input, "standard-error", true);
      }
      if (input.status >= 200 && input.status <= 299) {
        return {
          checked: true,
          errors: [
            violation(
              "status",
              "",
              `HTTP ${input.status} is not documented for ${op.key} (${op.operationId}); documented: ${documented.join(", ") || "none"}`,
              input.status,
            ),
          ],
        };
      }
      return { checked: false, errors: [], note: `HTTP ${input.status} is not documented for ${op.key}; not checked` };
    }
    const resolved = this.resolveRef(op.file, `${opPointer}/responses/${escapePointerSegment(key)}`);
    if (!resolved || !isObject(resolved.node)) {
      return { checked: false, errors: [], documentedAs: key, note: `cannot resolve the documented ${key} response` };
    }
    const content = resolved.node.content;
    if (!isObject(content) || Object.keys(content).length === 0) {
      return { checked: true, errors: [], documentedAs: key, note: "documented without a body" };
    }
    const media = Object.keys(content);
    const jsonMedia = media.filter((m) => isJsonMediaType(m));
    if (jsonMedia.length === 0) {
      return { checked: true, errors: [], documentedAs: key, note: `documented body is ${media.join(", ")}; not checked` };
    }
    if (input.contentType && !isJsonMediaType(input.contentType) && media.some((m) => mediaMatches(m, input.contentType ?? ""))) {
      return { checked: true, errors: [], documentedAs: key, note: `served as ${input.contentType}, which is documented; not checked` };
    }
    const mediaKey = jsonMedia.includes("application/json") ? "application/json" : (jsonMedia[0] as string);
    const mediaObj = content[mediaKey];
    if (!isObject(mediaObj) || mediaObj.schema === undefined) {
      return { checked: true, errors: this.contentTypeErrors(input, true), documentedAs: key, note: "documented JSON body has no schema" };
    }
    return this.checkJson(
      resolved.file,
      `${resolved.pointer}/content/${escapePointerSegment(mediaKey)}/schema`,
      input,
      key,
      false,
    );
  }

  private contentTypeErrors(input: ResponseInput, jsonExpected: boolean): SchemaViolation[] {
    if (!jsonExpected || isJsonMediaType(input.contentType)) return [];
    return [
      violation(
        "content-type",
        "",
        input.contentType
          ? `a JSON response must have a JSON Content-Type (application/json), got ${JSON.stringify(input.contentType)}`
          : "a JSON response must have a JSON Content-Type (application/json), but the header is missing",
        input.contentType ?? null,
      ),
    ];
  }

  /** An undocumented server-server error: a JSON object with a JSON content type, nothing more. */
  private checkJsonObject(input: ResponseInput): Omit<ResponseValidation, "operation"> {
    const errors = this.contentTypeErrors(input, true);
    const parsed = parseBody(input.body);
    if (!parsed.ok) errors.push(violation("json", "", parsed.reason, null));
    else if (!isObject(parsed.value)) errors.push(violation("type", "", "every server-server response must be a JSON object", parsed.value));
    return { checked: true, errors, documentedAs: "json-object", note: `HTTP ${input.status} is not documented for this operation; checked as a JSON object` };
  }

  private checkJson(
    file: string,
    pointer: string,
    input: ResponseInput,
    documentedAs: string,
    isStandardError: boolean,
  ): Omit<ResponseValidation, "operation"> {
    const schema = `${file}#${pointer}`;
    const errors = this.contentTypeErrors(input, true);
    const parsed = parseBody(input.body);
    if (!parsed.ok) {
      errors.push(violation("json", "", parsed.reason, null));
      return { checked: true, errors, documentedAs, schema };
    }
    let validate: ValidateFunction;
    try {
      validate = this.compile(file, pointer);
    } catch (e) {
      return {
        checked: false,
        errors,
        documentedAs,
        schema,
        note: `the harness could not compile ${schema}: ${(e as Error).message}`,
      };
    }
    const run = this.run(validate, parsed.value);
    errors.push(...run.errors);
    const note = isStandardError ? `HTTP ${input.status} is not documented for this operation; checked as a standard error response` : undefined;
    return { checked: true, errors, documentedAs, schema, ...(note ? { note } : {}), ...(run.errata.length > 0 ? { errata: run.errata } : {}) };
  }

  /**
   * Runs a compiled validator with the errata applied, and works out which errata mattered: when
   * a relaxation was met, the value is checked once more as the raw schema would (same compiled
   * code, raw mode), and the errata behind the extra errors are the hits.
   */
  private run(validate: ValidateFunction, value: unknown): { errors: SchemaViolation[]; errata: string[] } {
    this.relaxCandidates.clear();
    const ok = validate(value);
    const errors = ok ? [] : fromAjvErrors(validate.errors ?? [], this.formatContext());
    const hits = new Set<string>();
    for (const v of errors) if (v.erratum) hits.add(v.erratum);
    if (this.relaxCandidates.size > 0) {
      this.relaxMode = "raw";
      let raw: SchemaViolation[];
      let rawAjv: readonly { params: Record<string, unknown> }[];
      try {
        const rawOk = validate(value);
        rawAjv = rawOk ? [] : [...(validate.errors ?? [])];
        raw = rawOk ? [] : fromAjvErrors(validate.errors ?? [], this.formatContext());
      } finally {
        this.relaxMode = "normal";
        this.relaxCandidates.clear();
      }
      if (raw.length > errors.length) {
        for (const e of rawAjv) if (typeof e.params.erratum === "string") hits.add(e.params.erratum);
      }
    }
    return { errors, errata: [...hits].sort() };
  }

  // ---------------------------------------------------------------------------------------
  // Event validation

  /**
   * Validates an event against data/event-schemas/schema/<type>.yaml and, where the spec has
   * variants (m.room.message$m.text.yaml, ...), against the variant its content selects.
   * Redacted events (unsigned.redacted_because present) are not held to their content schema.
   */
  validateEvent(event: unknown, opts: EventValidationOptions = {}): EventValidation {
    if (!isObject(event)) {
      return {
        checked: true,
        errors: [violation("event", "", `an event must be a JSON object, got ${jsonType(event)}`, event)],
        schemas: [],
      };
    }
    const type = event.type;
    if (typeof type !== "string") {
      return {
        checked: true,
        errors: [violation("event", "/type", `an event must have a string type, got ${preview(type)}`, type)],
        schemas: [],
      };
    }
    const rel = `event-schemas/schema/${type}.yaml`;
    if (!this.data.docs.has(rel)) {
      return { type, checked: false, errors: [], schemas: [], note: `the spec has no schema for event type ${type}` };
    }
    const subject = opts.roomId !== undefined && !("room_id" in event) ? { ...event, room_id: opts.roomId } : event;
    const content = isObject(event.content) ? event.content : {};
    const schemas = [rel, ...this.variantsOf(type).filter((v) => content[v.property] === v.value).map((v) => v.rel)];
    let errors: SchemaViolation[] = [];
    const seen = new Set<string>();
    const hits = new Set<string>();
    for (const s of schemas) {
      let validate: ValidateFunction;
      try {
        validate = this.compile(s, "");
      } catch (e) {
        return { type, checked: false, errors, schemas, note: `the harness could not compile ${s}: ${(e as Error).message}` };
      }
      const run = this.run(validate, subject);
      for (const id of run.errata) hits.add(id);
      for (const v of run.errors) {
        const k = `${v.instancePath}\u0000${v.message}`;
        if (!seen.has(k)) {
          seen.add(k);
          errors.push(v);
        }
      }
    }
    const unsigned = isObject(event.unsigned) ? event.unsigned : {};
    const errata = hits.size > 0 ? { errata: [...hits].sort() } : {};
    if (unsigned.redacted_because !== undefined) {
      errors = errors.filter((v) => !/^\/content(\/|$)/.test(v.instancePath));
      return { type, checked: true, errors, schemas, note: "redacted event: content not checked", ...errata };
    }
    return { type, checked: true, errors, schemas, ...errata };
  }

  private variantsOf(type: string): Variant[] {
    if (!this.variants) {
      const all = new Map<string, Variant[]>();
      for (const [rel, doc] of this.data.docs) {
        const m = /^event-schemas\/schema\/([^/$]+)\$([^/]+)\.yaml$/.exec(rel);
        if (!m || !isObject(doc)) continue;
        const [, base, value] = m as unknown as [string, string, string];
        const props = isObject(doc.properties) && isObject(doc.properties.content) && isObject(doc.properties.content.properties)
          ? doc.properties.content.properties
          : {};
        const property = Object.keys(props).find((p) => {
          const s = props[p];
          return isObject(s) && ((Array.isArray(s.enum) && s.enum.length === 1 && s.enum[0] === value) || s.const === value);
        });
        if (property === undefined) {
          this.warnings.push(`event schema ${rel}: cannot tell which content property selects variant ${value}`);
          continue;
        }
        const list = all.get(base) ?? [];
        list.push({ rel, property, value });
        all.set(base, list);
      }
      this.variants = all;
    }
    return this.variants.get(type) ?? [];
  }

  // ---------------------------------------------------------------------------------------
  // Formats

  /** Whether `value` is valid for a format of schemas/formats.json (e.g. "mx-user-id"). */
  checkFormat(name: string, value: string): boolean {
    const f = this.formats.get(name);
    if (!f) throw new Error(`unknown format ${name}; known: ${[...this.formats.keys()].join(", ")}`);
    return f.test(value);
  }

  // ---------------------------------------------------------------------------------------
  // Compilation

  /** Compiles every documented JSON response and request body schema and every event schema (for tests and tools). */
  compileAll(): { compiled: number; failures: string[]; ms: number } {
    const t0 = performance.now();
    const failures: string[] = [];
    let compiled = 0;
    const seen = new Set<string>();
    for (const op of this.operations) {
      const opPointer = op.pointer;
      const opObj = this.pointerGet(op.file, opPointer);
      const responses = isObject(opObj) && isObject(opObj.responses) ? opObj.responses : {};
      for (const key of Object.keys(responses)) {
        const r = this.resolveRef(op.file, `${opPointer}/responses/${escapePointerSegment(key)}`);
        if (!r || !isObject(r.node) || !isObject(r.node.content)) continue;
        for (const [media, mo] of Object.entries(r.node.content)) {
          if (!isJsonMediaType(media) || !isObject(mo) || mo.schema === undefined) continue;
          const ptr = `${r.pointer}/content/${escapePointerSegment(media)}/schema`;
          const id = `${r.file}#${ptr}`;
          if (seen.has(id)) continue;
          seen.add(id);
          try {
            this.compile(r.file, ptr);
            compiled++;
          } catch (e) {
            failures.push(`${op.key} ${key}: ${(e as Error).message}`);
          }
        }
      }
    }
    for (const op of this.operations) {
      const r = this.resolveRef(op.file, `${op.pointer}/requestBody`);
      if (!r || !isObject(r.node) || !isObject(r.node.content)) continue;
      for (const [media, mo] of Object.entries(r.node.content)) {
        if (!isJsonMediaType(media) || !isObject(mo) || mo.schema === undefined) continue;
        const ptr = `${r.pointer}/content/${escapePointerSegment(media)}/schema`;
        if (seen.has(`${r.file}#${ptr}`)) continue;
        seen.add(`${r.file}#${ptr}`);
        try {
          this.compile(r.file, ptr);
          compiled++;
        } catch (e) {
          failures.push(`${op.key} request: ${(e as Error).message}`);
        }
      }
    }
    for (const t of this.eventTypes) {
      for (const rel of [`event-schemas/schema/${t}.yaml`, ...this.variantsOf(t).map((v) => v.rel)]) {
        try {
          this.compile(rel, "");
          compiled++;
        } catch (e) {
          failures.push(`${rel}: ${(e as Error).message}`);
        }
      }
    }
    return { compiled, failures, ms: performance.now() - t0 };
  }

  private fileUrl(rel: string): string {
    return pathToFileURL(path.join(this.data.dataDir, rel)).href;
  }

  private relOfUrl(url: string): string {
    return path.relative(this.data.dataDir, fileURLToPath(url)).split(path.sep).join("/");
  }

  private compile(file: string, pointer: string): ValidateFunction {
    const id = `${file}#${pointer}`;
    const cached = this.validators.get(id);
    if (cached) return cached;
    const ajv = this.ajv();
    const t0 = performance.now();
    try {
      const ref = pointer === "" ? this.fileUrl(file) : `${this.fileUrl(file)}#${pointerToFragment(pointer)}`;
      const v = ajv.compile({ $ref: ref });
      this.validators.set(id, v);
      return v;
    } finally {
      this.timing.compileMs += performance.now() - t0;
    }
  }

  private ajv(): Ajv2020 {
    if (this.ajvInstance) return this.ajvInstance;
    const t0 = performance.now();
    const warn = (...args: unknown[]): void => {
      if (this.warnings.length < 200) this.warnings.push(`ajv: ${args.map(String).join(" ")}`);
    };
    const ajv = new Ajv2020({
      allErrors: true,
      verbose: true,
      strict: true,
      allowUnionTypes: true,
      strictTypes: false,
      strictRequired: false,
      validateSchema: false,
      logger: { log: () => {}, warn, error: warn },
    });
    addFormats(ajv);
    for (const [name, f] of this.formats) ajv.addFormat(name, { type: "string", validate: f.test });
    // Formats the spec lists that the project does not define yet: accept, but say so.
    const listed = this.data.docs.get("string-formats.yaml");
    if (isObject(listed)) {
      for (const name of Object.keys(listed)) {
        if (!this.formats.has(name) && !ajv.formats[name]) {
          ajv.addFormat(name, true);
          this.warnings.push(`format ${name} is listed in data/string-formats.yaml but not defined in schemas/formats.json; not checked`);
        }
      }
    }
    for (const k of new Set([...NO_OP_KEYWORDS, ERRATUM_TIGHTEN_KEYWORD, ...this.data.xKeywords])) {
      if (k !== ERRATUM_RELAX_KEYWORD) ajv.addKeyword({ keyword: k, schemaType: [] });
    }
    type RelaxEntry = { id: string; required: string[] };
    const relax = (entries: RelaxEntry[], data: unknown, parentSchema: unknown): boolean => {
      if (!isObject(data)) return true;
      const missing = entries.flatMap((e) => e.required.filter((p) => !(p in data)).map((p) => ({ id: e.id, p })));
      if (missing.length === 0) return true;
      if (this.relaxMode === "normal") {
        for (const m of missing) this.relaxCandidates.add(m.id);
        return true;
      }
      relaxValidate.errors = missing.map((m) => ({
        keyword: "required",
        params: { missingProperty: m.p, erratum: m.id },
        message: `must have required property '${m.p}'`,
        parentSchema,
      }));
      return false;
    };
    const relaxValidate = ((schema: RelaxEntry[], data: unknown, parentSchema: unknown) => relax(schema, data, parentSchema)) as ((schema: RelaxEntry[], data: unknown, parentSchema: unknown) => boolean) & { errors?: unknown[] };
    ajv.addKeyword({ keyword: ERRATUM_RELAX_KEYWORD, schemaType: "array", errors: true, validate: relaxValidate as never });
    for (const [rel, doc] of this.data.docs) {
      if (!/^(api|event-schemas|schemas)\//.test(rel) || !isObject(doc)) continue;
      const id = this.fileUrl(rel);
      if (typeof doc.$id === "string" && doc.$id !== id) this.warnings.push(`${rel}: its $id ${doc.$id} was replaced by ${id}`);
      doc.$id = id;
      ajv.addSchema(doc);
    }
    this.ajvInstance = ajv;
    this.timing.ajvSetupMs = performance.now() - t0;
    return ajv;
  }

  private formatContext(): FormatContext {
    return {
      locate: (o) => (o !== null && typeof o === "object" ? this.locationIndex().get(o) : undefined),
      describeFormat: (name) => this.formats.get(name)?.definition.spec,
      overlayOf: (o) => (o !== null && typeof o === "object" ? this.overlayIds.get(o) : undefined),
      erratumOf: (o) => (o !== null && typeof o === "object" ? this.tightenIds.get(o) : undefined),
    };
  }

  /** Maps every object of the spec data to "<file>#<pointer>", for readable rule locations. */
  private locationIndex(): WeakMap<object, string> {
    if (this.locations) return this.locations;
    const map = new WeakMap<object, string>();
    const walk = (v: unknown, where: string): void => {
      if (v === null || typeof v !== "object" || map.has(v)) return;
      map.set(v, where);
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}/${i}`));
      else for (const [k, x] of Object.entries(v)) walk(x, `${where}/${escapePointerSegment(k)}`);
    };
    for (const [rel, doc] of this.data.docs) walk(doc, `${rel}#`);
    this.locations = map;
    return map;
  }

  // ---------------------------------------------------------------------------------------
  // Navigating the data

  private pointerGet(file: string, pointer: string): unknown {
    let node: unknown = this.data.docs.get(file);
    if (pointer === "") return node;
    for (const raw of pointer.split("/").slice(1)) {
      if (node === null || typeof node !== "object") return undefined;
      node = (node as Record<string, unknown>)[unescapePointerSegment(raw)];
    }
    return node;
  }

  /**
   * Walks `pointer` in `file`, following `$ref`s met on the way (and at the end), across files.
   * Returns the node with the file and pointer where it actually lives.
   */
  private resolveRef(
    file: string,
    pointer: string,
    followFinal = true,
  ): { file: string; pointer: string; node: unknown } | undefined {
    let curFile = file;
    let curPtr = "";
    let node: unknown = this.data.docs.get(file);
    const follow = (): boolean => {
      for (let hops = 0; isObject(node) && typeof node.$ref === "string"; hops++) {
        if (hops > 20) return false;
        const url = new URL(node.$ref, this.fileUrl(curFile));
        const frag = decodeURIComponent(url.hash.replace(/^#/, ""));
        url.hash = "";
        curFile = this.relOfUrl(url.href);
        curPtr = frag;
        node = this.pointerGet(curFile, frag);
      }
      return true;
    };
    for (const raw of pointer.split("/").slice(1)) {
      if (!isObject(node) && !Array.isArray(node)) return undefined;
      const seg = unescapePointerSegment(raw);
      if (isObject(node) && !(seg in node) && typeof node.$ref === "string") {
        if (!follow()) return undefined;
        if (!isObject(node) && !Array.isArray(node)) return undefined;
      }
      node = (node as Record<string, unknown>)[seg];
      curPtr = `${curPtr}/${raw}`;
    }
    if (followFinal && !follow()) return undefined;
    return node === undefined ? undefined : { file: curFile, pointer: curPtr, node };
  }

  private applyOverlays(): void {
    for (const o of this.overlays) {
      const targets = this.targetsOf(o);
      if (targets.length === 0) this.warnings.push(`overlay ${o.id}: its target is not in this spec`);
      for (const t of targets) {
        // Follow $refs on the way, but not a final one: the overlay belongs to this place, not
        // to the shared definition it may reference.
        const r = this.data.docs.has(t.file) ? this.resolveRef(t.file, t.pointer, false) : undefined;
        if (!r || !isObject(r.node)) {
          this.warnings.push(`overlay ${o.id}: ${t.file}#${t.pointer} is not a schema object in this spec`);
          continue;
        }
        const extra: Record<string, unknown> = { ...structuredClone(o.schema), [OVERLAY_KEYWORD]: o.id };
        const prev = Array.isArray(r.node.allOf) ? r.node.allOf : [];
        r.node.allOf = [...prev, extra];
        this.overlayIds.set(extra, { id: o.id, spec: o.spec });
      }
    }
  }

  /** Where an overlay or erratum target lives: an operation (each of its files), an event, a file. */
  private targetsOf(t: { operation?: string; event?: string; schemaFile?: string; pointer: string }): { file: string; pointer: string }[] {
    if (t.schemaFile !== undefined) return [{ file: t.schemaFile, pointer: t.pointer }];
    if (t.event !== undefined) return [{ file: `event-schemas/schema/${t.event}.yaml`, pointer: t.pointer }];
    if (t.operation !== undefined) return this.routes.byKey(t.operation).map((op) => ({ file: op.file, pointer: `${op.pointer}${t.pointer}` }));
    return [];
  }

  /**
   * Applies the errata of this release. A relaxation takes properties out of the `required` of
   * the schema object found at each target (following $refs, also a final one: the list lives
   * where the $ref points) and leaves a marker keyword that notes when it mattered. A tightening
   * is ANDed in like an overlay. A target that does not hold what the erratum expects is a warning.
   */
  private applyErrata(): void {
    for (const e of this.errata) {
      for (const target of e.targets) {
        const places = this.targetsOf(target);
        if (places.length === 0) this.warnings.push(`erratum ${e.id}: ${target.operation ?? target.event ?? target.schemaFile} is not in this spec`);
        for (const t of places) {
          const r = this.data.docs.has(t.file) ? this.resolveRef(t.file, t.pointer, e.relax !== undefined) : undefined;
          if (!r || !isObject(r.node)) {
            this.warnings.push(`erratum ${e.id}: ${t.file}#${t.pointer} is not a schema object in this spec`);
            continue;
          }
          const node = r.node;
          if (e.relax) {
            const req = Array.isArray(node.required) ? (node.required as unknown[]) : [];
            const present = e.relax.required.filter((p) => req.includes(p));
            const absent = e.relax.required.filter((p) => !req.includes(p));
            if (absent.length > 0) this.warnings.push(`erratum ${e.id}: ${r.file}#${r.pointer} does not require ${absent.join(", ")} (fixed in this release?)`);
            if (present.length === 0) continue;
            node.required = req.filter((p) => !present.includes(p as string));
            const marks = Array.isArray(node[ERRATUM_RELAX_KEYWORD]) ? (node[ERRATUM_RELAX_KEYWORD] as unknown[]) : [];
            node[ERRATUM_RELAX_KEYWORD] = [...marks, { id: e.id, required: present }];
          }
          if (e.tighten) {
            const extra: Record<string, unknown> = { ...structuredClone(e.tighten.schema), [ERRATUM_TIGHTEN_KEYWORD]: e.id };
            node.allOf = [...(Array.isArray(node.allOf) ? node.allOf : []), extra];
            this.tightenIds.set(extra, e.id);
          }
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Cost

  stats(): SpecStats {
    const mem = process.memoryUsage();
    return {
      specVersion: this.specVersion,
      specDir: this.specDir,
      files: this.data.docs.size,
      operations: this.operations.length,
      eventSchemas: this.eventTypes.length,
      source: this.data.source,
      loadMs: Math.round(this.timing.loadMs),
      ajvSetupMs: Math.round(this.timing.ajvSetupMs),
      compiled: this.validators.size,
      compileMs: Math.round(this.timing.compileMs),
      rssMB: Math.round(mem.rss / 1048576),
      heapUsedMB: Math.round(mem.heapUsed / 1048576),
    };
  }

  /** One line: what was loaded, from where, and what it cost so far. */
  costSummary(): string {
    const s = this.stats();
    return (
      `spec ${s.specVersion}: ${s.files} files (${s.source === "cache" ? "from cache" : "parsed"}) in ${s.loadMs} ms, ` +
      `${s.operations} operations, ${s.eventSchemas} event schemas; ajv setup ${s.ajvSetupMs} ms; ` +
      `${s.compiled} validators compiled in ${s.compileMs} ms; rss ${s.rssMB} MB, heap ${s.heapUsedMB} MB`
    );
  }
}

/**
 * Checks against the matched operation and its alternatives (same path shape, other templates):
 * the first check without errors, else the primary operation's.
 */
function firstPassing<R extends { errors: SchemaViolation[] }>(match: MatchedOperation, check: (op: Operation) => R): R & { operation: MatchedOperation } {
  const { params, alternatives, ...primary } = match;
  const all: Operation[] = [primary, ...alternatives];
  let first: (R & { operation: MatchedOperation }) | undefined;
  for (const op of all) {
    const r = check(op);
    const result = { ...r, operation: { ...op, params, alternatives: all.filter((o) => o !== op) } };
    if (r.errors.length === 0) return result;
    first ??= result;
  }
  return first!;
}

/** The documented response for a status: exact code, then a range such as "4XX", then "default". */
export function pickResponseKey(responses: Record<string, unknown>, status: number): string | undefined {
  const exact = String(status);
  if (exact in responses) return exact;
  const range = `${Math.floor(status / 100)}XX`;
  for (const k of Object.keys(responses)) if (k.toUpperCase() === range) return k;
  return "default" in responses ? "default" : undefined;
}
