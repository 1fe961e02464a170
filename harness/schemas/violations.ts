// Turns ajv errors into SchemaViolations: a JSON pointer into the checked body, the rule that
// failed (keyword and the exact place in the spec data), a one-line human message and the
// offending value (truncated when large).

import type { ErrorObject } from "ajv/dist/2020.js";

export interface SchemaViolation {
  /** JSON pointer into the checked body ("" is the body itself). */
  instancePath: string;
  /** The failing keyword and where it lives, e.g. "type @ api/client-server/login.yaml#/paths/…/type". */
  rule: string;
  /** The failing keyword (or a harness rule: "status", "content-type", "json", "event"). */
  keyword: string;
  /** Where the keyword lives: "<file relative to data/>#<pointer>", or ajv's schema path if unknown. */
  schemaPath: string;
  /** One line for a human: where, what was expected, what was found. */
  message: string;
  /** The offending value; a short preview string when the value is large. */
  value: unknown;
  /** Set when the rule comes from the project's overlays (schemas/overlays.json). */
  overlay?: { id: string; spec: string };
  /** Set when the rule comes from a tightening spec erratum (schemas/errata.json). */
  erratum?: string;
}

const MAX_VALUE_CHARS = 300;

/** The value itself when it serialises to at most 300 characters, else a preview string. */
export function truncateValue(v: unknown): unknown {
  let json: string | undefined;
  try {
    json = JSON.stringify(v);
  } catch {
    return String(v);
  }
  if (json === undefined || json.length <= MAX_VALUE_CHARS) return v;
  if (typeof v === "string") return `${v.slice(0, 200)}… (${v.length} characters)`;
  const what = Array.isArray(v) ? `array of ${v.length} items` : `object with ${Object.keys(v as object).length} keys`;
  return `${json.slice(0, 200)}… (${what}, ${json.length} characters as JSON)`;
}

/** A short rendering of a value for messages. */
export function preview(v: unknown, max = 60): string {
  if (v === undefined) return "nothing";
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

export function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

export function violation(
  keyword: string,
  instancePath: string,
  message: string,
  value: unknown,
  schemaPath = "",
): SchemaViolation {
  return {
    instancePath,
    keyword,
    schemaPath,
    rule: schemaPath ? `${keyword} @ ${schemaPath}` : keyword,
    message: `${instancePath || "(body)"}: ${message}`,
    value: truncateValue(value),
  };
}

export interface FormatContext {
  /** Place of a schema object in the spec data, "<file>#<pointer>", if known. */
  locate(schemaObject: unknown): string | undefined;
  /** Where a custom format is defined (spec URL), for messages. */
  describeFormat(name: string): string | undefined;
  /** The overlay a schema object came from, if any. */
  overlayOf(schemaObject: unknown): { id: string; spec: string } | undefined;
  /** The tightening erratum a schema object came from, if any. */
  erratumOf?(schemaObject: unknown): string | undefined;
}

function keywordMessage(e: ErrorObject, data: unknown, ctx: FormatContext): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required":
      return `missing required property ${JSON.stringify(p.missingProperty)}`;
    case "dependentRequired":
      return `property ${JSON.stringify(p.property)} requires property ${JSON.stringify(p.missingProperty)}`;
    case "type":
      return `must be ${String(p.type).replace(/,/g, " or ")}, got ${jsonType(data)} ${preview(data)}`;
    case "enum":
      return `must be one of ${(p.allowedValues as unknown[]).map((x) => preview(x, 40)).join(", ")}; got ${preview(data)}`;
    case "const":
      return `must be ${preview(p.allowedValue)}, got ${preview(data)}`;
    case "pattern":
      return `must match the pattern /${String(p.pattern)}/, got ${preview(data)}`;
    case "format": {
      const name = String(p.format);
      const d = ctx.describeFormat(name);
      return `must be a valid ${name}${d ? ` (${d})` : ""}, got ${preview(data)}`;
    }
    case "additionalProperties":
      return `has property ${JSON.stringify(p.additionalProperty)}, which the schema does not allow`;
    case "unevaluatedProperties":
      return `has property ${JSON.stringify(p.unevaluatedProperty)}, which the schema does not allow`;
    case "propertyNames":
      return `has a property name ${JSON.stringify(p.propertyName)} that is not allowed`;
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return `must be ${String(p.comparison)} ${String(p.limit)}, got ${preview(data)}`;
    case "false schema":
      return `is not allowed here (got ${preview(data)})`;
    default:
      return `${e.message ?? e.keyword} (got ${preview(data)})`;
  }
}

/**
 * Converts ajv errors to violations. Errors from inside an anyOf/oneOf whose alternatives all
 * failed are folded into that anyOf/oneOf's message (first few reasons), not listed one by one.
 */
export function fromAjvErrors(errors: readonly ErrorObject[], ctx: FormatContext): SchemaViolation[] {
  const combinators = errors.filter((e) => e.keyword === "anyOf" || e.keyword === "oneOf");
  const folded = new Set<ErrorObject>();
  const reasons = new Map<ErrorObject, string[]>();
  for (const c of combinators) {
    const prefix = `${c.schemaPath}/`;
    const list: string[] = [];
    for (const e of errors) {
      if (e !== c && e.schemaPath.startsWith(prefix) && e.instancePath.startsWith(c.instancePath)) {
        folded.add(e);
        const rel = e.instancePath.slice(c.instancePath.length);
        list.push(`${rel ? `${rel} ` : ""}${keywordMessage(e, e.data, ctx)}`);
      }
    }
    reasons.set(c, list);
  }
  const out: SchemaViolation[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (folded.has(e)) continue;
    // ajv reports a failed if/then both as the then-keyword and as "if"; keep the detailed one.
    if (e.keyword === "if") continue;
    let message: string;
    if (e.keyword === "anyOf" || e.keyword === "oneOf") {
      const list = reasons.get(e) ?? [];
      const shown = list.slice(0, 3).join("; ");
      message =
        e.keyword === "oneOf" && (e.params as { passingSchemas?: unknown }).passingSchemas
          ? `matches more than one of the ${e.keyword} alternatives, got ${preview(e.data)}`
          : `matches none of the ${e.keyword} alternatives${shown ? `: ${shown}${list.length > 3 ? "; …" : ""}` : ""}`;
    } else {
      message = keywordMessage(e, e.data, ctx);
    }
    const where = ctx.locate(e.parentSchema);
    const schemaPath = where ? `${where}/${e.keyword}` : e.schemaPath;
    let value: unknown = e.data;
    if (e.keyword === "additionalProperties" && e.data && typeof e.data === "object") {
      value = (e.data as Record<string, unknown>)[String((e.params as { additionalProperty?: unknown }).additionalProperty)];
    }
    const v = violation(e.keyword, e.instancePath, message, value, schemaPath);
    const overlay = ctx.overlayOf(e.parentSchema);
    if (overlay) {
      v.overlay = overlay;
      v.message += ` [stricter than the schema, per ${overlay.spec}]`;
    }
    const erratum = ctx.erratumOf?.(e.parentSchema);
    if (erratum) {
      v.erratum = erratum;
      v.message += ` [per spec erratum ${erratum}]`;
    }
    const dedupe = `${v.instancePath}\u0000${v.rule}\u0000${v.message}`;
    if (seen.has(dedupe)) continue;
    seen.add(dedupe);
    out.push(v);
  }
  return out;
}
