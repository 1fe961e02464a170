// The operation table built from the OpenAPI files, and matching of concrete request paths.
//
// Each file's operations are mounted under its `servers[0].variables.basePath.default`
// (e.g. /_matrix/client/v3, /_matrix/federation/v1, /.well-known). Matching works on the raw
// path as sent on the wire: split on "/" before any percent-decoding, so an encoded slash
// (%2F) inside a parameter never splits it; parameter values are then percent-decoded.
// A trailing slash is ignored on both sides (the spec writes "/pushrules/" and "/pushrules/global/").
// Where several templates match, the one whose first differing segment is literal wins
// (`/query/directory` over `/query/{queryType}`, `/pubkey/isvalid` over `/pubkey/{keyId}`).
// A last path parameter whose description says the trailing slash is optional when it is empty
// (the state key of GET/PUT /rooms/{roomId}/state/{eventType}/{stateKey}) also matches a path
// that ends before it, with or without the slash, as the empty string; an exact-length match
// is preferred over such a shortened one.
// The spec documents a few method+path pairs twice (e.g. POST /rooms/{roomId}/invite as
// inviteUser and inviteBy3PID): the first is the match, the others are `alternatives`.

export interface Operation {
  /** API folder: client-server, server-server, application-service, identity, push-gateway. */
  api: string;
  /** Spec file relative to data/, e.g. "api/client-server/login.yaml". */
  file: string;
  /** Upper-case HTTP method. */
  method: string;
  /** Path template as written in the file (trimmed), e.g. "/login". */
  path: string;
  /** JSON pointer to the operation object in its file, e.g. "/paths/~1login/get". */
  pointer: string;
  /** The file's servers[0] basePath default, e.g. "/_matrix/client/v3". */
  basePath: string;
  /** basePath + path, e.g. "/_matrix/client/v3/login". */
  template: string;
  operationId: string;
  deprecated: boolean;
  /** "METHOD template", e.g. "GET /_matrix/client/v3/login"; the key used by overlays. */
  key: string;
}

export interface MatchedOperation extends Operation {
  /** Path parameters, percent-decoded (the raw value if it is not valid percent-encoding). */
  params: Record<string, string>;
  /** Other operations documented for the same method and template. */
  alternatives: Operation[];
}

type Segment = { kind: "literal"; text: string } | { kind: "param"; name: string } | { kind: "mixed"; re: RegExp; names: string[] };

