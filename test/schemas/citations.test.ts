// Every spec() citation of every suite names a page and an anchor that exist in the spec release
// the suite checks against. The tests' metadata is collected by importing each suite file with
// the fixtures' `test`/`describe` replaced by recorders, so loops, describe.each tables and
// module constants give the real arguments, and no target is started. The anchors come from
// spec-anchors.ts, whose rules are first checked against the spec's own cross-links.

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { SpecRef } from "../../harness/fixtures/meta.ts";
import { operationAnchor } from "../../harness/schemas/anchors.ts";
import type { Spec } from "../../harness/schemas/index.ts";
import { getSpec, SPEC_DIR } from "./helpers.ts";
import { hugoAnchor, nearestAnchor, SpecAnchors } from "./spec-anchors.ts";

interface Collected {
  file: string;
  title: string;
  spec: SpecRef | undefined;
}

const rec = vi.hoisted(() => {
  const collected: Collected[] = [];
  const state = { file: "", prefix: [] as string[] };
  const format = (title: string, row: unknown, index: number): string => {
    const args = Array.isArray(row) ? row : [row];
    let i = 0;
    let out = title.replace(/%[sdijfo#%]/g, (m) => {
      if (m === "%%") return "%";
      if (m === "%#") return String(index);
      const v = args[i++];
      return m === "%j" || m === "%o" ? JSON.stringify(v) : String(v);
    });
    if (row !== null && typeof row === "object" && !Array.isArray(row)) {
      out = out.replace(/\$([A-Za-z_][\w.]*)/g, (m, k: string) => (k in (row as object) ? String((row as Record<string, unknown>)[k]) : m));
    }
    return out;
  };
  const record = (title: string, opts?: unknown) => {
    const meta = opts !== null && typeof opts === "object" ? (opts as { meta?: { spec?: SpecRef } }).meta : undefined;
    collected.push({ file: state.file, title: [...state.prefix, title].join(" > "), spec: meta?.spec });
  };
  type Fn = (...a: unknown[]) => unknown;
  const test = Object.assign((title: string, opts?: unknown) => record(title, opts), {}) as unknown as Record<string, unknown> & Fn;
  const each = (table: unknown[]) => (title: string, opts?: unknown) => table.forEach((row, i) => record(format(title, row, i), opts));
  for (const k of ["skip", "only", "concurrent", "sequential", "fails", "todo"]) test[k] = test;
  test.each = each;
  test.for = each;
  test.skipIf = () => test;
  test.runIf = () => test;
  test.extend = () => test;
  test.override = () => test;
  const describe = ((name: string, a?: unknown, b?: unknown) => {
    const fn = (typeof a === "function" ? a : b) as (() => void) | undefined;
    state.prefix.push(name);
    try {
      fn?.();
    } finally {
      state.prefix.pop();
    }
  }) as unknown as Record<string, unknown> & Fn;
  const describeEach = (table: unknown[]) => (name: string, fn: (...row: unknown[]) => void) =>
    table.forEach((row, i) => describe(format(name, row, i), () => fn(...(Array.isArray(row) ? row : [row]))));
  for (const k of ["skip", "only", "concurrent", "sequential"]) describe[k] = describe;
  describe.each = describeEach;
  describe.for = (table: unknown[]) => (name: string, fn: (row: unknown) => void) =>
    table.forEach((row, i) => describe(format(name, row, i), () => fn(row)));
  describe.skipIf = () => describe;
  describe.runIf = () => describe;
  const hook = () => undefined;
  return { collected, state, test, describe, hook };
});

vi.mock("../../harness/fixtures/index.ts", async (importOriginal) => ({
  ...(await importOriginal<object>()),
  test: rec.test,
  it: rec.test,
  describe: rec.describe,
  beforeAll: rec.hook,
  afterAll: rec.hook,
  beforeEach: rec.hook,
  afterEach: rec.hook,
}));
vi.mock("../../harness/fixtures/federation.ts", async (importOriginal) => ({
  ...(await importOriginal<object>()),
  test: rec.test,
  it: rec.test,
  describe: rec.describe,
}));

const ROOT = join(import.meta.dirname, "..", "..");
/** The suite files whose citations are checked: the conformance suites and the selftest suites. */
const SUITE_DIRS = ["suites", join("test", "stub", "suites")];

function suiteFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".test.ts")) out.push(p);
    }
  };
  for (const d of SUITE_DIRS) walk(join(ROOT, d));
  return out.sort();
}

let anchors: SpecAnchors;
let spec: Spec;

beforeAll(async () => {
  anchors = new SpecAnchors(SPEC_DIR);
  spec = await getSpec();
  for (const file of suiteFiles()) {
    rec.state.file = relative(ROOT, file);
    rec.state.prefix = [];
    await import(pathToFileURL(file).href);
  }
}, 120_000);

