// What a failed test failed of, as a kind and a stable signature. The signature is what a baseline
// entry names, so it must stay the same from run to run for the same fault and change when the
// fault changes: IDs, ports, long numbers and tokens are replaced by placeholders, array indices
// in JSON paths by "*".
//
//   assertion  the test's own expectation: its first message line (label, expected, found)
//   schema     the test's own act broke the spec's schema: endpoint, status, rule and JSON path
//   setup      an arrangement step failed (StepFailed on an endpoint the test does not cite), or
//              an arrangement step's exchange broke the schema: "setup: ..." names that endpoint
//   timeout    a bounded wait ran out (WaitTimedOut) or the test hit its time limit
//   error      anything else thrown: the error's name and first line
import type { Exchange, SchemaViolation } from "../client/exchange.ts";
import { anchorOfOperation, sectionAnchor } from "../schemas/anchors.ts";

export type FailureKind = "assertion" | "schema" | "setup" | "timeout" | "error";

export interface Failure {
  kind: FailureKind;
  signature: string;
}

/**
 * One schema violation met by a test, with the role its exchange played: "act" when the
 * exchange's operation is the one the test's spec() section cites, "setup" otherwise.
 */
export interface SchemaFinding {
  /** `<api> <METHOD> <path template>` of the exchange. */
  operation: string;
  status?: number;
  /** The target's response to the harness, or the target's request to a fake actor. */
  subject: "response" | "request";
  role: "act" | "setup";
  /** The violation alone: "<keyword> at <path>: <message>", normalised. */
  rule: string;
  /** The project overlay the rule came from, when it is not the spec's own. */
  overlay?: string;
  /** The exchange's number in the test's log. */
  exchange: number;
}

