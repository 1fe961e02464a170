// Reads the spec's data files (OpenAPI 3.1 and JSON Schema 2020-12, YAML or JSON) into memory,
// through a parsed-JSON cache so that only the first process pays for YAML parsing.
//
// What is read: every .yaml/.yml/.json file under <specDir>/data, except folders named
// `examples` (example payloads, never needed for validation). Keys of the returned map are
// POSIX paths relative to data/, e.g. "api/client-server/login.yaml".
//
// Cache: one JSON file per spec checkout under
//   $MATRIX_CONFORMANCE_CACHE/spec-cache/   or   ${XDG_CACHE_HOME:-~/.cache}/matrix-conformance/spec-cache/
// named <hash of the spec dir path>-<hash of every file's path, size and mtime>.json. Any change to
// the checkout gives a new name; older entries for the same checkout are removed when a new one is
// written. Writes go to a temporary file renamed into place, so concurrent workers are safe. A
// cache that cannot be read or written is ignored (the data is parsed instead).
//
// Measured on the 2-core development machine, Node 20, spec v1.19 (303 files kept, 0.9 MB as
// JSON). The machine was shared with other work: the first figure is a quiet moment, the range
// what was seen under a load average of 4-6.
//   - listing + stat of the files:                  3-7 ms
//   - cold cache, YAML parse of everything:         0.7 s (up to 4 s under load); yaml dominates
//   - warm cache, reading the JSON instead:         10-12 ms (up to 30 ms)
//   - writing the cache after a cold parse:         13 ms
// See spec.ts for the cost of the ajv side (setup and lazy compilation) and memory.

import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { defaultCacheDir as cacheRoot } from "../settings.ts";
import YAML from "yaml";

/** Bump when the shape of the cache file or of the parsed data changes. */
const CACHE_FORMAT = 2;

export interface SpecData {
  /** Absolute path of the spec checkout. */
  specDir: string;
  /** Absolute path of its data/ folder. */
  dataDir: string;
  /** Parsed documents by POSIX path relative to data/. */
  docs: Map<string, unknown>;
  /** Every `x-...` key found anywhere in the documents (declared to ajv as annotations). */
  xKeywords: string[];
  /** Spec release worked out from the checkout (content/changelog/vX.Y.md), or "unknown". */
  specVersion: string;
  /** Where the documents came from this time. */
  source: "cache" | "parsed";
  cacheFile: string | undefined;
  timings: { listMs: number; loadMs: number; cacheWriteMs: number };
}

export interface LoadOptions {
  /** Cache directory for parsed data; false disables the cache. Default: see defaultCacheDir(). */
  cacheDir?: string | false;
  /** Overrides the spec version worked out from the checkout. */
  specVersion?: string;
}

/** `$MATRIX_CONFORMANCE_CACHE/spec-cache` or `${XDG_CACHE_HOME:-~/.cache}/matrix-conformance/spec-cache`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheRoot(env), "spec-cache");
}

interface ListedFile {
  rel: string;
  abs: string;
  size: number;
  mtimeMs: number;
}

function listDataFiles(dataDir: string): ListedFile[] {
  const out: ListedFile[] = [];
  const walk = (dir: string, relDir: string): void => {
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      const rel = relDir === "" ? e.name : `${relDir}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== "examples") walk(abs, rel);
      } else if (/\.(ya?ml|json)$/i.test(e.name)) {
        const st = fs.statSync(abs);
        out.push({ rel, abs, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
  };
  walk(dataDir, "");
  return out;
}

/** Works out the spec release from content/changelog/vX.Y.md (the highest one present). */
export function detectSpecVersion(specDir: string): string {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(specDir, "content", "changelog"));
  } catch {
    return "unknown";
  }
  let best: [number, number] | undefined;
  for (const n of names) {
    const m = /^v(\d+)\.(\d+)\.md$/.exec(n);
    if (!m) continue;
    const v: [number, number] = [Number(m[1]), Number(m[2])];
    if (!best || v[0] > best[0] || (v[0] === best[0] && v[1] > best[1])) best = v;
  }
  return best ? `v${best[0]}.${best[1]}` : "unknown";
}

