// The suites as TypeScript syntax trees, for the harness tests that check how suites are written
// (suites-style.test.ts, suites-room-versions.test.ts).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

const ROOT = join(import.meta.dirname, "..");
const SUITES = join(ROOT, "suites");

/** Every .ts file under `dir` (suites/ by default). */
export function suiteFiles(dir = SUITES): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return suiteFiles(path);
    return d.name.endsWith(".ts") ? [path] : [];
  });
}

/** A source text as a syntax tree (parent pointers set). */
export function parse(fileName: string, text: string): ts.SourceFile {
  return ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

/** Every suite file, parsed, named by its path from the repository's root. */
export function parsedSuites(): ts.SourceFile[] {
  return suiteFiles().map((path) => parse(relative(ROOT, path), readFileSync(path, "utf8")));
}
