// No suite compares a room version by number or by literal: a check that differs by version
// reads the flag it depends on from the one room-version table (harness/crypto/room-versions.ts:
// `rulesOf(v).format.pduShape === "v1"`, `.auth.knock`, `.since`...), so a new version is a row
// of the table, not a hunt through the suites. Checked on the suites' syntax trees (the
// TypeScript compiler API); the checker also runs on a broken in-memory example.
//
// Flagged, where the expression names a room version (an identifier or property whose name
// contains "version", or the conventional `v`):
//   - arithmetic readings: Number(v), parseInt(v), parseFloat(v), +v;
//   - comparisons with a literal: v === "10", v !== "1", v >= 11, "12" == v, ...;
//   - membership in a literal list: ["1", "2"].includes(v);
//   - a switch on the version with literal cases: switch (v) { case "12": ... }.
import ts from "typescript";
import { describe, expect, test } from "vitest";
import { parse, parsedSuites } from "./suites-source.ts";

/** Whether an expression names a room version: `version`, `roomVersion`, `body.room_version`, `v`. */
function namesVersion(node: ts.Expression): boolean {
  let e: ts.Expression = node;
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
  const name = ts.isIdentifier(e) ? e.text : ts.isPropertyAccessExpression(e) ? e.name.text : ts.isElementAccessExpression(e) && ts.isStringLiteralLike(e.argumentExpression) ? e.argumentExpression.text : undefined;
  if (name === undefined) return false;
  return /version/i.test(name) || name === "v";
}

/** A literal a version could be compared with: a number, or a string of digits ("10"). */
function isVersionLiteral(node: ts.Expression): boolean {
  return ts.isNumericLiteral(node) || (ts.isStringLiteralLike(node) && /^\d+$/.test(node.text));
}

const COMPARISONS = new Set([
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken,
  ts.SyntaxKind.LessThanToken,
  ts.SyntaxKind.LessThanEqualsToken,
  ts.SyntaxKind.GreaterThanToken,
  ts.SyntaxKind.GreaterThanEqualsToken,
]);

/** Every comparison of a room version by number or literal, as "file:line text". */
export function versionComparisons(file: ts.SourceFile): string[] {
  const found: string[] = [];
  const flag = (node: ts.Node): void => {
    const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
    const text = node.getText(file).replace(/\s+/g, " ");
    found.push(`${file.fileName}:${line + 1} ${text.length > 80 ? `${text.slice(0, 80)}…` : text}`);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && ["Number", "parseInt", "parseFloat"].includes(node.expression.text)) {
      if (node.arguments[0] && namesVersion(node.arguments[0])) flag(node);
    } else if (ts.isPrefixUnaryExpression(node) && node.operator === ts.SyntaxKind.PlusToken && namesVersion(node.operand)) {
      flag(node);
    } else if (ts.isBinaryExpression(node) && COMPARISONS.has(node.operatorToken.kind)) {
      if ((namesVersion(node.left) && isVersionLiteral(node.right)) || (namesVersion(node.right) && isVersionLiteral(node.left))) flag(node);
    } else if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === "includes" &&
      ts.isArrayLiteralExpression(node.expression.expression) &&
      node.expression.expression.elements.some((el) => isVersionLiteral(el as ts.Expression)) &&
      node.arguments[0] !== undefined &&
      namesVersion(node.arguments[0])
    ) {
      flag(node);
    } else if (ts.isSwitchStatement(node) && namesVersion(node.expression)) {
      for (const clause of node.caseBlock.clauses) if (ts.isCaseClause(clause) && isVersionLiteral(clause.expression)) flag(clause);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe("room versions in the suites", () => {
  test("the checker flags numeric and literal comparisons of a version, and passes flag reads", () => {
    const broken = parse(
      "suites/example/broken.test.ts",
      [
        "const newer = ALL.filter((v) => Number(v) >= 11);",
        'if (version === "12") skip("x");',
        'if (version === "1" || version === "2") pairs = true;',
        "const early = parseInt(roomVersion, 10) < 8;",
        'const listed = ["1", "2"].includes(res.body.room_version);',
        'switch (version) { case "10": break; default: break; }',
        "const n = +v > 6;",
        // What the suites write instead: flags of the table, comparisons between versions.
        'const pairs2 = rulesOf(version).format.pduShape === "v1";',
        "const knock = rulesOf(version).auth.knock;",
        "const other = ROOM_VERSION_IDS.filter((v) => v !== version);",
        'expect(res.body.room_version, "room_version").toBe(version);',
        'const since = rulesOf(version).since === "1.16";',
        "const count = messages.length >= 11;",
      ].join("\n"),
    );
    expect(versionComparisons(broken), "the comparisons of the example, and only those").toEqual([
      "suites/example/broken.test.ts:1 Number(v)",
      'suites/example/broken.test.ts:2 version === "12"',
      'suites/example/broken.test.ts:3 version === "1"',
      'suites/example/broken.test.ts:3 version === "2"',
      "suites/example/broken.test.ts:4 parseInt(roomVersion, 10)",
      'suites/example/broken.test.ts:5 ["1", "2"].includes(res.body.room_version)',
      'suites/example/broken.test.ts:6 case "10": break;',
      "suites/example/broken.test.ts:7 +v",
    ]);
  });

  test("no suite compares a room version by number or literal", () => {
    const suites = parsedSuites();
    expect(suites.length, "suite files found").toBeGreaterThan(10);
    const found = suites.flatMap(versionComparisons);
    expect(found, `${found.length} room-version comparison(s) by number or literal: read the flag from harness/crypto's room-version table instead (roomVersion(v).format / .auth / .since)`).toEqual([]);
  });
});
