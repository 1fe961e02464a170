// The anchors each page of the spec site has, rebuilt from the spec checkout's content/ and data/
// the way the site's Hugo build makes them, so that a test can tell a live spec() citation from
// a dead one without the rendered site.
//
// Pages: "client-server-api/" is content/client-server-api/_index.md (or content/<page>.md);
// "rooms/v11/" is content/rooms/v11.md. A page's anchors come from
//   - its Markdown headings: an explicit `{#id}` wins, else Hugo's GitHub-style auto ID (the
//     heading's text without Markdown marks, lower-cased; a space or '-' becomes '-', letters,
//     digits and '_' stay, everything else goes; a repeated ID on one page gets "-1", "-2", ...);
//   - explicit anchors: `{id="..."}` after a heading, `<a id="...">` in the text;
//   - the shortcodes that include more text: cs-module (a heading of its `name`, then
//     content/client-server-api/modules/<filename>.md), rver-fragment (content/rooms/fragments/
//     <name>.md), http-api (every operation of data/api/<spec>/<api>.yaml: the lower-cased
//     method and the full path with the same character rule, after `anchor_base`_ if given), msgtypes
//     (a heading per m.room.message msgtype), event (a heading named after the
//     event type), event-group (every event type of the group) and definition ("definition-" and
//     the schema's title).
// The rules were checked against the spec's own cross-links (see citations.test.ts).

import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";

/** Hugo's GitHub-style anchor of a text (also what the site's templates use for operations). */
export function hugoAnchor(text: string): string {
  let out = "";
  for (const ch of text.trim()) {
    if (ch === " " || ch === "-") out += "-";
    else if (ch === "_" || /[\p{L}\p{N}]/u.test(ch)) out += ch.toLowerCase();
  }
  return out;
}

