// harness/schemas: the Matrix spec loader and the response and event validators.
//
// The spec (OpenAPI 3.1 and JSON Schema 2020-12 files of a matrix-org/matrix-spec checkout) is
// read at run time from a directory the user provides; nothing of it is stored in this
// repository. The project's own additions live in <repo>/schemas/: formats.json (regexes for
// the mx-* string formats, citing the appendix sections) and overlays.json (places where the
// spec's prose requires more than its schema), each checked against its own JSON Schema.
//
// Public API
//
//   resolveSpecDir(explicit?: string): string
//       explicit dir, else $MATRIX_SPEC_DIR; throws SpecSourceError (human, multi-line) saying
//       how to provide one when neither is set or the directory has no data/api.
//   loadSpec(specDir: string, opts?: LoadSpecOptions): Promise<Spec>      (memoised per process)
//   loadSpecSync(specDir: string, opts?: LoadSpecOptions): Spec           (not memoised)
//       opts: { specVersion?: string   override of the version worked out from the checkout
//               cacheDir?: string | false   parsed-data cache (default: see defaultCacheDir)
//               errata?: boolean   apply schemas/errata.json (default: true, unless the
//                                  environment has MATRIX_CONFORMANCE_ERRATA=off, as --no-errata sets) }
//   loadErrata(): Erratum[]   schemas/errata.json, checked against errata.schema.json
//   errataEnabled(env?): boolean   false when MATRIX_CONFORMANCE_ERRATA=off
//   warmSpecCache(specDir: string, opts?): "cache" | "parsed"
//       fills the parsed-data cache (e.g. from a vitest globalSetup, before workers start, so
//       that they do not all parse the YAML at once); returns where the data came from.
//   defaultSpecDirForTests(): string   MATRIX_SPEC_DIR, else ../shared/matrix-spec beside the repo
//
//   Spec
//     .specVersion: string                "v1.19" (content/changelog), or "unknown", or the override
//     .operations: Operation[]            every operation of every API
//     .eventTypes: string[]               event types with a schema
//     .warnings: string[]                 problems that did not stop loading
//     .matchOperation(method, urlPath): MatchedOperation | undefined
//         { api, file, method, path, basePath, template, operationId, deprecated, key,
//           params (decoded), alternatives }. urlPath is the raw path as sent on the wire.
//     .validateResponse({ method, path, status, contentType?, body? }): ResponseValidation
//         { operation?, checked, errors: SchemaViolation[], documentedAs?, schema?, note? }
//         - documented status: checked against its JSON schema (none: checked, no errors);
//           a documented JSON body must come with a JSON Content-Type;
//         - undocumented 4xx/5xx: checked against the standard error schema;
//         - undocumented 2xx: one "status" violation listing the documented statuses;
//         - unknown path or method: checked false, operation undefined.
//         - errata?: ids of the errata that changed the outcome (see Spec.errata)
//     .validateRequest({ method, path, contentType?, body? }): RequestValidation (same shape)
//         the operation's requestBody JSON schema; a missing required body is a violation;
//         with contentType given, a JSON body needs a JSON media type
//     .errata: Erratum[]                  the errata applied (those listing this release)
//     .validateEvent(event, { roomId? }): EventValidation
//         { type?, checked, errors, schemas, note? } against data/event-schemas/schema/<type>.yaml
//         (and its variant, e.g. m.room.message$m.text.yaml); checked false for unknown types.
//     .checkFormat(name, value): boolean  a format of schemas/formats.json, e.g. "mx-user-id"
//     .compileAll(), .stats(), .costSummary()
//
//   SchemaViolation { instancePath, rule, keyword, schemaPath, message, value, overlay?, erratum? }
//
// Errata are applied in memory when the Spec is built, like overlays, after the parsed data is
// read (from the cache or the YAML); the cache holds the spec's own data only, so editing
// errata.json or overlays.json never meets stale cached data.
//
// Validators are compiled lazily, per (operation, status, media type) and per event schema, and
// cached on the Spec; loadSpec memoises the Spec per spec directory, so a worker process pays
// for each compilation once. Costs measured are in loader.ts and spec.ts.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { readSetting } from "../settings.ts";
import { readSpecData, type LoadOptions } from "./loader.ts";
import { loadErrata, loadFormats, loadOverlays } from "./project-data.ts";
import { Spec } from "./spec.ts";

export { SpecSourceError, ProjectDataError } from "./errors.ts";
export { resolveSpecDir, SPEC_RELEASE_TAG } from "./spec-dir.ts";
export { cachedSpecDir, fetchSpec, SPEC_REPOSITORY } from "./fetch.ts";
export { defaultCacheDir, detectSpecVersion } from "./loader.ts";
export { Spec, STANDARD_ERROR_SCHEMA, isJsonMediaType } from "./spec.ts";
export type { ResponseInput, ResponseValidation, RequestInput, RequestValidation, EventValidation, EventValidationOptions, SpecStats } from "./spec.ts";
export type { Operation, MatchedOperation } from "./routes.ts";
export type { SchemaViolation } from "./violations.ts";
export { anchorOfOperation, operationAnchor, sectionAnchor } from "./anchors.ts";
export type { FormatDefinition, Overlay, Erratum, ErratumTarget } from "./project-data.ts";
export { loadErrata } from "./project-data.ts";

export interface LoadSpecOptions extends LoadOptions {
  /** Apply schemas/errata.json (default: errataEnabled(), i.e. unless MATRIX_CONFORMANCE_ERRATA=off). */
  errata?: boolean;
}

/** Whether errata apply by default: not when MATRIX_CONFORMANCE_ERRATA=off (set by --no-errata). */
export function errataEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return readSetting("errata", env);
}

/** Loads a spec checkout synchronously. `specDir` is used as given (see resolveSpecDir). */
export function loadSpecSync(specDir: string, opts: LoadSpecOptions = {}): Spec {
  const t0 = performance.now();
  const data = readSpecData(path.resolve(specDir), opts);
  const formats = loadFormats();
  const overlays = loadOverlays();
  const errata = (opts.errata ?? errataEnabled()) ? loadErrata() : [];
  return new Spec(data, formats, overlays, performance.now() - t0, errata);
}

/** Makes sure the parsed-data cache holds this checkout; cheap when it already does. */
export function warmSpecCache(specDir: string, opts: LoadSpecOptions = {}): "cache" | "parsed" {
  return readSpecData(path.resolve(specDir), opts).source;
}

const memo = new Map<string, Promise<Spec>>();

/**
 * Loads a spec checkout, once per process for a given directory and options: later calls
 * return the same Spec, with its compiled validators.
 */
export function loadSpec(specDir: string, opts: LoadSpecOptions = {}): Promise<Spec> {
  const key = JSON.stringify([path.resolve(specDir), opts.specVersion ?? null, opts.cacheDir ?? null, opts.errata ?? errataEnabled()]);
  let p = memo.get(key);
  if (!p) {
    p = Promise.resolve().then(() => loadSpecSync(specDir, opts));
    memo.set(key, p);
    p.catch(() => memo.delete(key));
  }
  return p;
}

/** For the harness's own tests: $MATRIX_SPEC_DIR, else ../shared/matrix-spec beside the repository. */
export function defaultSpecDirForTests(): string {
  const env = process.env.MATRIX_SPEC_DIR;
  if (env !== undefined && env !== "") return env;
  const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
  return path.resolve(repoRoot, "..", "shared", "matrix-spec");
}
