// Rules of style the suites keep, checked on their syntax trees (the TypeScript compiler API):
//   - every `expect(x)` that is not followed by a response matcher carries a label
//     (`expect(x, "what the check means to a server author")`): a bare expect fails with
//     "expected 'invite' to be 'join'", which says nothing of the requirement;
//   - no two suite files define the same top-level helper name: a helper a second file needs
//     moves into the harness, under a name that says what it arranges, so one name means one
//     thing across the suites (a string constant written twice with one value, such as a spec
//     section, is the one exception).
// Each checker is also run on a small broken source held here, so a checker that stopped seeing
// anything would fail too.
import ts from "typescript";
import { describe, expect, test } from "vitest";
import { parse, parsedSuites } from "./suites-source.ts";

/** Matchers that print the exchange of the response they judge: they need no label. */
export const RESPONSE_MATCHERS = new Set(["toHaveStatus", "toBeMatrixError", "toBeSuccess", "toBeRefused"]);

function where(file: ts.SourceFile, node: ts.Node): string {
  const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
  return `${file.fileName}:${line + 1}`;
}

/** `expect(...)` or `expect.soft(...)`: the call whose arguments are the value and the label. */
function isExpectCall(node: ts.Node): node is ts.CallExpression {
  if (!ts.isCallExpression(node)) return false;
  const callee = node.expression;
  if (ts.isIdentifier(callee)) return callee.text === "expect";
  return ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === "expect" && callee.name.text === "soft";
}

/** The matcher an expect call leads to: `expect(x).not.toBe(y)` -> "toBe"; undefined when none is called. */
function matcherOf(call: ts.CallExpression): string | undefined {
  let node: ts.Node = call;
  let name: string | undefined;
  while (ts.isPropertyAccessExpression(node.parent) && node.parent.expression === node) {
    node = node.parent;
    name = (node as ts.PropertyAccessExpression).name.text;
    if (ts.isCallExpression(node.parent) && node.parent.expression === node) return name;
  }
  return undefined;
}

/** Every one-argument `expect(x)` not followed by a response matcher, as "file:line expect(x).matcher". */
export function bareExpects(file: ts.SourceFile): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (isExpectCall(node) && node.arguments.length < 2) {
      const matcher = matcherOf(node);
      if (matcher === undefined || !RESPONSE_MATCHERS.has(matcher)) {
        const value = node.arguments[0]?.getText(file) ?? "";
        found.push(`${where(file, node)} expect(${value.length > 60 ? `${value.slice(0, 60)}…` : value}).${matcher ?? "(no matcher)"}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/**
 * The names a file defines at its top level: functions, classes and variables (not types, not
 * imports), each with its value when it is a string literal (a spec section, an event type).
 */
export function topLevelNames(file: ts.SourceFile): Array<{ name: string; literal?: string }> {
  const names: Array<{ name: string; literal?: string }> = [];
  const bind = (name: ts.BindingName, init?: ts.Expression): void => {
    if (ts.isIdentifier(name)) names.push(init && ts.isStringLiteralLike(init) ? { name: name.text, literal: init.text } : { name: name.text });
    else for (const el of name.elements) if (!ts.isOmittedExpression(el)) bind(el.name);
  };
  for (const st of file.statements) {
    if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && st.name) names.push({ name: st.name.text });
    else if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) bind(d.name, d.initializer);
  }
  return names;
}

/**
 * Names defined at the top level of more than one file, as "name: fileA, fileB". A string
 * constant of the same name and the same value in several files (`const AUTH =
 * "server-server-api/#request-authentication"`) means one thing and passes; any other name
 * defined twice is a helper written twice or a homonym.
 */
export function namesDefinedTwice(files: ts.SourceFile[]): string[] {
  const by = new Map<string, Array<{ file: string; literal?: string }>>();
  for (const f of files) {
    const seen = new Set<string>();
    for (const { name, literal } of topLevelNames(f)) {
      if (seen.has(name)) continue;
      seen.add(name);
      by.set(name, [...(by.get(name) ?? []), { file: f.fileName, ...(literal !== undefined ? { literal } : {}) }]);
    }
  }
  const sameString = (defs: Array<{ literal?: string }>) => defs[0]!.literal !== undefined && defs.every((d) => d.literal === defs[0]!.literal);
  return [...by].filter(([, defs]) => defs.length > 1 && !sameString(defs)).map(([n, defs]) => `${n}: ${defs.map((d) => d.file).join(", ")}`);
}

const suites = parsedSuites();

describe("labels on assertions", () => {
  test("the checker flags a bare expect and passes labelled ones and response matchers", () => {
    const broken = parse(
      "suites/example/broken.test.ts",
      [
        'test("x", async ({ alice }) => {',
        "  const res = await alice.get(path);",
        "  expect(res).toHaveStatus(200);",
        '  expect(res).toBeMatrixError([400, 403], ["M_FORBIDDEN"], "why");',
        '  expect(res).not.toBeRefused(401, "why");',
        '  expect(res.body.membership, "the invitee\'s membership").toBe("invite");',
        '  expect(res.body.membership).toBe("invite");',
        "  expect(res.body.chunk).not.toContain(eventId);",
        "  expect.soft(res.status).toBe(200);",
        "  await expect(promise).resolves.toBeDefined();",
        "  expect(res);",
        "});",
      ].join("\n"),
    );
    expect(bareExpects(broken), "the unlabelled expects of the example, and only those").toEqual([
      "suites/example/broken.test.ts:7 expect(res.body.membership).toBe",
      "suites/example/broken.test.ts:8 expect(res.body.chunk).toContain",
      "suites/example/broken.test.ts:9 expect(res.status).toBe",
      "suites/example/broken.test.ts:10 expect(promise).toBeDefined",
      "suites/example/broken.test.ts:11 expect(res).(no matcher)",
    ]);
  });

  test("every expect in suites/ that is not a response matcher carries a label", () => {
    expect(suites.length, "suite files found").toBeGreaterThan(10);
    const bare = suites.flatMap(bareExpects);
    expect(bare, `${bare.length} expect(x) without a label (write expect(x, "what this check means to a server author"))`).toEqual([]);
  });
});

describe("helper names", () => {
  test("the checker flags a name two files define, and not types, imports, names inside functions or one constant written twice", () => {
    const a = parse(
      "suites/a/one.test.ts",
      'import { x } from "y";\ntype T = 1;\nconst ROOM = "r";\nconst AUTH = "server-server-api/#request-authentication";\nfunction arrange() { const local = 1; }\nconst { left, right: [deep] } = pair;',
    );
    const b = parse(
      "suites/b/two.test.ts",
      'import { x } from "y";\ntype T = 2;\nconst ROOM = "another";\nconst AUTH = "server-server-api/#request-authentication";\nasync function arrange() {}\nfunction other() { const local = 2; }\nconst deep = 3;',
    );
    expect(topLevelNames(a).map((d) => d.name), "the first file's top-level names").toEqual(["ROOM", "AUTH", "arrange", "left", "deep"]);
    expect(namesDefinedTwice([a, b]), "the names both files define, but the one constant written twice").toEqual([
      "ROOM: suites/a/one.test.ts, suites/b/two.test.ts",
      "arrange: suites/a/one.test.ts, suites/b/two.test.ts",
      "deep: suites/a/one.test.ts, suites/b/two.test.ts",
    ]);
  });

  test("no two suite files define the same top-level name", () => {
    const twice = namesDefinedTwice(suites);
    expect(twice, "helpers (or constants) defined in more than one suite file: move the helper into the harness, or name each for what it is").toEqual([]);
  });
});