/** Replaces what varies from run to run (IDs, hosts, long numbers, tokens) with placeholders. */
export function normalise(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\[[0-9;]*m/g, "")
      .replace(/\b(?:127\.0\.0\.1|localhost|\[::1\]|[a-z0-9-]+\.invalid)(?::\d+)?\b/gi, "<host>")
      .replace(/@[^\s"'`,:()[\]{}]+:<host>/g, "@<user>")
      .replace(/@[^\s"'`,:()[\]{}]+:[^\s"'`,()[\]{}]+/g, "@<user>")
      .replace(/#[^\s"'`,:/()[\]{}]+:[^\s"'`,()[\]{}]+/g, "#<alias>")
      .replace(/![^\s"'`,:()[\]{}]+:[^\s"'`,()[\]{}]+/g, "!<room>")
      .replace(/![A-Za-z0-9+/_-]{40,}/g, "!<room>")
      .replace(/\$[^\s"'`,:()[\]{}]+:[^\s"'`,()[\]{}]+/g, "$<event>")
      .replace(/\$[A-Za-z0-9+/_-]{20,}/g, "$<event>")
      // Random tokens and hashes mix digits and letters; long identifiers such as
      // join_authorised_via_users_server do not.
      .replace(/\b[A-Za-z0-9+_-]{20,}={0,2}/g, (m) => (/\d/.test(m) && /[A-Za-z]/.test(m) ? "<token>" : m))
      .replace(/\b\d{4,}\b/g, "<n>")
      .replace(/\s+/g, " ")
      .trim()
  );
}

/** A JSON pointer with array indices and ID-like keys replaced: "/rooms/join/!a:b/timeline/events/3" -> "/rooms/join/{id}/timeline/events/*". */
export function normalisePath(pointer: string): string {
  if (pointer === "") return "/";
  return pointer
    .split("/")
    .map((seg) => (/^\d+$/.test(seg) ? "*" : /^[!$@#+]/.test(seg) || /:/.test(seg) ? "{id}" : seg))
    .join("/");
}

/** The operation of a SchemaCheck without its API prefix: "server-server GET /x" -> "GET /x". */
function shortOperation(operation: string): string {
  return operation.replace(/^\S+ (?=[A-Z]+ )/, "");
}

/** "required at /event: missing required property "origin"". */
export function violationRule(v: SchemaViolation): string {
  const keyword = v.keyword ?? v.rule.split(" @ ")[0] ?? v.rule;
  // The message starts with the instance path ("/event: ..."); the rule names the path itself.
  const message = v.message.replace(/^\S*: /, "");
  return `${keyword} at ${normalisePath(v.instancePath)}: ${normalise(message)}`;
}

/** The per-endpoint key a finding is reported under: "GET /x 200 response" or "PUT /y request". */
export function findingEndpoint(f: Pick<SchemaFinding, "operation" | "status" | "subject">): string {
  return f.subject === "request" ? `${shortOperation(f.operation)} request` : `${shortOperation(f.operation)} ${f.status ?? "?"}`;
}

function findingSignature(f: SchemaFinding): string {
  return `${findingEndpoint(f)} ${f.rule}`;
}

/**
 * Sorts a test's schema violations into its act's and its arrangement's, by the attribution rule:
 * an exchange belongs to the act when its operation's anchor is the anchor the test's spec()
 * section cites. A test that cites a prose heading has no act operation, so every violation it
 * meets is set-up.
 */
export function schemaFindings(exchanges: readonly Exchange[], citedSection: string | undefined): SchemaFinding[] {
  const cited = citedSection ? sectionAnchor(citedSection) : "";
  const out: SchemaFinding[] = [];
  for (const e of exchanges) {
    const check = e.schema;
    if (!check || check.errors.length === 0) continue;
    const operation = check.operation ?? `? ${e.method} ${new URL(e.url, "http://x").pathname}`;
    const role = cited !== "" && anchorOfOperation(operation) === cited ? "act" : "setup";
    for (const v of check.errors) {
      out.push({
        operation,
        status: check.subject === "request" ? undefined : e.status,
        subject: check.subject ?? "response",
        role,
        rule: violationRule(v),
        overlay: v.overlay?.id,
        exchange: e.seq,
      });
    }
  }
  return out;
}

/** The error names the harness throws, which decide the kind of a failure. */
export const SCHEMA_FAILURE = "SchemaFailure";
export const SETUP_SCHEMA_FAILURE = "SetupSchemaFailure";

export interface FailureInput {
  errors: ReadonlyArray<{ name?: string; message: string }>;
  /** The test's exchanges (all of them for a failed test). */
  exchanges?: readonly Exchange[];
  findings?: readonly SchemaFinding[];
  citedSection?: string;
}

/**
 * The kind and signature of a failed test, from its first error: what the test body threw first
 * decides; the log fixture's schema error comes last and decides only when the body passed.
 */
export function classifyFailure(input: FailureInput): Failure {
  const first = input.errors[0] ?? { name: "Error", message: "failed without an error" };
  const name = first.name ?? "Error";
  const head = (first.message.split("\n")[0] ?? "").trim();
  const findings = input.findings ?? [];
  const join = (fs: readonly SchemaFinding[]) => [...new Set(fs.map(findingSignature))].sort().join(" | ");
  if (name === SCHEMA_FAILURE) return { kind: "schema", signature: `schema: ${join(findings.filter((f) => f.role === "act"))}` };
  if (name === SETUP_SCHEMA_FAILURE) return { kind: "setup", signature: `setup: schema: ${join(findings.filter((f) => f.role === "setup"))}` };
  if (name === "StepFailed") {
    // "<step> failed: <detail>", then the exchange as "#<seq> METHOD url".
    const seq = Number(/^#(\d+) /m.exec(first.message)?.[1]);
    const exchange = input.exchanges?.find((e) => e.seq === seq);
    const operation = exchange?.schema?.operation;
    const cited = input.citedSection ? sectionAnchor(input.citedSection) : "";
    if (exchange?.error !== undefined) {
      // No answer at all: a hang or a dropped connection, whichever step met it.
      const what = `${exchange.method} ${normalise(new URL(exchange.url).pathname)}: ${normalise(exchange.error)}`;
      return /no response within/.test(exchange.error) ? { kind: "timeout", signature: `timeout: ${what.replace(/ within <n> ms| within \d+ ms/, "")}` } : { kind: "error", signature: `error: ${what}` };
    }
    const where = exchange ? `${operation ? shortOperation(operation) : `${exchange.method} ${normalise(new URL(exchange.url).pathname)}`} -> ${exchange.status ?? exchange.error ?? "?"}` : "";
    const text = `${normalise(head)}${where ? ` (${where})` : ""}`;
    if (operation && cited !== "" && anchorOfOperation(operation) === cited) return { kind: "assertion", signature: `assertion: ${text}` };
    return { kind: "setup", signature: `setup: ${text}` };
  }
  if (name === "WaitTimedOut") return { kind: "timeout", signature: `timeout: ${normalise(head.replace(/^timed out after \d+ ms /, ""))}` };
  if (/^(Test|Hook) timed out in \d+ms/.test(head)) return { kind: "timeout", signature: `timeout: the test ran past its time limit` };
  if (name === "AssertionError" || /expected/i.test(head)) return { kind: "assertion", signature: `assertion: ${assertionText(normalise(head)).slice(0, 240)}` };
  return { kind: "error", signature: `error: ${name}: ${normalise(head).slice(0, 240)}` };
}

/**
 * An assertion's label and expectation without the value found, when the message has chai's
 * form "<label>: expected <found> to <matcher> <expected>": the value found varies from run to
 * run (tokens, counts, whole arrays), the expectation does not. The harness's own matchers
 * ("expected status 403, got 400") name a found value that is the fault itself, and keep it.
 */
export function assertionText(line: string): string {
  const m = /^(.*?\bexpected )(.+?)( to (?:not )?(?:be|equal|deeply equal|strictly equal|include|contain|have|match|satisfy|throw|start|end)\b.*)$/.exec(line);
  const text = m ? `${m[1]}…${m[3]}` : line;
  return text.replace(/ \/\/ Object\.is equality$/, "");
}

/** The behaviour a case belongs to: its id without the room version it ran in. */
export function behaviourOf(id: string): string {
  return id.replace(/ \(room versions? [^)]*\)/g, "").replace(/room versions? [^>]*? > /g, "");
}
