// Where the Matrix spec checkout lives: an explicit directory (the CLI's --spec-dir), else the
// MATRIX_SPEC_DIR environment variable. Nothing of the spec is stored in this repository.

import fs from "node:fs";
import path from "node:path";
import { defaultCacheDir } from "../settings.ts";
import { SpecSourceError } from "./errors.ts";
import { cachedSpecDir } from "./fetch.ts";

/** The release of the spec the project's data (formats, overlays) was written against. */
export const SPEC_RELEASE_TAG = "v1.19";

const HOW_TO_PROVIDE = [
  "The suite reads the Matrix specification's OpenAPI and JSON Schema files at run time.",
  "Give it a checkout of the matrix-org/matrix-spec repository at a release tag, e.g.",
  "",
  `    git clone --depth 1 --branch ${SPEC_RELEASE_TAG} https://github.com/matrix-org/matrix-spec`,
  "",
  "or let the suite fetch that release into its cache (needs git and internet access):",
  "",
  `    npx matrix-conformance spec fetch --tag ${SPEC_RELEASE_TAG}`,
  "",
  "or point at a checkout (the directory containing data/api) with either",
  "",
  "    --spec-dir DIR          on the matrix-conformance command line, or",
  "    MATRIX_SPEC_DIR=DIR     in the environment.",
].join("\n");

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Resolves the spec checkout directory: `explicit` if given (non-empty), else env
 * MATRIX_SPEC_DIR. Returns an absolute path whose `data/api` is a directory. A path to the
 * checkout's `data/` folder itself is accepted and mapped to its parent. Throws SpecSourceError,
 * explaining how to provide one, when neither is set or the directory is not a spec checkout.
 */
export function resolveSpecDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  let given: string | undefined;
  let origin: string;
  if (explicit !== undefined && explicit !== "") {
    given = explicit;
    origin = "--spec-dir";
  } else if (env.MATRIX_SPEC_DIR !== undefined && env.MATRIX_SPEC_DIR !== "") {
    given = env.MATRIX_SPEC_DIR;
    origin = "MATRIX_SPEC_DIR";
  } else {
    // A release fetched earlier with `matrix-conformance spec fetch` is used when nothing is given.
    const fetched = cachedSpecDir(defaultCacheDir(env), SPEC_RELEASE_TAG);
    if (isDir(path.join(fetched, "data", "api"))) return fetched;
    throw new SpecSourceError(`No Matrix spec directory was given.\n${HOW_TO_PROVIDE}`);
  }
  const dir = path.resolve(given);
  if (isDir(path.join(dir, "data", "api"))) return dir;
  if (path.basename(dir) === "data" && isDir(path.join(dir, "api"))) return path.dirname(dir);
  const problem = isDir(dir) ? "has no data/api folder" : "does not exist or is not a directory";
  throw new SpecSourceError(
    `The Matrix spec directory ${JSON.stringify(dir)} (from ${origin}) ${problem}.\n${HOW_TO_PROVIDE}`,
  );
}