/** A heading's text as rendered: code spans, links, emphasis and HTML tags reduced to their text. */
function headingText(md: string): string {
  return md
    .replace(/\{\{[%<][^}]*[%>]\}\}/g, "")
    .replace(/`([^`]*)`/g, "$1")
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/(\*\*|__|\*|_)(?=\S)([^*_]*?\S)\1/g, "$2")
    .replace(/&[a-z]+;/g, "")
    .trim();
}

function shortcodeArgs(s: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const m of s.matchAll(/([a-z_]+)\s*=\s*(?:"([^"]*)"|(\S+))/gi)) args[m[1]!] = m[2] ?? m[3] ?? "";
  return args;
}

export interface SpecPage {
  /** The page path as cited, e.g. "client-server-api/", "rooms/v11/". */
  page: string;
  anchors: Set<string>;
}

export class SpecAnchors {
  private readonly pages = new Map<string, SpecPage>();

  constructor(private readonly specDir: string) {}

  /** The content file of a page path ("rooms/v11/" -> content/rooms/v11.md), if any. */
  pageFile(page: string): string | undefined {
    const p = page.replace(/^\/+|\/+$/g, "");
    const c = join(this.specDir, "content");
    if (p === "") return join(c, "_index.md");
    for (const f of [join(c, `${p}.md`), join(c, p, "_index.md"), join(c, p, "index.md")]) {
      if (existsSync(f)) return f;
    }
    return undefined;
  }

  /** Every page of content/ (changelog and proposals included), as cited paths. */
  allPages(): string[] {
    const out: string[] = [];
    const walk = (dir: string, rel: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) {
          if (e.name === "fragments" || e.name === "modules") continue;
          walk(join(dir, e.name), `${rel}${e.name}/`);
        } else if (e.name.endsWith(".md")) {
          if (e.name === "_index.md" || e.name === "index.md") out.push(rel);
          else out.push(`${rel}${e.name.slice(0, -3)}/`);
        }
      }
    };
    walk(join(this.specDir, "content"), "");
    return out;
  }

  /** The page's anchors, or undefined when the page does not exist. */
  page(page: string): SpecPage | undefined {
    const trimmed = page.replace(/^\/+|\/+$/g, "");
    const key = trimmed === "" ? "" : `${trimmed}/`;
    const hit = this.pages.get(key);
    if (hit) return hit;
    const file = this.pageFile(key);
    if (!file) return undefined;
    const seen = new Map<string, number>();
    const anchors = new Set<string>();
    const add = (id: string, explicit: boolean) => {
      if (id === "") return;
      if (explicit) {
        anchors.add(id);
        return;
      }
      const n = seen.get(id) ?? 0;
      seen.set(id, n + 1);
      anchors.add(n === 0 ? id : `${id}-${n}`);
    };
    this.readMarkdown(file, add, 0);
    const p = { page: key, anchors };
    this.pages.set(key, p);
    return p;
  }

  private readMarkdown(file: string, add: (id: string, explicit: boolean) => void, depth: number): void {
    if (depth > 8 || !existsSync(file)) return;
    let text = readFileSync(file, "utf8");
    // Front matter.
    text = text.replace(/^---\n[\s\S]*?\n---\n/, "");
    let fence: string | undefined;
    for (const line of text.split("\n")) {
      const f = /^\s*(```+|~~~+)/.exec(line);
      if (f) {
        if (fence === undefined) fence = f[1]![0];
        else if (f[1]![0] === fence) fence = undefined;
        continue;
      }
      if (fence !== undefined) continue;
      const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
      if (h) {
        const body = h[1]!;
        const explicit = /\{\s*(?:#([^}\s]+)|id="([^"]+)")\s*\}\s*$/.exec(body);
        if (explicit) add(explicit[1] ?? explicit[2]!, true);
        else add(hugoAnchor(headingText(body)), false);
        continue;
      }
      for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) add(a[1]!, true);
      for (const sc of line.matchAll(/\{\{%\s*([a-z-]+)([^%]*)%\}\}/g)) this.shortcode(sc[1]!, shortcodeArgs(sc[2] ?? ""), add, depth);
    }
  }

  private shortcode(name: string, args: Record<string, string>, add: (id: string, explicit: boolean) => void, depth: number): void {
    const content = join(this.specDir, "content");
    switch (name) {
      case "cs-module":
        if (args.name) add(hugoAnchor(args.name), false);
        if (args.filename) this.readMarkdown(join(content, "client-server-api", "modules", `${args.filename}.md`), add, depth + 1);
        return;
      case "rver-fragment":
        if (args.name) this.readMarkdown(join(content, "rooms", "fragments", `${args.name}.md`), add, depth + 1);
        return;
      case "http-api":
        if (args.spec && args.api) {
          const prefix = args.anchor_base ? `${args.anchor_base}_` : "";
          for (const id of this.operationAnchorsOfFile(join(this.specDir, "data", "api", args.spec, `${args.api}.yaml`))) add(`${prefix}${id}`, false);
        }
        return;
      case "msgtypes":
        for (const ev of this.eventsOfGroup("m.room.message$")) add(hugoAnchor(ev.slice("m.room.message$".length)), false);
        return;
      case "event":
        if (args.event) add(hugoAnchor(args.event), false);
        return;
      case "event-group":
        if (args.group_name) for (const ev of this.eventsOfGroup(args.group_name)) add(hugoAnchor(ev), false);
        return;
      case "definition":
        if (args.path) {
          const title = this.titleOf(join(this.specDir, "data", `${args.path}.yaml`));
          if (title) add(`definition-${hugoAnchor(title)}`, false);
        }
        return;
      default:
        return;
    }
  }

  /** The site anchors of every operation in one OpenAPI file: method + basePath + path. */
  operationAnchorsOfFile(file: string): string[] {
    if (!existsSync(file)) return [];
    const doc = parseYaml(readFileSync(file, "utf8")) as {
      paths?: Record<string, Record<string, unknown>>;
      servers?: Array<{ variables?: { basePath?: { default?: string } } }>;
    };
    const base = (doc.servers?.[0]?.variables?.basePath?.default ?? "").replace(/\/$/, "");
    const out: string[] = [];
    for (const [p, item] of Object.entries(doc.paths ?? {})) {
      for (const method of ["get", "put", "post", "delete", "patch", "head", "options"]) {
        if (item && typeof item === "object" && method in item) out.push(hugoAnchor(`${method}${base}${p.trim()}`.replace(/[ ]/g, "")));
      }
    }
    return out;
  }

  private eventsOfGroup(group: string): string[] {
    const dir = join(this.specDir, "data", "event-schemas", "schema");
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.startsWith(group) && f.endsWith(".yaml"))
      .map((f) => f.slice(0, -5));
  }

  private titleOf(file: string): string | undefined {
    if (!existsSync(file)) return undefined;
    const doc = parseYaml(readFileSync(file, "utf8")) as { title?: unknown; allOf?: Array<{ title?: unknown }> };
    if (typeof doc?.title === "string") return doc.title;
    // A schema built with allOf takes its title from the member that has one (the last wins).
    const titled = (doc?.allOf ?? []).filter((m) => typeof m?.title === "string");
    return titled.length > 0 ? (titled[titled.length - 1]!.title as string) : undefined;
  }
}

/** The existing anchor closest to `anchor` (edit distance), for a dead-citation message. */
export function nearestAnchor(anchor: string, anchors: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const a of anchors) {
    const d = editDistance(anchor, a);
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
