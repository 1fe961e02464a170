// Spec errata (schemas/errata.json): loading and checking the file, applying an erratum only to
// the releases it lists, reporting which errata a check needed, and --no-errata's raw schemas.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { ProjectDataError, Spec, errataEnabled, loadErrata, loadSpec, loadSpecSync, type Erratum } from "../../harness/schemas/index.ts";
import { readSpecData } from "../../harness/schemas/loader.ts";
import { PROJECT_SCHEMAS_DIR, loadFormats, loadOverlays } from "../../harness/schemas/project-data.ts";
import { SPEC_DIR, json } from "./helpers.ts";

const MAKE_JOIN = "/_matrix/federation/v1/make_join/!room:example.org/@joiner:peer.example";
/** A make_join template as Synapse sends it: no top-level `origin` (nor, as Dendrite, origin_server_ts). */
const template = (extra: Record<string, unknown> = {}) => ({
  room_version: "10",
  event: { type: "m.room.member", room_id: "!room:example.org", sender: "@joiner:peer.example", state_key: "@joiner:peer.example", content: { membership: "join" }, ...extra },
});

const withErrata = loadSpecSync(SPEC_DIR, { errata: true });
const raw = loadSpecSync(SPEC_DIR, { errata: false });

describe("schemas/errata.json", () => {
  test("is well formed, and every erratum has evidence, releases and targets that exist in v1.19", () => {
    const errata = loadErrata();
    expect(errata.map((e) => e.id)).toContain("membership-origin");
    for (const e of errata) {
      expect(e.evidence.length, e.id).toBeGreaterThan(0);
      expect(e.relax ?? e.tighten, e.id).toBeDefined();
    }
    expect(withErrata.errata.map((e) => e.id).sort()).toEqual(errata.filter((e) => e.releases.includes("v1.19")).map((e) => e.id).sort());
    expect(withErrata.warnings.filter((w) => w.startsWith("erratum")), "every target is found and still holds the defect").toEqual([]);
  });

  describe("a malformed file", () => {
    let dir: string | undefined;
    afterEach(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    });
    test("is refused with every problem named", () => {
      dir = mkdtempSync(join(tmpdir(), "mc-errata-"));
      cpSync(join(PROJECT_SCHEMAS_DIR, "errata.schema.json"), join(dir, "errata.schema.json"));
      writeFileSync(join(dir, "errata.json"), JSON.stringify([{ id: "Bad Id", summary: "short", releases: ["1.19"], evidence: [], targets: [] }]));
      expect(() => loadErrata(`${dir}/`)).toThrow(ProjectDataError);
      expect(() => loadErrata(`${dir}/`)).toThrow(/errata\.json does not match errata\.schema\.json:[\s\S]*\/0\/id[\s\S]*\/0\/releases\/0/);
    });
    test("with a duplicate id is refused", () => {
      dir = mkdtempSync(join(tmpdir(), "mc-errata-"));
      cpSync(join(PROJECT_SCHEMAS_DIR, "errata.schema.json"), join(dir, "errata.schema.json"));
      const one = loadErrata()[0]!;
      writeFileSync(join(dir, "errata.json"), JSON.stringify([one, one]));
      expect(() => loadErrata(`${dir}/`)).toThrow(/duplicate erratum id membership-origin/);
    });
  });
});

