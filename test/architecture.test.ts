// ARCHITECTURE.md's "may import" table, enforced. The table is parsed from the document itself
// (section "Folders"), so the document and this test cannot drift: change a boundary and the
// row in the same commit. Every file under harness/ and suites/ is parsed with the TypeScript
// compiler (imports, re-exports, dynamic import(), require) and each project-relative import is
// checked against the row of the importing file:
//   - a file may import files of its own row (its folder);
//   - otherwise the target must be a folder or file the row's "may import" cell names;
//   - an entry marked "(types)" admits type-only imports (`import type`, `export type`) only;
//   - "everything above" names the harness rows above the row; "—" names nothing;
//   - a file no row covers is itself a finding, so a new folder arrives with its row.
// Node built-ins and packages are not the table's business. Import cycles are also reported
// inside the folders listed in CYCLE_FREE (type-only imports count: they couple the files too).

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const CHECKED_ROOTS = ["harness", "suites"];
const SOURCE = /\.(ts|mts|mjs|js)$/;
/** Folders whose files must not import each other in a circle. */
const CYCLE_FREE = ["harness/targets/", "harness/client/", "harness/schemas/", "harness/crypto/", "harness/stateres/", "harness/federation/", "harness/fixtures/", "harness/report/"];

interface Allowed {
  /** A repository path: a folder ending in "/" or a file. */
  path: string;
  typesOnly: boolean;
}

interface Rule {
  /** The row's folder (ending in "/") or file. */
  owner: string;
  allowed: Allowed[];
  /** The cell as written, for messages. */
  cell: string;
}

interface ImportRef {
  specifier: string;
  typeOnly: boolean;
  line: number;
}

interface Finding {
  file: string;
  line: number;
  message: string;
}

/** Whether `p` (repository-relative) is a folder, a file, or neither, in the given file set. */
type PathKind = (p: string) => "folder" | "file" | undefined;

// ---- the table ----

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, "")
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/** `harness/targets` -> "harness/targets/"; `suites/<api>/<area>.test.ts` -> "suites/"; a file stays a file. */
function ownerOf(cell: string, kind: PathKind): string | undefined {
  const m = /`([^`]+)`/.exec(cell);
  if (!m) return undefined;
  let p = m[1]!;
  if (p.includes("<")) p = p.slice(0, p.indexOf("<"));
  p = p.replace(/\/+$/, "");
  if (p === "") return undefined;
  return kind(p) === "file" ? p : `${p}/`;
}

/** An entry of a "may import" cell: repository-rooted, or relative to harness/; a folder or a module without its extension. */
function resolveEntry(name: string, kind: PathKind): string | undefined {
  const candidates = name.startsWith("harness/") || name.startsWith("suites/") ? [name] : [`harness/${name}`, name];
  for (const c of candidates) {
    const k = kind(c);
    if (k === "folder") return `${c}/`;
    if (k === "file") return c;
    for (const ext of [".ts", ".mjs"]) if (kind(c + ext) === "file") return c + ext;
  }
  return undefined;
}

/**
 * The rows of the "Folders" table of ARCHITECTURE.md. Throws on an entry that names nothing in
 * the repository, so a stale row is found too.
 */
export function parseImportTable(markdown: string, kind: PathKind): Rule[] {
  const start = markdown.indexOf("\n## Folders");
  if (start < 0) throw new Error('ARCHITECTURE.md has no "## Folders" section');
  const lines = markdown.slice(start + 1).split("\n").slice(1);
  const rules: Rule[] = [];
  let header: string[] | undefined;
  for (const line of lines) {
    if (line.startsWith("## ")) break;
    if (!line.trim().startsWith("|")) {
      if (header && line.trim() === "") break;
      continue;
    }
    const row = cells(line);
    if (!header) {
      header = row.map((c) => c.toLowerCase());
      continue;
    }
    if (row.every((c) => /^:?-+:?$/.test(c))) continue;
    const col = header.indexOf("may import");
    if (col < 0) throw new Error('the Folders table has no "may import" column');
    const owner = ownerOf(row[0] ?? "", kind);
    if (!owner) continue;
    const cell = row[col] ?? "";
    const allowed: Allowed[] = [];
    let rest = cell.replace(/^public entry points only:\s*/i, "");
    if (/^everything above\b/i.test(rest)) {
      for (const r of rules) if (r.owner.startsWith("harness/")) allowed.push({ path: r.owner, typesOnly: false });
      rest = rest.replace(/^everything above,?\s*(and\s+)?/i, "");
    }
    for (const raw of rest.split(",")) {
      const item = raw.trim().replace(/^and\s+/i, "");
      if (item === "" || item === "—" || item === "-") continue;
      const typesOnly = /\(types\)/.test(item);
      const name = item
        .replace(/\([^)]*\)/g, "")
        .replace(/`/g, "")
        .trim();
      const path = resolveEntry(name, kind);
      if (!path) throw new Error(`ARCHITECTURE.md: the row for ${owner} may import "${name}", which is no folder or module of the repository`);
      allowed.push({ path, typesOnly });
    }
    rules.push({ owner, allowed, cell });
  }
  if (rules.length === 0) throw new Error("the Folders table has no rows");
  return rules;
}