/** Why a citation is dead ("" when it is live). */
function deadReason(section: string): string {
  const hash = section.indexOf("#");
  const page = hash < 0 ? section : section.slice(0, hash);
  const anchor = hash < 0 ? "" : section.slice(hash + 1);
  if (!/^([a-z0-9-]+(\/[a-z0-9-]+)*\/)?$/.test(page)) return `the page "${page}" is not of the form "path/" (e.g. "client-server-api/")`;
  const p = anchors.page(page);
  if (!p) return `no page "${page}" in the spec's content/`;
  if (anchor === "") return "";
  if (p.anchors.has(anchor)) return "";
  return `no anchor "#${anchor}" on ${page}; nearest existing: "#${nearestAnchor(anchor, p.anchors) ?? "?"}"`;
}

describe("the anchor rules", () => {
  // Ground truth: the spec's own links to anchors of its pages. The anchors of the rows of an
  // operation's request and response tables ("<operation>_request_...", "..._response-200_...")
  // are not modelled (no citation should need one), so links to them are left out.
  const TABLE_ROW = /^[a-z]+_matrix[a-z0-9_]*_(request|response)/;

  it("resolve the spec's own cross-links", () => {
    const content = join(SPEC_DIR, "content");
    const links: Array<{ from: string; target: string }> = [];
    const walk = (dir: string, rel: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
        else if (e.name.endsWith(".md")) {
          // The page a relative "#x" link is on: modules and fragments are included in a page.
          const page = rel.startsWith("client-server-api/")
            ? "client-server-api/"
            : rel === "" && !["_index.md", "index.md"].includes(e.name)
              ? `${e.name.slice(0, -3)}/`
              : rel.startsWith("rooms/") && e.name !== "_index.md" && !rel.includes("fragments")
                ? `rooms/${e.name.slice(0, -3)}/`
                : undefined;
          const text = readFileSync(p, "utf8");
          for (const m of text.matchAll(/\]\((\/?[a-z0-9/_.-]*)#([^)\s]+)\)/g)) {
            const path = m[1]!;
            if (path === "") {
              if (page) links.push({ from: `${rel}${e.name}`, target: `${page}#${m[2]}` });
            } else if (path.startsWith("/")) {
              const trimmed = path.replace(/^\/+/, "").replace(/\.md$/, "").replace(/\/+$/, "");
              const pg = trimmed === "" ? "" : `${trimmed}/`;
              links.push({ from: `${rel}${e.name}`, target: `${pg}#${m[2]}` });
            }
          }
        }
      }
    };
    walk(content, "");
    const dead = links
      .filter((l) => !l.target.startsWith("changelog/") && !l.target.startsWith("proposals/"))
      .map((l) => ({ ...l, why: deadReason(l.target) }))
      .filter((l) => l.why !== "" && !TABLE_ROW.test(l.target.slice(l.target.indexOf("#") + 1)));
    expect(links.length).toBeGreaterThan(500);
    expect(dead.map((d) => `${d.from}: ${d.target}: ${d.why}`)).toEqual([]);
  });

  it("tell live anchors from dead ones", () => {
    for (const live of [
      "client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid",
      "client-server-api/#getwell-knownmatrixclient",
      "client-server-api/#mroom_versions-capability",
      "client-server-api/#mroompower_levels",
      "client-server-api/#client-config",
      "server-server-api/#get_matrixfederationv1make_joinroomiduserid",
      "server-server-api/#server-access-control-lists-acls",
      "rooms/v11/#redactions",
      "rooms/v1/#redactions",
      "appendices/#user-identifiers",
    ]) {
      expect(deadReason(live), live).toBe("");
    }
    for (const dead of [
      "client-server-api/#no-such-heading",
      "client-server-api/#put_matrixclientv3roomsroomidsendeventtype",
      "server-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid",
      "rooms/v99/#redactions",
      "client-server-api#redactions",
    ]) {
      expect(deadReason(dead), dead).not.toBe("");
    }
  });

  it("give operations the anchors that harness/schemas/anchors.ts computes", () => {
    // The attribution rule compares a spec() anchor with operationAnchor(); both must agree
    // with the site.
    const differ = spec.operations
      .map((o) => ({ key: o.key, site: hugoAnchor(`${o.method.toLowerCase()}${o.template}`), harness: operationAnchor(o.method, o.template) }))
      .filter((o) => o.site !== o.harness);
    expect(differ).toEqual([]);
  });
});

describe("spec() citations of the suites", () => {
  it("every test carries spec() metadata with a section and a since version", () => {
    expect(rec.collected.length).toBeGreaterThan(200);
    const missing = rec.collected.filter((c) => !c.spec || !c.spec.section || !/^\d+\.\d+$/.test(c.spec.since));
    expect(missing.map((c) => `${c.file}: ${c.title}`)).toEqual([]);
  });

  it("every spec() section names a page and an anchor that exist in the spec checkout", () => {
    const dead = rec.collected
      .filter((c) => c.spec)
      .map((c) => ({ c, why: deadReason(c.spec!.section) }))
      .filter((d) => d.why !== "")
      .map((d) => `${d.c.file}: "${d.c.title}": ${d.c.spec!.section}: ${d.why}`);
    expect(dead).toEqual([]);
  });
});
