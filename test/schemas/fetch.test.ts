// `matrix-conformance spec fetch`: a tagged release cloned into the cache, then found without
// --spec-dir or MATRIX_SPEC_DIR. The clone comes from a local repository, so no network is needed.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { cachedSpecDir, fetchSpec, resolveSpecDir, SpecSourceError } from "../../harness/schemas/index.ts";

const work = mkdtempSync(join(tmpdir(), "mc-spec-fetch-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let repos = 0;
function fakeSpecRepository(): string {
  const repo = join(work, `matrix-spec-${++repos}`);
  mkdirSync(join(repo, "data", "api"), { recursive: true });
  writeFileSync(join(repo, "data", "api", "README"), "stand-in\n");
  const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, stdio: "ignore" });
  git("init", "-q");
  git("-c", "user.email=t@example.invalid", "-c", "user.name=t", "add", ".");
  git("-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-q", "-m", "spec");
  git("tag", "v1.19");
  return repo;
}

describe("spec fetch", () => {
  test("clones the tag into <cache>/spec/<tag> once, and resolveSpecDir then finds it", async () => {
    const cache = join(work, "cache");
    const repo = fakeSpecRepository();
    expect(() => resolveSpecDir(undefined, { MATRIX_CONFORMANCE_CACHE: cache })).toThrow(SpecSourceError);
    const first = await fetchSpec(cache, "v1.19", repo);
    expect(first).toEqual({ dir: cachedSpecDir(cache, "v1.19"), fetched: true });
    expect(await fetchSpec(cache, "v1.19", repo)).toEqual({ dir: first.dir, fetched: false });
    expect(resolveSpecDir(undefined, { MATRIX_CONFORMANCE_CACHE: cache })).toBe(first.dir);
  });

  test("a tag that does not exist is a clear error and leaves nothing half-fetched", async () => {
    const cache = join(work, "cache2");
    const err = await fetchSpec(cache, "v9.99", fakeSpecRepository()).catch((e) => e);
    expect(err).toBeInstanceOf(SpecSourceError);
    expect(err.message).toContain("git could not fetch");
    expect(() => resolveSpecDir(undefined, { MATRIX_CONFORMANCE_CACHE: cache })).toThrow(/No Matrix spec directory was given/);
  });

  test("only release tags are accepted", async () => {
    await expect(fetchSpec(join(work, "cache3"), "main")).rejects.toThrow(/not a spec release tag/);
  });
});