interface Route {
  op: Operation;
  segments: Segment[];
  /** The last segment is a parameter that may be empty, its trailing slash then optional. */
  optionalLast: boolean;
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function splitPath(p: string): string[] {
  let s = p;
  if (s.length > 1 && s.endsWith("/")) s = s.slice(0, -1);
  if (s === "/" || s === "") return [];
  return s.replace(/^\//, "").split("/");
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function compileSegment(seg: string): Segment {
  const whole = /^\{([^{}]+)\}$/.exec(seg);
  if (whole) return { kind: "param", name: whole[1] ?? "" };
  if (!seg.includes("{")) return { kind: "literal", text: seg };
  const names: string[] = [];
  const source = seg
    .split(/(\{[^{}]+\})/)
    .map((part) => {
      const m = /^\{([^{}]+)\}$/.exec(part);
      if (!m) return escapeRegex(part);
      names.push(m[1] ?? "");
      return "(.+?)";
    })
    .join("");
  return { kind: "mixed", re: new RegExp(`^${source}$`), names };
}

/** Rank of a segment kind: lower is more specific. */
const RANK = { literal: 0, mixed: 1, param: 2 } as const;
/** Rank of an omitted, empty last parameter: less specific than any segment that is present. */
const RANK_EMPTY_LAST = 3;

interface ParameterDoc {
  in?: unknown;
  name?: unknown;
  description?: unknown;
}

/**
 * Whether the spec says the path parameter `name` may be empty with its trailing slash left out
 * ("When an empty string, the trailing slash on this endpoint is optional."). Only inline
 * parameters of the path item or the operation are read.
 */
function emptyWithoutSlash(name: string, ...lists: unknown[]): boolean {
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const p of list as ParameterDoc[]) {
      if (p === null || typeof p !== "object" || p.in !== "path" || p.name !== name) continue;
      if (typeof p.description === "string" && /empty string.*trailing slash[^.]*optional/is.test(p.description)) return true;
    }
  }
  return false;
}

/** Strips scheme, authority, query and fragment; returns the raw (still encoded) path. */
export function rawPathOf(urlPath: string): string {
  let p = urlPath;
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(p);
  if (abs) p = p.slice(abs[0].length);
  const cut = p.search(/[?#]/);
  if (cut >= 0) p = p.slice(0, cut);
  if (!p.startsWith("/")) p = `/${p}`;
  return p;
}

export class RouteTable {
  readonly operations: readonly Operation[];
  private readonly byMethod = new Map<string, Route[]>();

  constructor(docs: ReadonlyMap<string, unknown>) {
    const ops: Operation[] = [];
    for (const [file, doc] of docs) {
      const m = /^api\/([^/]+)\/[^/]+\.ya?ml$/.exec(file);
      if (!m || doc === null || typeof doc !== "object") continue;
      const d = doc as { paths?: Record<string, Record<string, unknown>>; servers?: unknown };
      if (!d.paths) continue;
      const basePath = basePathOf(d.servers);
      for (const [p, item] of Object.entries(d.paths)) {
        if (item === null || typeof item !== "object") continue;
        for (const method of METHODS) {
          const o = item[method] as { operationId?: unknown; deprecated?: unknown; parameters?: unknown } | undefined;
          if (!o || typeof o !== "object") continue;
          // Some path keys carry a trailing space, so that two files can document the same
          // method and path (e.g. "/rooms/{roomId}/invite " for inviteUser beside inviteBy3PID).
          const clean = p.trim();
          const template = joinPath(basePath, clean);
          const M = method.toUpperCase();
          const op: Operation = {
            api: m[1] ?? "",
            file,
            method: M,
            path: clean,
            pointer: `/paths/${p.replace(/~/g, "~0").replace(/\//g, "~1")}/${method}`,
            basePath,
            template,
            operationId: typeof o.operationId === "string" ? o.operationId : `${M} ${template}`,
            deprecated: o.deprecated === true,
            key: `${M} ${template}`,
          };
          ops.push(op);
          const routes = this.byMethod.get(M) ?? [];
          const segments = splitPath(template).map(compileSegment);
          const last = segments[segments.length - 1];
          const optionalLast = last?.kind === "param" && emptyWithoutSlash(last.name, item.parameters, o.parameters);
          routes.push({ op, segments, optionalLast });
          this.byMethod.set(M, routes);
        }
      }
    }
    this.operations = ops;
  }

  /** All operations whose key ("METHOD /template") equals `key`. */
  byKey(key: string): Operation[] {
    return this.operations.filter((o) => o.key === key);
  }

  match(method: string, urlPath: string): MatchedOperation | undefined {
    const M = method.toUpperCase();
    const found = this.matchMethod(M, urlPath);
    // HEAD is answered like GET where the spec documents no HEAD.
    if (!found && M === "HEAD") return this.matchMethod("GET", urlPath);
    return found;
  }

  private matchMethod(M: string, urlPath: string): MatchedOperation | undefined {
    const routes = this.byMethod.get(M);
    if (!routes) return undefined;
    const segs = splitPath(rawPathOf(urlPath));
    let best: { route: Route; params: Record<string, string>; rank: number[] } | undefined;
    const ties: Route[] = [];
    for (const route of routes) {
      const shortened = route.optionalLast && route.segments.length === segs.length + 1;
      if (route.segments.length !== segs.length && !shortened) continue;
      const params: Record<string, string> = {};
      const rank: number[] = [];
      if (shortened) {
        const last = route.segments[segs.length];
        if (last?.kind === "param") params[last.name] = "";
      }
      let ok = true;
      for (let i = 0; i < segs.length && ok; i++) {
        const t = route.segments[i];
        const raw = segs[i] ?? "";
        if (!t) {
          ok = false;
        } else if (t.kind === "literal") {
          ok = raw === t.text || safeDecode(raw) === t.text;
        } else if (t.kind === "param") {
          ok = raw !== "";
          params[t.name] = safeDecode(raw);
        } else {
          const mm = t.re.exec(raw);
          ok = mm !== null;
          if (mm) t.names.forEach((n, j) => (params[n] = safeDecode(mm[j + 1] ?? "")));
        }
        if (t) rank.push(RANK[t.kind]);
      }
      if (!ok) continue;
      if (shortened) rank.push(RANK_EMPTY_LAST);
      const cmp = best ? compareRank(rank, best.rank) : -1;
      if (cmp < 0) {
        best = { route, params, rank };
        ties.length = 0;
      } else if (cmp === 0 && best && route.op.template === best.route.op.template) {
        ties.push(route);
      }
    }
    if (!best) return undefined;
    return { ...best.route.op, params: best.params, alternatives: ties.map((r) => r.op) };
  }
}

function compareRank(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function basePathOf(servers: unknown): string {
  if (!Array.isArray(servers)) return "";
  const first = servers[0] as { variables?: { basePath?: { default?: unknown } } } | undefined;
  const bp = first?.variables?.basePath?.default;
  return typeof bp === "string" ? bp.replace(/\/$/, "") : "";
}

function joinPath(base: string, p: string): string {
  if (p === "/" || p === "") return base === "" ? "/" : `${base}/`;
  return `${base}${p.startsWith("/") ? p : `/${p}`}`;
}
