import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ProjectDataError,
  SpecSourceError,
  detectSpecVersion,
  loadSpec,
  loadSpecSync,
  resolveSpecDir,
  warmSpecCache,
} from "../../harness/schemas/index.ts";
import { PROJECT_SCHEMAS_DIR, loadFormats, loadOverlays } from "../../harness/schemas/project-data.ts";
import { SPEC_DIR } from "./helpers.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mc-schemas-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

describe("resolveSpecDir", () => {
  it("explains how to provide the spec when none is given", () => {
    const e = thrown(() => resolveSpecDir(undefined, {}));
    expect(e).toBeInstanceOf(SpecSourceError);
    expect(e.message).toMatch(/^No Matrix spec directory was given\./);
    expect(e.message).toContain("--spec-dir DIR");
    expect(e.message).toContain("MATRIX_SPEC_DIR");
    expect(e.message).toContain("matrix-org/matrix-spec");
    expect(e.message).toContain("git clone --depth 1 --branch v1.19 https://github.com/matrix-org/matrix-spec");
    expect(e.message.split("\n").length).toBeGreaterThan(3);
    expect(e.stack).not.toMatch(/\n\s+at /);
  });

  it("says which directory was wrong and where it came from", () => {
    const empty = fs.mkdtempSync(path.join(tmp, "empty-"));
    const e = thrown(() => resolveSpecDir(empty, {}));
    expect(e).toBeInstanceOf(SpecSourceError);
    expect(e.message).toContain(`${JSON.stringify(empty)} (from --spec-dir) has no data/api folder`);
    const e2 = thrown(() => resolveSpecDir(undefined, { MATRIX_SPEC_DIR: path.join(tmp, "nope") }));
    expect(e2.message).toContain("(from MATRIX_SPEC_DIR) does not exist");
  });

  it("takes the explicit directory first, then MATRIX_SPEC_DIR, and accepts the data/ folder itself", () => {
    expect(resolveSpecDir(SPEC_DIR, { MATRIX_SPEC_DIR: "/nonexistent" })).toBe(path.resolve(SPEC_DIR));
    expect(resolveSpecDir(undefined, { MATRIX_SPEC_DIR: SPEC_DIR })).toBe(path.resolve(SPEC_DIR));
    expect(resolveSpecDir(path.join(SPEC_DIR, "data"), {})).toBe(path.resolve(SPEC_DIR));
  });
});

describe("loadSpec", () => {
  it("works out the spec version from the checkout, and allows an override", async () => {
    const version = detectSpecVersion(SPEC_DIR);
    expect(version).toMatch(/^v\d+\.\d+$/);
    expect(detectSpecVersion(tmp)).toBe("unknown");
    const spec = await loadSpec(SPEC_DIR);
    expect(spec.specVersion).toBe(version);
    expect(await loadSpec(SPEC_DIR)).toBe(spec); // memoised per process
    const overridden = loadSpecSync(SPEC_DIR, { specVersion: "v1.99-test" });
    expect(overridden.specVersion).toBe("v1.99-test");
  });

  it("resolves every overlay against the spec", async () => {
    const spec = await loadSpec(SPEC_DIR);
    expect(spec.warnings.filter((w) => w.startsWith("overlay"))).toEqual([]);
  });

  it("caches the parsed data and notices changes to the checkout", () => {
    const copy = path.join(tmp, "spec-copy");
    fs.cpSync(path.join(SPEC_DIR, "data"), path.join(copy, "data"), { recursive: true });
    const cacheDir = path.join(tmp, "cache");
    const first = loadSpecSync(copy, { cacheDir });
    expect(first.stats().source).toBe("parsed");
    expect(fs.readdirSync(cacheDir).filter((n) => n.endsWith(".json"))).toHaveLength(1);
    const second = loadSpecSync(copy, { cacheDir });
    expect(second.stats().source).toBe("cache");
    expect(second.operations.length).toBe(first.operations.length);
    expect(second.validateResponse({ method: "GET", path: "/_matrix/client/versions", status: 200, contentType: "application/json", body: { versions: [1] } }).errors)
      .toHaveLength(1);

    // Change one file: the cache entry no longer applies, and the old one is replaced.
    const file = path.join(copy, "data", "api", "client-server", "versions.yaml");
    fs.appendFileSync(file, "\n# changed\n");
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const third = loadSpecSync(copy, { cacheDir });
    expect(third.stats().source).toBe("parsed");
    expect(fs.readdirSync(cacheDir).filter((n) => n.endsWith(".json"))).toHaveLength(1);
    expect(loadSpecSync(copy, { cacheDir: false }).stats().source).toBe("parsed");
    expect(warmSpecCache(copy, { cacheDir })).toBe("cache");
    console.log(`cache test: ${second.costSummary()}`);
  });
});

describe("project data", () => {
  function projectCopy(name: string): string {
    const dir = path.join(tmp, name) + path.sep;
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ["formats.json", "formats.schema.json", "overlays.json", "overlays.schema.json"]) {
      fs.copyFileSync(path.join(PROJECT_SCHEMAS_DIR, f), path.join(dir, f));
    }
    return dir;
  }

  it("loads the formats and overlays of the repository", () => {
    const formats = loadFormats();
    expect([...formats.keys()]).toEqual(expect.arrayContaining([
      "mx-user-id", "mx-room-id", "mx-event-id", "mx-room-alias", "mx-server-name", "mx-mxc-uri",
      "mx-unpadded-base64", "mx-urlsafe-unpadded-base64",
    ]));
    for (const f of formats.values()) expect(f.definition.spec).toMatch(/^https:\/\/spec\.matrix\.org\/v1\.19\//);
    const overlays = loadOverlays();
    expect(overlays.length).toBeGreaterThan(0);
    expect(overlays.length).toBeLessThan(10);
  });

  it("rejects a formats.json that does not match its schema", () => {
    const dir = projectCopy("bad-formats");
    const data = JSON.parse(fs.readFileSync(`${dir}formats.json`, "utf8"));
    data["mx-user-id"].regex = "@.*"; // not anchored
    delete data["mx-room-id"].spec;
    fs.writeFileSync(`${dir}formats.json`, JSON.stringify(data));
    const e = thrown(() => loadFormats(dir));
    expect(e).toBeInstanceOf(ProjectDataError);
    expect(e.message).toContain("/mx-user-id/regex");
    expect(e.message).toContain("/mx-room-id");
  });

  it("rejects an overlays.json that does not match its schema", () => {
    const dir = projectCopy("bad-overlays");
    fs.writeFileSync(`${dir}overlays.json`, JSON.stringify([{ id: "x", pointer: "", schema: {}, spec: "https://example.org", why: "short" }]));
    const e = thrown(() => loadOverlays(dir));
    expect(e).toBeInstanceOf(ProjectDataError);
    expect(e.message).toContain("/0");
  });
});
