// Fetching a tagged release of the Matrix spec into the cache, for users with internet access:
// `matrix-conformance spec fetch [--tag v1.19]` clones matrix-org/matrix-spec at that tag with git
// into <cache>/spec/<tag>, which resolveSpecDir then finds without --spec-dir or MATRIX_SPEC_DIR.
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { SpecSourceError } from "./errors.ts";

export const SPEC_REPOSITORY = "https://github.com/matrix-org/matrix-spec";

/** Where a fetched release of the spec lives in the cache. */
export function cachedSpecDir(cacheDir: string, tag: string): string {
  return join(cacheDir, "spec", tag);
}

function git(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "ENOENT" ? new SpecSourceError("git is needed to fetch the spec but was not found on PATH.") : err),
    );
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

/** Clones the spec at `tag` into the cache (once); returns the checkout directory. */
export async function fetchSpec(cacheDir: string, tag: string, repository = SPEC_REPOSITORY): Promise<{ dir: string; fetched: boolean }> {
  if (!/^v\d+\.\d+$/.test(tag)) throw new SpecSourceError(`'${tag}' is not a spec release tag (expected vX.Y, e.g. v1.19).`);
  const dir = cachedSpecDir(cacheDir, tag);
  if (existsSync(join(dir, "data", "api"))) return { dir, fetched: false };
  await mkdir(join(cacheDir, "spec"), { recursive: true });
  const staging = `${dir}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const res = await git(["clone", "--quiet", "--depth", "1", "--branch", tag, repository, staging]);
  if (res.code !== 0) {
    await rm(staging, { recursive: true, force: true });
    throw new SpecSourceError(`git could not fetch ${repository} at ${tag} (exit ${res.code}):\n${res.output.trim().split("\n").slice(-5).join("\n")}`);
  }
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  return { dir, fetched: true };
}