describe("applying errata", () => {
  test("a make_join template without origin passes with the errata, and the check names the errata it needed", () => {
    const r = withErrata.validateResponse(json("GET", MAKE_JOIN, 200, template()));
    expect(r.errors).toEqual([]);
    expect(r.errata).toEqual(["membership-origin", "membership-template-origin-server-ts"]);
  });

  test("with origin_server_ts present only the origin erratum was needed", () => {
    const r = withErrata.validateResponse(json("GET", MAKE_JOIN, 200, template({ origin_server_ts: 1 })));
    expect(r.errors).toEqual([]);
    expect(r.errata).toEqual(["membership-origin"]);
  });

  test("a template that needs no erratum reports none", () => {
    const r = withErrata.validateResponse(json("GET", MAKE_JOIN, 200, template({ origin_server_ts: 1, origin: "example.org" })));
    expect(r.errors).toEqual([]);
    expect(r.errata).toBeUndefined();
  });

  test("a template that fails for another reason still reports its own error, and no erratum hit for a property it has", () => {
    const r = withErrata.validateResponse(json("GET", MAKE_JOIN, 200, { room_version: "10", event: { ...template({ origin_server_ts: 1 }).event, type: 7 } }));
    expect(r.errors.map((e) => `${e.instancePath} ${e.keyword}`)).toEqual(["/event/type type"]);
    expect(r.errata).toEqual(["membership-origin"]);
  });

  test("with errata: false (--no-errata) the raw schema is used and the template fails where the spec data says", () => {
    const r = raw.validateResponse(json("GET", MAKE_JOIN, 200, template()));
    expect(r.errors.map((e) => e.message)).toEqual(['/event: missing required property "origin"', '/event: missing required property "origin_server_ts"']);
    expect(r.errors[0]!.schemaPath).toBe("api/server-server/joins-v1.yaml#/paths/~1make_join~1{roomId}~1{userId}/get/responses/200/content/application~1json/schema/properties/event/required");
    expect(r.errata).toBeUndefined();
    expect(raw.errata).toEqual([]);
  });

  test("a shared definition is relaxed for every use: the invite event of PUT /v2/invite, request and response", () => {
    const event = { type: "m.room.member", room_id: "!r:example.org", sender: "@a:example.org", state_key: "@b:peer.example", origin_server_ts: 1, content: { membership: "invite" } };
    const path = "/_matrix/federation/v2/invite/!r:example.org/$ev";
    const req = withErrata.validateRequest({ method: "PUT", path, contentType: "application/json", body: { room_version: "10", event } });
    expect([req.errors, req.errata]).toEqual([[], ["membership-origin"]]);
    const res = withErrata.validateResponse(json("PUT", path, 200, { event }));
    expect([res.errors, res.errata]).toEqual([[], ["membership-origin"]]);
    expect(raw.validateRequest({ method: "PUT", path, contentType: "application/json", body: { room_version: "10", event } }).errors.map((e) => e.message)).toEqual(['/event: missing required property "origin"']);
  });

  test("an erratum applies only to the releases it lists", () => {
    const other = loadSpecSync(SPEC_DIR, { specVersion: "v1.2", errata: true });
    expect(other.errata).toEqual([]);
    expect(other.validateResponse(json("GET", MAKE_JOIN, 200, template())).errors.length).toBe(2);
  });

  test("MATRIX_CONFORMANCE_ERRATA=off turns the errata off by default (as --no-errata sets it)", async () => {
    expect(errataEnabled({})).toBe(true);
    expect(errataEnabled({ MATRIX_CONFORMANCE_ERRATA: "off" })).toBe(false);
    const saved = process.env.MATRIX_CONFORMANCE_ERRATA;
    process.env.MATRIX_CONFORMANCE_ERRATA = "off";
    try {
      expect(loadSpecSync(SPEC_DIR).errata).toEqual([]);
      const memoised = await loadSpec(SPEC_DIR);
      expect(memoised.errata).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.MATRIX_CONFORMANCE_ERRATA;
      else process.env.MATRIX_CONFORMANCE_ERRATA = saved;
    }
    expect((await loadSpec(SPEC_DIR)).errata.length, "a different memo entry with the errata on").toBeGreaterThan(0);
  });
});

describe("erratum rules", () => {
  const build = (errata: Erratum[]) => new Spec(readSpecData(SPEC_DIR), loadFormats(), loadOverlays(), 0, errata);
  const base = { summary: "a test erratum of this file", releases: ["v1.19"], evidence: [{ kind: "spec-section" as const, ref: "test" }] };

  test("a tightening erratum fails a check, names itself on the violation and is listed as a hit", () => {
    const spec = build([{ ...base, id: "test-tighten", tighten: { schema: { required: ["unstable_features"] } }, targets: [{ operation: "GET /_matrix/client/versions", pointer: "/responses/200/content/application~1json/schema" }] }]);
    const r = spec.validateResponse(json("GET", "/_matrix/client/versions", 200, { versions: ["v1.19"] }));
    expect(r.errors.map((e) => [e.message, e.erratum])).toEqual([['(body): missing required property "unstable_features" [per spec erratum test-tighten]', "test-tighten"]]);
    expect(r.errata).toEqual(["test-tighten"]);
    expect(spec.validateResponse(json("GET", "/_matrix/client/versions", 200, { versions: ["v1.19"], unstable_features: {} })).errata).toBeUndefined();
  });

  test("a relaxation whose target no longer holds the defect, or is not in the spec, is a warning", () => {
    const spec = build([
      { ...base, id: "test-stale", relax: { required: ["nonexistent"] }, targets: [{ operation: "GET /_matrix/client/versions", pointer: "/responses/200/content/application~1json/schema" }] },
      { ...base, id: "test-missing", relax: { required: ["x"] }, targets: [{ operation: "GET /_matrix/client/v9/nothing", pointer: "" }] },
    ]);
    expect(spec.warnings.filter((w) => w.startsWith("erratum"))).toEqual([
      expect.stringMatching(/^erratum test-stale: api\/client-server\/versions\.yaml#.* does not require nonexistent/),
      "erratum test-missing: GET /_matrix/client/v9/nothing is not in this spec",
    ]);
  });
});