function collectXKeywords(docs: Map<string, unknown>): string[] {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (k.startsWith("x-")) found.add(k);
        walk(x);
      }
    }
  };
  for (const d of docs.values()) walk(d);
  return [...found].sort();
}

function hash(s: string): string {
  return crypto.createHash("sha256").update(s).digest("hex");
}

interface CacheFile {
  format: number;
  specDir: string;
  fingerprint: string;
  xKeywords: string[];
  docs: Record<string, unknown>;
}

function readCache(
  file: string,
  specDir: string,
  fingerprint: string,
): { docs: Map<string, unknown>; xKeywords: string[] } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    const c = JSON.parse(text) as CacheFile;
    if (c.format !== CACHE_FORMAT || c.specDir !== specDir || c.fingerprint !== fingerprint) return undefined;
    return { docs: new Map(Object.entries(c.docs)), xKeywords: c.xKeywords };
  } catch {
    return undefined;
  }
}

function writeCache(dir: string, prefix: string, file: string, content: CacheFile): boolean {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(content));
    fs.renameSync(tmp, file);
    // Drop older entries for the same checkout.
    for (const n of fs.readdirSync(dir)) {
      if (n.startsWith(`${prefix}-`) && n.endsWith(".json") && path.join(dir, n) !== file) {
        fs.rmSync(path.join(dir, n), { force: true });
      }
    }
    return true;
  } catch {
    return false;
  }
}

function parseFile(f: ListedFile): unknown {
  const text = fs.readFileSync(f.abs, "utf8");
  try {
    return /\.json$/i.test(f.rel) ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new Error(`Cannot parse spec file ${f.abs}: ${(e as Error).message}`);
  }
}

/** Reads (from cache or by parsing) all data files of a spec checkout. `specDir` must be resolved already. */
export function readSpecData(specDir: string, opts: LoadOptions = {}): SpecData {
  const t0 = performance.now();
  const dataDir = path.join(specDir, "data");
  const files = listDataFiles(dataDir);
  const fingerprint = hash(
    [String(CACHE_FORMAT), specDir, ...files.map((f) => `${f.rel}\t${f.size}\t${f.mtimeMs}`)].join("\n"),
  );
  const t1 = performance.now();

  const cacheDir = opts.cacheDir === false ? undefined : (opts.cacheDir ?? defaultCacheDir());
  const prefix = hash(specDir).slice(0, 12);
  const cacheFile = cacheDir ? path.join(cacheDir, `${prefix}-${fingerprint.slice(0, 16)}.json`) : undefined;

  const cached = cacheFile ? readCache(cacheFile, specDir, fingerprint) : undefined;
  const source: SpecData["source"] = cached ? "cache" : "parsed";
  let cacheWriteMs = 0;
  let docs: Map<string, unknown>;
  let xKeywords: string[];
  if (cached) {
    ({ docs, xKeywords } = cached);
  } else {
    docs = new Map();
    for (const f of files) docs.set(f.rel, parseFile(f));
    xKeywords = collectXKeywords(docs);
  }
  const t2 = performance.now();
  if (source === "parsed" && cacheDir && cacheFile) {
    writeCache(cacheDir, prefix, cacheFile, {
      format: CACHE_FORMAT,
      specDir,
      fingerprint,
      xKeywords,
      docs: Object.fromEntries(docs),
    });
    cacheWriteMs = performance.now() - t2;
  }
  return {
    specDir,
    dataDir,
    docs,
    xKeywords,
    specVersion: opts.specVersion ?? detectSpecVersion(specDir),
    source,
    cacheFile,
    timings: { listMs: t1 - t0, loadMs: t2 - t1, cacheWriteMs },
  };
}
