// The project's own schema data under <repo>/schemas/: the regexes for the spec's custom string
// formats (formats.json), the stricter overlays (overlays.json) and the known defects of spec
// releases (errata.json). Each is checked against its JSON Schema (formats.schema.json,
// overlays.schema.json, errata.schema.json) when loaded; a malformed file throws
// ProjectDataError naming every problem.

import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { ProjectDataError } from "./errors.ts";

/** <repo>/schemas/, located from this module's own path. */
export const PROJECT_SCHEMAS_DIR = fileURLToPath(new URL("../../schemas/", import.meta.url));

export interface FormatDefinition {
  /** Anchored JavaScript regex source, compiled with the `u` flag. */
  regex: string;
  /** Upper bound on the UTF-8 length, where the spec states one. */
  maxBytes?: number;
  /** URL of the spec section that defines the grammar. */
  spec: string;
  description: string;
}

export interface FormatChecker {
  name: string;
  definition: FormatDefinition;
  test(value: string): boolean;
}

export interface Overlay {
  id: string;
  /** "METHOD /full/path/template", e.g. "GET /_matrix/client/versions". */
  operation?: string;
  /** Event type, e.g. "m.room.member" (the file data/event-schemas/schema/<type>.yaml). */
  event?: string;
  /** A spec data file, relative to data/. */
  schemaFile?: string;
  /** JSON pointer into the target: the operation object, the event schema, or the file. */
  pointer: string;
  /** Schema ANDed into the schema found at the pointer. */
  schema: Record<string, unknown>;
  spec: string;
  why: string;
}

function readJson(name: string, dir: string): unknown {
  const file = `${dir}${name}`;
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new ProjectDataError(`Cannot read project schema data ${file}: ${(e as Error).message}`);
  }
}

let checker: Ajv2020 | undefined;

function checkAgainst(schemaName: string, dataName: string, data: unknown, dir: string): void {
  checker ??= new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  const validate = checker.compile(readJson(schemaName, dir) as object);
  checker.removeSchema(); // keep nothing between calls: the files may change (tests)
  if (!validate(data)) {
    const lines = (validate.errors ?? []).map((e) => `  ${e.instancePath || "(root)"}: ${e.message ?? e.keyword}`);
    throw new ProjectDataError(`${dir}${dataName} does not match ${schemaName}:\n${lines.join("\n")}`);
  }
}

/** Loads and checks schemas/formats.json; returns one checker per format. */
export function loadFormats(dir: string = PROJECT_SCHEMAS_DIR): Map<string, FormatChecker> {
  const data = readJson("formats.json", dir);
  checkAgainst("formats.schema.json", "formats.json", data, dir);
  const out = new Map<string, FormatChecker>();
  for (const [name, value] of Object.entries(data as Record<string, unknown>)) {
    if (name.startsWith("$")) continue;
    const definition = value as FormatDefinition;
    let re: RegExp;
    try {
      re = new RegExp(definition.regex, "u");
    } catch (e) {
      throw new ProjectDataError(`${dir}formats.json: format ${name} has an invalid regex: ${(e as Error).message}`);
    }
    const maxBytes = definition.maxBytes;
    out.set(name, {
      name,
      definition,
      test: (s: string) => re.test(s) && (maxBytes === undefined || Buffer.byteLength(s, "utf8") <= maxBytes),
    });
  }
  return out;
}

/** Loads and checks schemas/overlays.json. */
export function loadOverlays(dir: string = PROJECT_SCHEMAS_DIR): Overlay[] {
  const data = readJson("overlays.json", dir);
  checkAgainst("overlays.schema.json", "overlays.json", data, dir);
  return uniqueIds(data as Overlay[], "overlays.json", "overlay", dir);
}

/** The entries of a project data file, refused when two share an id. */
function uniqueIds<T extends { id: string }>(entries: T[], file: string, what: string, dir: string): T[] {
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.id)) throw new ProjectDataError(`${dir}${file}: duplicate ${what} id ${e.id}`);
    seen.add(e.id);
  }
  return entries;
}

/** A place an erratum applies to: an operation, an event schema or a spec data file, and a pointer. */
export interface ErratumTarget {
  operation?: string;
  event?: string;
  schemaFile?: string;
  pointer: string;
}

/** A known defect of spec releases' schemas, and the rule that corrects it (schemas/errata.json). */
export interface Erratum {
  id: string;
  summary: string;
  /** Spec releases ("v1.19") whose data has the defect; the erratum applies to these only. */
  releases: string[];
  /** Why the schema is wrong: changelog entries, spec sections, upstream issues. */
  evidence: Array<{ kind: "changelog" | "spec-section" | "issue" | "server-source" | "msc"; ref: string; note?: string }>;
  /** The properties stop being required at each target. */
  relax?: { required: string[] };
  /** A schema ANDed into each target. */
  tighten?: { schema: Record<string, unknown> };
  targets: ErratumTarget[];
}

/** Loads and checks schemas/errata.json. */
export function loadErrata(dir: string = PROJECT_SCHEMAS_DIR): Erratum[] {
  const data = readJson("errata.json", dir);
  checkAgainst("errata.schema.json", "errata.json", data, dir);
  return uniqueIds(data as Erratum[], "errata.json", "erratum", dir);
}