// ---- imports ----

/** Project-relative and other imports of a source file, with whether each is type-only. */
export function importsOf(fileName: string, text: string): ImportRef[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, fileName.endsWith("ts") ? ts.ScriptKind.TS : ts.ScriptKind.JS);
  const out: ImportRef[] = [];
  const lineOf = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allNamedTypes = named !== undefined && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      const typeOnly = clause !== undefined && (clause.isTypeOnly || (clause.name === undefined && allNamedTypes));
      out.push({ specifier: node.moduleSpecifier.text, typeOnly, line: lineOf(node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause;
      const allTypes = named !== undefined && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      out.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly || allTypes, line: lineOf(node) });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      out.push({ specifier: node.moduleReference.expression.text, typeOnly: node.isTypeOnly, line: lineOf(node) });
    } else if (ts.isCallExpression(node) && node.arguments.length >= 1 && ts.isStringLiteralLike(node.arguments[0]!)) {
      const isImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === "require";
      if (isImport || isRequire) out.push({ specifier: (node.arguments[0] as ts.StringLiteralLike).text, typeOnly: false, line: lineOf(node) });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push({ specifier: node.argument.literal.text, typeOnly: true, line: lineOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function resolveSpecifier(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  return posix.normalize(posix.join(posix.dirname(from), specifier));
}

function ruleFor(file: string, rules: Rule[]): Rule | undefined {
  let best: Rule | undefined;
  for (const r of rules) {
    const covers = r.owner.endsWith("/") ? file.startsWith(r.owner) : file === r.owner;
    if (covers && (!best || r.owner.length > best.owner.length)) best = r;
  }
  return best;
}

const covers = (entry: string, target: string) => (entry.endsWith("/") ? target.startsWith(entry) : target === entry);

/** Every import of `files` (path -> source) that the table does not allow. */
export function checkImports(files: ReadonlyMap<string, string>, rules: Rule[]): Finding[] {
  const findings: Finding[] = [];
  for (const [file, text] of files) {
    const rule = ruleFor(file, rules);
    if (!rule) {
      findings.push({ file, line: 1, message: `${file} is in no row of ARCHITECTURE.md's Folders table` });
      continue;
    }
    for (const ref of importsOf(file, text)) {
      const target = resolveSpecifier(file, ref.specifier);
      if (target === undefined) continue;
      if (covers(rule.owner, target)) continue;
      const entries = rule.allowed.filter((a) => covers(a.path, target));
      if (entries.some((a) => !a.typesOnly)) continue;
      if (entries.length > 0 && ref.typeOnly) continue;
      const why = entries.length > 0 ? "a value import where the table admits types only" : "not in its row";
      findings.push({
        file,
        line: ref.line,
        message: `${file}:${ref.line} imports ${target} (${why}); ${rule.owner} may import: ${rule.cell}`,
      });
    }
  }
  return findings;
}

/** Import cycles among the files of `folder`, each as the list of files around it. */
export function cyclesIn(files: ReadonlyMap<string, string>, folder: string): string[][] {
  const graph = new Map<string, string[]>();
  for (const [file, text] of files) {
    if (!file.startsWith(folder)) continue;
    const deps = importsOf(file, text)
      .map((r) => resolveSpecifier(file, r.specifier))
      .filter((t): t is string => t !== undefined && t.startsWith(folder) && files.has(t));
    graph.set(file, [...new Set(deps)]);
  }
  // Tarjan's strongly connected components: a component of more than one file, or a file that
  // imports itself, is a cycle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(comp.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  return cycles;
}

// ---- the repository ----

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(ROOT, dir))) {
    if (name === "node_modules") continue;
    const p = posix.join(dir, name);
    if (statSync(join(ROOT, p)).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

const repoKind: PathKind = (p) => {
  try {
    return statSync(join(ROOT, p)).isDirectory() ? "folder" : "file";
  } catch {
    return undefined;
  }
};

function repositorySources(): Map<string, string> {
  const files = new Map<string, string>();
  for (const root of CHECKED_ROOTS) for (const f of walk(root)) if (SOURCE.test(f)) files.set(f, readFileSync(join(ROOT, f), "utf8"));
  return files;
}

const architecture = readFileSync(join(ROOT, "ARCHITECTURE.md"), "utf8");

describe("ARCHITECTURE.md's may-import table", () => {
  const rules = parseImportTable(architecture, repoKind);

  it("has a row for each folder it names, and entries that exist", () => {
    const owners = rules.map((r) => r.owner);
    for (const folder of ["harness/targets/", "harness/client/", "harness/schemas/", "harness/crypto/", "harness/stateres/", "harness/federation/", "harness/fixtures/", "harness/report/", "suites/"]) {
      expect(owners, `a row for ${folder}`).toContain(folder);
    }
  });

  it("holds for every import of harness/** and suites/**", () => {
    const files = repositorySources();
    expect(files.size, "source files found").toBeGreaterThan(50);
    const findings = checkImports(files, rules).map((f) => f.message);
    expect(findings, "imports that break the table").toEqual([]);
  });

  it("flags a forbidden import in a deliberately broken example", () => {
    // The pure crypto module reaching into the fixtures, a suite reaching past the entry
    // points, and a value import where the report may take types only.
    const broken = new Map([
      ["harness/crypto/broken.ts", 'import { test } from "../fixtures/index.ts";\nimport { canonicalJson } from "./canonical.ts";\n'],
      ["suites/federation/broken.test.ts", 'import { Inbox } from "../../harness/federation/waiters.ts";\nimport { test } from "../../harness/fixtures/index.ts";\n'],
      ["harness/report/broken.ts", 'import type { MatrixClient } from "../client/client.ts";\nimport { StepFailed } from "../client/client.ts";\n'],
      ["harness/nowhere/broken.ts", "export const x = 1;\n"],
    ]);
    const kind: PathKind = (p) => repoKind(p) ?? (broken.has(p) ? "file" : undefined);
    const table = parseImportTable(architecture, kind);
    const found = checkImports(broken, table);
    expect(
      found.map((f) => `${f.file}:${f.line}`),
      "exactly the forbidden imports (and the file no row covers) are flagged",
    ).toEqual(["harness/crypto/broken.ts:1", "suites/federation/broken.test.ts:1", "harness/report/broken.ts:2", "harness/nowhere/broken.ts:1"]);
    expect(found[0]!.message, "the message names the target and the row").toMatch(/imports harness\/fixtures\/index\.ts \(not in its row\); harness\/crypto\/ may import: —/);
    expect(found[2]!.message, "a value import under a types-only entry says so").toMatch(/types only/);
  });

  it("reads a table from any document with the same shape", () => {
    const doc = "# x\n\n## Folders\n\n| folder | job | may import |\n|---|---|---|\n| `harness/crypto` | pure | — |\n| `harness/report` | reports | client (types), schemas/anchors (pure) |\n| `harness/fixtures` | fixtures | everything above, and report/failures |\n\n## Next\n";
    const table = parseImportTable(doc, repoKind);
    expect(table.map((r) => [r.owner, r.allowed.map((a) => `${a.path}${a.typesOnly ? " (types)" : ""}`)]), "rows, entries and qualifiers").toEqual([
      ["harness/crypto/", []],
      ["harness/report/", ["harness/client/ (types)", "harness/schemas/anchors.ts"]],
      ["harness/fixtures/", ["harness/crypto/", "harness/report/", "harness/report/failures.ts"]],
    ]);
    expect(() => parseImportTable(doc.replace("schemas/anchors", "schemas/nonesuch"), repoKind), "an entry naming nothing").toThrow(/schemas\/nonesuch/);
  });
});

describe("import cycles", () => {
  it("none among the files of one harness folder", () => {
    const files = repositorySources();
    const cycles = CYCLE_FREE.flatMap((folder) => cyclesIn(files, folder)).map((c) => c.join(" <-> "));
    expect(cycles, "files that import each other in a circle").toEqual([]);
  });

  it("finds a deliberately built one, type-only imports included", () => {
    const files = new Map([
      ["harness/federation/a.ts", 'import type { B } from "./b.ts";\nexport interface A { b: B }\n'],
      ["harness/federation/b.ts", 'import { c } from "./c.ts";\nimport type { A } from "./a.ts";\nexport interface B { a: A }\n'],
      ["harness/federation/c.ts", "export const c = 1;\n"],
    ]);
    expect(cyclesIn(files, "harness/federation/"), "a and b import each other; c is outside the circle").toEqual([["harness/federation/a.ts", "harness/federation/b.ts"]]);
  });
});
